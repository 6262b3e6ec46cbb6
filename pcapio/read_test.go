package pcapio

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"
)

// manyFrames returns n Ethernet frames of varied lengths whose sequence
// numbers are their indexes: enough bytes for several read chunks.
func manyFrames(n int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		t := tcpFields{sport: 1000, dport: 80, seq: uint32(i), flags: ACK, payload: (i * 37) % 1500}
		frames[i] = eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b}, tcp(t)))
	}
	return frames
}

// manyFramesPcap returns manyFrames(n) and a pcap file of them, all at
// one time.
func manyFramesPcap(n int) ([][]byte, []byte) {
	frames := manyFrames(n)
	recs := make([]pcapRec, n)
	for i, f := range frames {
		recs[i] = pcapRec{sec: base, data: f}
	}
	return frames, pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...)
}

// framesCaptures returns a pcap and a pcapng file of frames, a
// microsecond apart.
func framesCaptures(frames [][]byte) (pcap, pcapng []byte) {
	recs := make([]pcapRec, len(frames))
	ng := newNg(binary.LittleEndian).idb(LinkEthernet)
	for i, f := range frames {
		recs[i] = pcapRec{sec: base, frac: uint32(i), data: f}
		ng.epb(0, uint64(i), f)
	}
	return pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...), ng.b
}

// checkFrames reads s to its end and checks that every segment and its Raw
// frame are frames[i], in order.
func checkFrames(t *testing.T, s *Source, frames [][]byte) {
	t.Helper()
	var seg Segment
	i := 0
	for s.Next(&seg) {
		if seg.Seq != uint32(i) || seg.Frame != uint64(i+1) {
			t.Fatalf("segment %d: Seq %d, Frame %d", i, seg.Seq, seg.Frame)
		}
		raw, ok := s.Raw()
		if !ok || !bytes.Equal(raw.Data, frames[i]) {
			t.Fatalf("Raw of segment %d differs from the frame written", i)
		}
		i++
	}
	if i != len(frames) {
		t.Fatalf("read %d segments, want %d; damage %q", i, len(frames), s.Files()[0].Damage)
	}
}

// TestReadAhead reads captures of several read chunks, so that the reading
// goroutine runs and chunks are retired and reused, and checks that every
// frame handed out is intact while later ones are being read.
func TestReadAhead(t *testing.T) {
	le := binary.LittleEndian
	frames := manyFrames(12000)
	pcap, ng := framesCaptures(frames)
	if len(pcap) < 4*readBufferSize {
		t.Fatalf("capture of %d bytes is too small to need several chunks", len(pcap))
	}
	files := map[string][]byte{"pcap": pcap, "pcapng": ng, "gzip": gzipped(t, pcap), "zstd": zstded(t, pcap)}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			s, err := Open(writeFile(t, "big."+name, b))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkFrames(t, s, frames)
		})
	}
	// A consumer slower than the reader, of full-size frames: the reader
	// makes all the chunks it may, then waits for them to come back
	// rather than make more, and every packet still comes through.
	full := make([]pcapRec, 6000)
	for i := range full {
		f := eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1000, dport: 80, flags: ACK, payload: 1460})))
		full[i] = pcapRec{sec: base, frac: uint32(i), data: f}
	}
	s, err := Open(writeFile(t, "slow.pcap", pcapFile(le, magicMicro, LinkEthernet, full...)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool := s.files[0].pool // the file lets go of it at its end
	var seg Segment
	n := 0
	for ; s.Next(&seg); n++ {
		if n%200 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if n != len(full) || s.Files()[0].Damage != "" {
		t.Errorf("read %d of %d segments; damage %q", n, len(full), s.Files()[0].Damage)
	}
	if made := pool.made; made != maxChunks {
		t.Errorf("made %d chunks, want the %d the pool allows and no more", made, maxChunks)
	}
}

// TestReadAheadBigRecords mixes records longer than a read chunk, which
// go to the one big buffer, with short ones, so that the reading goroutine
// waits for the big buffer to come back.
func TestReadAheadBigRecords(t *testing.T) {
	frames := manyFrames(3000)
	w := newNg(binary.LittleEndian).idb(LinkEthernet)
	for i, f := range frames {
		if i%500 == 7 {
			f = append(f, make([]byte, readBufferSize+100*i)...) // a trailer past the IP length
			frames[i] = f
			w.block(0x0bad, make([]byte, readBufferSize+8)) // a long block to skip
		}
		w.epb(0, uint64(i), f)
	}
	s := newSource(t, w.b)
	checkFrames(t, s, frames)
}

// TestCloseStopsReading checks that closing a Source part-way stops its
// reading goroutines.
func TestCloseStopsReading(t *testing.T) {
	frames := manyFrames(12000)
	recs := make([]pcapRec, len(frames))
	for i, f := range frames {
		recs[i] = pcapRec{sec: base, frac: uint32(i), data: f}
	}
	pcap := pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...)
	// The three files' packets have the same times, so the merge takes
	// one of each in turn and all three read ahead at once.
	paths := []string{writeFile(t, "a.pcap", pcap), writeFile(t, "b.pcap.gz", gzipped(t, pcap)), writeFile(t, "c.pcap.zst", zstded(t, pcap))}
	before := runtime.NumGoroutine()
	s, err := Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	var seg Segment
	for range 6000 { // past the first batch of every file
		if !s.Next(&seg) {
			t.Fatal("ran out of packets")
		}
	}
	// Each file's reading goroutine, and the compressed files' decompressing ones.
	if n := runtime.NumGoroutine() - before; n < 5 {
		t.Fatalf("%d goroutines read ahead, want 5", n)
	}
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running after Close, want %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProgress(t *testing.T) {
	pcap := pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, pcapRec{sec: base, data: seqFrame(1)}, pcapRec{sec: base, data: seqFrame(2)})
	gz, z := gzipped(t, pcap), zstded(t, pcap)
	paths := []string{writeFile(t, "a.pcap", pcap), writeFile(t, "b.pcap.gz", gz), writeFile(t, "c.pcap.zst", z)}
	s, err := Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	readAll(t, s)
	want := int64(len(pcap) + len(gz) + len(z))
	if read, total := s.Progress(); read != want || total != want {
		t.Errorf("Progress() = %d, %d; want %d, %d", read, total, want, want)
	}

	r, err := NewReader("-", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, r)
	if read, total := r.Progress(); read != int64(len(pcap)) || total != -1 {
		t.Errorf("NewReader: Progress() = %d, %d; want %d, -1", read, total, len(pcap))
	}
}

// TestProgressStdin checks that standard input, whose size is unknown,
// makes the total unknown.
func TestProgressStdin(t *testing.T) {
	pcap := pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, pcapRec{sec: base, data: seqFrame(1)})
	path := writeFile(t, "in.pcap", pcap)
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = stdin }()
	s, err := Open(path, "-")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	readAll(t, s)
	if read, total := s.Progress(); read != 2*int64(len(pcap)) || total != -1 {
		t.Errorf("Progress() = %d, %d; want %d, -1", read, total, 2*len(pcap))
	}
}

// TestSpins checks when the reading goroutine and Next spin on the queue
// between them rather than block at once: for a file read alone, not for
// a compressed one, whose decompressing goroutine needs the processor, nor
// while other files' goroutines read too. The spinning itself is timed by
// bench/run.sh, not here.
func TestSpins(t *testing.T) {
	frames, pcap := manyFramesPcap(3000)
	plain, gz, z := writeFile(t, "a.pcap", pcap), writeFile(t, "b.pcap.gz", gzipped(t, pcap)), writeFile(t, "c.pcap.zst", zstded(t, pcap))
	for _, tt := range []struct {
		name    string
		path    string
		readers int32 // other files' goroutines reading
		want    bool
	}{
		{"alone", plain, 0, true},
		{"gzip", gz, 0, false},
		{"zstd", z, 0, false},
		{"beside another file's reader", plain, 1, false},
	} {
		s, err := Open(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		f := s.files[0]
		f.pool.left.reading.Add(1 + tt.readers) // f's own goroutine, and the others
		if got := f.spins(); got != tt.want {
			t.Errorf("%s: spins = %v, want %v", tt.name, got, tt.want)
		}
		f.pool.left.reading.Add(-1 - tt.readers)
		checkFrames(t, s, frames) // and the frames come through whole
		s.Close()
	}
}
