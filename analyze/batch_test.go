package analyze_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// TestAddBatch checks that AddBatch, which finds the flows of a batch
// before it analyses the segments, analyses exactly as Add does one segment
// at a time, whatever the batch size: on the shipped captures (port reuse
// within a batch among them) and the corpus.
func TestAddBatch(t *testing.T) {
	paths := append(globCaptures(t, "../testdata/pcaps/*.pcap*"), globCaptures(t, "../testdata/pcaps/lab/*.pcap")...)
	corpus, _ := filepath.Glob(filepath.Join(wiresharkCorpus, "*")) // when there is one
	paths = append(paths, corpus...)
	run := func(path string, batch int) *analyze.Result {
		src, err := pcapio.Open(path)
		if err != nil {
			if !strings.HasPrefix(path, wiresharkCorpus) {
				t.Fatal(err) // a shipped capture must open
			}
			return nil // not every corpus file is a capture
		}
		defer src.Close()
		a := analyze.New(analyze.Config{KeepAll: true, Idle: 5 * time.Second, MaxFlows: 64})
		segs := make([]pcapio.Segment, max(batch, 1))
		for {
			if batch == 0 {
				if !src.Next(&segs[0]) {
					break
				}
				a.Add(&segs[0])
				continue
			}
			b := src.NextBatch()
			if len(b) == 0 {
				break
			}
			for len(b) > batch { // smaller batches than the Source's
				a.AddBatch(b[:batch])
				b = b[batch:]
			}
			a.AddBatch(b)
		}
		return a.Finish(time.Time{})
	}
	opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}), flowList}
	for _, path := range paths {
		want := run(path, 0)
		if want == nil {
			continue
		}
		for _, batch := range []int{1, 7, 256} {
			if diff := cmp.Diff(want, run(path, batch), opts); diff != "" {
				t.Errorf("%s, batches of %d (-Add +AddBatch):\n%s", filepath.Base(path), batch, diff)
			}
		}
	}
}

// flowList compares Flows as the lists of flows they decode to.
var flowList = cmp.Transformer("list", func(fs analyze.Flows) []analyze.Flow {
	var list []analyze.Flow
	for _, f := range fs.All() {
		list = append(list, *f)
	}
	return list
})
