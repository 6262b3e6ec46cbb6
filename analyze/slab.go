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
// rather than one each. A value keeps its whole chunk alive: it is for
// values that are dropped soon after they are made, as a flow's exported
// Gaps, Findings and PacketRefs are once it is stored. What was taken
// from the current chunk since a mark can be given back, once nothing
// refers to it, and is taken again. Chunks that keep theirs (keep) give
// back everything at once, on reset.
type chunks[T any] struct {
	buf  []T // the current chunk; buf[used:] is free
	used int
	keep bool  // keep every chunk made, to be taken again after a reset
	kept [][]T // with keep: the chunks made; buf is kept[cur]
	cur  int
}

const chunkLen = 64

// take returns n zero Ts.
func (c *chunks[T]) take(n int) []T {
	if n > chunkLen {
		return make([]T, n)
	}
	if len(c.buf)-c.used < n {
		c.next()
	}
	s := c.buf[c.used : c.used+n : c.used+n]
	c.used += n
	return s
}

// next moves to a fresh chunk: a new one, or with keep the next one kept.
func (c *chunks[T]) next() {
	c.used = 0
	if !c.keep {
		c.buf = make([]T, chunkLen)
		return
	}
	if c.buf == nil {
		c.cur = 0
	} else {
		c.cur++
	}
	if c.cur == len(c.kept) {
		c.kept = append(c.kept, make([]T, chunkLen))
	}
	c.buf = c.kept[c.cur]
}

// reset gives back, zeroed, everything taken from chunks that keep
// theirs: nothing may refer to it.
func (c *chunks[T]) reset() {
	if c.buf != nil {
		for _, b := range c.kept[:c.cur+1] {
			clear(b)
		}
	}
	c.buf, c.used = nil, 0
}

// chunkMark is where a chunks stood: its chunk and how much of it was used.
type chunkMark[T any] struct {
	buf  []T
	used int
}

func (c *chunks[T]) mark() chunkMark[T] { return chunkMark[T]{c.buf, c.used} }

// reuse gives back, zeroed, what was taken from the current chunk since m,
// all of it when the chunk was made since: nothing may refer to it. It is
// for chunks that do not keep theirs.
func (c *chunks[T]) reuse(m chunkMark[T]) {
	from := 0
	if len(m.buf) > 0 && len(c.buf) > 0 && &m.buf[0] == &c.buf[0] {
		from = m.used
	}
	clear(c.buf[from:c.used])
	c.used = from
}

// exportChunks is where flows' Gaps, Findings and PacketRefs are carved
// from when they are exported.
type exportChunks struct {
	gaps     chunks[Gap]
	findings chunks[Finding]
	refs     chunks[PacketRef]
}

// keeping returns exportChunks that keep their chunks, to be reset.
func keeping() exportChunks {
	return exportChunks{gaps: chunks[Gap]{keep: true}, findings: chunks[Finding]{keep: true}, refs: chunks[PacketRef]{keep: true}}
}

// reset gives back everything taken from exportChunks that keep their
// chunks, once nothing refers to it.
func (e *exportChunks) reset() {
	e.gaps.reset()
	e.findings.reset()
	e.refs.reset()
}

// exportMark is where exportChunks stood.
type exportMark struct {
	gaps     chunkMark[Gap]
	findings chunkMark[Finding]
	refs     chunkMark[PacketRef]
}

func (e *exportChunks) mark() exportMark {
	return exportMark{e.gaps.mark(), e.findings.mark(), e.refs.mark()}
}

// reuse gives back what was exported since m, once nothing refers to it.
func (e *exportChunks) reuse(m exportMark) {
	e.gaps.reuse(m.gaps)
	e.findings.reuse(m.findings)
	e.refs.reuse(m.refs)
}

// endChunks is where the flows judged at the capture's end take room for
// their notes: most have none before, and get one gap and a finding or two.
type endChunks struct {
	gaps     chunks[gapNote]
	findings chunks[findingNote]
}

// endMark is where endChunks stood.
type endMark struct {
	gaps     chunkMark[gapNote]
	findings chunkMark[findingNote]
}

func (e *endChunks) mark() endMark { return endMark{e.gaps.mark(), e.findings.mark()} }

// reuse gives back what was taken since m, once nothing refers to it.
func (e *endChunks) reuse(m endMark) {
	e.gaps.reuse(m.gaps)
	e.findings.reuse(m.findings)
}
