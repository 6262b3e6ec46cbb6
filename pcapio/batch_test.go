package pcapio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNextBatch checks that NextBatch hands out the same segments as Next,
// with the same counts, from single files (shipped and corpus captures,
// where it hands out decoded batches as they are) and from rotated files
// merged by time; and that the two can be mixed.
func TestNextBatch(t *testing.T) {
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*")) // when there is one
	var sets [][]string
	for _, p := range append(append(globFiles(t, "../testdata/pcaps/*.pcap*"), globFiles(t, "../testdata/pcaps/lab/*.pcap")...), corpus...) {
		sets = append(sets, []string{p})
	}
	sets = append(sets, []string{"../testdata/pcaps/rotated-1.pcap", "../testdata/pcaps/rotated-2.pcap"}, overlapping(t))
	type run struct {
		Segs  []Segment
		Stats Stats
		Files []FileInfo
	}
	read := func(paths []string, mode int) *run {
		src, err := Open(paths...)
		if err != nil {
			return nil
		}
		defer src.Close()
		r := &run{}
		var seg Segment
		for i := 0; ; i++ {
			if mode == 0 || (mode == 2 && i%3 == 0) {
				if !src.Next(&seg) {
					break
				}
				r.Segs = append(r.Segs, seg)
				continue
			}
			b := src.NextBatch()
			if len(b) == 0 {
				break
			}
			r.Segs = append(r.Segs, b...)
		}
		r.Stats, r.Files = src.Stats(), src.Files()
		return r
	}
	for _, paths := range sets {
		want := read(paths, 0)
		if want == nil {
			continue
		}
		for mode, name := range []string{1: "NextBatch", 2: "NextBatch and Next mixed"} {
			if mode == 0 {
				continue
			}
			if diff := cmp.Diff(want, read(paths, mode)); diff != "" {
				t.Errorf("%s, %s (-Next +%[2]s):\n%s", filepath.Base(paths[0]), name, diff)
			}
		}
	}
}

// overlapping writes three captures whose times interleave, more than a
// batch each: runs of a few packets of one file between the others', equal
// times across files (the first file's packet comes first), a step back in
// time within a file, and packets that are not TCP.
func overlapping(t *testing.T) []string {
	var paths []string
	for f := range 3 {
		var recs []pcapRec
		for i := range 1500 {
			us := uint32(i*3 + f) // files take turns...
			if i%40 < 5 {
				us = uint32(i * 3) // ...but now and then share a time
			}
			if f == 1 && i == 700 {
				us -= 200 // and one steps back
			}
			data := seqFrame(uint32(f*10000 + i))
			if i%11 == 0 {
				data = arpFrame
			}
			recs = append(recs, pcapRec{sec: base + us/1_000_000, frac: us % 1_000_000, data: data})
		}
		paths = append(paths, writeFile(t, fmt.Sprintf("overlap-%d.pcap", f), pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...)))
	}
	return paths
}

// TestNextBatchCounts checks the counts NextBatch takes a whole batch at a
// time against Next's, packet by packet, on a capture whose every step in
// time is a clock leap or goes backwards, so that every boundary between
// batches, wherever it falls, is one of the two; a seventh of the packets
// are not TCP.
func TestNextBatchCounts(t *testing.T) {
	const n = 3000
	frame := eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 40000, dport: 443, flags: ACK})))
	var recs []pcapRec
	sec := uint32(100)
	for i := range n {
		if i%2 == 1 {
			sec += 31 * 24 * 3600 // a leap every other step
		} else if i > 0 {
			sec -= 1 // and a step back between
		}
		data := frame
		if i%7 == 3 {
			data = udpFrame
		}
		recs = append(recs, pcapRec{sec: sec, data: data})
	}
	capture := pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...)
	count := func(batches bool) Stats {
		src, err := NewReader("steps", bytes.NewReader(capture))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var seg Segment
		for batches && len(src.NextBatch()) > 0 || !batches && src.Next(&seg) {
		}
		return src.Stats()
	}
	want := count(false)
	if want.Packets != n || want.Backwards != n/2-1 || want.Leaps != n/2 || want.Skipped[NotTCP] != n/7+1 {
		t.Fatalf("Next counts %+v; want %d packets, %d backwards, %d leaps, %d not TCP", want, n, n/2-1, n/2, n/7+1)
	}
	if diff := cmp.Diff(want, count(true)); diff != "" {
		t.Errorf("NextBatch counts otherwise than Next (-Next +NextBatch):\n%s", diff)
	}
}

// TestRotatedCorpus splits real captures of the corpus (classic pcap, with
// TCP, in time order) into seven files at record boundaries, as tcpdump -C
// would, and checks that the files, parked and merged, give the segments
// (frame and file numbers aside) and counts of the whole capture, through
// Next and NextBatch.
func TestRotatedCorpus(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*.pcap"))
	if len(paths) == 0 {
		t.Skip("no corpus at " + corpusDir)
	}
	split := 0
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil || len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
			continue // classic little-endian microsecond pcap only: records found by their lengths
		}
		var recs [][2]int // offsets of the records
		for off := 24; off+16 <= len(data); {
			end := off + 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
			if end > len(data) {
				break
			}
			recs = append(recs, [2]int{off, end})
			off = end
		}
		if len(recs) < 50 {
			continue
		}
		var parts []string
		for i := range 7 {
			first, last := recs[i*len(recs)/7], recs[(i+1)*len(recs)/7-1]
			part := append(slices.Clone(data[:24]), data[first[0]:last[1]]...)
			parts = append(parts, writeFile(t, fmt.Sprintf("%s.%d", filepath.Base(path), i), part))
		}
		whole := readSegs(t, []string{path}, false)
		if whole == nil || len(whole.segs) == 0 || whole.stats.Backwards > 0 {
			continue // a capture whose time steps back is merged in time order, not file order
		}
		split++
		for _, batches := range []bool{false, true} {
			got := readSegs(t, parts, batches)
			if diff := cmp.Diff(whole, got, cmp.AllowUnexported(segRun{})); diff != "" {
				t.Errorf("%s in 7 files, NextBatch %v (-whole +rotated):\n%s", filepath.Base(path), batches, diff)
			}
		}
	}
	t.Logf("%d captures split", split)
	if split < 40 { // 46 when written: fewer means the selection above has drifted
		t.Errorf("only %d corpus captures split; want at least 40", split)
	}
}

// segRun is what a Source handed out, with the file and frame numbers,
// which differ between a capture and its rotated parts, left out.
type segRun struct {
	segs  []Segment
	stats Stats
}

// eachSegment hands every segment of src to add, in order, through
// NextBatch or through Next.
func eachSegment(src *Source, batches bool, add func(Segment)) {
	if batches {
		for b := src.NextBatch(); len(b) > 0; b = src.NextBatch() {
			for _, s := range b {
				add(s)
			}
		}
		return
	}
	var seg Segment
	for src.Next(&seg) {
		add(seg)
	}
}

func readSegs(t *testing.T, paths []string, batches bool) *segRun {
	t.Helper()
	src, err := Open(paths...)
	if err != nil {
		return nil
	}
	defer src.Close()
	r := &segRun{}
	eachSegment(src, batches, func(s Segment) {
		s.File, s.Frame = 0, 0
		r.segs = append(r.segs, s)
	})
	r.stats = src.Stats()
	return r
}

// TestMergeOrder checks the merge of many files against the rule it
// follows, worked out here file by file: the next packet is the earliest
// of the files' pending packets, of equal times the first file's; a file's
// packets keep their order, even where its time steps back. The files'
// times overlap, repeat within and across files and now and then step
// back; some packets are not TCP, and one file is empty.
func TestMergeOrder(t *testing.T) {
	const files, per = 9, 400
	rng := rand.New(rand.NewPCG(7, 8))
	var paths []string
	times := make([][]uint32, files) // microseconds of each file's packets
	isTCP := make([][]bool, files)
	for f := range files {
		var recs []pcapRec
		us := uint32(10 * rng.IntN(50))  // a coarse clock, so that files share times
		for i := range per * min(f, 1) { // file 0 is empty
			switch r := rng.IntN(20); {
			case r == 0:
				us -= min(us, uint32(10*rng.IntN(8))) // a step back
			case r < 6: // the same time again
			default:
				us += uint32(10 * (1 + rng.IntN(3)))
			}
			data := seqFrame(uint32(f*per + i))
			if rng.IntN(9) == 0 {
				data = arpFrame
			}
			isTCP[f] = append(isTCP[f], !bytes.Equal(data, arpFrame))
			times[f] = append(times[f], us)
			recs = append(recs, pcapRec{sec: base, frac: us, data: data})
		}
		paths = append(paths, writeFile(t, fmt.Sprintf("merge-%d.pcap", f), pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...)))
	}
	// The rule, file by file: frames (file, frame) in merge order, of every
	// packet, TCP or not.
	type frame struct {
		File  int
		Frame uint64
	}
	var want []frame
	next := make([]int, files)
	ties := 0 // choices between files whose pending packets have the same time
	for {
		best := -1
		for f := range files {
			if next[f] < len(times[f]) && (best < 0 || times[f][next[f]] < times[best][next[best]]) {
				best = f
			}
		}
		if best < 0 {
			break
		}
		for f := best + 1; f < files; f++ {
			if next[f] < len(times[f]) && times[f][next[f]] == times[best][next[best]] {
				ties++
			}
		}
		next[best]++
		want = append(want, frame{best, uint64(next[best])})
	}
	if ties < 50 {
		t.Fatalf("only %d ties between files; the test needs many", ties)
	}
	var wantTCP []frame
	for _, fr := range want {
		if isTCP[fr.File][fr.Frame-1] {
			wantTCP = append(wantTCP, fr)
		}
	}
	for _, batches := range []bool{false, true} {
		src, err := Open(paths...)
		if err != nil {
			t.Fatal(err)
		}
		var got []frame
		eachSegment(src, batches, func(s Segment) { got = append(got, frame{s.File, s.Frame}) })
		if st := src.Stats(); st.Packets != uint64(len(want)) {
			t.Errorf("NextBatch %v: %d packets counted, want %d", batches, st.Packets, len(want))
		}
		src.Close()
		if diff := cmp.Diff(wantTCP, got); diff != "" {
			t.Errorf("NextBatch %v: merge order (-rule +got):\n%s", batches, diff)
		}
	}
}
