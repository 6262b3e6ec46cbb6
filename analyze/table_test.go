package analyze

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

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
		} else {
			if int(f.index) != want[key] {
				t.Fatalf("step %d: flow %d has index %d", step, i, f.index)
			}
			table.remove(f)
			delete(want, key)
		}
		if table.live != len(want) {
			t.Fatalf("step %d: %d live, want %d", step, table.live, len(want))
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
