package analyze

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// FuzzAnalyze feeds arbitrary segment sequences between a few endpoints to
// the analyzer: it must not panic, every finding must be about a gap at
// least as long as the threshold, and moving settled findings to a spill
// file, written at every record, must change nothing.
func FuzzAnalyze(f *testing.F) {
	seed := newConv(cli, srv, 0xfffffff0).handshake(0).send(Client, time.Second, 200).ack(Server, time.Second+time.Millisecond).
		probe(Client, 400*time.Second).rst(Server, 400*time.Second+time.Millisecond, true)
	f.Add(encodeSegments(seed.segs), uint16(5))
	f.Add([]byte{}, uint16(1))
	f.Add(encodeSegments(manyGaps()), uint16(30))
	defer func(n int) { noteFlushSize = n }(noteFlushSize)
	noteFlushSize = 1
	f.Fuzz(func(t *testing.T, data []byte, idleSecs uint16) {
		threshold := time.Duration(idleSecs%600+1) * time.Second
		segs := decodeSegments(data)
		var r *Result
		for _, spill := range []func() (SpillFile, error){nil, func() (SpillFile, error) { return new(memFile), nil }} {
			a := New(Config{Idle: threshold, MaxFlows: 4, KeepAll: true, Spill: spill})
			for i := range segs {
				a.Add(&segs[i])
			}
			if r == nil {
				r = a.Finish(time.Time{})
			} else if diff := flowsDiff(r.Flows, a.Finish(time.Time{}).Flows); diff != "" {
				t.Fatalf("with settled findings moved (-in memory +moved):\n%s", diff)
			}
		}
		for _, fl := range r.Flows.All() {
			for _, fd := range fl.Findings {
				if fd.Gap < threshold {
					t.Fatalf("%s finding for a %v gap below the %v threshold", fd.Kind, fd.Gap, threshold)
				}
				if fd.Message == "" {
					t.Fatalf("%s finding without a message", fd.Kind)
				}
			}
		}
	})
}

// segmentSize is the bytes one fuzzed segment takes.
const segmentSize = 20

var fuzzEndpoints = [4]netip.AddrPort{
	netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("198.51.100.1:443"),
	netip.MustParseAddrPort("[2001:db8::1]:50000"), netip.MustParseAddrPort("192.0.2.1:443"),
}

// decodeSegments turns fuzz bytes into segments: each 20 bytes give a time
// step, endpoints, flags, sequence and acknowledgement numbers, length,
// window and TTL.
func decodeSegments(data []byte) []pcapio.Segment {
	var out []pcapio.Segment
	var now int64 = 1e18
	for len(data) >= segmentSize {
		b := data[:segmentSize]
		data = data[segmentSize:]
		now += int64(binary.BigEndian.Uint32(b[0:4])) * int64(time.Millisecond) / 16
		src, dst := fuzzEndpoints[b[4]&3], fuzzEndpoints[(b[4]>>2)&3]
		s := pcapio.Segment{
			Nanos: now, Flags: b[5],
			Seq: binary.BigEndian.Uint32(b[6:10]), Ack: binary.BigEndian.Uint32(b[10:14]),
			PayloadLen: uint32(binary.BigEndian.Uint16(b[14:16])), Window: binary.BigEndian.Uint16(b[16:18]),
			TTL: b[18], HasTS: b[19]&1 != 0, WScale: -1, Frame: uint64(len(out) + 1),
		}
		s.SetAddrs(src, dst)
		out = append(out, s)
	}
	return out
}

// encodeSegments is decodeSegments' inverse for seeds between the first
// two endpoints.
func encodeSegments(segs []pcapio.Segment) []byte {
	var out []byte
	prev := segs[0].Nanos
	for _, s := range segs {
		b := make([]byte, segmentSize)
		binary.BigEndian.PutUint32(b[0:4], uint32((s.Nanos-prev)*16/int64(time.Millisecond)))
		prev = s.Nanos
		if s.Src().Port() == 443 {
			b[4] = 1
		} else {
			b[4] = 1 << 2
		}
		b[5] = s.Flags
		binary.BigEndian.PutUint32(b[6:10], s.Seq)
		binary.BigEndian.PutUint32(b[10:14], s.Ack)
		binary.BigEndian.PutUint16(b[14:16], uint16(s.PayloadLen))
		binary.BigEndian.PutUint16(b[16:18], s.Window)
		b[18] = s.TTL
		if s.HasTS {
			b[19] = 1
		}
		out = append(out, b...)
	}
	return out
}
