package pcapio

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// sharedRead is the length of the i-th read TestSharedFileReads makes:
// mostly short records, now and then one too long for what is left of a
// chunk (a new chunk, with the read offered in the old one left behind)
// or one longer than a chunk (the big buffer).
func sharedRead(i int) int {
	switch i % 1000 {
	case 300:
		return 700_000
	case 600:
		return readBufferSize + 5000
	}
	return []int{16, 1500, 90, 4000, 60, 333}[i%6]
}

// readShared reads data, a file's bytes, through a byteReader over a
// sharedFile of it, and checks every read. After each read it calls
// helpNow, as Next would while waiting; it returns the reads Next did.
func readShared(t *testing.T, path string, data []byte, helpNow func(f *sharedFile, read int)) int64 {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f := &sharedFile{file: file}
	r := &byteReader{src: &countingReader{r: f, n: new(atomic.Int64)}, pool: newChunkPool(nil), shared: f}
	off := 0
	for i := 0; off < len(data); i++ {
		n := min(sharedRead(i), len(data)-off)
		b, err := r.read(n)
		if err != nil {
			t.Fatalf("read %d (%d bytes at %d): %v", i, n, off, err)
		}
		if !bytes.Equal(b, data[off:off+n]) {
			t.Fatalf("read %d (%d bytes at %d): not the file's bytes", i, n, off)
		}
		off += n
		for _, c := range r.retired { // as Next gives them back
			r.pool.put(c)
		}
		r.retired = r.retired[:0]
		helpNow(f, i)
	}
	if _, err := r.read(1); err != io.EOF {
		t.Fatalf("read past the end: %v, want EOF", err)
	}
	for i := range f.reads {
		if r := &f.reads[i]; r.dst != nil || r.state.Load() != readNone {
			t.Errorf("a read is still offered at the end: state %d", r.state.Load())
		}
	}
	if f.count != 0 {
		t.Errorf("%d reads still offered at the end", f.count)
	}
	return f.helped.Load()
}

// TestSharedFileReads reads a file through the byteReader as the reading
// goroutine does, with the read it offers after each done by the other
// side always, never, or on a goroutine of its own as
// fast as it can: the bytes read are the file's, in every case.
func TestSharedFileReads(t *testing.T) {
	data := make([]byte, 7*readBufferSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := writeFile(t, "data", data)
	for _, tt := range []struct {
		name   string
		help   func(f *sharedFile, read int)
		helped func(n int64) bool
	}{
		{"never", func(*sharedFile, int) {}, func(n int64) bool { return n == 0 }},
		{"always", func(f *sharedFile, _ int) { f.help() }, func(n int64) bool { return n >= 5 }},
	} {
		if n := readShared(t, path, data, tt.help); !tt.helped(n) {
			t.Errorf("%s: the other side did %d reads", tt.name, n)
		} else {
			t.Logf("%s: the other side did %d reads", tt.name, n)
		}
	}

	// The other side on a goroutine of its own, as in use; under the
	// race detector this checks that the offer hands the slice over.
	var helper *sharedFile
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			f := helper
			mu.Unlock()
			if !f.help() {
				runtime.Gosched()
			}
		}
	}()
	for range 3 {
		readShared(t, path, data, func(f *sharedFile, _ int) {
			mu.Lock()
			helper = f
			mu.Unlock()
		})
	}
	close(stop)
	<-done
}

// TestSharedFileWithdraw checks that a read offered and withdrawn is not
// done by the other side, whose next help finds nothing to do: the
// withdrawn slice's chunk may hold another file's packets by then.
func TestSharedFileWithdraw(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 100)
	file, err := os.Open(writeFile(t, "data", data))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f := &sharedFile{file: file}
	dst := make([]byte, 50)
	f.offer(dst, 0, len(dst))
	f.withdraw()
	if f.help() {
		t.Error("help did a withdrawn read")
	}
	if !bytes.Equal(dst, make([]byte, 50)) {
		t.Error("the withdrawn slice was written to")
	}
	// Taken up, then withdrawn: the read done is dropped, and the next
	// Read reads from where it would have.
	f.offer(dst, 0, len(dst))
	if !f.help() {
		t.Fatal("help did not do the offered read")
	}
	f.withdraw()
	other := make([]byte, 100)
	if n, err := f.Read(other); n != 100 || err != nil || !bytes.Equal(other, data) {
		t.Errorf("Read after a withdrawn read: %d bytes, %v", n, err)
	}
	// A Read of another slice (the reader moved to a new chunk) withdraws
	// the offer too.
	clear(dst)
	f.offer(dst, 0, len(dst))
	if _, err := f.Read(make([]byte, 10)); err != io.EOF {
		t.Errorf("Read at the end: %v, want EOF", err)
	}
	if f.help() || !bytes.Equal(dst, make([]byte, 50)) {
		t.Error("help did a read offered before a Read of another slice")
	}
}

// TestSharedFileTwoOffers offers two reads at once, and has Next do the
// later of them while the reader does the earlier itself: each Read gets
// its own bytes, in file order.
func TestSharedFileTwoOffers(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i)
	}
	file, err := os.Open(writeFile(t, "data", data))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f := &sharedFile{file: file}
	buf := make([]byte, len(data))
	read := func(from, to int) {
		t.Helper()
		if n, err := f.Read(buf[from:to]); n != to-from || err != nil {
			t.Fatalf("Read of [%d, %d): %d bytes, %v", from, to, n, err)
		}
	}
	f.offer(buf, 0, 100) // [0, 100) and [100, 200)
	if f.count != 2 {
		t.Fatalf("%d reads offered, want 2", f.count)
	}
	read(0, 100)           // done here: Next did not take it up
	f.offer(buf, 100, 100) // [200, 300), after [100, 200)
	if !f.help() {         // takes [200, 300), the first slot's
		t.Fatal("help found no read offered")
	}
	if f.reads[f.first].state.Load() != readOffered {
		t.Fatal("help took [100, 200), not the later read")
	}
	read(100, 200) // done here
	read(200, 300) // done by help
	if !bytes.Equal(buf, data) {
		t.Errorf("the reads got %v, want the file's bytes in order", buf)
	}
	if f.helped.Load() != 1 || f.count != 0 || f.help() {
		t.Errorf("help did %d reads, %d offers left; want 1 and none", f.helped.Load(), f.count)
	}
}

// TestSharedFileInUse reads a capture larger than a chunk as Open does,
// with its reading goroutine running: the file is shared, Next does some
// of its reads while it waits, and every frame comes through whole. A
// compressed file, whose bytes come from the decompressing goroutine, is
// not shared.
func TestSharedFileInUse(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	frames, pcap := manyFramesPcap(40000)
	if len(pcap) < 8*readBufferSize {
		t.Fatalf("capture of %d bytes is too small for many reads", len(pcap))
	}
	path := writeFile(t, "big.pcap", pcap)
	// Whether Next ever waits is up to the scheduler: try a few times.
	var helped int64
	for try := 0; try < 20 && helped == 0; try++ {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		f := s.files[0]
		checkFrames(t, s, frames)
		if f.shared == nil {
			t.Fatal("a regular file, read alone, is not shared")
		}
		helped = f.shared.helped.Load()
		s.Close()
	}
	if helped == 0 {
		t.Error("Next did none of the reads in 20 readings of the file")
	}

	s, err := Open(writeFile(t, "big.pcap.gz", gzipped(t, pcap)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkFrames(t, s, frames)
	if s.files[0].shared != nil {
		t.Error("a compressed file is shared")
	}

	// Damage part-way: the goroutine ends early, and withdraws its offer.
	cut := pcap[:len(pcap)-len(frames[len(frames)-1])/2]
	s, err = Open(writeFile(t, "cut.pcap", cut))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seg Segment
	n := 0
	for s.Next(&seg) {
		n++
	}
	if n != len(frames)-1 || s.Files()[0].Damage == "" {
		t.Errorf("cut capture: %d segments, damage %q; want %d and damage", n, s.Files()[0].Damage, len(frames)-1)
	}
}
