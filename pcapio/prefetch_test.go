package pcapio

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProduceAhead decodes each capture twice, batch by batch, into
// batches whose segments hold other bytes: once in place, as on one
// processor, and once asking for the segments' lines ahead, as the reading
// goroutine does; every batch must come out the same, also where a batch
// ends within prefetchAhead segments of its end or holds fewer.
func TestProduceAhead(t *testing.T) {
	pcap, ng := framesCaptures(manyFrames(3000))
	paths := []string{writeFile(t, "many.pcap", pcap), writeFile(t, "many.pcapng", ng)}
	paths = append(paths, globFiles(t, "../testdata/pcaps/*.pcap*")...)
	for _, path := range paths {
		var files [2]*sourceFile
		for i := range files {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			files[i] = s.files[0]
		}
		for n := 0; ; n++ {
			var got [2]*batch
			for i, f := range files {
				b := &batch{segs: make([]Segment, batchLen)}
				for j := range b.segs {
					b.segs[j] = Segment{Seq: 0xdeadbeef, Frame: ^uint64(0), Nanos: -1, Hash: 0xa5a5a5a5a5a5a5a5}
				}
				f.produce(b, batchLen, i == 1)
				got[i] = b
			}
			if diff := cmp.Diff(got[0].segs, got[1].segs); diff != "" {
				t.Fatalf("%s, batch %d (-in place +ahead):\n%s", filepath.Base(path), n, diff)
			}
			if len(got[0].entries) != len(got[1].entries) || got[0].err != got[1].err {
				t.Fatalf("%s, batch %d: %d entries and error %v in place, %d and %v ahead",
					filepath.Base(path), n, len(got[0].entries), got[0].err, len(got[1].entries), got[1].err)
			}
			for i, f := range files {
				f.release(got[i])
			}
			if got[0].err != nil {
				break
			}
		}
	}
}
