package analyze

import (
	"iter"
	"sync"
	"unsafe"

	"github.com/hangdiag/hangdiag/pcapio"
)

// flowChunkShift sets the flows per chunk of the table's store: 1024.
const flowChunkShift = 10

// plainChunks is how many chunks, 65,536 flows, a table maps one by one
// in pages of the kernel's choosing before it maps the rest in huge pages,
// slabChunks at a time (6 MiB, three huge pages). Tables of up to some
// tens of thousands of flows gained nothing from huge pages in
// measurements, and would hold up to a huge page more memory.
//
// They are mapped, rather than taken from the Go heap, because records
// live as long as their flows and hold no pointers: in the heap they
// would count towards the collector's target, which lets the heap grow by
// half its live size (GOGC=50) before a collection, records included.
// Measured peaks, five or six runs each: 50,000 pooled connections analysed with
// --idle 30s, whose records take 19 MB, 115 to 120 → 112 to 114 MB;
// 20,000 of them 58.5 to 60 → 57 to 58 MB; the benchmark's len1 14.8 to
// 15.0 → 14.3 to 14.7 MB, len4 15.6 to 16.1 → 15.3 to 15.6 MB.
const (
	plainChunks = 64
	slabChunks  = 16
)

// hugePage is the size of a transparent huge page on x86-64 and arm64.
const hugePage = 2 << 20

// flowChunk is a fixed block of flow records.
type flowChunk [1 << flowChunkShift]flow

// flowTable holds the flows being tracked and finds them by key. Flows live
// in fixed-size chunks that never move, so a *flow stays valid until the
// flow is removed, and hold no pointers, so the garbage collector never
// scans them. On Linux the chunks are mapped outside the Go heap, and
// those beyond plainChunks, and an index of a huge page or more, in
// transparent huge pages: a million flows' records in 4 KiB pages cost a page fault each
// time the table reaches a new page, and a TLB miss on most look-ups.
//
// The index is open addressing with linear probing: each slot holds 32
// bits of the key's hash beside the flow's place in the store, so a
// look-up reads one word per probe and the flow itself only on a likely
// match.
type flowTable struct {
	slots    []uint64 // hash<<32 | id of the flow, ids from 1; 0 for empty
	mask     int
	live     int
	chunks   []*flowChunk
	free     []uint32    // ids of removed flows, for reuse
	made     uint32      // ids handed out so far
	removals uint64      // flows removed so far: a *flow found before the count moved may be stale
	touched  uint64      // what touch read, kept so that the reads are not left out
	mem      *mappings   // the memory mapped for chunks and index; nil: the Go heap
	slab     []flowChunk // chunks mapped and not yet used
	cold     coldStore   // the encodings of frozen flows (counted in live)
	hand     uint32      // the place freezeIdle looked at last
}

// mappings holds the memory a flow table has mapped outside the Go heap,
// until release.
type mappings struct {
	maps              [][]byte
	spare, spareChunk []byte         // the next chunk of frozen flows (mapAhead), whole and aligned
	filling           sync.WaitGroup // the goroutines populating memory ahead of use (prefault)
}

// newChunk returns a zeroed chunk: mapped on its own for the first
// plainChunks, then in huge pages, when it can be; else from the Go heap.
func (t *flowTable) newChunk() *flowChunk {
	if len(t.slab) == 0 && t.mem != nil {
		if len(t.chunks) < plainChunks {
			if b := t.mem.mapPlain(int(unsafe.Sizeof(flowChunk{}))); b != nil {
				return (*flowChunk)(unsafe.Pointer(unsafe.SliceData(b)))
			}
		} else if b := t.mem.mapHuge(slabChunks * int(unsafe.Sizeof(flowChunk{}))); b != nil {
			t.slab = unsafe.Slice((*flowChunk)(unsafe.Pointer(unsafe.SliceData(b))), slabChunks)
			t.mem.prefault(b[hugePage:]) // the first huge page is written at once
		}
	}
	if len(t.slab) > 0 {
		c := &t.slab[0]
		t.slab = t.slab[1:]
		return c
	}
	return new(flowChunk)
}

// newSlots returns a zeroed index of n slots, in huge pages when it fills
// one or more and can be.
func (t *flowTable) newSlots(n int) []uint64 {
	if t.mem != nil && n*8 >= hugePage {
		if b := t.mem.mapHuge(n * 8); b != nil {
			return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
		}
	}
	return make([]uint64, n)
}

// release returns the table's mapped memory; the table must not be used
// afterwards.
func (t *flowTable) release() {
	if t.mem != nil {
		t.mem.release()
	}
	*t = flowTable{}
}

// dropRecords gives back the memory of the records and of the index,
// once every flow with a record has been finished: only the frozen flows
// are left, for drainFrozen, and the table must not be used but for that
// and to release it.
func (t *flowTable) dropRecords() {
	if t.mem != nil {
		for _, c := range t.chunks { // the first of a slab unmaps it; chunks of the Go heap are in no mapping
			t.mem.unmap(unsafe.Slice((*byte)(unsafe.Pointer(c)), unsafe.Sizeof(*c)))
		}
		if len(t.slots) > 0 {
			t.mem.unmap(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.slots))), len(t.slots)*8))
		}
	}
	t.chunks, t.slab, t.free, t.slots, t.mask = nil, nil, nil, nil, 0
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
			if id := uint32(s); id&coldBit == 0 {
				if f := t.at(id); f.key.Equal(key) {
					return f
				}
			} else if t.coldKeyIs(id&^coldBit, key) {
				return t.thaw(i)
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
	id := t.newID()
	f := t.at(id)
	*f = flow{key: *key, hash: uint32(hash), id: id}
	t.place(uint64(uint32(hash))<<32 | uint64(id))
	t.live++
	return f
}

// newID returns a free place in the store, taking a new chunk when there
// is none.
func (t *flowTable) newID() uint32 {
	if n := len(t.free); n > 0 {
		id := t.free[n-1]
		t.free = t.free[:n-1]
		return id
	}
	t.made++
	if int(t.made-1)>>flowChunkShift == len(t.chunks) {
		t.chunks = append(t.chunks, t.newChunk())
	}
	return t.made
}

// full reports whether the next new flow takes a new chunk.
func (t *flowTable) full() bool { return t.room() == 0 }

// room returns how many records the table has free before it takes a new
// chunk: those given back, and the rest of the last chunk.
func (t *flowTable) room() int {
	return len(t.free) + int(-t.made&(1<<flowChunkShift-1))
}

// findIndex returns the flow whose key has the hash and whose index is
// index: its record, or when it is frozen the content of its slot; or
// neither when it is not in the table.
func (t *flowTable) findIndex(hash, index uint32) (*flow, uint64) {
	tag := uint64(hash) << 32
	for i := int(hash) & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		switch {
		case s == 0:
			return nil, 0
		case s&^(1<<32-1) != tag:
		case uint32(s)&coldBit == 0:
			if f := t.at(uint32(s)); f.index == index {
				return f, 0
			}
		default:
			if _, n := t.frozenOrder(s); n == index {
				return nil, s
			}
		}
	}
}

// added is how many flows have been added so far: a key not found before
// the count moved may be there now.
func (t *flowTable) added() uint64 { return uint64(t.live) + t.removals }

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
	t.slots = t.newSlots(max(2*len(old), 1024))
	t.mask = len(t.slots) - 1
	for _, s := range old {
		if s != 0 {
			t.place(s)
		}
	}
	if len(old) > 0 && t.mem != nil {
		t.mem.unmap(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(old))), len(old)*8))
	}
}

// remove takes f out of the table. f must not be used afterwards.
func (t *flowTable) remove(f *flow) {
	t.removeSlot(uint64(f.hash)<<32 | uint64(f.id))
	t.free = append(t.free, f.id)
	f.id = 0 // free: all passes over it; add writes the whole record again
}

// slotOf returns the place in the index of the slot that holds s, which
// must be there.
func (t *flowTable) slotOf(s uint64) int {
	i := int(s>>32) & t.mask
	for t.slots[i] != s {
		i = (i + 1) & t.mask
	}
	return i
}

// removeSlot empties the slot that holds s.
func (t *flowTable) removeSlot(s uint64) {
	i := t.slotOf(s)
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
	t.live--
	t.removals++
}

// all yields every flow in the table with a record in the order of their
// places in the store, which is the order of memory: a walk over many
// flows reads the chunks front to back rather than jumping about them.
// Frozen flows are not among them (see drainFrozen and thawAll). The loop
// must not add or remove flows.
func (t *flowTable) all() iter.Seq[*flow] {
	return func(yield func(*flow) bool) {
		for id := uint32(1); id <= t.made; id++ {
			if f := t.at(id); f.id != 0 && !yield(f) {
				return
			}
		}
	}
}
