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
// copy: after each read, the reading goroutine offers the read that
// follows, into the rest of its chunk, and Next does it when it is
// waiting for a batch before the reader comes to it. The 1 GiB capture
// takes a fifth less time so; captures bound by the analysis, where Next
// seldom waits, the same (bench/NOTES.md).

// The states of a sharedFile's offered read.
const (
	readNone    int32 = iota // no read offered
	readOffered              // offered, not taken up
	readTaken                // being read by Next
	readDone                 // read by Next; n and err hold what it got
)

// sharedFile reads a regular file by position, so that either goroutine
// may read the next bytes. Read and offer are the reading goroutine's;
// help is Next's.
type sharedFile struct {
	file  io.ReaderAt
	pos   int64        // where the reading goroutine's next Read starts
	state atomic.Int32 // readNone, readOffered, readTaken or readDone
	dst   []byte       // the offered read: dst, from off
	off   int64
	n     int // what the offered read got, once readDone
	err   error
	// helped counts the reads Next did, for tests.
	helped atomic.Int64
}

// Read reads p from the file's current position: the offered read when p
// is the slice offered, or else, once the offer is withdrawn, a read of
// its own. At the end of the file it returns the bytes read with io.EOF.
func (f *sharedFile) Read(p []byte) (int, error) {
	var n int
	var err error
	if f.dst != nil && len(p) == len(f.dst) && &p[0] == &f.dst[0] {
		n, err = f.take()
	} else {
		f.withdraw()
		n, err = f.file.ReadAt(p, f.pos)
	}
	f.pos += int64(n)
	return n, err
}

// offer lets Next read p, which is to be the slice of the next Read, until
// that Read or withdraw.
func (f *sharedFile) offer(p []byte) {
	f.withdraw()
	f.dst, f.off = p, f.pos
	f.state.Store(readOffered)
}

// take returns what the offered read got, reading it here when Next has
// not taken it up, and waiting for Next when it has.
func (f *sharedFile) take() (int, error) {
	if f.state.CompareAndSwap(readOffered, readNone) {
		n, err := f.file.ReadAt(f.dst, f.off)
		f.dst = nil
		return n, err
	}
	dst := f.dst
	f.wait()
	touchLines(dst[:f.n])
	return f.n, f.err
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

// withdraw takes back the offer, if there is one: from then on Next does
// not write to its slice, whose chunk may be reused.
func (f *sharedFile) withdraw() {
	if f.dst != nil && !f.state.CompareAndSwap(readOffered, readNone) {
		f.wait()
	}
	f.dst = nil
}

// wait waits for Next to finish the offered read it took up.
func (f *sharedFile) wait() {
	for f.state.Load() != readDone {
		runtime.Gosched()
	}
	f.state.Store(readNone)
	f.dst = nil
}

// help does the offered read, if there is one not taken up, and reports
// whether it did.
func (f *sharedFile) help() bool {
	if f == nil || !f.state.CompareAndSwap(readOffered, readTaken) {
		return false
	}
	f.n, f.err = f.file.ReadAt(f.dst, f.off)
	f.helped.Add(1)
	f.state.Store(readDone)
	return true
}
