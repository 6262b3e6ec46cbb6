package pcapio

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
)

// benchPackets is the number of packets in the benchmark capture.
const benchPackets = 100000

// benchCapture builds, once, an in-memory capture shaped like the realistic
// mix of bench/gen: Ethernet frames, mostly IPv4 with the timestamps
// option, a fifth IPv6, some 802.1Q-tagged, payloads from none to a full
// segment (about 370 bytes a record on average), and a little UDP. It
// returns the capture as classic pcap, as pcapng, and as gzipped pcap.
var benchCapture = sync.OnceValues(func() (map[string][]byte, error) {
	le := binary.LittleEndian
	var recs []pcapRec
	ng := newNg(le).idb(LinkEthernet)
	payloads := []int{0, 0, 0, 0, 120, 250, 400, 0, 1448, 60}
	for i := range benchPackets {
		var frame []byte
		t := tcpFields{sport: 40000 + uint16(i%3000), dport: 443, seq: uint32(i) * 1000, ack: 7, flags: ACK, win: 502,
			opts: optTS(uint32(i), uint32(i)), payload: payloads[i%len(payloads)]}
		switch {
		case i%50 == 49:
			frame = udpFrame
		case i%5 == 4:
			frame = eth(0x86dd, ipv6(ipFields{src: v6a, dst: v6b}, tcp(t)))
		case i%7 == 6:
			frame = eth(0x8100, vlanTag(0x0800, ipv4(ipFields{src: v4a, dst: v4b, frag: 0x4000}, tcp(t))))
		default:
			frame = eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b, frag: 0x4000}, tcp(t)))
		}
		recs = append(recs, pcapRec{sec: base + uint32(i/1000), frac: uint32(i%1000) * 1000, data: frame})
		ng.epb(0, (base*1e6)+uint64(i)*1000, frame)
	}
	pcap := pcapFile(le, magicMicro, LinkEthernet, recs...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(pcap); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return map[string][]byte{"pcap": pcap, "pcapng": ng.b, "gzip": gz.Bytes()}, nil
})

// BenchmarkReadDecode measures reading and decoding a whole capture from
// memory through a Source, as the command does from a file: segment by
// segment through Next, and ("-batches") through NextBatch, which the
// command uses. bench/instructions.sh counts its instructions.
func BenchmarkReadDecode(b *testing.B) {
	files, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"pcap", "pcapng", "gzip", "pcap-batches", "pcapng-batches"} {
		format, batches := strings.CutSuffix(name, "-batches")
		b.Run(name, func(b *testing.B) {
			data := files[format]
			b.SetBytes(int64(len(files["pcap"])))
			b.ReportAllocs()
			for b.Loop() {
				s, err := NewReader("bench", bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				if batches {
					for batch := s.NextBatch(); len(batch) > 0; batch = s.NextBatch() {
						n += len(batch)
					}
				} else {
					var seg Segment
					for s.Next(&seg) {
						n++
					}
				}
				s.Close()
				if st := s.Stats(); st.Packets != benchPackets || n != int(st.TCP()) {
					b.Fatalf("read %d packets, %d segments of %d; want %d packets", st.Packets, n, st.TCP(), benchPackets)
				}
			}
			b.ReportMetric(float64(benchPackets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
