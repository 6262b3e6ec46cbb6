package capgen

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// A readPacket is one packet as gopacket's pcapgo reads it back.
type readPacket struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// TestReadBack reads every committed capture with gopacket's pcapgo readers
// and checks its format, link types, packet count, and that each packet has
// the scripted bytes and timestamp, and decodes to a TCP segment with valid
// checksums.
func TestReadBack(t *testing.T) {
	tests := []struct {
		name      string
		links     []LinkType // one per pcapng interface
		resol     []uint8    // timestamp resolution per interface, 6 or 9
		bigEndian bool
		packets   int
	}{
		{name: "long-request-nokeepalive.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 7},
		{name: "gzip.pcap.gz", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 7},
		{name: "long-request-keepalive-60s.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 40},
		{name: "long-request-keepalive-7200s.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 15},
		{name: "port-reuse.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 18},
		{name: "seq-wraparound.pcap", links: []LinkType{LinkIPv4}, resol: []uint8{6}, packets: 27},
		{name: "ipv6.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{9}, packets: 7},
		{name: "vlan.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 20},
		{name: "sll2.pcap", links: []LinkType{LinkSLL2}, resol: []uint8{6}, packets: 18},
		{name: "two-linktypes.pcapng", links: []LinkType{LinkEthernet, LinkRaw}, resol: []uint8{6, 9}, packets: 22},
		{name: "rotated-1.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 19},
		{name: "rotated-2.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 14},
		{name: "zero-window.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 50},
		{name: "clean.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 40},
		{name: "closed-after-idle.pcap", links: []LinkType{LinkNull}, resol: []uint8{6}, bigEndian: true, packets: 9},
		{name: "midstream-keepalive.pcap", links: []LinkType{LinkSLL}, resol: []uint8{6}, packets: 16},
		{name: "keepalive-too-slow.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 7},
		{name: "reset-at-expiry.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 6},
		{name: "vxlan-mirror.pcap", links: []LinkType{LinkEthernet}, resol: []uint8{6}, packets: 7},
	}
	files := make(map[string]capFile)
	for _, sc := range scenarios {
		for _, f := range sc.build().files {
			files[f.name] = f
		}
	}
	if len(tests) != len(files) {
		t.Errorf("%d files in the table, %d generated", len(tests), len(files))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := files[tt.name]
			if !ok {
				t.Fatalf("no scenario makes %s", tt.name)
			}
			raw, err := os.ReadFile(filepath.Join(pcapDir, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if f.gzip {
				raw = gunzip(t, raw)
			}
			var got []readPacket
			if f.ifaces != nil {
				got = readPcapng(t, raw, tt.links, tt.resol)
			} else {
				got = readPcap(t, raw, tt.links[0], tt.resol[0], tt.bigEndian)
			}
			if len(got) != tt.packets || len(f.recs) != tt.packets {
				t.Fatalf("read %d packets, scripted %d, want %d", len(got), len(f.recs), tt.packets)
			}
			for i, p := range got {
				r := f.recs[i]
				resol := tt.resol[r.Interface]
				want := r.Time.Truncate(time.Second).Add(time.Duration(r.Time.Nanosecond()) / unitOf(resol) * unitOf(resol))
				if !p.ci.Timestamp.Equal(want) {
					t.Errorf("packet %d: time %v, want %v", i+1, p.ci.Timestamp.UTC(), want)
				}
				if p.ci.InterfaceIndex != r.Interface {
					t.Errorf("packet %d: interface %d, want %d", i+1, p.ci.InterfaceIndex, r.Interface)
				}
				if !bytes.Equal(p.data, r.Data) {
					t.Errorf("packet %d: bytes differ from the script", i+1)
				}
				checkDecode(t, i+1, tt.links[r.Interface], p.data)
			}
		})
	}
}

func unitOf(resol uint8) time.Duration {
	if resol == 9 {
		return time.Nanosecond
	}
	return time.Microsecond
}

// readPcap reads a classic pcap file, checking the header's byte order,
// resolution and link type.
func readPcap(t *testing.T, raw []byte, link LinkType, resol uint8, bigEndian bool) []readPacket {
	t.Helper()
	if len(raw) < 24 {
		t.Fatalf("file of %d bytes", len(raw))
	}
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	magic := map[uint8]uint32{6: 0xa1b2c3d4, 9: 0xa1b23c4d}[resol]
	if got := order.Uint32(raw); got != magic {
		t.Errorf("magic %#x, want %#x", got, magic)
	}
	// pcapgo keeps link types in a uint8; read the header for LinkSLL2.
	if got := LinkType(order.Uint32(raw[20:])); got != link {
		t.Errorf("link type %d, want %d", got, link)
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if link < 256 && r.LinkType() != layers.LinkType(link) {
		t.Errorf("pcapgo link type %d, want %d", r.LinkType(), link)
	}
	// pcapgo's Reader.Resolution is inverted in v1.1.19; the magic says it.
	var pkts []readPacket
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return pkts
		}
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, readPacket{ci, data})
	}
}

// readPcapng reads a pcapng file, checking its interfaces' link types and
// timestamp resolutions.
func readPcapng(t *testing.T, raw []byte, links []LinkType, resol []uint8) []readPacket {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	var pkts []readPacket
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, readPacket{ci, data})
	}
	var gotLinks []LinkType
	var gotResol []uint8
	for i := range r.NInterfaces() {
		ifc, err := r.Interface(i)
		if err != nil {
			t.Fatal(err)
		}
		gotLinks = append(gotLinks, LinkType(ifc.LinkType))
		gotResol = append(gotResol, uint8(-ifc.Resolution().Exponent))
	}
	if diff := cmp.Diff(links, gotLinks); diff != "" {
		t.Errorf("link types (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(resol, gotResol); diff != "" {
		t.Errorf("timestamp resolutions (-want +got):\n%s", diff)
	}
	return pkts
}

// checkDecode decodes a frame with gopacket and checks it is a TCP segment
// with valid IPv4 and TCP checksums.
func checkDecode(t *testing.T, n int, link LinkType, data []byte) {
	t.Helper()
	var first gopacket.Decoder
	switch link {
	case LinkEthernet:
		first = layers.LayerTypeEthernet
	case LinkSLL:
		first = layers.LayerTypeLinuxSLL
	case LinkNull:
		first = layers.LayerTypeLoopback
	case LinkSLL2:
		if len(data) < 20 {
			t.Fatalf("packet %d: %d bytes", n, len(data))
		}
		data = data[20:]
		fallthrough
	default:
		first = layers.LayerTypeIPv4
		if len(data) > 0 && data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
	}
	p := gopacket.NewPacket(data, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("packet %d: decode: %v", n, el.Error())
	}
	tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("packet %d: no TCP layer in %v", n, p)
	}
	// In a tunnel the segment's IP header is the innermost; every IPv4
	// header's checksum must verify.
	var inner gopacket.NetworkLayer
	for _, l := range p.Layers() {
		if nl, ok := l.(gopacket.NetworkLayer); ok {
			inner = nl
		}
		if ip, ok := l.(*layers.IPv4); ok && checksum(ip.Contents, 0) != 0 {
			t.Errorf("packet %d: IPv4 header checksum does not verify", n)
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(inner); err != nil {
		t.Fatal(err)
	}
	if sum, err := tcp.ComputeChecksum(); err != nil || sum != 0 {
		t.Errorf("packet %d: TCP checksum does not verify (%#04x, %v)", n, sum, err)
	}
}

// TestGzipReadable checks that the gzipped capture opens with compress/gzip
// and pcapgo, as a reader that sniffs the gzip magic would open it.
func TestGzipReadable(t *testing.T) {
	f, err := os.Open(filepath.Join(pcapDir, "gzip.pcap.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(zr)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 7 {
		t.Errorf("read %d packets, want 7", n)
	}
}
