package analyze

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/pcapio"
)

// manyGaps is silentAgain(30) whose last request is answered after 90 s
// and reset by a middlebox.
func manyGaps() []pcapio.Segment {
	s, ms := time.Second, time.Millisecond
	c, at, _ := silentAgain(30)
	at += 60 * s
	c.send(Client, at, 100).send(Server, at+90*s, 112).rst(Client, at+90*s+ms, true)
	return c.segs
}

// TestNotesSpill analyses captures and a conversation whose flows list
// many findings, once with every finding kept in memory and once with
// those nothing can change moved to a spill file, written at every
// record, and checks that both give the same flows, and in live mode the
// same alerts; and that findings did move.
func TestNotesSpill(t *testing.T) {
	inputs := map[string][]pcapio.Segment{"many gaps": manyGaps()}
	for _, pattern := range []string{"*.pcap", "lab/*.pcap"} {
		paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", pattern))
		for _, p := range paths {
			inputs[filepath.Base(p)] = readSegments(t, p)
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("%d inputs; the captures in testdata/pcaps are missing", len(inputs))
	}
	defer func(n int) { noteFlushSize = n }(noteFlushSize)
	noteFlushSize = 1
	moved := 0
	for name, segs := range inputs {
		for _, idle := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second} {
			for _, live := range []bool{false, true} {
				want, wantAlerts, _ := analyseSpilling(t, segs, idle, live, nil)
				got, gotAlerts, n := analyseSpilling(t, segs, idle, live, func() (SpillFile, error) { return os.CreateTemp(t.TempDir(), "notes-*") })
				moved += n
				if diff := flowsDiff(want.Flows, got.Flows); diff != "" {
					t.Errorf("%s at %v, live %v (-in memory +moved):\n%s", name, idle, live, diff)
				}
				if diff := cmp.Diff(wantAlerts, gotAlerts); diff != "" {
					t.Errorf("%s at %v: alerts (-in memory +moved):\n%s", name, idle, diff)
				}
				if err := got.Flows.Err(); err != nil {
					t.Errorf("%s at %v: %v", name, idle, err)
				}
			}
		}
	}
	if moved < 100 {
		t.Errorf("%d findings moved in all: the spill file is hardly tested", moved)
	}
}

// TestNotesSpillCorpus compares, as TestNotesSpill does, every capture of
// the corpus beside the repository at a 1 s threshold, where real
// captures' flows are silent past it again and again.
func TestNotesSpillCorpus(t *testing.T) {
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	if len(corpus) == 0 {
		t.Skip("no corpus of captures beside the repository")
	}
	defer func(n int) { noteFlushSize = n }(noteFlushSize)
	noteFlushSize = 1
	moved, captures := 0, 0 // findings moved, and the captures that moved some
	for _, path := range corpus {
		src, err := pcapio.Open(path)
		if err != nil {
			continue // not every corpus file is a capture
		}
		src.Close()
		segs := readSegments(t, path)
		want, _, _ := analyseSpilling(t, segs, time.Second, false, nil)
		got, _, n := analyseSpilling(t, segs, time.Second, false, func() (SpillFile, error) { return new(memFile), nil })
		if diff := flowsDiff(want.Flows, got.Flows); diff != "" {
			t.Errorf("%s (-in memory +moved):\n%s", filepath.Base(path), diff)
		}
		if n > 0 {
			moved, captures = moved+n, captures+1
		}
	}
	t.Logf("%d findings moved in %d captures", moved, captures)
	if moved < 500 || captures < 20 { // 989 in 58 captures
		t.Errorf("%d findings moved in %d captures: the corpus hardly tests the spill file", moved, captures)
	}
}

// analyseSpilling analyses segs at idle, ticking after every segment when
// live, and returns the result, the alerts' kinds and messages, and how
// many findings moved to the spill file.
func analyseSpilling(t *testing.T, segs []pcapio.Segment, idle time.Duration, live bool, spill func() (SpillFile, error)) (*Result, []string, int) {
	t.Helper()
	a := New(Config{KeepAll: true, Idle: idle, Spill: spill})
	var alerts []string
	for i := range segs {
		a.Add(&segs[i])
		if live {
			for _, al := range a.Tick(time.Unix(0, segs[i].Nanos)) {
				if al.Level == AlertFinding {
					alerts = append(alerts, string(al.Kind)+": "+al.Message)
				}
			}
		}
	}
	moved := a.spill.moved
	return a.Finish(time.Time{}), alerts, moved
}

// memFile is a spill file in memory.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) Close() error { return nil }

// TestNotesSpillFails checks that findings stay in memory, and nothing is
// amiss, when the spill file cannot be made or written; and that the
// result says so when it cannot be read back.
func TestNotesSpillFails(t *testing.T) {
	defer func(n int) { noteFlushSize = n }(noteFlushSize)
	noteFlushSize = 1
	segs := manyGaps()
	want, _, _ := analyseSpilling(t, segs, 30*time.Second, false, nil)
	failing := func(failWrite, failRead bool) func() (SpillFile, error) {
		return func() (SpillFile, error) {
			f, err := os.CreateTemp(t.TempDir(), "notes-*")
			return failingFile{f, failWrite, failRead}, err
		}
	}
	for name, spill := range map[string]func() (SpillFile, error){
		"no file":         func() (SpillFile, error) { return nil, errors.New("no space") },
		"unwritable file": failing(true, false),
	} {
		got, _, moved := analyseSpilling(t, segs, 30*time.Second, false, spill)
		if diff := flowsDiff(want.Flows, got.Flows); diff != "" || got.Flows.Err() != nil || moved != 1 {
			t.Errorf("%s: %d moved (want 1, kept in memory), error %v, flows (-want +got):\n%s", name, moved, got.Flows.Err(), diff)
		}
	}

	got, _, moved := analyseSpilling(t, segs, 30*time.Second, false, failing(false, true))
	if moved == 0 || got.Flows.Err() == nil {
		t.Fatalf("unreadable file: %d moved, error %v; want some moved and an error", moved, got.Flows.Err())
	}
	f := listOf(got.Flows)
	w := listOf(want.Flows)
	if len(f) != 1 || len(w) != 1 || len(f[0].Findings) != len(w[0].Findings)-moved {
		t.Errorf("unreadable file: %d flows; want the one with %d findings of %d, those in memory", len(f), len(w[0].Findings)-moved, len(w[0].Findings))
	}
}
