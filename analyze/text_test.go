package analyze

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// TestTextWrittenTwice checks that the text written for a finding when its
// flow is finished and stored, from the facts the flow keeps, is the text
// written when the finding was made, as live alerts carry it.
func TestTextWrittenTwice(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	lab, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.pcap"))
	if len(files) == 0 || len(lab) == 0 {
		t.Fatal("no captures in testdata/pcaps or testdata/pcaps/lab")
	}
	alb, _ := LookupMiddlebox("aws-alb")
	configs := []Config{{}, {Idle: 5 * time.Second}, {Idle: 50 * time.Second}, {Middlebox: alb}}
	kinds := map[Kind]int{}
	for _, path := range append(files, lab...) {
		segs := readSegments(t, path)
		for _, cfg := range configs {
			for _, text := range alertsMissing(cfg, segs, kinds) {
				t.Errorf("%s, %+v: the alert's text is not in the result:\n%s", filepath.Base(path), cfg, text)
			}
		}
	}
	// A sender that gives up on data retransmitted into a black hole.
	s := time.Second
	c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).send(Server, 401*s, 112).
		retransmit(Server, 402*s).retransmit(Server, 404*s).rst(Server, 410*s, false)
	for _, text := range alertsMissing(Config{}, c.segs, kinds) {
		t.Errorf("black hole: the alert's text is not in the result:\n%s", text)
	}
	for _, k := range []Kind{SilentPastTimeout, KeepaliveTooSlow, ResetAfterIdle, StaleConnectionReuse, BlackholedAfterIdle, ClosedAfterIdle} {
		if kinds[k] == 0 {
			t.Errorf("no %s finding was alerted and compared", k)
		}
	}
}

// readSegments reads every segment of a capture.
func readSegments(t testing.TB, path string) []pcapio.Segment {
	t.Helper()
	src, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var segs []pcapio.Segment
	var seg pcapio.Segment
	for src.Next(&seg) {
		segs = append(segs, seg)
	}
	return segs
}

// alertsMissing analyses segs with the clock ticking at every segment, as
// in live mode, and returns the texts of the finding alerts that none of
// the result's findings has, past those of the findings the result counts
// but does not list (MaxListed); it counts the alerts compared by kind.
func alertsMissing(cfg Config, segs []pcapio.Segment, kinds map[Kind]int) []string {
	a := New(cfg)
	var alerts []Alert
	for i := range segs {
		a.Add(&segs[i])
		for _, al := range a.Tick(time.Unix(0, segs[i].Nanos)) {
			if al.Level == AlertFinding {
				alerts = append(alerts, al)
			}
		}
	}
	r := a.Finish(time.Time{})
	texts := map[string]bool{}
	for _, fl := range r.Flows.All() {
		for _, fd := range fl.Findings {
			texts[string(fd.Kind)+"\n"+fd.Message] = true
		}
	}
	var missing []string
	notListed := r.Flows.Counts().FindingsNotListed
	for _, al := range alerts {
		kinds[al.Kind]++
		if !texts[string(al.Kind)+"\n"+al.Message] {
			if notListed[al.Kind] > 0 {
				notListed[al.Kind]--
				continue
			}
			missing = append(missing, al.Message)
		}
	}
	for k, n := range notListed {
		if n > 0 {
			missing = append(missing, fmt.Sprintf("(%d %s findings not listed were never alerted)", n, k))
		}
	}
	return missing
}

// TestTextPieces checks the pieces messages are written from, at the
// edges of each form.
func TestTextPieces(t *testing.T) {
	ms, s := int64(time.Millisecond), int64(time.Second)
	at := time.Date(2024, 3, 1, 12, 4, 5, 678_900_000, time.UTC).UnixNano()
	tests := []struct{ got, want string }{
		{fmtDur(0), "0.000 ms"},
		{fmtDur(ms / 2), "0.500 ms"},
		{fmtDur(ms), "1.0 ms"},
		{fmtDur(999*ms + ms/2), "999.5 ms"},
		{fmtDur(s), "1.0 s"},
		{fmtDur(119*s + 940*ms), "119.9 s"},
		{fmtDur(120 * s), "120 s (2m0s)"},
		{fmtDur(1000*s - ms), "1000 s (16m40s)"},
		{fmtDur(3*3600*s + 7*s), "10807 s (3h0m7s)"},
		{fmtSecs(350 * s), "350 s"},
		{fmtSecs(2*s + s/2), "2.5 s"},
		{clock(at), "12:04:05.678 UTC"},
		{frameName(0, 7), "frame 7"},
		{frameName(2, 1234567), "file 3 frame 1234567"},
		{string(appendFrame([]byte("x "), 1, 0)), "x file 2 frame 0"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
}
