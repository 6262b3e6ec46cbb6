package analyze

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/hangdiag/hangdiag/pcapio"
)

var tableServer = netip.MustParseAddrPort("192.0.2.1:443")

// tableSeg fills seg with a segment of flow i of a table of synthetic
// flows: clients 10.0.0.0/8 port 40000, server 192.0.2.1:443. step 0 is the
// client's SYN, 1 the server's SYN-ACK, and any later step an ACK from the
// client.
func tableSeg(seg *pcapio.Segment, i, step int, nanos int64) {
	cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000)
	srv := tableServer
	*seg = pcapio.Segment{Nanos: nanos, Seq: 1001, Ack: 5001, Flags: pcapio.ACK,
		Window: 502, TTL: 60, IPID: uint16(step), WScale: -1, HasTS: true, TSVal: uint32(step), Frame: uint64(3*i + step + 1)}
	seg.SetAddrs(cli, srv)
	switch step {
	case 0:
		seg.Seq, seg.Ack, seg.Flags = 1000, 0, pcapio.SYN
	case 1:
		seg.Seq, seg.Ack, seg.Flags = 5000, 1001, pcapio.SYN|pcapio.ACK
		seg.SetAddrs(srv, cli)
	}
}

// openFlows adds n flows of tableSeg, each a handshake left open, to a and
// returns the time of the last segment.
func openFlows(a *Analyzer, n int) int64 {
	var seg pcapio.Segment
	now := base.UnixNano()
	for step := range 3 {
		for i := range n {
			now += 1000
			tableSeg(&seg, i, step, now)
			a.Add(&seg)
		}
	}
	return now
}

// BenchmarkFlowTable measures a segment of a flow already in a table of
// 1,000 to 1,000,000 open flows, visited in a scattered order, as in a
// capture of many flows: the flow table's look-up, the flow's cache misses
// and the periodic sweep of the table.
func BenchmarkFlowTable(b *testing.B) {
	for _, n := range []int{1000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			a := New(Config{})
			var seg pcapio.Segment
			now := openFlows(a, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i = (i + 7919) % n // a prime stride: neighbours in time are not neighbours in memory
				now += 1000
				tableSeg(&seg, i, 2, now)
				seg.Seq++ // not a copy of the previous segment
				a.Add(&seg)
			}
		})
	}
}

// BenchmarkNewFlow measures a segment that opens a flow, and reports the
// heap each live flow holds (B/flow) and the size of the flow struct
// (struct-B).
func BenchmarkNewFlow(b *testing.B) {
	a := New(Config{})
	var seg pcapio.Segment
	now := base.UnixNano()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now += 1000
		tableSeg(&seg, i, 0, now)
		a.Add(&seg)
		i++
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(i), "B/flow")
	b.ReportMetric(float64(unsafe.Sizeof(flow{})), "struct-B")
	runtime.KeepAlive(a)
}

// BenchmarkAddBatchCapture measures AddBatch alone over the segments of the
// capture HANGDIAG_BENCH_CAPTURE names, read into memory first, so that
// nothing but the analysis runs while it is timed; bench/instructions.sh
// counts its instructions. Without the variable it is skipped.
func BenchmarkAddBatchCapture(b *testing.B) {
	path := os.Getenv("HANGDIAG_BENCH_CAPTURE")
	if path == "" {
		b.Skip("HANGDIAG_BENCH_CAPTURE names no capture")
	}
	src, err := pcapio.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var batches [][]pcapio.Segment
	segments := 0
	for batch := src.NextBatch(); len(batch) > 0; batch = src.NextBatch() {
		batches = append(batches, slices.Clone(batch))
		segments += len(batch)
	}
	src.Close()
	if segments == 0 {
		b.Fatalf("%s holds no TCP segment", path)
	}
	b.Logf("%d segments", segments)
	for b.Loop() {
		a := New(Config{})
		for _, batch := range batches {
			a.AddBatch(batch)
		}
	}
	b.ReportMetric(float64(segments)*float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// BenchmarkFinish measures Finish on a table of 100,000 connections left
// open after their handshakes, an hour before the capture ends: every one
// is judged silent past the timeout at the end, summarised and stored, as
// in a capture of a million flows spread over many minutes. It reports
// the time a flow.
func BenchmarkFinish(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		b.StopTimer()
		a := New(Config{Spill: func() (SpillFile, error) { return os.CreateTemp(b.TempDir(), "spill") }}) // as the command stores them
		now := openFlows(a, n)
		b.StartTimer()
		r := a.Finish(time.Unix(0, now).Add(time.Hour))
		if r.Flows.Len() != n {
			b.Fatalf("%d flows stored, want %d", r.Flows.Len(), n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/flow")
}

// BenchmarkEncodeFlow encodes, as a Result stores it, a flow left open
// after its handshake and silent past the timeout at the capture's end,
// with its finding.
func BenchmarkEncodeFlow(b *testing.B) {
	a := New(Config{KeepAll: true})
	now := openFlows(a, 1)
	r := a.Finish(time.Unix(0, now).Add(time.Hour))
	f := r.Flows.WithoutText().At(0) // as stored: the text is written when a report decodes it
	if len(f.Findings) == 0 {
		b.Fatal("no finding")
	}
	var buf []byte
	for b.Loop() {
		buf = encodeFlow(buf[:0], &f)
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

// TestStoredExportsReused checks that flows stored while the capture is
// read give back what their export took, once it is encoded: a sweep of
// flows reset after a long silence leaves the export chunks as it found
// them, and every flow keeps its own evidence.
func TestStoredExportsReused(t *testing.T) {
	const n = 4*chunkLen + 1
	a := New(Config{})
	now := openFlows(a, n)
	var seg pcapio.Segment
	now += int64(400 * time.Second)
	for i := range n { // the server's RST after 400 s of silence
		now += 1000
		tableSeg(&seg, i, 1, now)
		seg.Seq, seg.Ack, seg.Flags, seg.Frame = 5001, 0, pcapio.RST, uint64(3*n+i+1)
		a.Add(&seg)
	}
	if len(a.out.gaps.kept)+len(a.out.findings.kept)+len(a.out.refs.kept) != 0 {
		t.Fatal("a flow was stored before the sweep")
	}
	a.sweep(now + closedLinger + 1)
	o := &a.out
	if used := o.gaps.cur + o.gaps.used + o.findings.cur + o.findings.used + o.refs.cur + o.refs.used; used != 0 {
		t.Errorf("%d exported values not given back after storing %d flows", used, n)
	}
	if k := len(o.gaps.kept) + len(o.findings.kept) + len(o.refs.kept); k != 3 {
		t.Errorf("%d chunks made for storing %d flows, want one of each kind", k, n)
	}
	r := a.Finish(time.Unix(0, now).Add(time.Minute))
	if r.Flows.Len() != n {
		t.Fatalf("%d flows stored, want %d", r.Flows.Len(), n)
	}
	for _, f := range r.Flows.All() {
		i := f.Index
		k := slices.IndexFunc(f.Findings, func(fd Finding) bool { return fd.Kind == ResetAfterIdle })
		if k < 0 || len(f.Gaps) != 1 {
			t.Fatalf("flow %d: findings %v, %d gaps; want a reset-after-idle and one gap", i, f.Findings, len(f.Gaps))
		}
		ev := f.Findings[k].Evidence
		if ev.GapStart == nil || ev.GapStart.Frame != uint64(3*i+3) || ev.Reset == nil || ev.Reset.Packet.Frame != uint64(3*n+i+1) {
			t.Errorf("flow %d: reset-after-idle from frame %+v, reset %+v; want from frame %d, reset in frame %d",
				i, ev.GapStart, ev.Reset, 3*i+3, 3*n+i+1)
		}
	}
}

// TestChunksReset checks that chunks give the same memory back, zeroed,
// after a reset, and make no more chunks than a round needs.
func TestChunksReset(t *testing.T) {
	var c chunks[PacketRef]
	var first []*PacketRef
	for range 2*chunkLen + 5 {
		r := c.take(1)
		r[0].Frame = 7
		first = append(first, &r[0])
	}
	for round := range 2 {
		c.reset()
		for i := range 2*chunkLen + 5 {
			r := c.take(1)
			if &r[0] != first[i] || r[0].Frame != 0 {
				t.Fatalf("round %d, take %d after reset: %p frame %d, want %p zeroed", round, i, &r[0], r[0].Frame, first[i])
			}
			r[0].Frame = 7
		}
	}
	if len(c.kept) != 3 {
		t.Errorf("%d chunks kept, want 3", len(c.kept))
	}
}

// TestFinishChunks finishes open flows that are silent past the timeout
// at the capture's end, every other one with a request unanswered, and
// checks, with the flows stored on a goroutine of their own, that each
// has its own gap and findings, whose first packet is its own last one.
// Finishing flows left open after their handshake must take far fewer
// than one allocation a flow: their gap, finding and packet come from
// chunks.
func TestFinishChunks(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // no feed: every allocation is Finish's own
	const n = 32 * chunkLen
	finish := func(hung bool) (*Result, uint64) {
		a := New(Config{})
		now := openFlows(a, n)
		var seg pcapio.Segment
		for i := 0; hung && i < n; i += 2 { // a request, never answered
			now += 1000
			tableSeg(&seg, i, 2, now)
			seg.Flags, seg.PayloadLen, seg.Frame = pcapio.ACK|pcapio.PSH, 100, uint64(3*n+i+1)
			a.Add(&seg)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := a.Finish(time.Unix(0, now).Add(time.Hour))
		runtime.ReadMemStats(&after)
		return r, after.Mallocs - before.Mallocs
	}
	if _, mallocs := finish(false); mallocs > n/8 {
		t.Errorf("Finish made %d allocations for %d flows, want at most %d", mallocs, n, n/8)
	}
	runtime.GOMAXPROCS(2) // the flows are stored on a goroutine, after the next flows are judged
	// 232 allocations; 329 when the flows of the feed's batches took
	// fresh chunks rather than their batch's.
	if _, mallocs := finish(false); mallocs > n/8 {
		t.Errorf("Finish, storing on a goroutine, made %d allocations for %d flows, want at most %d", mallocs, n, n/8)
	}
	r, _ := finish(true)
	if r.Flows.Len() != n {
		t.Fatalf("%d flows stored, want %d", r.Flows.Len(), n)
	}
	for _, f := range r.Flows.All() {
		i := f.Index
		last, want := uint64(3*i+3), []Kind{SilentPastTimeout}
		if i%2 == 0 {
			last, want = uint64(3*n+i+1), []Kind{SilentPastTimeout, HungAtCaptureEnd}
		}
		var kinds []Kind
		for _, fd := range f.Findings {
			kinds = append(kinds, fd.Kind)
			if fd.Evidence.GapStart == nil || fd.Evidence.GapStart.Frame != last {
				t.Errorf("flow %d: %s begins at %+v, want frame %d", i, fd.Kind, fd.Evidence.GapStart, last)
			}
		}
		if !slices.Equal(kinds, want) {
			t.Errorf("flow %d: findings %v, want %v", i, kinds, want)
		}
		if len(f.Gaps) != 1 || !f.Gaps[0].End.Equal(r.CaptureEnd) || len(f.Findings) == 0 || f.Findings[0].Evidence.GapStart == nil ||
			!f.Gaps[0].Start.Equal(f.Findings[0].Evidence.GapStart.Time) {
			t.Errorf("flow %d: gaps %+v", i, f.Gaps)
		}
	}
}
