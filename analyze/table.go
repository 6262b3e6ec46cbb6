package analyze

import (
	"iter"

	"github.com/hangdiag/hangdiag/pcapio"
)

// flowChunkShift sets the flows per chunk of the table's store: 1024.
const flowChunkShift = 10

// flowTable holds the flows being tracked and finds them by key. Flows live
// in fixed-size chunks that never move, so a *flow stays valid until the
// flow is removed, and hold no pointers, so the garbage collector never
// scans them. The index is open addressing with linear probing: each slot
// holds 32 bits of the key's hash beside the flow's place in the store, so a
// look-up reads one word per probe and the flow itself only on a likely
// match.
type flowTable struct {
	slots    []uint64 // hash<<32 | id of the flow, ids from 1; 0 for empty
	mask     int
	live     int
	chunks   []*[1 << flowChunkShift]flow
	free     []uint32 // ids of removed flows, for reuse
	made     uint32   // ids handed out so far
	removals uint64   // flows removed so far: a *flow found before the count moved may be stale
	adds     uint64   // flows added so far: a key not found before the count moved may be there now
	touched  uint64   // what touch read, kept so that the reads are not left out
}

// at returns the flow with the given id.
func (t *flowTable) at(id uint32) *flow {
	i := id - 1
	return &t.chunks[i>>flowChunkShift][i&(1<<flowChunkShift-1)]
}

// find returns the flow with the key, or nil.
func (t *flowTable) find(key *pcapio.FlowKey, hash uint64) *flow {
	tag := uint64(uint32(hash)) << 32
	for i := int(hash) & t.mask; t.mask != 0; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return nil
		}
		if s&^(1<<32-1) == tag {
			if f := t.at(uint32(s)); f.key.Equal(key) {
				return f
			}
		}
	}
	return nil
}

// touch reads the home slot of every segment's key, so that the cache
// misses of a batch's look-ups overlap instead of coming one after another.
func (t *flowTable) touch(segs []pcapio.Segment) {
	if t.mask == 0 {
		return
	}
	var sum uint64
	for i := range segs {
		sum += t.slots[int(segs[i].Hash)&t.mask]
	}
	t.touched = sum
}

// add makes a zeroed flow for key and returns it.
func (t *flowTable) add(key *pcapio.FlowKey, hash uint64) *flow {
	if 10*(t.live+1) > 7*len(t.slots) { // at most 70 % full
		t.grow()
	}
	var id uint32
	if n := len(t.free); n > 0 {
		id, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.made++
		id = t.made
		if int(id-1)>>flowChunkShift == len(t.chunks) {
			t.chunks = append(t.chunks, new([1 << flowChunkShift]flow))
		}
	}
	f := t.at(id)
	*f = flow{key: *key, hash: uint32(hash), id: id}
	t.place(uint64(uint32(hash))<<32 | uint64(id))
	t.live++
	t.adds++
	return f
}

// place puts a slot value in the first empty slot from its home.
func (t *flowTable) place(s uint64) {
	i := int(s>>32) & t.mask
	for t.slots[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = s
}

// grow doubles the index.
func (t *flowTable) grow() {
	old := t.slots
	t.slots = make([]uint64, max(2*len(old), 1024))
	t.mask = len(t.slots) - 1
	for _, s := range old {
		if s != 0 {
			t.place(s)
		}
	}
}

// remove takes f out of the table. f must not be used afterwards.
func (t *flowTable) remove(f *flow) {
	want := uint64(f.hash)<<32 | uint64(f.id)
	i := int(f.hash) & t.mask
	for t.slots[i] != want {
		i = (i + 1) & t.mask
	}
	// Shift back the entries after the hole that probed past it, so that
	// every entry stays reachable from its home slot.
	for j := (i + 1) & t.mask; t.slots[j] != 0; j = (j + 1) & t.mask {
		home := int(t.slots[j]>>32) & t.mask
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	t.free = append(t.free, f.id)
	f.id = 0 // free: all passes over it; add writes the whole record again
	t.live--
	t.removals++
}

// all yields every flow in the table in the order of their places in the
// store, which is the order of memory: a walk over many flows reads the
// chunks front to back rather than jumping about them. The loop must not
// add or remove flows.
func (t *flowTable) all() iter.Seq[*flow] {
	return func(yield func(*flow) bool) {
		for id := uint32(1); id <= t.made; id++ {
			if f := t.at(id); f.id != 0 && !yield(f) {
				return
			}
		}
	}
}
