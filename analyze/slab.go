package analyze

// slab is a side table of T for state only some flows need. A flow refers
// to its entry by a ref: 1 + the entry's index, 0 for none. Refs are small
// integers, not pointers, so that flows hold nothing the garbage collector
// must follow; released entries are reused.
type slab[T any] struct {
	items []T
	free  []int32
}

// at returns the entry *ref names, making one first when *ref is 0. The
// pointer is valid until the next entry is made.
func (s *slab[T]) at(ref *int32) *T {
	if *ref == 0 {
		if n := len(s.free); n > 0 {
			*ref = s.free[n-1]
			s.free = s.free[:n-1]
		} else {
			var zero T
			s.items = append(s.items, zero)
			*ref = int32(len(s.items))
		}
	}
	return &s.items[*ref-1]
}

// get returns a copy of the entry ref names, or the zero T for ref 0.
func (s *slab[T]) get(ref int32) T {
	if ref == 0 {
		var zero T
		return zero
	}
	return s.items[ref-1]
}

// release clears the entry *ref names, if any, for reuse and sets *ref to 0.
func (s *slab[T]) release(ref *int32) {
	if *ref != 0 {
		var zero T
		s.items[*ref-1] = zero
		s.free = append(s.free, *ref)
		*ref = 0
	}
}

// chunks hands out a few Ts at a time, carved from chunks of chunkLen,
// so that many small values made together cost one allocation a chunk
// rather than one each. It is for values dropped soon after they are made,
// as a flow's exported Gaps, Findings and PacketRefs are once it is
// stored: its owner resets it then, and the chunks are carved again.
type chunks[T any] struct {
	kept [][]T // the chunks made; kept[cur][used:] is free
	cur  int
	used int
}

const chunkLen = 64

// take returns n zero Ts.
func (c *chunks[T]) take(n int) []T {
	if n > chunkLen {
		return make([]T, n)
	}
	if c.cur < len(c.kept) && chunkLen-c.used < n {
		c.cur, c.used = c.cur+1, 0
	}
	if c.cur == len(c.kept) {
		c.kept = append(c.kept, make([]T, chunkLen))
	}
	s := c.kept[c.cur][c.used : c.used+n : c.used+n]
	c.used += n
	return s
}

// reset gives back, zeroed, everything taken: nothing may refer to it.
func (c *chunks[T]) reset() {
	for _, b := range c.kept[:min(c.cur, len(c.kept))] {
		clear(b)
	}
	if c.cur < len(c.kept) {
		clear(c.kept[c.cur][:c.used])
	}
	c.cur, c.used = 0, 0
}

// exportChunks is where flows' Gaps, Findings, PacketRefs and counts of
// findings not listed are carved from when they are exported.
type exportChunks struct {
	gaps      chunks[Gap]
	findings  chunks[Finding]
	refs      chunks[PacketRef]
	notListed []map[Kind]int // [:usedMaps] handed out
	usedMaps  int
	// whats holds the descriptions made of data packets, by length and
	// kind ("1448 bytes of data"), so that a flow's packets of the usual
	// sizes are not described again and again; kept across resets.
	whats map[uint64]string
}

// maxWhats bounds exportChunks.whats.
const maxWhats = 4096

// notListedMap returns an empty map for a flow's FindingsNotListed.
func (e *exportChunks) notListedMap() map[Kind]int {
	if e.usedMaps == len(e.notListed) {
		e.notListed = append(e.notListed, map[Kind]int{})
	}
	e.usedMaps++
	return e.notListed[e.usedMaps-1]
}

// what returns p.what(), made once for each length and kind of data
// packet.
func (e *exportChunks) what(p packetRef) string {
	if p.kind != kindData && p.kind != kindRetransmit {
		return p.what() // a constant
	}
	key := uint64(p.len)<<8 | uint64(p.kind)
	if w, ok := e.whats[key]; ok {
		return w
	}
	w := p.what()
	if len(e.whats) < maxWhats {
		if e.whats == nil {
			e.whats = map[uint64]string{}
		}
		e.whats[key] = w
	}
	return w
}

// reset gives back everything carved, once nothing refers to it.
func (e *exportChunks) reset() {
	e.gaps.reset()
	e.findings.reset()
	e.refs.reset()
	for _, m := range e.notListed[:e.usedMaps] {
		clear(m)
	}
	e.usedMaps = 0
}

// endChunks is where the flows judged at the capture's end take room for
// their notes: most have none before, and get a finding or two.
type endChunks struct {
	findings chunks[findingNote]
}

// reset gives back everything taken, once nothing refers to it.
func (e *endChunks) reset() {
	e.findings.reset()
}
