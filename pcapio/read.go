package pcapio

import (
	"errors"
	"io"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// Reading a file runs in two stages. The first batch of packets of each
// file is read and decoded when the file is opened. Once the caller has
// consumed it, a goroutine of the file's own reads, parses and decodes
// batches of packets ahead, while Next hands them out: the reading and
// decoding of one core overlaps the caller's work on the other. A gzip or
// zstd layer is removed on a further goroutine, in large chunks. A file that
// fits in its first batch never starts a goroutine, nor does any file when
// GOMAXPROCS is 1, and the goroutines of rotated files run one after the
// other as the merge reaches each file. While Next waits for a batch of a
// regular file, it does the reading goroutine's next read system call
// (sharedFile). The reading goroutine asks for the cache lines of the
// segments it is about to decode ahead of time (produce).
//
// Packets alias the chunks the file was read into; a chunk is reused only
// after the batch that retired it, and so every packet in it, has been
// consumed.

const (
	// readBufferSize is the size of the chunks a file is read into once
	// it outgrows its first chunk.
	readBufferSize = 1 << 20
	// readSize is the most a read system call fetches: little enough
	// that the bytes it copied are still in the processor's cache when
	// they are parsed (measured: 15 % less time on a GiB than reading
	// whole chunks).
	readSize = 256 << 10
	// firstChunkSize is the size of a file's first chunk: enough for the
	// headers and the first batch of most captures, small enough that
	// hundreds of rotated files cost little before their turn.
	firstChunkSize = 64 << 10
	// batchLen is the most packets in a batch.
	batchLen = 512
	// prefetchAhead is how many segments ahead of the one it decodes
	// the reading goroutine asks for a segment's cache lines: about a
	// round trip between two cores that share no cache (0.5 µs) at the
	// 60 to 80 ns a packet takes it (4 and 16 were no quicker).
	prefetchAhead = 8
	// queueLen is the most batches read ahead of Next. Three hold the
	// reader as far ahead as four did (measured: the same time on the
	// GiB), and the benchmark captures' peak RSS 1.5 MB lower and
	// steadier.
	queueLen = 3
	// aheadSize is the size of the chunks a decompressing goroutine hands
	// over.
	aheadSize = 256 << 10
)

// spinWait is how long the reading goroutine and Next try the queue of
// batches between them, yielding the processor between tries, before they
// block on it. A goroutine that blocks puts its thread to sleep, and the
// other side must wake it: on a virtual machine that takes a system call
// and an interrupt between processors, tens of microseconds on the waker's
// time, about as long as a batch takes. Spinning a little longer than
// that, each side finds the queue ready without either sleeping (measured,
// by turns: the GiB 416 to 364 ms, the million-flow burst 956 to 731 ms,
// medians; about 2,600 context switches a run fall to 450).
const spinWait = 200 * time.Microsecond

// errClosed ends reading when the Source is closed under a goroutine.
var errClosed = errors.New("source closed")

// byteReader reads a stream into chunks and hands out slices of them. A
// chunk's bytes are never moved while packets may alias them: when a read
// does not fit in the rest of the current chunk, the unread bytes move to a
// fresh chunk and the old one is retired, to be reused once the batch it was
// retired in has been consumed. A read longer than a chunk goes to a
// separate buffer, of which there is one.
type byteReader struct {
	src     io.Reader
	buf     []byte // current chunk; buf[r:w] is buffered and not yet read
	r, w    int
	off     int64 // bytes consumed from the stream
	err     error // the stream's error, once it has returned one
	pool    *chunkPool
	retired [][]byte    // chunks retired since the producer last took them
	big     []byte      // buffer for reads longer than a chunk; nil when a batch holds it
	lastBig bool        // the last read returned a slice of big
	shared  *sharedFile // src's file, when Next may read ahead in it; nil when not
}

// read returns the next n bytes, valid until the chunk holding them is
// released. At the end of the stream it returns io.EOF when nothing was
// read and io.ErrUnexpectedEOF when the stream ended part-way.
func (r *byteReader) read(n int) ([]byte, error) {
	r.lastBig = false
	if r.w-r.r < n {
		if n > readBufferSize {
			return r.readBig(n)
		}
		r.fill(n)
		if r.w-r.r < n {
			return nil, r.short()
		}
	}
	b := r.buf[r.r : r.r+n : r.r+n]
	r.skip(n)
	return b, nil
}

// buffered returns the bytes buffered and not yet read, without reading
// more: a record that lies whole in them can be taken in place, and then
// skipped, without read's checks. They are valid until the chunk holding
// them is released.
func (r *byteReader) buffered() []byte { return r.buf[r.r:r.w] }

// skip reads past the next n bytes, which must be buffered.
func (r *byteReader) skip(n int) {
	r.r += n
	r.off += int64(n)
	r.lastBig = false
}

// peek returns up to n buffered bytes without consuming them.
func (r *byteReader) peek(n int) []byte {
	r.fill(n)
	return r.buf[r.r:min(r.w, r.r+n)]
}

// short consumes what is left of a stream that could not satisfy a read
// and says why.
func (r *byteReader) short() error {
	left := r.w - r.r
	r.off += int64(left)
	r.r = r.w
	switch {
	case r.err == io.EOF && left == 0:
		return io.EOF
	case r.err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return r.err
}

// fill buffers at least n bytes, n at most readBufferSize, unless the
// stream ends or fails first.
func (r *byteReader) fill(n int) {
	for empty := 0; r.w-r.r < n && r.err == nil; {
		if len(r.buf)-r.r < n {
			if r.err = r.newChunk(n); r.err != nil {
				return
			}
		}
		m, err := r.src.Read(r.buf[r.w:min(len(r.buf), r.w+readSize)])
		r.w += m
		if err != nil {
			r.err = err
		} else if m == 0 {
			if empty++; empty >= 100 {
				r.err = io.ErrNoProgress
			}
		}
	}
	if r.shared != nil && r.err == nil && r.w < len(r.buf) {
		r.shared.offer(r.buf, r.w, readSize) // what the next fills read, unless they move to a new chunk
	}
}

// newChunk moves the unread bytes to a fresh chunk with room for n bytes
// and retires the current one.
func (r *byteReader) newChunk(n int) error {
	size := readBufferSize
	if r.buf == nil && n <= firstChunkSize {
		size = firstChunkSize
	}
	c, err := r.pool.get(size)
	if err != nil {
		return err
	}
	k := copy(c, r.buf[r.r:r.w])
	if r.buf != nil {
		r.retired = append(r.retired, r.buf)
	}
	r.buf, r.r, r.w = c, 0, k
	return nil
}

// readBig reads n bytes, more than a chunk holds, into the big buffer.
func (r *byteReader) readBig(n int) ([]byte, error) {
	if r.big == nil {
		b, err := r.pool.takeBig()
		if err != nil {
			return nil, err
		}
		r.big = b
	}
	if cap(r.big) < n {
		r.big = make([]byte, n)
	}
	b := r.big[:n]
	k := copy(b, r.buf[r.r:r.w])
	r.r = r.w
	for k < n && r.err == nil {
		m, err := r.src.Read(b[k:])
		k += m
		r.err = err
	}
	r.off += int64(k)
	if k < n {
		switch {
		case r.err == io.EOF && k == 0:
			return nil, io.EOF
		case r.err == io.EOF:
			return nil, io.ErrUnexpectedEOF
		}
		return nil, r.err
	}
	r.lastBig = true
	return b, nil
}

// Read reads the buffered bytes first, then the stream: a gzip layer reads
// the compressed stream through it after its magic number was peeked.
func (r *byteReader) Read(p []byte) (int, error) {
	if r.r < r.w {
		n := copy(p, r.buf[r.r:r.w])
		r.r += n
		r.off += int64(n)
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.src.Read(p)
}

// chunkPool keeps one file's chunks for reuse. The reading goroutine takes
// chunks and Next gives them back, so it is safe for those two to use at
// once. It makes at most maxChunks chunks of readBufferSize: when they are
// all taken, the reader waits for one to come back, so that a file's
// buffers take the same memory however the two goroutines' speeds
// happen to compare.
type chunkPool struct {
	free    chan []byte   // chunks of readBufferSize
	left    *leftovers    // what files read to their end left for the next ones; may be nil
	made    int           // chunks of readBufferSize made; used by the reader only
	big     chan []byte   // the big buffer, once given back
	bigMade bool          // the big buffer exists; used by the reader only
	done    chan struct{} // closed when the Source is closed
}

// maxChunks is the most chunks of readBufferSize a file reads into: the
// one being filled, and those whose packets are in batches not yet
// consumed. With full-size frames a chunk holds little more than one
// batch, so it is this, not queueLen, that bounds the reading ahead.
const maxChunks = 3

// leftovers are the buffers the files of a Source read to their end (or
// parked) leave for the next ones, which take them before they make their
// own: so rotated files read into the same memory rather than each into
// fresh pages, and make no garbage for the collector file after file.
type leftovers struct {
	chunks  chan []byte // of readBufferSize
	firsts  chan []byte // of firstChunkSize
	batches chan *batch
	// reading counts the files whose goroutines are reading: pipes are
	// all read at once, and only one reader alone spins (spinWait).
	reading atomic.Int32
}

func newLeftovers() *leftovers {
	return &leftovers{chunks: make(chan []byte, maxChunks), firsts: make(chan []byte, 1), batches: make(chan *batch, queueLen+2)}
}

// newChunkPool returns a file's pool, which takes chunks from left, when
// not nil, before it makes its own.
func newChunkPool(left *leftovers) *chunkPool {
	return &chunkPool{free: make(chan []byte, maxChunks), left: left, big: make(chan []byte, 1), done: make(chan struct{})}
}

// leave puts the chunks given back to p, whose file has been read to its
// end, where the next file takes them.
func (p *chunkPool) leave() {
	if p.left != nil {
		pass(p.free, p.left.chunks)
	}
}

// pass moves what from holds into to, without waiting, while to has room.
func pass[T any](from <-chan T, to chan<- T) {
	for {
		select {
		case v := <-from:
			select {
			case to <- v:
			default:
				return
			}
		default:
			return
		}
	}
}

func (p *chunkPool) get(size int) ([]byte, error) {
	if size != readBufferSize {
		if size == firstChunkSize && p.left != nil {
			select {
			case c := <-p.left.firsts:
				return c, nil
			default:
			}
		}
		return make([]byte, size), nil
	}
	select {
	case c := <-p.free:
		return c, nil
	default:
	}
	if p.made < maxChunks {
		p.made++
		if p.left != nil {
			select {
			case c := <-p.left.chunks:
				return c, nil
			default:
			}
		}
		return make([]byte, size), nil
	}
	select {
	case c := <-p.free:
		return c, nil
	case <-p.done:
		return nil, errClosed
	}
}

func (p *chunkPool) put(c []byte) {
	switch {
	case len(c) == readBufferSize:
		select {
		case p.free <- c:
		default:
		}
	case len(c) == firstChunkSize && p.left != nil:
		select {
		case p.left.firsts <- c:
		default:
		}
	}
}

// takeBig returns the big buffer once the batch holding it has been
// consumed; nil when there is none yet.
func (p *chunkPool) takeBig() ([]byte, error) {
	if !p.bigMade {
		p.bigMade = true
		return nil, nil
	}
	select {
	case b := <-p.big:
		return b, nil
	case <-p.done:
		return nil, errClosed
	}
}

// entry is one packet as read and decoded ahead of Next.
type entry struct {
	pkt    packet
	reason SkipReason
	seg    int32 // index in the batch's segs of its segment, when reason is Decoded
}

// batch is a run of packets of one file, in file order.
type batch struct {
	entries []entry
	tally   tally     // the entries' counts for Stats
	segs    []Segment // the TCP segments among them, complete with time, file and frame
	retired [][]byte  // chunks to reuse once this batch is consumed
	big     []byte    // the big buffer, when a packet of this batch is in it
	err     error     // what ended the file after this batch: io.EOF or damage; nil when more follow
}

// tally is what a batch adds to a Source's Stats, counted while the
// batch is made, on the reading goroutine: NextBatch then counts a batch
// it hands out whole at once, not packet by packet.
type tally struct {
	first, last      int64 // capture times of the first and last packets
	min, max         int64
	backwards, leaps uint64 // between packets of the batch
	skipped          [numSkipReasons]uint64
	links            []LinkCount // in order of first appearance
}

// reset empties t for a new batch.
func (t *tally) reset() {
	links := t.links[:0]
	*t = tally{links: links}
}

// add counts e, the batch's i-th packet.
func (t *tally) add(e *entry, i int) {
	n := e.pkt.nanos
	switch {
	case i == 0:
		t.first, t.min, t.max = n, n, n
	case n < t.last: // only a step back can make a new least time
		t.backwards++
		t.min = min(t.min, n)
	default: // and only a step forward a new greatest
		if n-t.last > int64(ClockLeap) {
			t.leaps++
		}
		t.max = max(t.max, n)
	}
	t.last = n
	t.skipped[e.reason]++
	if k := len(t.links); k > 0 && t.links[k-1].LinkType == e.pkt.link {
		t.links[k-1].Packets++
	} else {
		t.links = addLink(t.links, e.pkt.link, 1)
	}
}

// addLink adds packets of a link type to the counts.
func addLink(links []LinkCount, link uint16, packets uint64) []LinkCount {
	for i := range links {
		if links[i].LinkType == link {
			links[i].Packets += packets
			return links
		}
	}
	return append(links, LinkCount{LinkType: link, Packets: packets})
}

// produce reads and decodes packets of f into b until it holds limit
// packets, a chunk was retired or the big buffer used (so that little
// memory is held up by one batch), or the file ends.
//
// With ahead set, as on the reading goroutine, it asks for the cache
// lines of the segment prefetchAhead places on before decoding each one
// (prefetchSegment). The batch was last read by Next on the other core,
// whose cache still holds those lines: a store into them waits while each
// line comes over, which made decoding three times as slow on two cores as
// on one where the two share no cache; asked for ahead, the lines come
// while earlier packets are decoded (bench/NOTES.md, "Asking for the
// batch's lines ahead").
func (f *sourceFile) produce(b *batch, limit int, ahead bool) {
	b.retired, b.big, b.err = b.retired[:0], nil, nil
	b.tally.reset()
	// The slices are kept in locals, at full length, and cut to what was
	// read at the end: the batch's fields would be read again after every
	// call, and an append checks the capacity every time.
	entries, segs := slices.Grow(b.entries[:0], limit)[:limit], slices.Grow(b.segs[:0], limit)[:limit]
	br := f.br
	i, n := 0, 0 // entries and segments filled
	if ahead {
		for j := range min(prefetchAhead, len(segs)) {
			prefetchSegment(&segs[j])
		}
	}
	for i < limit {
		e := &entries[i]
		if err := f.rr.next(&e.pkt); err != nil {
			b.err = err
			break
		}
		f.frames++
		seg := &segs[n]
		if ahead && n+prefetchAhead < len(segs) {
			prefetchSegment(&segs[n+prefetchAhead])
		}
		e.reason = Decode(e.pkt.link, e.pkt.data, e.pkt.wireLen, seg)
		if e.reason == Decoded {
			seg.Nanos, seg.File, seg.Frame = e.pkt.nanos, f.index, f.frames
			seg.Point ^= e.pkt.iface << 24
			e.seg = int32(n)
			n++
		}
		b.tally.add(e, i)
		i++
		if br.lastBig {
			b.big, br.big = br.big, nil
			break
		}
		if len(br.retired) > 0 {
			break
		}
	}
	b.entries, b.segs = entries[:i], segs[:n]
	b.retired = append(b.retired, br.retired...)
	clear(br.retired)
	br.retired = br.retired[:0]
}

// run reads f ahead of Next, on a goroutine of its own, until the file
// ends or the Source is closed. It makes a batch when none has come back:
// at most queueLen+2 exist, queueLen queued, one filling, one with Next.
func (f *sourceFile) run(queue chan<- *batch, spare <-chan *batch) {
	if s := f.shared; s != nil {
		defer s.withdraw() // the chunks may go to the next file
	}
	if left := f.pool.left; left != nil {
		left.reading.Add(1)
		defer left.reading.Add(-1)
	}
	for {
		var b *batch
		select {
		case b = <-spare:
		default:
			b = f.newBatch()
		}
		f.produce(b, batchLen, true)
		last := b.err != nil // once sent, b is Next's: a file after this one may reuse it
		if !f.spinSend(queue, b) {
			select {
			case queue <- b:
			case <-f.pool.done:
				return
			}
		}
		if last {
			return
		}
	}
}

// spins reports whether the reading goroutine and Next spin on the queue
// (spinWait): not when the processors have other work, a goroutine
// decompressing or other files' goroutines reading.
func (f *sourceFile) spins() bool {
	return f.info.Compression == "" && (f.pool.left == nil || f.pool.left.reading.Load() <= 1)
}

// spinRecv tries for spinWait to take a batch from f's queue; it does not
// try when f does not spin.
func (f *sourceFile) spinRecv() (*batch, bool) {
	if !f.spins() {
		return nil, false
	}
	for start := time.Now(); time.Since(start) < spinWait; runtime.Gosched() {
		select {
		case b := <-f.queue:
			return b, true
		default:
		}
		if f.shared.help() { // the reader's next copy, done while waiting for it
			start = time.Now()
		}
	}
	return nil, false
}

// spinSend tries for spinWait to put b in queue, and reports whether it
// did; it does not try when f does not spin.
func (f *sourceFile) spinSend(queue chan<- *batch, b *batch) bool {
	if !f.spins() {
		return false
	}
	for start := time.Now(); time.Since(start) < spinWait; runtime.Gosched() {
		select {
		case queue <- b:
			return true
		default:
		}
	}
	return false
}

// newBatch returns a batch a file read to its end left, or a new one.
func (f *sourceFile) newBatch() *batch {
	if f.pool.left != nil {
		select {
		case b := <-f.pool.left.batches:
			return b
		default:
		}
	}
	return &batch{entries: make([]entry, 0, batchLen)}
}

// leaveBatches puts the consumed batches of f, read to its end, where the
// next file takes them: the spares, or the one batch f read in place.
func (f *sourceFile) leaveBatches() {
	left := f.pool.left
	if left == nil {
		return
	}
	if f.spare == nil {
		select {
		case left.batches <- f.cur:
		default:
		}
		return
	}
	pass(f.spare, left.batches)
}

// release gives the chunks of a consumed batch back to the pool and the
// batch to the spares.
func (f *sourceFile) release(b *batch) {
	for _, c := range b.retired {
		f.pool.put(c)
	}
	if b.big != nil {
		select {
		case f.pool.big <- b.big:
		default:
		}
	}
	clear(b.retired)
	b.retired, b.big = b.retired[:0], nil
	if f.spare != nil {
		select {
		case f.spare <- b:
		default:
		}
	}
}

// readAhead reads src on a goroutine of its own into chunks that Read
// copies out. The first syncBytes are read directly, so that a file is
// recognised, and its first batch read, without starting the goroutine.
type readAhead struct {
	src     io.Reader
	sync    int // bytes still to read directly
	full    chan []byte
	free    chan []byte
	done    <-chan struct{}
	cur     []byte // unread part of the current chunk
	last    []byte // the current chunk, to give back when read
	err     error  // the stream's error; set before full is closed
	started bool
}

func newReadAhead(src io.Reader, syncBytes int, done <-chan struct{}) *readAhead {
	return &readAhead{src: src, sync: syncBytes, done: done}
}

func (a *readAhead) Read(p []byte) (int, error) {
	if !a.started {
		if a.sync > 0 {
			n, err := a.src.Read(p[:min(len(p), a.sync)])
			a.sync -= n
			return n, err
		}
		a.started = true
		a.full = make(chan []byte, 2)
		a.free = make(chan []byte, 4)
		go a.run()
	}
	for len(a.cur) == 0 {
		if a.last != nil {
			select {
			case a.free <- a.last:
			default:
			}
			a.last = nil
		}
		c, ok := <-a.full
		if !ok {
			return 0, a.err
		}
		a.cur, a.last = c, c[:cap(c)]
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// run fills chunks from src and hands them over until src fails or ends,
// or the Source is closed.
func (a *readAhead) run() {
	defer close(a.full)
	for {
		var c []byte
		select {
		case c = <-a.free:
		default:
			c = make([]byte, aheadSize)
		}
		n := 0
		var err error
		for n < len(c) && err == nil {
			var m int
			m, err = a.src.Read(c[n:])
			n += m
		}
		if n > 0 {
			select {
			case a.full <- c[:n]:
			case <-a.done:
				a.err = errClosed
				return
			}
		}
		if err != nil {
			a.err = err
			return
		}
	}
}
