package pcapio

import (
	"io"
	"runtime"
	"sync/atomic"
)

// Reading a file costs the reading goroutine a copy from the page cache
// (what `cat` takes) besides the parsing and decoding, and so it, not the
// analysis, bounds a large capture of few flows, while Next waits on the
// queue for its batches. A sharedFile lets Next spend that wait on the
// copy: after each read, the reading goroutine offers the two reads that
// follow, into the rest of its chunk, and Next does them when it is
// waiting for a batch before the reader comes to them. The 1 GiB capture
// takes a fifth less time so; captures bound by the analysis, where Next
// seldom waits, the same (bench/NOTES.md). Two reads rather than one
// give Next's copy a read's parsing more to finish in before the reader
// needs it, where the reader would otherwise wait for it; three gain no
// more.

// The states of a sharedFile's offered read.
const (
	readNone    int32 = iota // no read offered
	readOffered              // offered, not taken up
	readTaken                // being read by Next
	readDone                 // read by Next; n and err hold what it got
)

// maxOffers is the most reads offered at once (see above).
const maxOffers = 2

// offeredRead is a read the reading goroutine offers Next.
type offeredRead struct {
	state atomic.Int32 // readNone, readOffered, readTaken or readDone
	dst   []byte       // the read: dst, from off
	off   int64
	n     int // what the read got, once readDone
	err   error
}

// sharedFile reads a regular file by position, so that either goroutine
// may read the next bytes. Read and offer are the reading goroutine's;
// help is Next's.
type sharedFile struct {
	file  io.ReaderAt
	pos   int64 // where the reading goroutine's next Read starts
	reads [maxOffers]offeredRead
	first int // index in reads of the earliest offered read
	count int // reads offered, from first on
	// helped counts the reads Next did, for tests.
	helped atomic.Int64
}

// Read reads p from the file's current position: the earliest offered
// read when p is its slice, or else, once the offers are withdrawn, a read
// of its own. At the end of the file it returns the bytes read with
// io.EOF.
func (f *sharedFile) Read(p []byte) (int, error) {
	var n int
	var err error
	if r := &f.reads[f.first]; f.count > 0 && len(p) == len(r.dst) && &p[0] == &r.dst[0] {
		n, err = r.take(f.file)
		f.first, f.count = (f.first+1)%maxOffers, f.count-1
	} else {
		f.withdraw()
		n, err = f.file.ReadAt(p, f.pos)
	}
	f.pos += int64(n)
	return n, err
}

// offer lets Next read ahead in buf, whose bytes from w on are the
// file's from the next Read's position: reads of up to size bytes each,
// after those already offered, until maxOffers are or buf is covered.
func (f *sharedFile) offer(buf []byte, w, size int) {
	off := f.pos
	if f.count > 0 {
		last := &f.reads[(f.first+f.count-1)%maxOffers]
		off = last.off + int64(len(last.dst))
	}
	for at := w + int(off-f.pos); f.count < maxOffers && at < len(buf); {
		r := &f.reads[(f.first+f.count)%maxOffers]
		r.dst, r.off = buf[at:min(len(buf), at+size)], off
		r.state.Store(readOffered)
		f.count++
		at += len(r.dst)
		off += int64(len(r.dst))
	}
}

// take returns what the read got, reading it here when Next has not
// taken it up, and waiting for Next when it has.
func (r *offeredRead) take(file io.ReaderAt) (int, error) {
	if r.state.CompareAndSwap(readOffered, readNone) {
		n, err := file.ReadAt(r.dst, r.off)
		r.dst = nil
		return n, err
	}
	dst := r.dst
	r.wait()
	touchLines(dst[:r.n])
	return r.n, r.err
}

// withdraw takes back the offers: from then on Next does not write to
// their slices, whose chunk may be reused.
func (f *sharedFile) withdraw() {
	for ; f.count > 0; f.first, f.count = (f.first+1)%maxOffers, f.count-1 {
		r := &f.reads[f.first]
		if !r.state.CompareAndSwap(readOffered, readNone) {
			r.wait()
		}
		r.dst = nil
	}
}

// wait waits for Next to finish the read it took up.
func (r *offeredRead) wait() {
	for r.state.Load() != readDone {
		runtime.Gosched()
	}
	r.state.Store(readNone)
	r.dst = nil
}

// help does an offered read not taken up, and reports whether it did
// one. It looks at the slots in their order, which is not always the
// reads' (the reader does an earlier one itself when help took a later).
func (f *sharedFile) help() bool {
	if f == nil {
		return false
	}
	for i := range f.reads {
		r := &f.reads[i]
		if r.state.CompareAndSwap(readOffered, readTaken) {
			r.n, r.err = f.file.ReadAt(r.dst, r.off)
			f.helped.Add(1)
			r.state.Store(readDone)
			return true
		}
	}
	return false
}

// touchSink keeps touchLines' loads from being left out.
var touchSink byte

// touchLines loads a byte of every cache line of b, which Next's read
// copied into the other core's cache. The parsing that follows would fetch
// one record header at a time, each waiting for the one before, which
// says where the next begins; loads in order, which do not wait for each
// other, fetch them sooner.
func touchLines(b []byte) {
	var x byte
	for i := 0; i < len(b); i += 64 {
		x += b[i]
	}
	touchSink = x
}
