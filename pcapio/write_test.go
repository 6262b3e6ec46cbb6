package pcapio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func TestOffsets(t *testing.T) {
	// Header lengths of the frames below: data4 carries a 12-byte
	// timestamps option, syn4 24 bytes of options.
	tests := []struct {
		name        string
		link        uint16
		frame       []byte
		wireLen     uint32 // 0 means len(frame)
		ip, payload int
		ok          bool
	}{
		{name: "ethernet IPv4", link: LinkEthernet, frame: eth(0x0800, data4), ip: 14, payload: 14 + 20 + 32, ok: true},
		{name: "ethernet IPv4 SYN", link: LinkEthernet, frame: eth(0x0800, syn4), ip: 14, payload: 14 + 20 + 44, ok: true},
		{name: "QinQ IPv6", link: LinkEthernet, frame: eth(0x88a8, vlanTag(0x8100, vlanTag(0x86dd, ack6))), ip: 22, payload: 22 + 40 + 20, ok: true},
		{name: "SLL IPv4", link: LinkSLL, frame: sll(0x0800, data4), ip: 16, payload: 16 + 52, ok: true},
		{name: "SLL2 IPv6", link: LinkSLL2, frame: sll2(0x86dd, ack6), ip: 20, payload: 20 + 60, ok: true},
		{name: "raw IPv6", link: LinkRaw, frame: ack6, ip: 0, payload: 60, ok: true},
		{name: "NULL IPv4", link: LinkNull, frame: null(binary.LittleEndian, 2, data4), ip: 4, payload: 4 + 52, ok: true},
		{
			name: "IPv4 options", link: LinkRaw, ip: 0, payload: 24 + 20, ok: true,
			frame: ipv4(ipFields{src: v4a, dst: v4b, options: []byte{1, 1, 1, 0}}, tcp(tcpFields{flags: ACK, payload: 9})),
		},
		{
			name: "IPv6 extension headers", link: LinkRaw, ip: 0, payload: 40 + 8 + 16 + 8 + 20, ok: true,
			frame: ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{flags: ACK, payload: 9}), hopByHop, destOpts, routing),
		},
		{
			name: "IPv6 authentication header", link: LinkRaw, ip: 0, payload: 40 + 16 + 20, ok: true,
			frame: ipv6(ipFields{src: v6a, dst: v6b, proto: 51},
				append([]byte{6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, tcp(tcpFields{flags: ACK, payload: 9})...)),
		},
		{name: "TCP options cut by snap length", link: LinkEthernet, frame: eth(0x0800, data4)[:14+20+24], ip: 14, payload: 14 + 20 + 24, ok: true},
		{
			name: "IPv4 total length 0", link: LinkEthernet, wireLen: 14 + 20 + 20 + 3000, ip: 14, payload: 14 + 40, ok: true,
			frame: eth(0x0800, patch(ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{flags: ACK})), 2, 0, 0)),
		},
		{name: "UDP", link: LinkEthernet, frame: eth(0x0800, udp4)},
		{name: "IPv6 fragment", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), fragHdr)},
		{name: "TCP header cut", link: LinkEthernet, frame: eth(0x0800, data4)[:14+20+10]},
		{name: "unknown link", link: 147, frame: data4},
		{name: "empty", link: LinkEthernet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := tt.wireLen
			if wire == 0 {
				wire = uint32(len(tt.frame))
			}
			ip, payload, ok := Offsets(tt.link, tt.frame, wire)
			if ip != tt.ip || payload != tt.payload || ok != tt.ok {
				t.Errorf("Offsets = %d, %d, %v; want %d, %d, %v", ip, payload, ok, tt.ip, tt.payload, tt.ok)
			}
		})
	}
}

// TestOffsetsCut checks, for every frame Decode turns into a segment, that
// the frame cut at the payload offset decodes to the same segment and that
// the IP offset points at the segment's addresses.
func TestOffsetsCut(t *testing.T) {
	for _, tt := range decodeTests {
		if tt.want != Decoded {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			wire := tt.wire()
			ip, payload, ok := Offsets(tt.link, tt.frame, wire)
			if !ok {
				t.Fatal("Offsets found no headers")
			}
			var full, cut Segment
			Decode(tt.link, tt.frame, wire, &full)
			if r := Decode(tt.link, tt.frame[:payload], wire, &cut); r != Decoded {
				t.Fatalf("frame cut at %d: %v", payload, r)
			}
			if diff := cmp.Diff(full, cut); diff != "" {
				t.Errorf("frame cut at %d decodes differently (-full +cut):\n%s", payload, diff)
			}
			h := tt.frame[ip:]
			src, dst := h[12:16], h[16:20]
			if h[0]>>4 == 6 {
				src, dst = h[8:24], h[24:40]
			}
			if !bytes.Equal(src, full.Src().Addr().AsSlice()) || !bytes.Equal(dst, full.Dst().Addr().AsSlice()) {
				t.Errorf("addresses at IP offset %d are %x, %x; want %v, %v", ip, src, dst, full.Src().Addr(), full.Dst().Addr())
			}
		})
	}
}

func TestOffsetsNoAllocs(t *testing.T) {
	frame := eth(0x8100, vlanTag(0x86dd, ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{opts: optTS(1, 2)}), hopByHop)))
	tunnelled := eth(0x0800, outer4(17, udp(1, 6081, geneve(1, 0x6558, 1, eth(0x0800, data4)))))
	allocs := testing.AllocsPerRun(100, func() {
		Offsets(LinkEthernet, frame, uint32(len(frame)))
		Offsets(LinkEthernet, tunnelled, uint32(len(tunnelled)))
	})
	if allocs != 0 {
		t.Errorf("Offsets allocates %v times per run, want 0", allocs)
	}
}

// rawFrames are TCP frames of three link types, with times that need
// nanoseconds and one frame cut short of its wire length.
var rawFrames = []Raw{
	{Nanos: base*1e9 + 123_456_789, LinkType: LinkEthernet, Data: seqFrame(1)},
	{Nanos: base*1e9 + 2_000_000_001, LinkType: LinkRaw, Data: seqPacket(2)},
	{Nanos: base*1e9 + 3_999_999_999, LinkType: LinkEthernet, Data: seqFrame(3)[:14+40], WireLen: 1514},
	{Nanos: base*1e9 + 4_000_000_000, LinkType: LinkSLL2, Data: sll2(0x0800, seqPacket(4))},
	{Nanos: base * 1e9, LinkType: LinkRaw, Data: seqPacket(5)},
}

// framesOf returns the frames of the link types of the given interfaces,
// each on the first interface of its type, or, when an Ethernet interface
// follows the first, every other Ethernet frame on that one; WireLen is set
// as a reader reports it.
func framesOf(links ...uint16) []Raw {
	var out []Raw
	ether := 0
	for _, r := range rawFrames {
		i := slices.Index(links, r.LinkType)
		if i < 0 {
			continue
		}
		if r.LinkType == LinkEthernet {
			if j := slices.Index(links[i+1:], LinkEthernet); j >= 0 && ether%2 == 1 {
				i += 1 + j
			}
			ether++
		}
		r.Interface = uint32(i)
		r.WireLen = max(r.WireLen, uint32(len(r.Data)))
		out = append(out, r)
	}
	return out
}

func TestWriterRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		links      []uint16
		wantFormat string
		unit       int64 // timestamp resolution in nanoseconds
	}{
		{"one link type", []uint16{LinkEthernet}, "pcap (microsecond, little-endian)", 1000},
		{"raw IP", []uint16{LinkRaw}, "pcap (microsecond, little-endian)", 1000},
		{"two link types", []uint16{LinkRaw, LinkEthernet}, "pcapng", 1},
		{"three link types", []uint16{LinkSLL2, LinkEthernet, LinkRaw}, "pcapng", 1},
		{"two interfaces of one link type", []uint16{LinkEthernet, LinkRaw, LinkEthernet}, "pcapng", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := framesOf(tt.links...)
			var buf bytes.Buffer
			w, err := NewWriter(&buf, tt.links...)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range frames {
				if err := w.WritePacket(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}

			// pcapio reads it back, in file order (the frames are not sorted).
			s := newSource(t, buf.Bytes())
			var got []Raw
			var seg Segment
			for s.Next(&seg) {
				r, ok := s.Raw()
				if !ok {
					t.Fatal("Raw after a segment: false")
				}
				r.Data = bytes.Clone(r.Data)
				got = append(got, r)
			}
			if _, ok := s.Raw(); ok {
				t.Error("Raw after the end: true")
			}
			want := make([]Raw, len(frames))
			for i, r := range frames {
				r.Nanos -= r.Nanos % tt.unit
				want[i] = r
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			if f := s.Files()[0].Format; f != tt.wantFormat {
				t.Errorf("format %q, want %q", f, tt.wantFormat)
			}

			// So does gopacket, a reader written by others.
			if tt.wantFormat == "pcapng" {
				r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.NgReaderOptions{WantMixedLinkType: true})
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range want {
					data, ci, err := r.ReadPacketData()
					if err != nil {
						t.Fatalf("pcapgo record %d: %v", i, err)
					}
					if ci.Timestamp.UnixNano() != want.Nanos || !bytes.Equal(data, want.Data) || ci.Length != int(want.WireLen) ||
						ci.AncillaryData[0] != layers.LinkType(want.LinkType) || ci.InterfaceIndex != int(want.Interface) {
						t.Errorf("pcapgo record %d: %v %d bytes of %d on interface %d", i, ci.Timestamp, len(data), ci.Length, ci.InterfaceIndex)
					}
				}
				if _, _, err := r.ReadPacketData(); err != io.EOF {
					t.Errorf("pcapgo after the last record: %v, want EOF", err)
				}
				return
			}
			r, err := pcapgo.NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != layers.LinkType(tt.links[0]) || r.Snaplen() != WriteSnaplen {
				t.Errorf("pcapgo: link type %v, snap length %d", r.LinkType(), r.Snaplen())
			}
			for i, want := range want {
				data, ci, err := r.ReadPacketData()
				if err != nil {
					t.Fatalf("pcapgo record %d: %v", i, err)
				}
				if ci.Timestamp.UnixNano() != want.Nanos || !bytes.Equal(data, want.Data) || ci.Length != int(want.WireLen) {
					t.Errorf("pcapgo record %d: %v %d bytes of %d", i, ci.Timestamp, len(data), ci.Length)
				}
			}
			if _, _, err := r.ReadPacketData(); err != io.EOF {
				t.Errorf("pcapgo after the last record: %v, want EOF", err)
			}
		})
	}
}

// TestWriterBytes pins the classic pcap layout byte for byte.
func TestWriterBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkRaw)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 12, 0, 0, 1_500_999, time.UTC).UnixNano()
	if err := w.WritePacket(Raw{Nanos: at, LinkType: LinkRaw, Data: []byte{0x45, 0, 0, 40}, WireLen: 40}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, // magic, version 2.4
		0, 0, 0, 0, 0, 0, 0, 0, // time zone, accuracy
		0, 0, 4, 0, 101, 0, 0, 0, // snap length 262144, LINKTYPE_RAW
		0x40, 0xc3, 0xe1, 0x65, 0xdc, 0x05, 0, 0, // 1709294400 s, 1500 µs
		4, 0, 0, 0, 40, 0, 0, 0, // 4 bytes captured of 40
		0x45, 0, 0, 40,
	}
	if diff := cmp.Diff(want, buf.Bytes()); diff != "" {
		t.Errorf("pcap bytes (-want +got):\n%s", diff)
	}
}

func TestWriterCutsToSnaplen(t *testing.T) {
	big := eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{flags: ACK, payload: 40000})))
	big = append(big, make([]byte, WriteSnaplen)...) // longer than any snap length
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, LinkEthernet)
	if err := w.WritePacket(Raw{LinkType: LinkEthernet, Data: big}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	s := newSource(t, buf.Bytes())
	var seg Segment
	if !s.Next(&seg) {
		t.Fatalf("no segment read back: %+v", s.Files())
	}
	r, _ := s.Raw()
	if len(r.Data) != WriteSnaplen || r.WireLen != uint32(len(big)) {
		t.Errorf("read back %d of %d bytes, want %d of %d", len(r.Data), r.WireLen, WriteSnaplen, len(big))
	}
}

// failWriter fails every write.
type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(io.Discard); err == nil {
		t.Error("NewWriter with no link type succeeded")
	}
	for _, links := range [][]uint16{{LinkRaw}, {LinkRaw, LinkEthernet}} {
		w, err := NewWriter(io.Discard, links...)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(Raw{LinkType: LinkSLL, Data: sll(0x0800, data4)}); err == nil {
			t.Errorf("%v: a frame of an undeclared link type was written", links)
		}
		if err := w.WritePacket(Raw{LinkType: LinkRaw, Interface: 2, Data: data4}); err == nil {
			t.Errorf("%v: a frame on an undeclared interface was written", links)
		}
		w, _ = NewWriter(failWriter{}, links...)
		var werr error
		for range 2000 { // more than the buffer holds
			if werr = w.WritePacket(Raw{LinkType: LinkRaw, Data: data4}); werr != nil {
				break
			}
		}
		if err := w.Flush(); !errors.Is(err, errDiskFull) || !errors.Is(werr, errDiskFull) {
			t.Errorf("%v: failing writer: WritePacket %v, Flush %v; want %v", links, werr, err, errDiskFull)
		}
	}
}

func TestRawMergedFiles(t *testing.T) {
	a := writeFile(t, "a.pcap", pcapFile(binary.LittleEndian, magicMicro, LinkEthernet,
		pcapRec{sec: base, data: seqFrame(1)}, pcapRec{sec: base + 2, data: seqFrame(3)}))
	b := writeFile(t, "b.pcap", pcapFile(binary.LittleEndian, magicMicro, LinkRaw,
		pcapRec{sec: base + 1, data: seqPacket(2)}, pcapRec{sec: base + 1, data: udp4}, pcapRec{sec: base + 3, data: seqPacket(4)}))
	s, err := Open(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Raw(); ok {
		t.Error("Raw before Next: true")
	}
	var seg Segment
	for s.Next(&seg) {
		r, ok := s.Raw()
		var again Segment
		if !ok || Decode(r.LinkType, r.Data, r.WireLen, &again) != Decoded || again.Seq != seg.Seq || r.Nanos != seg.Nanos {
			t.Errorf("segment %d (file %d): Raw gives %v, %+v", seg.Seq, seg.File, ok, r)
		}
		if want := []uint16{LinkEthernet, LinkRaw}[seg.File]; r.LinkType != want {
			t.Errorf("segment %d: link type %d, want %d", seg.Seq, r.LinkType, want)
		}
	}
}

func TestMapAddrs(t *testing.T) {
	standIn := func(a netip.Addr) netip.Addr {
		if a.Is4() {
			return netip.AddrFrom4([4]byte{203, 0, 113, a.As4()[3]})
		}
		b := a.As16()
		b[0], b[1] = 0xfd, 0x00
		return netip.AddrFrom16(b)
	}
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			wire := tt.wire()
			frame := bytes.Clone(tt.frame)
			ok := MapAddrs(tt.link, frame, wire, standIn)
			if ok != (tt.want == Decoded) {
				t.Fatalf("MapAddrs = %v for a frame that decodes as %v", ok, tt.want)
			}
			if !ok {
				if !bytes.Equal(frame, tt.frame) {
					t.Error("frame changed")
				}
				return
			}
			var orig, mapped Segment
			Decode(tt.link, tt.frame, wire, &orig)
			if r := Decode(tt.link, frame, wire, &mapped); r != Decoded {
				t.Fatalf("mapped frame: %v", r)
			}
			want := orig
			want.SetAddrs(netip.AddrPortFrom(standIn(orig.Src().Addr()), orig.Src().Port()),
				netip.AddrPortFrom(standIn(orig.Dst().Addr()), orig.Dst().Port()))
			if diff := cmp.Diff(want, mapped); diff != "" {
				t.Errorf("mapped frame decodes as (-want +got):\n%s", diff)
			}
			if diffs := countDiffs(tt.frame, frame); diffs == 0 || diffs > 2*16 {
				t.Errorf("%d bytes changed", diffs)
			}
		})
	}
}

func countDiffs(a, b []byte) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestPcapngWriterForOneInterface(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapngWriter(&buf, LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 60)
	if err := w.WritePacket(Raw{Nanos: 1_700_000_000_123_456_789, LinkType: LinkEthernet, Data: frame, WireLen: 60}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	src, err := NewReader("x", &buf)
	if err != nil {
		t.Fatal(err)
	}
	var seg Segment
	src.Next(&seg)
	f := src.Files()[0]
	if f.Format != "pcapng" || f.Packets != 1 || f.First != 1_700_000_000_123_456_789 {
		t.Errorf("read back %+v, want one pcapng packet with its nanoseconds", f)
	}
}
