package pcapio

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"
)

// Capture builders for what pcapgo cannot write.

const (
	magicMicro    = 0xa1b2c3d4
	magicNano     = 0xa1b23c4d
	magicModified = 0xa1b2cd34
)

// pcapRec is one record of a classic pcap file.
type pcapRec struct {
	sec, frac uint32 // frac is in micro- or nanoseconds, by the magic
	data      []byte
	orig      uint32 // original length; 0 means len(data)
}

// pcapFile assembles a classic pcap file with a snap length of 65535.
func pcapFile(order binary.AppendByteOrder, magic, link uint32, recs ...pcapRec) []byte {
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)     // thiszone
	b = order.AppendUint32(b, 0)     // sigfigs
	b = order.AppendUint32(b, 65535) // snaplen
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		orig := r.orig
		if orig == 0 {
			orig = uint32(len(r.data))
		}
		b = order.AppendUint32(b, r.sec)
		b = order.AppendUint32(b, r.frac)
		b = order.AppendUint32(b, uint32(len(r.data)))
		b = order.AppendUint32(b, orig)
		if magic == magicModified {
			b = order.AppendUint32(b, 3)      // ifindex
			b = order.AppendUint16(b, 0x0800) // protocol
			b = append(b, 0, 0)               // packet type, padding
		}
		b = append(b, r.data...)
	}
	return b
}

// ngFile assembles a pcapng file block by block.
type ngFile struct {
	order binary.AppendByteOrder
	b     []byte
}

func newNg(order binary.AppendByteOrder) *ngFile { return (&ngFile{order: order}).shb() }

// block appends a block, padding the body to 4 bytes.
func (w *ngFile) block(typ uint32, body []byte) *ngFile {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.b = w.order.AppendUint32(w.b, typ)
	w.b = w.order.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.order.AppendUint32(w.b, n)
	return w
}

// shb starts a section in w's byte order.
func (w *ngFile) shb() *ngFile {
	body := w.order.AppendUint32(nil, 0x1a2b3c4d)
	body = w.order.AppendUint16(body, 1) // major
	body = w.order.AppendUint16(body, 0) // minor
	body = w.order.AppendUint64(body, ^uint64(0))
	return w.block(ngSectionHeader, body)
}

// opt encodes one option; options end with opt(0, nil).
func (w *ngFile) opt(code uint16, v []byte) []byte {
	b := w.order.AppendUint16(nil, code)
	b = w.order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *ngFile) idb(link uint16, options ...[]byte) *ngFile {
	body := w.order.AppendUint16(nil, link)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, 0) // snaplen: none
	for _, o := range options {
		body = append(body, o...)
	}
	if len(options) > 0 {
		body = append(body, w.opt(0, nil)...)
	}
	return w.block(ngInterfaceDesc, body)
}

func (w *ngFile) epb(iface uint32, ts uint64, data []byte) *ngFile {
	return w.epbWire(iface, ts, data, uint32(len(data)))
}

// epbWire appends an Enhanced Packet Block whose original length is orig.
func (w *ngFile) epbWire(iface uint32, ts uint64, data []byte, orig uint32) *ngFile {
	body := w.order.AppendUint32(nil, iface)
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, orig)
	return w.block(ngEnhancedPacket, append(body, data...))
}

// obsolete appends a Packet Block (type 2), superseded by the EPB.
func (w *ngFile) obsolete(iface uint16, ts uint64, data []byte) *ngFile {
	body := w.order.AppendUint16(nil, iface)
	body = w.order.AppendUint16(body, 0) // drops
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, uint32(len(data)))
	return w.block(ngObsoletePacket, append(body, data...))
}

func (w *ngFile) spb(data []byte) *ngFile {
	body := w.order.AppendUint32(nil, uint32(len(data)))
	return w.block(ngSimplePacket, append(body, data...))
}

func (w *ngFile) section(order binary.AppendByteOrder) *ngFile {
	w.order = order
	return w.shb()
}

func u64(order binary.AppendByteOrder, v uint64) []byte { return order.AppendUint64(nil, v) }

// seqPacket is a raw IPv4 TCP segment whose sequence number tells the
// packets of a test apart.
func seqPacket(seq uint32) []byte {
	return ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1000, dport: 80, seq: seq, flags: ACK}))
}

func seqFrame(seq uint32) []byte { return eth(0x0800, seqPacket(seq)) }

var (
	udpFrame = eth(0x0800, udp4)
	arpFrame = eth(0x0806, make([]byte, 28))
)

// base is the capture time used in the tests: 2023-11-14 22:13:20 UTC.
const base = 1_700_000_000

// got is what a test checks of each segment read.
type got struct {
	Seq   uint32
	Nanos int64
	File  int
	Frame uint64
}

// readAll reads every segment of s, failing after far more than any test
// capture holds.
func readAll(t *testing.T, s *Source) []got {
	t.Helper()
	var out []got
	var seg Segment
	for s.Next(&seg) {
		out = append(out, got{seg.Seq, seg.Nanos, seg.File, seg.Frame})
		if len(out) > 10000 {
			t.Fatal("Next does not stop")
		}
	}
	if s.Next(&seg) {
		t.Error("Next returned true after returning false")
	}
	return out
}

func newSource(t *testing.T, b []byte) *Source {
	t.Helper()
	s, err := NewReader("test", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zstded returns b compressed as zstd does by default, in one frame.
func zstded(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zstdRawFrame returns a zstd frame that declares a window of 2^windowLog
// bytes and holds b in one raw block: how a file written with zstd --long
// starts, whatever its contents.
func zstdRawFrame(windowLog int, b []byte) []byte {
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0, byte(windowLog-10) << 3}
	head := uint32(len(b))<<3 | 1 // a raw block, the last
	frame = append(frame, byte(head), byte(head>>8), byte(head>>16))
	return append(frame, b...)
}

// compressed returns b as a file compressed with c ("gzip", "zstd"),
// or b itself for "".
func compressed(t *testing.T, c string, b []byte) []byte {
	t.Helper()
	switch c {
	case "gzip":
		return gzipped(t, b)
	case "zstd":
		return zstded(t, b)
	}
	return b
}

// pcapgoFile writes frames with pcapgo; nanos selects NewWriterNanos.
func pcapgoFile(t *testing.T, nanos bool, link layers.LinkType, times []time.Time, frames ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: times[i], CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// pcapgoNg writes a pcapng file with an Ethernet interface 0 and a raw IP
// interface 1; frames on odd indexes go to interface 1 as raw IP.
func pcapgoNg(t *testing.T, times []time.Time, seqs ...uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw}); err != nil {
		t.Fatal(err)
	}
	for i, seq := range seqs {
		f, iface := seqFrame(seq), 0
		if i%2 == 1 {
			f, iface = seqPacket(seq), 1
		}
		ci := gopacket.CaptureInfo{Timestamp: times[i], CaptureLength: len(f), Length: len(f), InterfaceIndex: iface}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadFormats(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	t1 := time.Unix(base, 123456789)
	t2 := time.Unix(base+1, 987654321)
	tests := []struct {
		name   string
		file   func(t *testing.T) []byte
		format string
		want   []got
		links  []LinkCount
	}{
		{
			name: "pcapgo microseconds",
			file: func(t *testing.T) []byte {
				return pcapgoFile(t, false, layers.LinkTypeEthernet, []time.Time{t1, t2}, seqFrame(1), seqFrame(2))
			},
			format: "pcap (microsecond, little-endian)",
			want:   []got{{1, base*1e9 + 123456000, 0, 1}, {2, (base+1)*1e9 + 987654000, 0, 2}},
			links:  []LinkCount{{LinkEthernet, 2}},
		},
		{
			name: "pcapgo nanoseconds",
			file: func(t *testing.T) []byte {
				return pcapgoFile(t, true, layers.LinkTypeLinuxSLL, []time.Time{t1, t2}, sll(0x0800, seqPacket(1)), sll(0x0800, seqPacket(2)))
			},
			format: "pcap (nanosecond, little-endian)",
			want:   []got{{1, base*1e9 + 123456789, 0, 1}, {2, (base+1)*1e9 + 987654321, 0, 2}},
			links:  []LinkCount{{LinkSLL, 2}},
		},
		{
			name: "big-endian microseconds",
			file: func(*testing.T) []byte {
				return pcapFile(be, magicMicro, LinkEthernet, pcapRec{sec: base, frac: 999999, data: seqFrame(7)})
			},
			format: "pcap (microsecond, big-endian)",
			want:   []got{{7, base*1e9 + 999999000, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "big-endian nanoseconds",
			file: func(*testing.T) []byte {
				return pcapFile(be, magicNano, LinkRaw, pcapRec{sec: base, frac: 1, data: seqPacket(7)})
			},
			format: "pcap (nanosecond, big-endian)",
			want:   []got{{7, base*1e9 + 1, 0, 1}},
			links:  []LinkCount{{LinkRaw, 1}},
		},
		{
			name: "modified pcap",
			file: func(*testing.T) []byte {
				return pcapFile(le, magicModified, LinkEthernet,
					pcapRec{sec: base, frac: 1, data: seqFrame(1)}, pcapRec{sec: base, frac: 2, data: seqFrame(2)})
			},
			format: "modified pcap (little-endian)",
			want:   []got{{1, base*1e9 + 1000, 0, 1}, {2, base*1e9 + 2000, 0, 2}},
			links:  []LinkCount{{LinkEthernet, 2}},
		},
		{
			name: "modified pcap big-endian",
			file: func(*testing.T) []byte {
				return pcapFile(be, magicModified, LinkEthernet, pcapRec{sec: base, frac: 5, data: seqFrame(1)})
			},
			format: "modified pcap (big-endian)",
			want:   []got{{1, base*1e9 + 5000, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "non-TCP packets count as frames",
			file: func(*testing.T) []byte {
				return pcapFile(le, magicMicro, LinkEthernet,
					pcapRec{sec: base, data: arpFrame}, pcapRec{sec: base, data: udpFrame}, pcapRec{sec: base, data: seqFrame(3)})
			},
			format: "pcap (microsecond, little-endian)",
			want:   []got{{3, base * 1e9, 0, 3}},
			links:  []LinkCount{{LinkEthernet, 3}},
		},
		{
			name: "pcapgo pcapng with two interfaces",
			file: func(t *testing.T) []byte {
				return pcapgoNg(t, []time.Time{t1, t2, t2.Add(time.Nanosecond)}, 1, 2, 3)
			},
			format: "pcapng",
			want: []got{
				{1, base*1e9 + 123456789, 0, 1},
				{2, (base+1)*1e9 + 987654321, 0, 2},
				{3, (base+1)*1e9 + 987654322, 0, 3},
			},
			links: []LinkCount{{LinkEthernet, 2}, {LinkRaw, 1}},
		},
		{
			name: "pcapng default resolution is microseconds",
			file: func(*testing.T) []byte {
				return newNg(le).idb(LinkEthernet).epb(0, base*1e6+1, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, base*1e9 + 1000, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng if_tsresol 9",
			file: func(*testing.T) []byte {
				w := newNg(le)
				return w.idb(LinkEthernet, w.opt(2, []byte("eth0")), w.opt(ngOptionTsresol, []byte{9})).
					epb(0, base*1e9+123456789, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, base*1e9 + 123456789, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng if_tsresol 3",
			file: func(*testing.T) []byte {
				w := newNg(le)
				return w.idb(LinkEthernet, w.opt(ngOptionTsresol, []byte{3})).epb(0, base*1e3+7, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, base*1e9 + 7e6, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng if_tsresol 0, seconds",
			file: func(*testing.T) []byte {
				w := newNg(le)
				return w.idb(LinkEthernet, w.opt(ngOptionTsresol, []byte{0})).epb(0, base+5, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, (base + 5) * 1e9, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng if_tsresol 12, finer than nanoseconds",
			file: func(*testing.T) []byte {
				w := newNg(le)
				return w.idb(LinkEthernet, w.opt(ngOptionTsresol, []byte{12})).epb(0, 5e12+123456789999, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, 5e9 + 123456789, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng power-of-two if_tsresol",
			file: func(*testing.T) []byte {
				w := newNg(le)
				// 2^-20 s units: half a second plus one unit (953.67 ns).
				return w.idb(LinkEthernet, w.opt(ngOptionTsresol, []byte{0x80 | 20})).
					epb(0, base<<20|1<<19|1, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, base*1e9 + 500_000_953, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng if_tsoffset",
			file: func(*testing.T) []byte {
				w := newNg(le)
				return w.idb(LinkRaw, w.opt(ngOptionTsoffset, u64(le, base))).epb(0, 2_500_000, seqPacket(1)).b
			},
			format: "pcapng",
			want:   []got{{1, (base+2)*1e9 + 500_000_000, 0, 1}},
			links:  []LinkCount{{LinkRaw, 1}},
		},
		{
			name: "pcapng big-endian",
			file: func(*testing.T) []byte {
				w := newNg(be)
				return w.idb(LinkEthernet, w.opt(ngOptionTsresol, []byte{9}), w.opt(ngOptionTsoffset, u64(be, 1))).
					epb(0, base*1e9, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, (base + 1) * 1e9, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
		{
			name: "pcapng unknown blocks are skipped",
			file: func(*testing.T) []byte {
				return newNg(le).idb(LinkEthernet).
					block(0x00000bad, []byte("future")).
					block(4, make([]byte, 4)). // name resolution
					epb(0, base*1e6, seqFrame(1)).
					block(5, make([]byte, 12)).                        // interface statistics
					block(0x40000bad, []byte{0, 0, 0x7e, 0xd4, 1, 2}). // custom
					epb(0, base*1e6+1, seqFrame(2)).b
			},
			format: "pcapng",
			want:   []got{{1, base * 1e9, 0, 1}, {2, base*1e9 + 1000, 0, 2}},
			links:  []LinkCount{{LinkEthernet, 2}},
		},
		{
			name: "pcapng sections of both byte orders",
			file: func(*testing.T) []byte {
				w := newNg(le).idb(LinkEthernet).idb(LinkRaw).epb(1, base*1e6, seqPacket(1))
				// The second section starts its interface numbering again.
				return w.section(be).idb(LinkSLL).epb(0, base*1e6+1, sll(0x0800, seqPacket(2))).
					section(le).idb(LinkNull).epb(0, base*1e6+2, null(le, 2, seqPacket(3))).b
			},
			format: "pcapng",
			want:   []got{{1, base * 1e9, 0, 1}, {2, base*1e9 + 1000, 0, 2}, {3, base*1e9 + 2000, 0, 3}},
			links:  []LinkCount{{LinkRaw, 1}, {LinkSLL, 1}, {LinkNull, 1}},
		},
		{
			name: "pcapng simple packet block takes the last time",
			file: func(*testing.T) []byte {
				return newNg(le).idb(LinkEthernet).epb(0, base*1e6+5, seqFrame(1)).spb(seqFrame(2)).b
			},
			format: "pcapng",
			want:   []got{{1, base*1e9 + 5000, 0, 1}, {2, base*1e9 + 5000, 0, 2}},
			links:  []LinkCount{{LinkEthernet, 2}},
		},
		{
			name: "pcapng obsolete packet block",
			file: func(*testing.T) []byte {
				return newNg(le).idb(LinkRaw).idb(LinkEthernet).obsolete(1, base*1e6, seqFrame(1)).b
			},
			format: "pcapng",
			want:   []got{{1, base * 1e9, 0, 1}},
			links:  []LinkCount{{LinkEthernet, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file(t)
			for _, c := range []string{"", "gzip", "zstd"} {
				s := newSource(t, compressed(t, c, file))
				if diff := cmp.Diff(tt.want, readAll(t, s)); diff != "" {
					t.Errorf("compression %q: segments mismatch (-want +got):\n%s", c, diff)
				}
				fi := s.Files()[0]
				if fi.Format != tt.format || fi.Compression != c || fi.Damage != "" {
					t.Errorf("compression %q: Files()[0] = format %q, compression %q, damage %q; want %q, %q, none", c, fi.Format, fi.Compression, fi.Damage, tt.format, c)
				}
				if diff := cmp.Diff(tt.links, s.Stats().Links); diff != "" {
					t.Errorf("compression %q: Stats().Links mismatch (-want +got):\n%s", c, diff)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	le := binary.LittleEndian
	b := pcapFile(le, magicNano, LinkEthernet,
		pcapRec{sec: base, frac: 10, data: seqFrame(1)},
		pcapRec{sec: base, frac: 30, data: arpFrame},
		pcapRec{sec: base, frac: 20, data: udpFrame}, // earlier than the one before
		pcapRec{sec: base, frac: 40, data: eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b, frag: 100}, make([]byte, 8)))},
		pcapRec{sec: base, frac: 50, data: seqFrame(1)[:14+30]},
		pcapRec{sec: base, frac: 5, data: patch(seqFrame(2), 14, 0x41)}, // earlier again
		pcapRec{sec: base, frac: 60, data: seqFrame(3)},
	)
	s := newSource(t, b)
	if diff := cmp.Diff([]got{{1, base*1e9 + 10, 0, 1}, {3, base*1e9 + 60, 0, 7}}, readAll(t, s)); diff != "" {
		t.Errorf("segments mismatch (-want +got):\n%s", diff)
	}
	want := Stats{
		Packets:   7,
		Skipped:   [numSkipReasons]uint64{Decoded: 2, NotIP: 1, NotTCP: 1, Fragment: 1, Truncated: 1, Malformed: 1},
		Links:     []LinkCount{{LinkEthernet, 7}},
		Backwards: 2,
		First:     base*1e9 + 5,
		Last:      base*1e9 + 60,
	}
	st := s.Stats()
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Stats mismatch (-want +got):\n%s", diff)
	}
	if st.TCP() != 2 {
		t.Errorf("TCP() = %d, want 2", st.TCP())
	}
	wantReasons := []SkipReason{NotIP, NotTCP, Fragment, Truncated, Malformed}
	if diff := cmp.Diff(wantReasons, st.SkipReasons()); diff != "" {
		t.Errorf("SkipReasons mismatch (-want +got):\n%s", diff)
	}
	wantFile := FileInfo{Name: "test", Format: "pcap (nanosecond, little-endian)", Packets: 7, First: base*1e9 + 10, Last: base*1e9 + 60}
	if diff := cmp.Diff([]FileInfo{wantFile}, s.Files()); diff != "" {
		t.Errorf("Files mismatch (-want +got):\n%s", diff)
	}
	// Stats and Files hand out copies.
	st.Links[0].Packets = 0
	s.Files()[0].Name = "changed"
	if s.Stats().Links[0].Packets != 7 || s.Files()[0].Name != "test" {
		t.Error("changing the result of Stats or Files changed the Source")
	}
}

func TestMerge(t *testing.T) {
	le := binary.LittleEndian
	a := writeFile(t, "a.pcap", pcapFile(le, magicMicro, LinkEthernet,
		pcapRec{sec: base, frac: 1, data: seqFrame(101)},
		pcapRec{sec: base, frac: 3, data: arpFrame},
		pcapRec{sec: base, frac: 4, data: seqFrame(103)},
		pcapRec{sec: base, frac: 6, data: seqFrame(104)},
	))
	b := writeFile(t, "b.pcapng", newNg(le).idb(LinkRaw).
		epb(0, base*1e6+2, seqPacket(201)).
		epb(0, base*1e6+4, seqPacket(202)). // same time as a's third: a comes first
		epb(0, base*1e6+5, seqPacket(203)).b)
	c := writeFile(t, "c.pcap.gz", gzipped(t, pcapFile(le, magicNano, LinkEthernet,
		pcapRec{sec: base - 1, data: seqFrame(301)},
	)))
	s, err := Open(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []got{
		{301, (base - 1) * 1e9, 2, 1},
		{101, base*1e9 + 1000, 0, 1},
		{201, base*1e9 + 2000, 1, 1},
		{103, base*1e9 + 4000, 0, 3},
		{202, base*1e9 + 4000, 1, 2},
		{203, base*1e9 + 5000, 1, 3},
		{104, base*1e9 + 6000, 0, 4},
	}
	if diff := cmp.Diff(want, readAll(t, s)); diff != "" {
		t.Errorf("segments mismatch (-want +got):\n%s", diff)
	}
	wantStats := Stats{
		Packets: 8,
		Skipped: [numSkipReasons]uint64{Decoded: 7, NotIP: 1},
		Links:   []LinkCount{{LinkEthernet, 5}, {LinkRaw, 3}},
		First:   (base - 1) * 1e9,
		Last:    base*1e9 + 6000,
	}
	if diff := cmp.Diff(wantStats, s.Stats()); diff != "" {
		t.Errorf("Stats mismatch (-want +got):\n%s", diff)
	}
	wantFiles := []FileInfo{
		{Name: a, Format: "pcap (microsecond, little-endian)", Packets: 4, First: base*1e9 + 1000, Last: base*1e9 + 6000},
		{Name: b, Format: "pcapng", Packets: 3, First: base*1e9 + 2000, Last: base*1e9 + 5000},
		{Name: c, Format: "pcap (nanosecond, little-endian)", Compression: "gzip", Packets: 1, First: (base - 1) * 1e9, Last: (base - 1) * 1e9},
	}
	if diff := cmp.Diff(wantFiles, s.Files()); diff != "" {
		t.Errorf("Files mismatch (-want +got):\n%s", diff)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestMergeDamage checks that damage in one file stops that file only.
func TestMergeDamage(t *testing.T) {
	le := binary.LittleEndian
	full := pcapFile(le, magicMicro, LinkEthernet,
		pcapRec{sec: base, frac: 1, data: seqFrame(101)},
		pcapRec{sec: base, frac: 3, data: seqFrame(102)})
	a := writeFile(t, "a.pcap", full[:len(full)-5])
	b := writeFile(t, "b.pcap", pcapFile(le, magicMicro, LinkEthernet,
		pcapRec{sec: base, frac: 2, data: seqFrame(201)},
		pcapRec{sec: base, frac: 4, data: seqFrame(202)}))
	s, err := Open(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []got{{101, base*1e9 + 1000, 0, 1}, {201, base*1e9 + 2000, 1, 1}, {202, base*1e9 + 4000, 1, 2}}
	if diff := cmp.Diff(want, readAll(t, s)); diff != "" {
		t.Errorf("segments mismatch (-want +got):\n%s", diff)
	}
	files := s.Files()
	if files[0].Damage == "" || files[1].Damage != "" {
		t.Errorf("Damage = %q, %q; want the first file damaged only", files[0].Damage, files[1].Damage)
	}
}

func TestDamage(t *testing.T) {
	le := binary.LittleEndian
	three := pcapFile(le, magicMicro, LinkRaw,
		pcapRec{sec: base, data: seqPacket(1)},
		pcapRec{sec: base, data: seqPacket(2)},
		pcapRec{sec: base, data: seqPacket(3)},
	)
	// Records are 16+40 bytes after the 24-byte file header.
	const rec3 = 24 + 2*56
	huge := patch(three, 24+56+8, 0xff, 0xff, 0xff, 0xff) // second record's captured length
	// A snap length of 1 GiB does not let a record claim 32 MiB.
	bigSnap := patch(three, 16, 0, 0, 0, 0x40)
	bigSnap = patch(bigSnap, 24+56+8, 0, 0, 0, 2)
	gzCut := gzipped(t, three)
	gzCut = gzCut[:len(gzCut)-8] // no CRC and size trailer
	gzBadSum := gzipped(t, three)
	gzBadSum = patch(gzBadSum, len(gzBadSum)-8, gzBadSum[len(gzBadSum)-8]^0xff) // the CRC's first byte

	ng := newNg(le).idb(LinkRaw).epb(0, base*1e6, seqPacket(1))
	ngGood := len(ng.b)
	ngTwo := append([]byte(nil), ng.epb(0, base*1e6, seqPacket(2)).b...)
	badTrailer := patch(ngTwo, len(ngTwo)-4, 0x99)
	oddLength := patch(ngTwo, ngGood+4, 0x49) // 0x49 = 73, not a multiple of 4
	hugeBlock := patch(ngTwo, ngGood+4, 0xfc, 0xff, 0xff, 0xff)
	badIface := patch(ngTwo, ngGood+8, 1)
	badCaplen := patch(ngTwo, ngGood+8+12, 0xff) // captured length past the block
	badMagic := patch(newNg(le).idb(LinkRaw).b, 8, 0, 0, 0, 0)
	noIDB := newNg(le).epb(0, base*1e6, seqPacket(1)).b
	spbNoIDB := newNg(le).spb(seqPacket(1)).b
	shortIDB := newNg(le).block(ngInterfaceDesc, []byte{1, 0, 0, 0}).b

	tests := []struct {
		name   string
		file   []byte
		want   []uint32 // sequence numbers delivered
		damage string   // exact text when exact, else a substring
		exact  bool
	}{
		{name: "cut in a record", file: three[:len(three)-10], want: []uint32{1, 2},
			damage: "truncated record at byte 136 (packet 3)", exact: true},
		{name: "cut in a record header", file: three[:rec3+10], want: []uint32{1, 2},
			damage: "truncated record header at byte 136 (packet 3)", exact: true},
		{name: "cut in the first record", file: three[:30], damage: "truncated record header at byte 24 (packet 1)", exact: true},
		{name: "record claims 4 GB", file: huge, want: []uint32{1},
			damage: "record at byte 80 (packet 2) claims 4294967295 bytes, more than the snap length 65535", exact: true},
		{name: "record claims more than the limit", file: bigSnap, want: []uint32{1},
			damage: "record at byte 80 (packet 2) claims 33554432 bytes, more than the 16777216-byte limit", exact: true},
		{name: "cut modified pcap", file: pcapFile(le, magicModified, LinkRaw, pcapRec{sec: base, data: seqPacket(1)}, pcapRec{sec: base, data: seqPacket(2)})[:24+24+40+20],
			want: []uint32{1}, damage: "truncated record header at byte 88 (packet 2)", exact: true},
		{name: "gzip stream cut", file: gzCut, want: []uint32{1, 2, 3},
			damage: "truncated record header at byte 192 (packet 4)", exact: true},
		{name: "gzip checksum wrong", file: gzBadSum, want: []uint32{1, 2, 3},
			damage: "unreadable record header at byte 192 (packet 4): gzip: invalid checksum", exact: true},
		{name: "pcapng bad trailing length", file: badTrailer, want: []uint32{1},
			damage: "block at byte 120 (after packet 1) has mismatched trailing length", exact: true},
		{name: "pcapng block length not a multiple of 4", file: oddLength, want: []uint32{1}, damage: "invalid length 73"},
		{name: "pcapng block claims 4 GB", file: hugeBlock, want: []uint32{1}, damage: "invalid length 4294967292"},
		{name: "pcapng block cut", file: ngTwo[:len(ngTwo)-1], want: []uint32{1}, damage: "truncated block at byte 120 (after packet 1)", exact: true},
		{name: "pcapng block header cut", file: ngTwo[:ngGood+5], want: []uint32{1}, damage: "truncated block header at byte 120 (after packet 1)", exact: true},
		{name: "pcapng unknown interface", file: badIface, want: []uint32{1}, damage: "names interface 1, but the section has 1"},
		{name: "pcapng captured length past the block", file: badCaplen, want: []uint32{1}, damage: "claims 255 bytes"},
		{name: "pcapng bad byte-order magic", file: badMagic, damage: "unknown byte-order magic"},
		{name: "pcapng packet before any interface", file: noIDB, damage: "names interface 0, but the section has 0"},
		{name: "pcapng simple packet before any interface", file: spbNoIDB, damage: "without an interface"},
		{name: "pcapng short interface block", file: shortIDB, damage: "short interface block"},
		{name: "pcapng section header cut", file: ngTwo[:20], damage: "truncated section header at byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(t, tt.file)
			var seqs []uint32
			for _, g := range readAll(t, s) {
				seqs = append(seqs, g.Seq)
			}
			if diff := cmp.Diff(tt.want, seqs); diff != "" {
				t.Errorf("segments mismatch (-want +got):\n%s", diff)
			}
			d := s.Files()[0].Damage
			if tt.exact && d != tt.damage || !strings.Contains(d, tt.damage) {
				t.Errorf("Damage = %q, want %q", d, tt.damage)
			}
			if s.Stats().Packets != uint64(len(tt.want)) {
				t.Errorf("Stats().Packets = %d, want %d", s.Stats().Packets, len(tt.want))
			}
		})
	}
}

// TestHugeClaimAllocation checks that a length field claiming gigabytes is
// damage, not an allocation.
func TestHugeClaimAllocation(t *testing.T) {
	le := binary.LittleEndian
	pcap := pcapFile(le, magicMicro, LinkRaw, pcapRec{sec: base, data: seqPacket(1)})
	binary.LittleEndian.PutUint32(pcap[24+8:], 0xfffffff0) // captured length
	// The packet block follows a 28-byte section header and a 20-byte
	// interface block; its length field is 4 bytes in.
	ng := newNg(le).idb(LinkRaw).epb(0, 0, seqPacket(1)).b
	binary.LittleEndian.PutUint32(ng[28+20+4:], 0xfffffff0)
	tests := []struct {
		name   string
		b      []byte
		damage string
	}{
		{"pcap", pcap, "claims 4294967280 bytes"},
		{"pcapng", ng, "invalid length 4294967280"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, err := NewReader("huge", bytes.NewReader(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			var seg Segment
			for s.Next(&seg) {
			}
			runtime.ReadMemStats(&after)
			if d := s.Files()[0].Damage; !strings.Contains(d, tt.damage) {
				t.Errorf("Damage = %q, want it to say %q", d, tt.damage)
			}
			// The read buffer is 1 MiB; anything near the claim is a bug.
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("reading allocated %d bytes", n)
			}
		})
	}
}

// utf16LE encodes s in UTF-16, little-endian.
func utf16LE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// What TestOpenErrors expects of the text users send for a capture.
const (
	msgText      = "a text file, not a pcap or pcapng capture"
	msgTcpdump   = "tcpdump's printed output, not a capture; write the packets to a file with tcpdump -w FILE.pcap"
	msgList      = "a packet list printed by Wireshark or tshark, not a capture; save the packets themselves with File > Save As in Wireshark, or tshark -w FILE.pcapng"
	msgDissected = "packets dissected by Wireshark or tshark (a JSON or XML export), not a capture; save the packets themselves with tshark -w FILE.pcapng, or File > Save As in Wireshark"
)

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		file []byte // nil: use path as is
		path string
		msg  string // the one-line message after "path: "
	}{
		{name: "empty", file: []byte{}, msg: "empty file"},
		{name: "text", file: []byte("hello, this is not a capture\n"), msg: msgText},
		{name: "short", file: []byte{0xd4}, msg: "not a pcap or pcapng file"},
		{name: "binary", file: []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}, msg: "not a pcap or pcapng file"},
		{name: "text, a character cut at the end of the look", file: append(bytes.Repeat([]byte("a"), textPeek-1), "é and more"...), msg: msgText},
		{name: "text with a control character", file: []byte("abc\x01def"), msg: "not a pcap or pcapng file"},
		{name: "tcpdump's printed output", file: []byte("12:00:00.000000 IP 192.0.2.120.55001 > 198.51.100.130.80: Flags [S], seq 117443333, win 64240, length 0\n"), msg: msgTcpdump},
		{name: "tcpdump's printed output, UTF-16 as PowerShell redirects it", file: utf16LE("\ufeff12:00:00.000000 IP 192.0.2.120.55001 > 198.51.100.130.80: Flags [S], length 0\r\n"), msg: msgTcpdump},
		{name: "tshark's printed output after a UTF-8 byte order mark", file: []byte("\ufeff    1   0.000000  192.0.2.120 → 198.51.100.130 TCP 74 55001 → 80 [SYN]\n"), msg: msgList},
		{name: "UTF-16 text cut in a character", file: utf16LE("\ufeff" + strings.Repeat("a", textPeek/2-2) + "\U0001F600 and more"), msg: msgText},
		{name: "tcpdump's printed output with dates", file: []byte("2024-03-01 12:00:00.000000 IP 192.0.2.120.55001 > 198.51.100.130.80: Flags [S], seq 117443333, length 0\n"), msg: msgTcpdump},
		{name: "tcpdump's printed output in epoch seconds", file: []byte("1709294400.000000 IP 192.0.2.120.55001 > 198.51.100.130.80: Flags [S], length 0\n"), msg: msgTcpdump},
		{name: "tcpdump's printed output without times", file: []byte("IP 192.0.2.120.55001 > 198.51.100.130.80: Flags [S], length 0\n"), msg: msgTcpdump},
		{name: "tcpdump's printed output with its messages", file: []byte("reading from file clean.pcap, link-type EN10MB (Ethernet), snapshot length 262144\n12:00:00.000000 IP ...\n"), msg: msgTcpdump},
		{name: "tshark's printed output", file: []byte("    1   0.000000  192.0.2.120 → 198.51.100.130 TCP 74 55001 → 80 [SYN] Seq=0 Win=64240 Len=0\n"), msg: msgList},
		{name: "Wireshark's packet list as text", file: []byte("No.     Time           Source                Destination           Protocol Length Info\n      1 0.000000       192.0.2.120\n"), msg: msgList},
		{name: "Wireshark's packet list as CSV", file: []byte("\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n"), msg: msgList},
		{name: "tshark's hex dump", file: []byte("0000  02 00 00 00 05 01 02 00 00 00 0c 01 08 00 45 00   ..............E.\n"), msg: "a hex dump, not a capture; text2pcap (from Wireshark) turns one into a capture"},
		{name: "tshark's JSON", file: []byte("[\n  {\n    \"_index\": \"packets-2024-03-01\",\n    \"_type\": \"doc\",\n    \"_score\": null,\n    \"_source\": {\n      \"layers\": {\n"),
			msg: msgDissected},
		{name: "tshark's PDML", file: []byte("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"pdml2html.xsl\"?>\n<pdml version=\"0\" creator=\"wireshark/4.0.17\">\n"), msg: msgDissected},
		{name: "a browser's HAR", file: []byte(`{"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "120.0"}, "pages": []}}`),
			msg: "a browser's network log (HAR), which holds HTTP requests, not packets; capture the packets with tcpdump -w FILE.pcap or Wireshark"},
		{name: "Network Monitor", file: []byte("GMBU\x02\x02\x01\x00"), msg: "a Microsoft Network Monitor capture, not pcap or pcapng; convert it with editcap -F pcapng (from Wireshark)"},
		{name: "event trace", file: append(append(binary.LittleEndian.AppendUint32(nil, 0x10000), make([]byte, 0x44)...), 0x02, 0x00, 0x02, 0xc0, 0x30, 0x01, 0, 0),
			msg: "a Windows event trace (ETL), as pktmon and netsh trace write; convert it to pcapng with pktmon etl2pcap FILE --out FILE.pcapng (pktmon's) or etl2pcapng (netsh trace's)"},
		{name: "lz4", file: []byte{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7}, msg: "lz4-compressed; decompress it first (lz4 -d)"},
		{name: "bzip2", file: []byte("BZh91AY&SY"), msg: "bzip2-compressed; decompress it first (bunzip2)"},
		{name: "xz", file: []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 0}, msg: "xz-compressed; decompress it first (unxz)"},
		{name: "snoop", file: []byte("snoop\x00\x00\x00\x00\x00\x00\x02"), msg: "a Solaris snoop file, not pcap or pcapng; convert it with editcap -F pcap"},
		{name: "zip", file: []byte("PK\x03\x04rest"), msg: "a zip archive; extract the capture first"},
		{name: "pcap header cut", file: pcapFile(binary.LittleEndian, magicMicro, LinkRaw)[:20], msg: "truncated pcap file header"},
		{name: "gzip of text", file: gzipped(t, []byte("plain text")), msg: msgText},
		{name: "gzip of nothing", file: gzipped(t, nil), msg: "empty file"},
		{name: "gzip header cut", file: []byte{0x1f, 0x8b, 8}, msg: "damaged gzip header: unexpected EOF"},
		{name: "gzip cut before its data", file: gzipped(t, pcapFile(binary.LittleEndian, magicMicro, LinkRaw))[:10], msg: "gzip stream cut short before any of its data"},
		{name: "gzip cut in its magic", file: gzipped(t, pcapFile(binary.LittleEndian, magicMicro, LinkRaw))[:12], msg: "gzip stream cut short within its first 4 bytes of data"},
		// A deflate block of the reserved type 3 is damage from its first byte.
		{name: "gzip damaged before its data", file: append(gzipped(t, nil)[:10], 0x07, 0, 0, 0, 0, 0, 0, 0, 0),
			msg: "damaged gzip stream, before any of its data: flate: corrupt input before offset 1"},
		{name: "zstd of text", file: zstded(t, []byte("plain text")), msg: msgText},
		{name: "zstd of nothing", file: zstded(t, nil), msg: "empty file"},
		{name: "zstd magic alone", file: []byte{0x28, 0xb5, 0x2f, 0xfd}, msg: "zstd stream cut short before any of its data"},
		{name: "zstd cut in its frame header", file: zstded(t, pcapFile(binary.LittleEndian, magicMicro, LinkRaw))[:5], msg: "zstd stream cut short before any of its data"},
		// A frame header descriptor with its reserved bit set.
		{name: "zstd damaged before its data", file: []byte{0x28, 0xb5, 0x2f, 0xfd, 0x08, 0, 0, 0, 0, 0, 0, 0},
			msg: "damaged zstd stream, before any of its data: zstd: reserved bit set on frame header"},
		{name: "zstd window past the limit", file: zstdRawFrame(26, pcapFile(binary.LittleEndian, magicMicro, LinkRaw)),
			msg: "its zstd frame needs a window of 64 MiB, more than the 32 MiB read here (zstd --long and --ultra write such files); decompress it first (zstd -d)"},
		// One segment of 64 MiB, which the decoder would hold whole.
		{name: "zstd single segment past the limit", file: []byte{0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 4, 1, 0, 0},
			msg: "its zstd frame needs a window of 64 MiB, more than the 32 MiB read here (zstd --long and --ultra write such files); decompress it first (zstd -d)"},
		// A block larger than its frame's window.
		{name: "zstd block past its window", file: zstdRawFrame(10, pcapFile(binary.LittleEndian, magicMicro, LinkRaw, pcapRec{sec: base, data: make([]byte, 2000)})),
			msg: "damaged zstd stream, before any of its data: zstd: window size exceeded"},
		{name: "directory", path: dir, msg: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if tt.file != nil {
				path = writeFile(t, tt.name, tt.file)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if want := path + ": " + tt.msg; err.Error() != want {
				t.Errorf("Open error = %q, want %q", err, want)
			}
		})
	}
}

func TestOpenMissing(t *testing.T) {
	good := writeFile(t, "good.pcap", pcapFile(binary.LittleEndian, magicMicro, LinkRaw))
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	_, err := Open(good, missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(good, missing) error = %v, want fs.ErrNotExist", err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), missing+": ") {
		t.Errorf("Open error %q does not start with the missing file's name", err)
	}
	if _, err := Open(); err == nil {
		t.Error("Open() with no files succeeded")
	}
}

func TestNewReader(t *testing.T) {
	b := pcapFile(binary.BigEndian, magicNano, LinkEthernet, pcapRec{sec: base, frac: 42, data: seqFrame(9)})
	s, err := NewReader("-", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if diff := cmp.Diff([]got{{9, base*1e9 + 42, 0, 1}}, readAll(t, s)); diff != "" {
		t.Errorf("segments mismatch (-want +got):\n%s", diff)
	}
	if name := s.Files()[0].Name; name != "-" {
		t.Errorf("Files()[0].Name = %q, want \"-\"", name)
	}
	_, err = NewReader("stdin", strings.NewReader("GET / HTTP/1.1\r\n"))
	if err == nil || err.Error() != "stdin: "+msgText {
		t.Errorf("NewReader(text) error = %v, want %q", err, "stdin: "+msgText)
	}
}

// TestLargeRecord reads a record larger than the read buffer, which takes
// the copying path of the reader.
func TestLargeRecord(t *testing.T) {
	big := ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{seq: 1, flags: ACK}))
	big = append(big, make([]byte, readBufferSize+100)...) // past the IP length: trailer
	w := newNg(binary.LittleEndian).idb(LinkRaw)
	for i, p := range [][]byte{big, seqPacket(2), big, seqPacket(4)} {
		w.epb(0, uint64(i), p)
	}
	b := w.b
	s := newSource(t, b)
	want := []got{{1, 0, 0, 1}, {2, 1000, 0, 2}, {1, 2000, 0, 3}, {4, 3000, 0, 4}}
	if diff := cmp.Diff(want, readAll(t, s)); diff != "" {
		t.Errorf("segments mismatch (-want +got):\n%s", diff)
	}
	if d := s.Files()[0].Damage; d != "" {
		t.Errorf("Damage = %q", d)
	}
}

// TestWireLength checks that each reader passes the original length on, so
// that a segmentation-offload packet (IP length 0) captured with a small
// snap length still gets its payload length.
func TestWireLength(t *testing.T) {
	tso := eth(0x0800, patch(seqPacket(1), 2, 0, 0)) // IP total length 0
	const orig = 14 + 20 + 20 + 9000
	files := map[string][]byte{
		"pcap":   pcapFile(binary.BigEndian, magicMicro, LinkEthernet, pcapRec{data: tso, orig: orig}),
		"pcapng": newNg(binary.LittleEndian).idb(LinkEthernet).epbWire(0, 0, tso, orig).b,
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			s := newSource(t, b)
			var seg Segment
			if !s.Next(&seg) {
				t.Fatalf("no segment; damage %q", s.Files()[0].Damage)
			}
			if seg.PayloadLen != 9000 {
				t.Errorf("PayloadLen = %d, want 9000", seg.PayloadLen)
			}
		})
	}
}

// TestEpochTimestamps checks the time range when captures start at the Unix
// epoch, as synthetic ones often do, or before it (a negative if_tsoffset).
func TestEpochTimestamps(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name        string
		file        []byte
		first, last int64
	}{
		{
			name: "from zero",
			file: pcapFile(le, magicMicro, LinkRaw, pcapRec{data: seqPacket(1)}, pcapRec{sec: 1, data: seqPacket(2)}),
			last: 1e9,
		},
		{
			name: "before the epoch",
			file: func() []byte {
				w := newNg(le)
				offset := int64(-10) // seconds
				return w.idb(LinkRaw, w.opt(ngOptionTsoffset, u64(le, uint64(offset)))).
					epb(0, 3e6, seqPacket(1)).epb(0, 5e6, seqPacket(2)).b
			}(),
			first: -7e9,
			last:  -5e9,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(t, tt.file)
			readAll(t, s)
			st, fi := s.Stats(), s.Files()[0]
			if st.First != tt.first || st.Last != tt.last || st.Backwards != 0 {
				t.Errorf("Stats: First %d, Last %d, Backwards %d; want %d, %d, 0", st.First, st.Last, st.Backwards, tt.first, tt.last)
			}
			if fi.First != tt.first || fi.Last != tt.last {
				t.Errorf("Files()[0]: First %d, Last %d; want %d, %d", fi.First, fi.Last, tt.first, tt.last)
			}
		})
	}
}

// TestNextNoAllocs checks that reading packets does not allocate once the
// reader is set up.
func TestNextNoAllocs(t *testing.T) {
	le := binary.LittleEndian
	var recs []pcapRec
	w := newNg(le).idb(LinkEthernet).idb(LinkRaw)
	for i := range 1000 {
		recs = append(recs, pcapRec{sec: base, frac: uint32(i), data: seqFrame(uint32(i))})
		if i%2 == 0 {
			w.epb(0, uint64(i), seqFrame(uint32(i)))
		} else {
			w.epb(1, uint64(i), seqPacket(uint32(i)))
		}
		if i%3 == 0 {
			w.block(5, make([]byte, 12)) // statistics, skipped
		}
	}
	files := map[string][]byte{
		"pcap":        pcapFile(le, magicMicro, LinkEthernet, recs...),
		"pcapng":      w.b,
		"gzip pcapng": gzipped(t, w.b),
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			s := newSource(t, b)
			var seg Segment
			s.Next(&seg) // the link type table grows on first sight
			s.Next(&seg)
			allocs := testing.AllocsPerRun(500, func() {
				if !s.Next(&seg) {
					t.Fatal("ran out of packets")
				}
			})
			if allocs != 0 {
				t.Errorf("Next allocates %v times per packet, want 0", allocs)
			}
		})
	}
}

func TestClockLeaps(t *testing.T) {
	day := uint32(24 * 3600)
	b := pcapFile(binary.LittleEndian, magicMicro, LinkEthernet,
		pcapRec{sec: 1_000_000, data: seqFrame(1)},
		pcapRec{sec: 1_000_000 + 29*day, data: seqFrame(2)}, // long, but a month of quiet is possible
		pcapRec{sec: 1_000_000 + 29*day + 31*day, data: seqFrame(3)},
	)
	s := newSource(t, b)
	readAll(t, s)
	if st := s.Stats(); st.Leaps != 1 {
		t.Errorf("Leaps = %d, want 1 (only the jump past %v)", st.Leaps, ClockLeap)
	}
}

// TestRotatedFiles checks that of many rotated files, which follow each
// other in time, one or two are open at a time, not all (each open file
// holds its buffers and a descriptor), and that a file read to its end
// lets go of both, while the segments, counts and progress are those of
// one file; and that a file gone before the merge reached it is reported,
// not fatal.
func TestRotatedFiles(t *testing.T) {
	le := binary.LittleEndian
	const files, per = 40, 700 // more than a batch per file
	var paths []string
	var all []pcapRec
	size := int64(0)
	for i := range files {
		var recs []pcapRec
		for j := range per {
			recs = append(recs, pcapRec{sec: base + uint32(i), frac: uint32(j), data: seqFrame(uint32(i*per + j))})
		}
		all = append(all, recs...)
		b := pcapFile(le, magicMicro, LinkEthernet, recs...)
		size += int64(len(b))
		paths = append(paths, writeFile(t, fmt.Sprintf("r%02d.pcap", i), b))
	}
	for _, batches := range []bool{false, true} {
		s, err := Open(paths...)
		if err != nil {
			t.Fatal(err)
		}
		if read, total := s.Progress(); total != size || read > total/4 {
			t.Errorf("batches %v: progress %d of %d once open; want the total %d and no more than the first file", batches, read, total, size)
		}
		mostOpen, n := 0, 0
		for {
			var got int
			var seg Segment
			if batches {
				got = len(s.NextBatch())
			} else if s.Next(&seg) {
				got = 1
			}
			if got == 0 {
				break
			}
			n += got
			open := 0
			for _, f := range s.files {
				if f.closer != nil {
					open++
				}
			}
			mostOpen = max(mostOpen, open)
		}
		if n != files*per || mostOpen < 1 || mostOpen > 2 {
			t.Errorf("batches %v: %d segments, most files open at once %d; want %d, 1 or 2", batches, n, mostOpen, files*per)
		}
		if read, total := s.Progress(); read != size || total != size {
			t.Errorf("batches %v: progress %d of %d; want %d of %d", batches, read, total, size, size)
		}
		one := newSource(t, pcapFile(le, magicMicro, LinkEthernet, all...))
		var seg Segment
		for one.Next(&seg) {
		}
		if diff := cmp.Diff(one.Stats(), s.Stats()); diff != "" {
			t.Errorf("batches %v: stats of the rotated files differ from one file's (-one +rotated):\n%s", batches, diff)
		}
		for i, fi := range s.Files() {
			if fi.Packets != per || fi.Damage != "" || fi.First != int64(base+i)*1e9 {
				t.Errorf("batches %v: file %d: %+v", batches, i, fi)
			}
			if f := s.files[i]; f.pool != nil || f.br != nil || f.closer != nil {
				t.Errorf("batches %v: file %d, read to its end, still holds its buffers or descriptor", batches, i)
			}
		}
		s.Close()
	}

	s, err := Open(paths[:3]...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Remove(paths[2]); err != nil {
		t.Fatal(err)
	}
	var seg Segment
	n := 0
	for s.Next(&seg) {
		n++
	}
	if fi := s.Files()[2]; n != 2*per || !strings.Contains(fi.Damage, "could not be opened again") || fi.Packets != 0 {
		t.Errorf("file removed before its turn: %d segments, %+v", n, fi)
	}
}

// TestRotatedFilesShareChunks checks that rotated files read into the
// chunks and batches the files before them left, rather than each into
// new ones: eight files of 2.4 MB, each read into up to three 1 MiB chunks
// and five batches of 84 KB, allocate 2.4 to 3.5 MB in all (6.4 to 7 MB
// when each file made its own batches and first chunk, 24 MB and more
// when it made its own chunks too).
func TestRotatedFilesShareChunks(t *testing.T) {
	le := binary.LittleEndian
	frame := eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1000, dport: 80, flags: ACK, payload: 1400})))
	var paths []string
	for i := range 8 {
		recs := make([]pcapRec, 1600)
		for j := range recs {
			recs[j] = pcapRec{sec: base + uint32(i), frac: uint32(j), data: frame}
		}
		paths = append(paths, writeFile(t, fmt.Sprintf("r%d.pcap", i), pcapFile(le, magicMicro, LinkEthernet, recs...)))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for b := s.NextBatch(); len(b) > 0; b = s.NextBatch() {
		n += len(b)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if n != 8*1600 || alloc > 9<<19 {
		t.Errorf("read %d segments allocating %.1f MB; want %d segments and at most 4.5 MB", n, float64(alloc)/(1<<20), 8*1600)
	} else {
		t.Logf("%.1f MB allocated", float64(alloc)/(1<<20))
	}
}

// TestZstdDamage reads a zstd-compressed capture of many blocks cut short
// or damaged past its first block, or followed by a frame too large to
// hold: the packets before the damage come through, in order, and the
// damage says at which packet reading stopped and why.
func TestZstdDamage(t *testing.T) {
	frames, pcap := manyFramesPcap(3000)
	z := zstded(t, pcap)
	badSum := patch(z, len(z)-4, z[len(z)-4]^0xff) // the frame's checksum
	// A second frame of 64 GiB in one segment, which the decoder would
	// hold whole.
	bomb := append(slices.Clip(z), 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0)
	for _, tt := range []struct {
		name   string
		file   []byte
		all    bool   // every packet comes through, and then the damage
		damage string // a substring of the damage
	}{
		{name: "cut midway", file: z[:len(z)/2], damage: "truncated record"},
		// The decoder keeps a frame's last block until its checksum is
		// read and checked.
		{name: "checksum cut off", file: z[:len(z)-4], damage: "truncated record"},
		{name: "checksum wrong", file: badSum, damage: "): zstd: CRC check failed"},
		{name: "a later frame too large", file: bomb, all: true, damage: "): zstd: a frame needs a larger window, more than the 32 MiB read here (zstd --long and --ultra write such files); decompress it first (zstd -d)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(t, tt.file)
			var seg Segment
			n := 0
			for ; s.Next(&seg); n++ {
				if seg.Seq != uint32(n) {
					t.Fatalf("segment %d has Seq %d", n, seg.Seq)
				}
			}
			fi := s.Files()[0]
			if n == 0 || n > len(frames) || tt.all != (n == len(frames)) || !strings.Contains(fi.Damage, tt.damage) || !strings.Contains(fi.Damage, fmt.Sprintf("(packet %d)", n+1)) {
				t.Errorf("%d of %d segments, damage %q; want all %v, and damage at packet %d with %q", n, len(frames), fi.Damage, tt.all, n+1, tt.damage)
			}
			t.Logf("%d of %d segments, damage %q", n, len(frames), fi.Damage)
		})
	}
}

// TestZstdWindows reads frames that declare windows up to the 32 MiB
// read (8 MiB is the most zstd's levels 1 to 19 use), and a file that
// starts with a skippable frame.
func TestZstdWindows(t *testing.T) {
	frames, pcap := manyFramesPcap(20)
	// A skippable frame (as pzstd writes first), then the frame.
	skippable := append([]byte{0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3}, zstdRawFrame(20, pcap)...)
	for _, file := range [][]byte{zstdRawFrame(14, pcap), zstdRawFrame(23, pcap), zstdRawFrame(25, pcap), skippable} {
		s := newSource(t, file)
		checkFrames(t, s, frames)
		if c := s.Files()[0].Compression; c != "zstd" {
			t.Errorf("compression %q, want zstd", c)
		}
	}
}
