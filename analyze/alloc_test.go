package analyze

import (
	"net/netip"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// TestAddNoAllocs checks that a segment of a flow already in the table costs
// no allocation.
func TestAddNoAllocs(t *testing.T) {
	c := newConv(cli, srv, 1000).handshake(0).exchange(time.Second, 100, 100, time.Millisecond)
	a := New(Config{})
	for i := range c.segs {
		a.Add(&c.segs[i])
	}
	seg := c.segs[len(c.segs)-1]
	allocs := testing.AllocsPerRun(1000, func() {
		seg.Nanos += int64(time.Millisecond)
		seg.Seq++ // a new segment each time, not a duplicate
		a.Add(&seg)
	})
	if allocs != 0 {
		t.Errorf("Add allocates %.1f times per segment, want 0", allocs)
	}
	batch := make([]pcapio.Segment, 64)
	allocs = testing.AllocsPerRun(100, func() {
		for i := range batch {
			seg.Nanos += int64(time.Millisecond)
			seg.Seq++
			batch[i] = seg
		}
		a.AddBatch(batch)
	})
	if allocs != 0 {
		t.Errorf("AddBatch allocates %.1f times per batch of 64, want 0", allocs)
	}
}

// TestEvictNoAllocs checks that a table full of flows that never close
// (lone SYNs, a SYN flood) makes room without allocating once it has
// made room before: the list it picks the flows to evict from is kept,
// not made anew each time, when it would be garbage as large as the
// table's list of flows.
func TestEvictNoAllocs(t *testing.T) {
	const maxFlows = 512 // an eighth, 64, is evicted each time
	a := New(Config{MaxFlows: maxFlows})
	var seg pcapio.Segment
	n := 0
	syns := func(count int) {
		for range count {
			n++
			seg.SetAddrs(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), uint16(40000+n>>16)),
				netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, 1}), 443))
			seg.Flags, seg.Seq, seg.Nanos = pcapio.SYN, uint32(n), int64(n)*int64(time.Millisecond)
			a.Add(&seg)
		}
	}
	syns(2 * maxFlows)
	evicted := a.stats.Evicted
	allocs := testing.AllocsPerRun(20, func() { syns(64) })
	if a.stats.Evicted-evicted < 20*64 {
		t.Fatalf("%d flows evicted while %d new ones came to a full table, want at least %d", a.stats.Evicted-evicted, 21*64, 20*64)
	}
	if allocs != 0 {
		t.Errorf("making room for 64 flows allocates %.1f times, want 0", allocs)
	}
}

// TestLongGapNoAllocs checks that a segment after a silence past the
// threshold, which adds a long gap and a finding to its flow, costs no
// allocation once the flow's lists are full; and that the flow then lists
// MaxListed of each.
func TestLongGapNoAllocs(t *testing.T) {
	a, seg := exchanged()
	silence := func() {
		seg.Nanos += int64(10 * time.Second)
		seg.Seq++
		a.Add(&seg)
	}
	for range MaxListed {
		silence()
	}
	if allocs := testing.AllocsPerRun(100, silence); allocs != 0 {
		t.Errorf("a segment after a long silence allocates %.1f times, want 0", allocs)
	}
	f := a.Finish(time.Time{}).Flows.At(0)
	if len(f.Gaps) != MaxListed || len(f.Findings) != MaxListed || f.GapsNotListed == 0 {
		t.Errorf("%d gaps and %d findings listed, %d gaps not listed; want %d, %d and some", len(f.Gaps), len(f.Findings), f.GapsNotListed, MaxListed, MaxListed)
	}
}

// exchanged returns an Analyzer with a 5 s threshold that has seen a
// handshake and an exchange, and the exchange's last segment.
func exchanged() (*Analyzer, pcapio.Segment) {
	c := newConv(cli, srv, 1000).handshake(0).exchange(time.Second, 100, 100, time.Millisecond)
	a := New(Config{Idle: 5 * time.Second})
	for i := range c.segs {
		a.Add(&c.segs[i])
	}
	return a, c.segs[len(c.segs)-1]
}

// TestExportNoAllocs checks that exporting and encoding a flow with full
// lists, findings not listed and data packets as evidence allocates
// nothing once its chunks are warm: a capture of many such flows stores
// them all at its end, and each allocation there is garbage at once.
func TestExportNoAllocs(t *testing.T) {
	a, seg := exchanged()
	for i := range MaxListed + 3 {
		seg.Nanos += int64(10 * time.Second)
		seg.Seq += seg.PayloadLen
		seg.PayloadLen = uint32(100 + i) // a description of each length
		a.Add(&seg)
	}
	var f *flow
	for fl := range a.flows.all() {
		f = fl
	}
	n := a.notesOf(f)
	var into exportChunks
	var out Flow
	buf := make([]byte, 0, 64<<10)
	export := func() {
		a.exportNotes(n, &out, &into)
		buf = encodeFlow(buf[:0], &out)
		into.reset()
	}
	a.exportNotes(n, &out, &into)
	if len(out.Findings) != MaxListed || len(out.FindingsNotListed) == 0 || out.Findings[0].Evidence.GapEnd == nil ||
		out.Findings[0].Evidence.GapEnd.What != "100 bytes of data" {
		t.Fatalf("exported %d findings, %v not listed, the first ended by %+v; want %d, some, and 100 bytes of data",
			len(out.Findings), out.FindingsNotListed, out.Findings[0].Evidence.GapEnd, MaxListed)
	}
	into.reset()
	export()
	if allocs := testing.AllocsPerRun(100, export); allocs != 0 {
		t.Errorf("exporting a flow allocates %.1f times, want 0", allocs)
	}
}

// BenchmarkAdd measures the per-segment cost over many live flows.
func BenchmarkAdd(b *testing.B) {
	const flows = 10000
	var segs []pcapio.Segment
	for i := range flows {
		c := newConv("192.0.2.10:"+strconv.Itoa(10000+i), srv, uint32(i)).handshake(time.Duration(i) * time.Microsecond)
		segs = append(segs, c.segs...)
	}
	a := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := &segs[i%len(segs)]
		s.Nanos += int64(time.Second)
		a.Add(s)
	}
}

// TestFlowHoldsNoPointers keeps flow state out of the garbage collector's
// way: a million flows must not be a million objects to scan.
func TestFlowHoldsNoPointers(t *testing.T) {
	for _, v := range []any{flow{}, pcapio.FlowKey{}} {
		if p := pointerField(reflect.TypeOf(v), ""); p != "" {
			t.Errorf("%T holds a pointer at %s", v, p)
		}
	}
}

// pointerField names the first field of t that is or holds a pointer.
func pointerField(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return path
	case reflect.Array:
		return pointerField(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			if p := pointerField(t.Field(i).Type, path+"."+t.Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}
