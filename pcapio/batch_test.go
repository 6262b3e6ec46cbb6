package pcapio

import (
	"path/filepath"
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
	sets = append(sets, []string{"../testdata/pcaps/rotated-1.pcap", "../testdata/pcaps/rotated-2.pcap"})
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
