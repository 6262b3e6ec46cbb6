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
// follows (mergeRule): the next packet is the earliest of the files'
// pending packets, of equal times the first file's; a file's packets keep
// their order, even where its time steps back. The files' times overlap,
// repeat within and across files and now and then step back; some packets
// are not TCP, and one file is empty.
func TestMergeOrder(t *testing.T) {
	const files, per = 9, 400
	rng := rand.New(rand.NewPCG(7, 8))
	times := make([][]uint32, files) // microseconds of each file's packets
	for f := 1; f < files; f++ {     // file 0 is empty
		us := uint32(10 * rng.IntN(50)) // a coarse clock, so that files share times
		for range per {
			switch r := rng.IntN(20); {
			case r == 0:
				us -= min(us, uint32(10*rng.IntN(8))) // a step back
			case r < 6: // the same time again
			default:
				us += uint32(10 * (1 + rng.IntN(3)))
			}
			times[f] = append(times[f], us)
		}
	}
	if ties := checkMerge(t, "merge", times, 9); ties < 50 {
		t.Fatalf("only %d ties between files; the test needs many", ties)
	}
}

// TestMergeWholeBatches checks the merge where it hands out a file's batch
// whole, without comparing each packet's time with the other files': when
// the batch is earlier than every other file's pending packet, as rotated
// files are. Each case has a batch that is not, though its last packet is:
// it must be cut where its packets reach the other file's first.
func TestMergeWholeBatches(t *testing.T) {
	seq := func(from, n uint32) []uint32 {
		var ts []uint32
		for i := range n {
			ts = append(ts, from+i)
		}
		return ts
	}
	cases := []struct {
		name  string
		times [][]uint32
	}{
		{"rotated", [][]uint32{seq(0, 1000), seq(1000, 1000), seq(2000, 1000)}},
		{"rotated, named out of order", [][]uint32{seq(2000, 1000), seq(0, 1000), seq(1000, 1000)}},
		// The second file's first batch steps forward past the first
		// file's first packet and back.
		{"a step past the other file", [][]uint32{seq(2000, 1000), slices.Concat(seq(0, 300), []uint32{2500}, seq(301, 699))}},
		// The second file's second batch ends at the first file's first
		// time, which comes first.
		{"ends at an earlier file's time", [][]uint32{seq(999, 1000), seq(0, 1000)}},
		// The first file's second batch ends at the second file's first
		// time, which comes after it.
		{"ends at a later file's time", [][]uint32{seq(0, 1000), seq(999, 1000)}},
		// Of three files, the one the second reaches is either child
		// of the second in the merge's heap.
		{"three files", [][]uint32{seq(600, 400), seq(0, 1000), seq(2000, 100)}},
		{"three files, the other way", [][]uint32{seq(2000, 100), seq(0, 1000), seq(600, 400)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkMerge(t, "whole", c.times, 0) })
	}
}

// checkMerge writes a capture of each file's times (in microseconds) and
// checks the order in which Next and NextBatch hand out their packets
// against mergeRule, and their counts. One packet in every notTCP is not
// TCP (none when 0). It returns how many times the rule chose between
// files whose pending packets had the same time.
func checkMerge(t *testing.T, name string, times [][]uint32, notTCP int) int {
	t.Helper()
	var paths []string
	isTCP := make([][]bool, len(times))
	for f, ts := range times {
		var recs []pcapRec
		for i, us := range ts {
			data := seqFrame(uint32(f*100_000 + i))
			if notTCP > 0 && (f*7+i)%notTCP == 0 {
				data = arpFrame
			}
			isTCP[f] = append(isTCP[f], !bytes.Equal(data, arpFrame))
			recs = append(recs, pcapRec{sec: base + us/1_000_000, frac: us % 1_000_000, data: data})
		}
		paths = append(paths, writeFile(t, fmt.Sprintf("%s-%d.pcap", name, f), pcapFile(binary.LittleEndian, magicMicro, LinkEthernet, recs...)))
	}
	want, ties := mergeRule(times)
	var wantTCP []mergedFrame
	for _, fr := range want {
		if isTCP[fr.File][fr.Frame-1] {
			wantTCP = append(wantTCP, fr)
		}
	}
	var stats []Stats
	for _, batches := range []bool{false, true} {
		src, err := Open(paths...)
		if err != nil {
			t.Fatal(err)
		}
		var got []mergedFrame
		eachSegment(src, batches, func(s Segment) { got = append(got, mergedFrame{s.File, s.Frame}) })
		stats = append(stats, src.Stats())
		src.Close()
		if n := stats[len(stats)-1].Packets; n != uint64(len(want)) {
			t.Errorf("NextBatch %v: %d packets counted, want %d", batches, n, len(want))
		}
		if diff := cmp.Diff(wantTCP, got); diff != "" {
			t.Errorf("NextBatch %v: merge order (-rule +got):\n%s", batches, diff)
		}
	}
	if diff := cmp.Diff(stats[0], stats[1]); diff != "" {
		t.Errorf("NextBatch counts otherwise than Next (-Next +NextBatch):\n%s", diff)
	}
	return ties
}

// mergedFrame is a packet in a merge: its file's index, its frame number.
type mergedFrame struct {
	File  int
	Frame uint64
}

// mergeRule works out, file by file, the order in which a merge of files
// whose packets have the given times must hand them out, and how many
// times it chose between files whose pending packets had the same time.
func mergeRule(times [][]uint32) ([]mergedFrame, int) {
	var order []mergedFrame
	next := make([]int, len(times))
	ties := 0
	for {
		best := -1
		for f := range times {
			if next[f] < len(times[f]) && (best < 0 || times[f][next[f]] < times[best][next[best]]) {
				best = f
			}
		}
		if best < 0 {
			return order, ties
		}
		for f := best + 1; f < len(times); f++ {
			if next[f] < len(times[f]) && times[f][next[f]] == times[best][next[best]] {
				ties++
			}
		}
		next[best]++
		order = append(order, mergedFrame{best, uint64(next[best])})
	}
}
