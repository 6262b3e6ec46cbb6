package pcapio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// filterExprs are the expressions the libpcap proof runs: what people type
// when they capture TCP, and some the built-in compiler refuses.
var filterExprs = []struct {
	expr    string
	refused bool // wraps ErrFilterUnsupported
}{
	{expr: ""}, // TCP, and the tunnels' UDP
	{expr: "tcp"},
	{expr: "tcp port 443"},
	{expr: "port 80"},
	{expr: "tcp port 80 and host 10.0.0.1"},
	{expr: "host 192.0.2.10"},
	{expr: "src host 192.168.1.1"},
	{expr: "dst port 80"},
	{expr: "net 10.0.0.0/8"},
	{expr: "src net 192.168.0.0/16"},
	{expr: "not port 22"},
	{expr: "tcp and not port 22"},
	{expr: "ip6"},
	{expr: "ip"},
	{expr: "tcp and (port 80 or port 443)"},
	{expr: "tcp port 80 or 443"},
	{expr: "port 80 or port 443 and host 192.0.2.10"},
	{expr: "host 198.51.100.2 and port 8080"},
	{expr: "ip6 host 2001:db8::1"},
	{expr: "ip6 net 2001:db8::/32"},
	{expr: "src net 2001:db8::/64"},
	{expr: "dst net 2001:db8::/63 or src net 2001:db8::/127"},
	{expr: "net 2001::/16"},
	{expr: "src or dst host 192.168.1.1"},
	{expr: "host 192.0.2.2 && !port 22"},
	{expr: "udp"},
	{expr: "ip proto 6"},
	{expr: "ip6 proto 6"},
	{expr: "proto 6 and not ip6 proto 6"},
	{expr: "not proto 6"},
	{expr: "proto 17 or 6"},
	{expr: "portrange 8000-8100", refused: true},
	{expr: "tcp[tcpflags] & tcp-rst != 0", refused: true},
	{expr: "vlan and tcp", refused: true},
	{expr: "host example.com", refused: true},
}

// frameSet is a capture's frames, read with pcapio's own readers.
type frameSet struct {
	path   string
	link   uint16 // LinkEthernet, or LinkRaw for any raw-IP link type
	frames [][]byte
}

// readFrameSet reads every frame of path, with gopacket's pcapng reader
// and a classic pcap reader of its own (not pcapio's, to keep the proof
// independent of them), and says whether they
// all have one link type a filter can run on: Ethernet, or raw IP.
func readFrameSet(path string) (frameSet, bool) {
	f, err := os.Open(path)
	if err != nil {
		return frameSet{}, false
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	var read func() ([]byte, uint16, error)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		opts := pcapgo.DefaultNgReaderOptions
		opts.WantMixedLinkType = true // files of several link types are left out
		r, err := pcapgo.NewNgReader(br, opts)
		if err != nil {
			return frameSet{}, false
		}
		read = func() ([]byte, uint16, error) {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				return nil, 0, err
			}
			ifc, err := r.Interface(ci.InterfaceIndex)
			if ifc.SnapLength > 0 && len(data) > int(ifc.SnapLength) {
				data = data[:ifc.SnapLength] // as libpcap reads it
			}
			return data, uint16(ifc.LinkType), err
		}
	} else {
		// Classic pcap is read here: gopacket stops at a record longer
		// than the snap length, which libpcap cuts to it.
		var order binary.ByteOrder = binary.LittleEndian
		h := make([]byte, 24)
		if _, err := io.ReadFull(br, h); err != nil {
			return frameSet{}, false
		}
		switch binary.LittleEndian.Uint32(h) {
		case 0xa1b2c3d4, 0xa1b23c4d:
		case 0xd4c3b2a1, 0x4d3cb2a1:
			order = binary.BigEndian
		default:
			return frameSet{}, false // not pcap, or the modified pcap format
		}
		if order.Uint16(h[4:6]) != 2 || order.Uint16(h[6:8]) != 4 {
			return frameSet{}, false // a version libpcap rejects
		}
		snaplen := order.Uint32(h[16:20])
		link := uint16(order.Uint32(h[20:24]))
		read = func() ([]byte, uint16, error) {
			if _, err := io.ReadFull(br, h[:16]); err != nil {
				return nil, 0, err
			}
			n := order.Uint32(h[8:12])
			if n > 1<<24 {
				return nil, 0, errors.New("record too long")
			}
			data := make([]byte, n)
			if _, err := io.ReadFull(br, data); err != nil {
				return nil, 0, err
			}
			if snaplen > 0 && n > snaplen {
				data = data[:snaplen] // as libpcap reads it
			}
			return data, link, nil
		}
	}
	fs := frameSet{path: path}
	for {
		data, link, err := read()
		if err != nil {
			break
		}
		switch link {
		case LinkRaw, LinkRaw12, LinkRaw14, LinkIPv4, LinkIPv6:
			link = LinkRaw
		case LinkEthernet:
		default:
			return frameSet{}, false
		}
		if len(fs.frames) > 0 && link != fs.link {
			return frameSet{}, false
		}
		fs.link = link
		fs.frames = append(fs.frames, bytes.Clone(data))
	}
	return fs, len(fs.frames) > 0
}

// libpcapVerdicts runs tcpdump with expr over the file and returns, per
// frame, whether libpcap's filter accepted it. tcpdump writes the accepted
// frames to a file, which is matched in order against the input: a BPF
// verdict depends only on a frame's bytes, so identical frames share it
// and the greedy match is exact.
func libpcapVerdicts(tcpdump string, fs frameSet, expr, dir string) ([]bool, error) {
	f, err := os.CreateTemp(dir, "tcpdump-*.pcap")
	if err != nil {
		return nil, err
	}
	out := f.Name()
	f.Close()
	defer os.Remove(out)
	cmd := exec.Command(tcpdump, "-r", fs.path, "-w", out, expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	verdicts := make([]bool, len(fs.frames))
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "expression rejects all packets") {
			return verdicts, nil // libpcap's optimizer proved it for this link type
		}
		// A damaged file ends tcpdump with an error after the good
		// packets; a rejected expression writes nothing at all.
		if st, serr := os.Stat(out); serr != nil || st.Size() == 0 {
			return nil, fmt.Errorf("tcpdump: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
	}
	acc, _ := readFrameSet(out)
	j := 0
	for i, fr := range fs.frames {
		if j < len(acc.frames) && bytes.Equal(fr, acc.frames[j]) {
			verdicts[i] = true
			j++
		}
	}
	if j != len(acc.frames) {
		return nil, fmt.Errorf("tcpdump accepted %d frames, %d of them matched in order", len(acc.frames), j)
	}
	return verdicts, nil
}

// runFilter runs a program on one frame.
func runFilter(t *testing.T, prog []bpf.Instruction, frame []byte) bool {
	t.Helper()
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("bpf: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("bpf: %v", err)
	}
	return n > 0
}

// cookedPacket returns the EtherType the kernel gives a frame's packet on
// a cooked socket and the packet without its link header; ok is false for
// frames whose cooked form is not known (VLAN tags, cut headers).
func cookedPacket(link uint16, frame []byte) (etherType uint32, pkt []byte, ok bool) {
	if link == LinkEthernet {
		if len(frame) < etherHeaderLen {
			return 0, nil, false
		}
		et := uint32(frame[12])<<8 | uint32(frame[13])
		if et == 0x8100 || et == 0x88a8 || et == 0x9100 {
			return 0, nil, false
		}
		return et, frame[etherHeaderLen:], true
	}
	if len(frame) == 0 {
		return 0, nil, false
	}
	et := uint32(ipVersionType(frame[0]))
	return et, frame, et != 0
}

// filterCaptures lists the captures of the proof: testdata always, the
// shared corpus unless -short.
func filterCaptures(t *testing.T) []frameSet {
	t.Helper()
	paths := globFiles(t, "../testdata/pcaps/*.pcap*")
	paths = append(paths, globFiles(t, "../testdata/pcaps/lab/*.pcap")...)
	if _, err := os.Stat(corpusDir); err != nil {
		t.Logf("corpus %s not found, proving on testdata only: %v", corpusDir, err)
	} else if testing.Short() {
		t.Log("-short: proving on testdata only, not on the corpus")
	} else {
		for _, ext := range []string{"pcap", "pcapng", "cap"} {
			m, _ := filepath.Glob(filepath.Join(corpusDir, "*."+ext))
			paths = append(paths, m...)
		}
	}
	var sets []frameSet
	for _, p := range paths {
		if strings.HasSuffix(p, ".gz") {
			continue // tcpdump does not read gzip
		}
		if fs, ok := readFrameSet(p); ok {
			sets = append(sets, fs)
		}
	}
	return sets
}

// TestFilterMatchesLibpcap is the proof that filters compiled without
// libpcap select the packets libpcap selects: for each expression and each
// Ethernet or raw-IP capture of testdata/pcaps and the shared corpus, the
// frames the compiled program accepts must be those that
// tcpdump -r FILE 'tcp and (EXPR)' accepts (a live capture keeps only TCP),
// or, for no expression, 'tcp or ' and the tunnels (tunnelCarriers).
// Ethernet programs (a named interface) run on Ethernet frames; cooked
// programs (-i any, SOCK_DGRAM) run on the same frames without their
// Ethernet header and on raw-IP captures, with the EtherType the kernel
// would supply.
func TestFilterMatchesLibpcap(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not found (apt-get install tcpdump); libpcap is the reference of the filter proof")
	}
	sets := filterCaptures(t)
	dir := t.TempDir()
	for _, tt := range filterExprs {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel() // tcpdump runs in processes of its own
			ether, err := compileFilter(tt.expr, false, 1<<18)
			if tt.refused {
				if !errors.Is(err, ErrFilterUnsupported) {
					t.Fatalf("compileFilter = %v, want ErrFilterUnsupported", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cooked, err := compileFilter(tt.expr, true, 1<<18)
			if err != nil {
				t.Fatal(err)
			}
			var files, frames, accepted, cookedFrames int
			for _, fs := range sets {
				full := "tcp and (" + tt.expr + ")"
				if tt.expr == "" {
					full = "tcp or " + tunnelCarriers
				}
				want, err := libpcapVerdicts(tcpdump, fs, full, dir)
				if err != nil {
					t.Errorf("%s: %v", fs.path, err)
					continue
				}
				files++
				var bad []string
				for i, fr := range fs.frames {
					frames++
					if want[i] {
						accepted++
					}
					if fs.link == LinkEthernet {
						if got := runFilter(t, ether, fr); got != want[i] {
							bad = append(bad, fmt.Sprintf("%d (Ethernet program: %v, libpcap %v)", i+1, got, want[i]))
							continue
						}
					}
					if et, pkt, ok := cookedPacket(fs.link, fr); ok {
						cookedFrames++
						if got := runFilter(t, substituteExtProto(cooked, et), pkt); got != want[i] {
							bad = append(bad, fmt.Sprintf("%d (cooked program: %v, libpcap %v)", i+1, got, want[i]))
						}
					}
				}
				if len(bad) > 0 {
					t.Errorf("%s: %d frames differ: %s", fs.path, len(bad), strings.Join(bad[:min(len(bad), 5)], ", "))
				}
			}
			t.Logf("%q: %d captures, %d frames (%d also as cooked packets), %d accepted by libpcap and by the compiled programs", tt.expr, files, frames, cookedFrames, accepted)
		})
	}
}

// treeString writes a parsed expression with explicit parentheses.
func treeString(n *filterNode) string {
	switch n.op {
	case opAnd:
		return "(" + treeString(n.l) + " and " + treeString(n.r) + ")"
	case opOr:
		return "(" + treeString(n.l) + " or " + treeString(n.r) + ")"
	case opNot:
		return "not " + treeString(n.l)
	}
	return "[" + n.prim.String() + "]"
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{name: "and and or from the left", expr: "port 80 or port 443 and host 192.0.2.1",
			want: "(([port 80] or [port 443]) and [host 192.0.2.1])"},
		{name: "parentheses", expr: "port 80 or (port 443 and host 192.0.2.1)",
			want: "([port 80] or ([port 443] and [host 192.0.2.1]))"},
		{name: "not binds tightest", expr: "not port 22 and tcp", want: "(not [port 22] and [tcp])"},
		{name: "omitted qualifiers", expr: "tcp dst port 80 or 443", want: "([tcp dst port 80] or [tcp dst port 443])"},
		{name: "omitted after not", expr: "host 192.0.2.1 and not 192.0.2.2", want: "([host 192.0.2.1] and not [host 192.0.2.2])"},
		{name: "symbols", expr: "!port 22&&(host 192.0.2.1||host 2001:db8::1)", want: "(not [port 22] and ([host 192.0.2.1] or [host 2001:db8::1]))"},
		{name: "bare address", expr: "192.0.2.1", want: "[host 192.0.2.1]"},
		{name: "direction without kind", expr: "src 192.0.2.1", want: "[src host 192.0.2.1]"},
		{name: "src or dst", expr: "src or dst net 10.0.0.0/8", want: "[src or dst net 10.0.0.0/8]"},
		{name: "ip4 and service name", expr: "ip4 and port https", want: "([ip] and [port 443])"},
		{name: "net as address", expr: "net 2001:DB8::", want: "[net 2001:db8::/128]"},
		{name: "protocols", expr: "ip proto 47 or 4 or ip6 proto 41", want: "(([ip proto 47] or [ip proto 4]) or [ip6 proto 41])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseFilter(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := treeString(n); got != tt.want {
				t.Errorf("parse %q = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		name, expr  string
		unsupported bool // wraps ErrFilterUnsupported
	}{
		{name: "open parenthesis", expr: "(tcp"},
		{name: "close parenthesis", expr: "tcp)"},
		{name: "ends early", expr: "tcp and"},
		{name: "kind without value", expr: "host"},
		{name: "port range", expr: "port 99999"},
		{name: "unknown port", expr: "port nosuchservice"},
		{name: "host bits", expr: "net 10.0.0.1/8"},
		{name: "families", expr: "ip host 2001:db8::1"},
		{name: "tcp host", expr: "tcp 80"},
		{name: "ip port", expr: "ip port 80", unsupported: true},
		{name: "portrange", expr: "tcp portrange 1-2", unsupported: true},
		{name: "accessor", expr: "ip[8] < 64", unsupported: true},
		{name: "comparison", expr: "len != 60", unsupported: true},
		{name: "ether", expr: "ether host 00:11:22:33:44:55", unsupported: true},
		{name: "host name", expr: "host localhost", unsupported: true},
		{name: "mask", expr: "net 10.0.0.0 mask 255.0.0.0", unsupported: true},
		{name: "proto range", expr: "proto 256"},
		{name: "tcp proto", expr: "tcp proto 6"},
		{name: "src proto", expr: "src proto 6"},
		{name: "proto name", expr: "ip proto gre", unsupported: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileFilter(tt.expr, false, 256)
			if err == nil {
				t.Fatalf("compileFilter(%q) accepted it", tt.expr)
			}
			if errors.Is(err, ErrFilterUnsupported) != tt.unsupported {
				t.Errorf("compileFilter(%q) = %v; unsupported %v", tt.expr, err, tt.unsupported)
			}
		})
	}
}

// TestFilterBounds checks the limits that keep the parser's recursion and
// its errors bounded: nesting up to maxFilterDepth compiles to the program
// of the bare primitive, one level more is an error, and so are more
// primitives than the kernel's limit on instructions and more than
// maxFilterBytes of text. The errors quote a long expression cut short.
// An expression of ten million negations crashed the fuzzer's worker
// before the limits.
func TestFilterBounds(t *testing.T) {
	want, err := compileFilter("port 80", false, 256)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, open, close string }{
		{"negations", "not ", ""},
		{"symbolic negations", "!", ""},
		{"parentheses", "(", ")"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			deepest := strings.Repeat(tt.open, maxFilterDepth) + "port 80" + strings.Repeat(tt.close, maxFilterDepth)
			got, err := compileFilter(deepest, false, 256)
			if err != nil {
				t.Fatalf("%d deep: %v", maxFilterDepth, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%d deep compiles to %d instructions, not port 80's %d", maxFilterDepth, len(got), len(want))
			}
			tooDeep := tt.open + deepest + tt.close
			if _, err := compileFilter(tooDeep, false, 256); err == nil || !strings.Contains(err.Error(), "nested more than 1000 deep") {
				t.Errorf("%d deep: error %v", maxFilterDepth+1, err)
			}
		})
	}
	for _, tt := range []struct{ expr, want string }{
		{strings.Repeat("port 1 or ", maxFilterLen) + "port 1", "more than 4096 primitives"},
		{"port 1 or " + strings.Repeat("1 or ", maxFilterBytes/5-3) + "1", "more than 4096 primitives"},
		{strings.Repeat("!", 10_000_000) + "port 80", "10000007 bytes long"},
	} {
		_, err := compileFilter(tt.expr, false, 256)
		if err == nil {
			t.Fatalf("an expression of %d bytes compiled", len(tt.expr))
		}
		if msg := err.Error(); len(msg) > 400 || !strings.Contains(msg, "...") || !strings.Contains(msg, tt.want) {
			t.Errorf("an expression of %d bytes: error of %d bytes: %.100s ... %s", len(tt.expr), len(msg), msg, msg[max(0, len(msg)-100):])
		}
	}
}

// FuzzCompileFilter checks that no expression makes the compiler panic or
// emit a program the kernel would refuse.
func FuzzCompileFilter(f *testing.F) {
	for _, tt := range filterExprs {
		f.Add(tt.expr)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, cooked := range []bool{false, true} {
			prog, err := compileFilter(expr, cooked, 256)
			if err != nil {
				continue
			}
			if _, err := bpf.Assemble(prog); err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
		}
	})
}
