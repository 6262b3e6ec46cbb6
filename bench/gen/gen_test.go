package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

func generate(t *testing.T, cfg Config) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(buf.Len()) != sum.Bytes {
		t.Fatalf("Summary.Bytes = %d, wrote %d", sum.Bytes, buf.Len())
	}
	return buf.Bytes(), sum
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Mix: Realistic, Size: 2 << 20, Seed: 7}
	a, _ := generate(t, cfg)
	b, _ := generate(t, cfg)
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same seed differ")
	}
	cfg.Seed = 8
	if c, _ := generate(t, cfg); bytes.Equal(a, c) {
		t.Error("two seeds give the same capture")
	}
}

// TestCapture reads generated captures back and checks what the package
// comment promises of them.
func TestCapture(t *testing.T) {
	tests := []struct {
		name             string
		cfg              Config
		perPacket        [2]float64 // bounds on bytes per record
		perFlow          [2]float64 // bounds on packets per flow
		sizeLo, sizeHi   int64
		span             time.Duration
		vlan, v6, nonTCP bool
		v4Only, v6Only   bool
		closes           bool // flows end in FIN or RST
		finOnly          bool // flows end in FIN only
	}{
		{name: "realistic", cfg: Config{Mix: Realistic, Size: 16 << 20, Seed: 1},
			perPacket: [2]float64{300, 450}, perFlow: [2]float64{70, 130},
			sizeLo: 14 << 20, sizeHi: 18 << 20, span: 1000 * time.Second, vlan: true, v6: true, nonTCP: true, closes: true},
		{name: "small", cfg: Config{Mix: Small, Flows: 20000, Seed: 1},
			perPacket: [2]float64{90, 130}, perFlow: [2]float64{3.3, 3.9},
			span: 300 * time.Second, vlan: true, v6: true, closes: true},
		{name: "open", cfg: Config{Mix: Open, Flows: 20000, Seed: 1},
			perPacket: [2]float64{90, 130}, perFlow: [2]float64{2.95, 3},
			span: 300 * time.Second, vlan: true, v6: true},
		{name: "keepalive", cfg: Config{Mix: Keepalive, Flows: 5000, Duration: 600 * time.Second, Seed: 1},
			perPacket: [2]float64{140, 180}, perFlow: [2]float64{15, 19},
			span: 600 * time.Second, vlan: true, v6: true, nonTCP: true, closes: true, finOnly: true},
		{name: "pooled", cfg: Config{Mix: Pooled, Flows: 2000, Duration: 900 * time.Second, Seed: 1},
			perPacket: [2]float64{250, 340}, perFlow: [2]float64{19, 24},
			span: 900 * time.Second, vlan: true, v6: true, nonTCP: true},
		{name: "pooled, four times as long", cfg: Config{Mix: Pooled, Flows: 2000, Duration: 3600 * time.Second, Seed: 1},
			perPacket: [2]float64{250, 340}, perFlow: [2]float64{60, 78}, // the same connections, longer
			span: 3600 * time.Second, vlan: true, v6: true, nonTCP: true},
		{name: "scan", cfg: Config{Mix: Scan, Flows: 20000, Duration: 10 * time.Second, Seed: 1},
			perPacket: [2]float64{85, 100}, perFlow: [2]float64{1, 1},
			span: 10 * time.Second, vlan: true, v6: true},
		{name: "small, IPv4 only", cfg: Config{Mix: Small, Flows: 5000, IPv6: -1, Seed: 1},
			perPacket: [2]float64{80, 130}, perFlow: [2]float64{3.3, 3.9},
			span: 300 * time.Second, vlan: true, v4Only: true, closes: true},
		{name: "open, IPv6 only", cfg: Config{Mix: Open, Flows: 5000, IPv6: 100, Seed: 1},
			perPacket: [2]float64{90, 150}, perFlow: [2]float64{2.95, 3},
			span: 300 * time.Second, vlan: true, v6: true, v6Only: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, sum := generate(t, tt.cfg)
			if tt.sizeHi > 0 && (int64(len(b)) < tt.sizeLo || int64(len(b)) > tt.sizeHi) {
				t.Errorf("size %d, want %d to %d", len(b), tt.sizeLo, tt.sizeHi)
			}
			if tt.cfg.Flows > 0 && sum.Flows != tt.cfg.Flows {
				t.Errorf("%d flows, want %d", sum.Flows, tt.cfg.Flows)
			}
			if d := sum.Span - tt.span; d > 0 || d < -tt.span/50 {
				t.Errorf("span %s, want just under %s", sum.Span, tt.span)
			}
			per := float64(len(b)) / float64(sum.Packets)
			flows := float64(sum.Packets) / float64(sum.Flows)
			if per < tt.perPacket[0] || per > tt.perPacket[1] || flows < tt.perFlow[0] || flows > tt.perFlow[1] {
				t.Errorf("%.0f bytes a record, %.1f packets a flow; want %v and %v", per, flows, tt.perPacket, tt.perFlow)
			}

			src, err := pcapio.NewReader("gen", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			var seg pcapio.Segment
			var vlan, v4, v6, rst, syn, fin bool
			for src.Next(&seg) {
				raw, _ := src.Raw()
				vlan = vlan || binary.BigEndian.Uint16(raw.Data[12:]) == 0x8100
				v6 = v6 || seg.Src().Addr().Is6()
				v4 = v4 || seg.Src().Addr().Is4()
				rst = rst || seg.Has(pcapio.RST)
				syn = syn || seg.Has(pcapio.SYN)
				fin = fin || seg.Has(pcapio.FIN)
			}
			st := src.Stats()
			if d := src.Files()[0].Damage; d != "" || st.Packets != sum.Packets || st.Backwards != 0 {
				t.Errorf("read %d of %d packets, %d out of order, damage %q", st.Packets, sum.Packets, st.Backwards, d)
			}
			if nonTCP := st.Packets > st.TCP(); nonTCP != tt.nonTCP || st.Skipped[pcapio.Malformed]+st.Skipped[pcapio.Truncated] > 0 {
				t.Errorf("skipped packets: %v", st.Skipped)
			}
			if vlan != tt.vlan || v6 != tt.v6 || rst != (tt.closes && !tt.finOnly) || !syn || fin != tt.closes {
				t.Errorf("VLAN %v, IPv6 %v, RST %v, SYN %v, FIN %v", vlan, v6, rst, syn, fin)
			}
			if v4 == tt.v6Only || v6 == tt.v4Only {
				t.Errorf("IPv4 %v, IPv6 %v; want only IPv4 %v, only IPv6 %v", v4, v6, tt.v4Only, tt.v6Only)
			}
		})
	}
}

// TestLength checks that -length scales the span and the flows alike.
func TestLength(t *testing.T) {
	_, one := generate(t, Config{Mix: Small, Flows: 4000, Seed: 3})
	_, four := generate(t, Config{Mix: Small, Flows: 4000, Length: 4, Seed: 3})
	if four.Flows != 4*one.Flows {
		t.Errorf("flows %d at length 4, %d at length 1", four.Flows, one.Flows)
	}
	if r := float64(four.Span) / float64(one.Span); r < 3.9 || r > 4.1 {
		t.Errorf("span %s at length 4, %s at length 1", four.Span, one.Span)
	}
}

// TestScanOverflowsTable reads a scan capture of 20,000 lone SYNs, which
// never close, through a flow table of 4,096: it fills again and again,
// and each time evicts the flows idle longest. Each SYN is its flow's last
// packet, so those are the flows that began first: every evicted flow
// began before every flow left in the table, which never holds more than
// its bound.
func TestScanOverflowsTable(t *testing.T) {
	const flows, maxFlows = 20000, 4096
	b, _ := generate(t, Config{Mix: Scan, Flows: flows, Duration: 10 * time.Second, Seed: 1})
	src, err := pcapio.NewReader("scan", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	a := analyze.New(analyze.Config{MaxFlows: maxFlows, KeepAll: true})
	for batch := src.NextBatch(); len(batch) > 0; batch = src.NextBatch() {
		a.AddBatch(batch)
	}
	r := a.Finish(time.Time{})
	if r.Stats.Flows != flows || r.Stats.MaxLive > maxFlows || r.Stats.Evicted < flows-maxFlows {
		t.Fatalf("%d flows, at most %d at once, %d evicted; want %d, at most %d, at least %d evicted",
			r.Stats.Flows, r.Stats.MaxLive, r.Stats.Evicted, flows, maxFlows, flows-maxFlows)
	}
	var lastEvicted, firstKept time.Time
	for _, f := range r.Flows.All() {
		if f.Evicted && f.First.After(lastEvicted) {
			lastEvicted = f.First
		}
		if !f.Evicted && (firstKept.IsZero() || f.First.Before(firstKept)) {
			firstKept = f.First
		}
	}
	if !lastEvicted.Before(firstKept) {
		t.Errorf("a flow evicted began at %s, after a flow kept began at %s", lastEvicted.Format(time.RFC3339Nano), firstKept.Format(time.RFC3339Nano))
	}
}

// TestLengthFlowsAtOnce checks that a realistic capture four times as
// long holds about as many flows at once (the most at once grows a little
// with the time it is taken over): no kind of flow lasts to the
// capture end whatever its length, so memory tests at -length 4 measure
// length, not a growing set of flows.
func TestLengthFlowsAtOnce(t *testing.T) {
	maxLive := func(length float64) int {
		b, _ := generate(t, Config{Mix: Realistic, Flows: 1500, Length: length, Seed: 1})
		src, err := pcapio.NewReader("gen", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		a := analyze.New(analyze.Config{})
		var seg pcapio.Segment
		for src.Next(&seg) {
			a.Add(&seg)
		}
		return a.Finish(time.Time{}).Stats.MaxLive
	}
	one, four := maxLive(1), maxLive(4)
	if float64(four) > 1.3*float64(one) {
		t.Errorf("at most %d flows at once at length 4, %d at length 1", four, one)
	}
}

// TestPooledHeldFollowsFlows analyses the same pooled connections over an
// hour and over four, with an idle threshold every one of their silences
// passes, and checks that what the analysis holds follows the connections,
// not the length: each flow lists at most analyze.MaxListed long gaps and
// findings of a kind, counts the rest, and the heap before Finish grows
// little (without the bound it grew four times, 23 to 92 MB). It also
// checks what a flow's full lists take: the heap at the 30 s threshold
// against the 350 s one, which no silence passes, over the flows (about
// 3.7 KB a flow when the lists held Gaps and Findings, 1.1 KB in their
// compact forms).
func TestPooledHeldFollowsFlows(t *testing.T) {
	const flows = 2000
	held := func(d, idle time.Duration) (heap uint64, notListed int) {
		b, _ := generate(t, Config{Mix: Pooled, Flows: flows, Duration: d, Seed: 1})
		src, err := pcapio.NewReader("gen", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		a := analyze.New(analyze.Config{Idle: idle})
		var seg pcapio.Segment
		for src.Next(&seg) {
			a.Add(&seg)
		}
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		r := a.Finish(time.Time{})
		for _, f := range r.Flows.All() {
			if len(f.Gaps) > analyze.MaxListed {
				t.Fatalf("flow %d lists %d gaps", f.Index, len(f.Gaps))
			}
			kinds := map[analyze.Kind]int{}
			for _, fd := range f.Findings {
				if kinds[fd.Kind]++; kinds[fd.Kind] > analyze.MaxListed {
					t.Fatalf("flow %d lists more than %d %s findings", f.Index, analyze.MaxListed, fd.Kind)
				}
			}
			notListed += f.GapsNotListed
		}
		return m.HeapAlloc, notListed
	}
	oneHeap, oneLeft := held(time.Hour, 30*time.Second)
	fourHeap, fourLeft := held(4*time.Hour, 30*time.Second)
	quietHeap, quietLeft := held(time.Hour, 350*time.Second)
	t.Logf("heap before Finish: %d KB over an hour, %d KB over four, %d KB at 350 s; long gaps not listed: %d and %d", oneHeap>>10, fourHeap>>10, quietHeap>>10, oneLeft, fourLeft)
	if fourLeft < 3*oneLeft || oneLeft == 0 {
		t.Errorf("long gaps not listed: %d over four hours, %d over one", fourLeft, oneLeft)
	}
	if float64(fourHeap) > 1.3*float64(oneHeap) {
		t.Errorf("heap before Finish: %d KB over four hours, %d KB over one", fourHeap>>10, oneHeap>>10)
	}
	if quietLeft != 0 {
		t.Fatalf("%d long gaps not listed at 350 s", quietLeft)
	}
	perFlow := (int64(oneHeap) - int64(quietHeap)) / flows
	t.Logf("full lists: %d bytes a flow", perFlow)
	if perFlow > 1536 {
		t.Errorf("a flow's full lists take %d bytes; want at most 1536", perFlow)
	}
}

// TestStreaming checks that memory does not grow with the capture: eight
// times the bytes allocate about as much.
func TestStreaming(t *testing.T) {
	alloc := func(size int64) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := Generate(io.Discard, Config{Mix: Realistic, Size: size, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(8<<20), alloc(64<<20)
	if large > 2*small+(4<<20) {
		t.Errorf("writing 64 MiB allocated %d bytes, 8 MiB %d", large, small)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "500MB": 500e6, "1.5G": 3 << 29, "4096": 4096, "64K": 64 << 10}
	for s, want := range good {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "GiB", "-1MB", "lots"} {
		if _, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) succeeded", s)
		}
	}
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-size", "1MiB"}, "-o is required"},
		{[]string{"-size", "1MiB", "-flows", "10", "-o", "-"}, "not both"},
		{[]string{"-mix", "odd", "-o", "-"}, "unknown mix"},
		{[]string{"-length", "0", "-o", "-"}, "must be positive"},
		{[]string{"-o", "-", "extra"}, "unexpected argument"},
		{[]string{"-v6", "101", "-o", "-"}, "-v6 must be 0 to 100"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("run(%q) = %v, want an error saying %q", tt.args, err, tt.err)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-flows", "100", "-o", "-"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), " 100 flows,") || stdout.Len() == 0 {
		t.Errorf("summary %q, %d bytes written", stderr.String(), stdout.Len())
	}
}

// TestRunV6 checks that -v6 20, the default, writes the files it always
// did, as Config.IPv6 0 and 20 do, and that other values reach
// Config.IPv6, 0 as none.
func TestRunV6(t *testing.T) {
	gen := func(args ...string) []byte {
		var stdout bytes.Buffer
		if err := run(append([]string{"-flows", "300", "-q", "-o", "-"}, args...), &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		return stdout.Bytes()
	}
	def, _ := generate(t, Config{Mix: Small, Flows: 300, Seed: 1})
	none, _ := generate(t, Config{Mix: Small, Flows: 300, IPv6: -1, Seed: 1})
	half, _ := generate(t, Config{Mix: Small, Flows: 300, IPv6: 50, Seed: 1})
	twenty, _ := generate(t, Config{Mix: Small, Flows: 300, IPv6: 20, Seed: 1})
	if !bytes.Equal(gen(), def) || !bytes.Equal(gen("-v6", "20"), def) || !bytes.Equal(twenty, def) {
		t.Error("-v6 20, no -v6 or Config.IPv6 20 differs from the default Config")
	}
	if !bytes.Equal(gen("-v6", "0"), none) || !bytes.Equal(gen("-v6", "50"), half) || bytes.Equal(half, def) {
		t.Error("-v6 0 or 50 differs from its Config, or 50 % is the default")
	}
}

// TestRotate checks -rotate: files of about the size asked (a record
// never split, each file a capture of its own, named as tcpdump -C names
// them) whose records are, in order, those of the capture in one file;
// and that files an earlier, longer run left are removed.
func TestRotate(t *testing.T) {
	dir := t.TempDir()
	one, rot := filepath.Join(dir, "one.pcap"), filepath.Join(dir, "rot.pcap")
	if err := os.WriteFile(rot+"99", []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	for _, args := range [][]string{{"-size", "3MiB", "-q", "-o", one}, {"-size", "3MiB", "-q", "-rotate", "512KiB", "-o", rot}} {
		if err := run(args, io.Discard, &stderr); err != nil {
			t.Fatalf("%v: %v %s", args, err, stderr.String())
		}
	}
	whole, err := os.ReadFile(one)
	if err != nil {
		t.Fatal(err)
	}
	var joined []byte
	files := 0
	for i := 0; ; i++ {
		name := rot
		if i > 0 {
			name += strconv.Itoa(i)
		}
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		files++
		if len(b) > 512<<10+1600 || !bytes.Equal(b[:24], whole[:24]) {
			t.Errorf("%s: %d bytes, header % x", name, len(b), b[:24])
		}
		src, err := pcapio.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var seg pcapio.Segment
		for src.Next(&seg) {
		}
		if d := src.Files()[0].Damage; d != "" {
			t.Errorf("%s: %s", name, d)
		}
		src.Close()
		joined = append(joined, b[24:]...)
	}
	if files < 5 || files > 8 || !bytes.Equal(joined, whole[24:]) {
		t.Errorf("%d files whose records, joined, are %d bytes; want 5 to 8 files and the %d bytes of one file's records", files, len(joined), len(whole)-24)
	}
	if _, err := os.Stat(rot + "99"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale rotated file is still there: %v", err)
	}
}
