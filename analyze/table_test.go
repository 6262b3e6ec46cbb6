package analyze

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/pcapio"
)

// TestFlowTable adds and removes flows at random and checks the table
// against a map after every step: every flow present is found with its
// own state, every removed one is gone, and ids are reused.
func TestFlowTable(t *testing.T) {
	var table flowTable
	want := map[pcapio.FlowKey]int{}
	keyOf := func(i int) (pcapio.FlowKey, uint64) {
		var s pcapio.Segment
		s.SetAddrs(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000),
			netip.MustParseAddrPort("192.0.2.1:443"))
		// Few distinct hash bits, so that probe runs are long and
		// removals shift entries back across them.
		return s.Flow, s.Hash & 0xff0f
	}
	rng := rand.New(rand.NewPCG(1, 2))
	adds := uint64(0)
	for step := range 20000 {
		i := rng.IntN(3000)
		key, hash := keyOf(i)
		f := table.find(&key, hash)
		if _, ok := want[key]; ok != (f != nil) {
			t.Fatalf("step %d: flow %d found %v, want %v", step, i, f != nil, ok)
		}
		if f == nil {
			table.add(&key, hash).index = uint32(i)
			want[key] = i
			adds++
		} else {
			if int(f.index) != want[key] {
				t.Fatalf("step %d: flow %d has index %d", step, i, f.index)
			}
			table.remove(f)
			delete(want, key)
		}
		if table.live != len(want) || table.added() != adds {
			t.Fatalf("step %d: %d live, %d added; want %d and %d", step, table.live, table.added(), len(want), adds)
		}
	}
	for key, i := range want {
		_, hash := keyOf(i)
		if f := table.find(&key, hash); f == nil || int(f.index) != i {
			t.Errorf("flow %d lost", i)
		}
	}
	seen := map[pcapio.FlowKey]bool{}
	var ids []uint32
	for f := range table.all() {
		if _, ok := want[f.key]; !ok || seen[f.key] {
			t.Errorf("all() yields flow %d, removed or twice", f.index)
		}
		seen[f.key] = true
		ids = append(ids, f.id)
	}
	if len(seen) != len(want) || !slices.IsSorted(ids) {
		t.Errorf("all() yields %d flows, want %d, in the order of their places (%v)", len(seen), len(want), slices.IsSorted(ids))
	}
	if int(table.made) > 3000 {
		t.Errorf("%d ids made for at most 3000 flows alive at once", table.made)
	}
}

// TestFlowTableMapped fills a table past plainChunks chunks and past an
// index of a huge page, where Linux maps its memory outside the Go heap,
// and checks every flow against its number, across the index's growth and
// removals; that the table holds one mapping for each of its first
// plainChunks chunks, one per slab of chunks after them and one for the
// index, its old ones given back as it grew; and that release,
// which Finish calls, gives the rest back.
func TestFlowTableMapped(t *testing.T) {
	table := flowTable{mem: new(mappings)}
	const n = 200_000 // 196 chunks; 262,144 slots of 8 bytes: 2 MiB
	key := func(i int) (pcapio.FlowKey, uint64) {
		var s pcapio.Segment
		s.SetAddrs(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000),
			netip.MustParseAddrPort("192.0.2.1:443"))
		return s.Flow, s.Hash
	}
	check := func(when string, present func(i int) bool) {
		t.Helper()
		for i := range n {
			k, h := key(i)
			f := table.find(&k, h)
			switch {
			case present(i) && (f == nil || int(f.index) != i || f.key != k):
				t.Fatalf("%s: flow %d not found as added", when, i)
			case !present(i) && f != nil:
				t.Fatalf("%s: removed flow %d found", when, i)
			}
		}
	}
	for i := range n {
		k, h := key(i)
		table.add(&k, h).index = uint32(i)
	}
	check("added", func(int) bool { return true })
	if runtime.GOOS == "linux" {
		slabs := (len(table.chunks) - plainChunks + slabChunks - 1) / slabChunks
		if want := plainChunks + slabs + 1; len(table.slots)*8 < hugePage || len(table.mem.maps) != want {
			t.Fatalf("%d mappings and %d slots for %d flows in %d chunks; want %d mappings, one for each of the first %d chunks, one for each slab and one for the index", len(table.mem.maps), len(table.slots), n, len(table.chunks), want, plainChunks)
		}
	}
	for i := 0; i < n; i += 2 {
		k, h := key(i)
		table.remove(table.find(&k, h))
	}
	check("half removed", func(i int) bool { return i%2 == 1 })
	for i := 0; i < n; i += 2 { // into the ids the removals freed
		k, h := key(i)
		table.add(&k, h).index = uint32(i)
	}
	check("added again", func(int) bool { return true })
	if int(table.made) != n {
		t.Errorf("%d ids made for %d flows", table.made, n)
	}
	mem := table.mem
	table.release()
	if len(mem.maps) != 0 || table.mem != nil || table.chunks != nil || table.slots != nil {
		t.Errorf("after release: %d mappings left, and the table still holds its memory", len(mem.maps))
	}
}

// TestMappedAnalysis analyses the one flow of a shipped capture 70,000
// times at once, each copy under addresses of its own, so that the flow
// table maps its records and index outside the Go heap, and checks that
// the result is the one the table gives in the Go heap alone: every flow
// and its findings, the counts, the timeout bracket, every copy alive at
// once.
func TestMappedAnalysis(t *testing.T) {
	segs := readSegments(t, "../testdata/pcaps/reset-at-expiry.pcap")
	const copies = 70_000
	shift := func(ap netip.AddrPort, k int) netip.AddrPort {
		b := ap.Addr().As4()
		b[0], b[1], b[2] = b[0]^byte(k>>16), b[1]^byte(k>>8), b[2]^byte(k)
		return netip.AddrPortFrom(netip.AddrFrom4(b), ap.Port())
	}
	run := func(mapped bool) (*Result, int) {
		a := New(Config{Idle: 240 * time.Second}) // its timeout, as EXPECT.tsv gives it: every copy flagged
		if !mapped {
			a.flows.mem = nil // the Go heap only
		}
		batch := make([]pcapio.Segment, 0, 512)
		for _, seg := range segs {
			for k := range copies {
				s := seg
				s.SetAddrs(shift(seg.Src(), k), shift(seg.Dst(), k))
				if batch = append(batch, s); len(batch) == cap(batch) {
					a.AddBatch(batch)
					batch = batch[:0]
				}
			}
		}
		a.AddBatch(batch)
		maps := 0
		if a.flows.mem != nil {
			maps = len(a.flows.mem.maps)
		}
		return a.Finish(time.Time{}), maps
	}
	heap, _ := run(false)
	mapped, maps := run(true)
	if runtime.GOOS == "linux" && maps == 0 {
		t.Fatal("nothing was mapped: the mapped path is not tested")
	}
	if heap.Stats.Flows != copies || heap.Stats.MaxLive != copies {
		t.Fatalf("%d flows, %d alive at once; want %d of each", heap.Stats.Flows, heap.Stats.MaxLive, copies)
	}
	if heap.Inference.SurvivedBy+heap.Inference.FatalBy != copies {
		t.Fatalf("%+v: not every copy's gap counted", heap.Inference)
	}
	if diff := cmp.Diff(heap.Stats, mapped.Stats); diff != "" {
		t.Errorf("stats (-Go heap +mapped):\n%s", diff)
	}
	if diff := cmp.Diff(heap.Inference, mapped.Inference); diff != "" {
		t.Errorf("inference (-Go heap +mapped):\n%s", diff)
	}
	if heap.Flows.Len() != copies {
		t.Fatalf("%d flows flagged of %d copies of a flagged flow", heap.Flows.Len(), copies)
	}
	for i, want := range listOf(heap.Flows) {
		if got := mapped.Flows.At(i); !reflect.DeepEqual(want, got) { // cmp.Diff takes seconds over all
			t.Fatalf("flow %d (-Go heap +mapped):\n%s", i, cmp.Diff(want, got, addrsEqual))
		}
	}
}
