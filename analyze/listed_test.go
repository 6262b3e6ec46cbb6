package analyze

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestListedPerFlow checks that a flow silent past the threshold again and
// again lists its first MaxListed-1 long gaps and findings of a kind and
// its latest, counts the rest, and still has every gap in its longest gap
// and in the timeout bracket; and that live mode alerts each finding once,
// listed or not, when it ticks between them.
func TestListedPerFlow(t *testing.T) {
	s, ms := time.Second, time.Millisecond
	const exchanges = 30
	c := newConv(cli, srv, 1000).handshake(0)
	at := s
	var starts []time.Duration // of the long gaps, in order
	for i := range exchanges {
		if i > 0 {
			starts = append(starts, at-60*s+ms)
			if i == 15 { // the longest gap, not listed
				at += 40 * s
			}
		}
		c.send(Client, at, 100).send(Server, at+ms, 200).ack(Client, at+ms)
		at += 60 * s
	}
	// A last request, answered 90 s later and reset by a middlebox.
	starts = append(starts, at-60*s+ms, at)
	c.send(Client, at, 100).send(Server, at+90*s, 112).rst(Client, at+90*s+ms, true)

	cfg := Config{Idle: 5 * s}
	a := New(cfg)
	alerted := map[Kind]int{}
	for i := range c.segs {
		a.Add(&c.segs[i])
		for _, al := range a.Tick(base.Add(time.Duration(c.segs[i].Nanos - base.UnixNano()))) {
			if al.Level == AlertFinding {
				alerted[al.Kind]++
			}
		}
	}
	r := a.Finish(time.Time{})
	if r.Flows.Len() != 1 {
		t.Fatalf("%d flows flagged, want 1", r.Flows.Len())
	}
	f := r.Flows.At(0)

	gaps := len(starts)
	if len(f.Gaps) != MaxListed || len(f.Findings) != MaxListed+1 {
		t.Fatalf("%d gaps and %d findings listed of %d, want %d and %d", len(f.Gaps), len(f.Findings), gaps, MaxListed, MaxListed+1)
	}
	var gotStarts []time.Duration
	for _, g := range f.Gaps {
		gotStarts = append(gotStarts, g.Start.Sub(base))
	}
	wantStarts := append(slices.Clone(starts[:MaxListed-1]), starts[gaps-1])
	if diff := cmp.Diff(wantStarts, gotStarts); diff != "" {
		t.Errorf("listed gaps' starts (-want +got):\n%s", diff)
	}
	if f.GapsNotListed != gaps-MaxListed {
		t.Errorf("gaps not listed = %d, want %d", f.GapsNotListed, gaps-MaxListed)
	}
	if o := f.Gaps[MaxListed-1].Outcome; o != WasReset {
		t.Errorf("the latest gap's outcome = %s, want reset", o)
	}

	var kinds []Kind
	for i, fd := range f.Findings {
		kinds = append(kinds, fd.Kind)
		if i > 0 && fd.At.Before(f.Findings[i-1].At) {
			t.Errorf("finding %d at %v comes before finding %d at %v", i, fd.At, i-1, f.Findings[i-1].At)
		}
	}
	wantKinds := append(slices.Repeat([]Kind{SilentPastTimeout}, MaxListed), ResetAfterIdle)
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("listed findings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[Kind]int{SilentPastTimeout: gaps - MaxListed}, f.FindingsNotListed); diff != "" {
		t.Errorf("findings not listed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[Kind]int{SilentPastTimeout: gaps, ResetAfterIdle: 1}, alerted); diff != "" {
		t.Errorf("findings alerted (-want +got):\n%s", diff)
	}

	// The longest gap, the 15th, is not listed, yet counts.
	if f.MaxGap != 100*s-ms {
		t.Errorf("longest gap = %v, want 99.999s", f.MaxGap)
	}
	if r.Inference.Survived != 100*s-ms {
		t.Errorf("longest survived gap = %v, want 99.999s", r.Inference.Survived)
	}
	// Alerts raised once at the end cover the findings listed by then:
	// those left out before any tick are not alerted.
	a = New(cfg)
	for i := range c.segs {
		a.Add(&c.segs[i])
	}
	alerted = map[Kind]int{}
	for _, al := range a.Tick(base.Add(time.Duration(c.segs[len(c.segs)-1].Nanos - base.UnixNano()))) {
		if al.Level == AlertFinding {
			alerted[al.Kind]++
		}
	}
	if diff := cmp.Diff(map[Kind]int{SilentPastTimeout: MaxListed, ResetAfterIdle: 1}, alerted); diff != "" {
		t.Errorf("findings alerted by one tick at the end (-want +got):\n%s", diff)
	}

	c2 := r.Flows.Counts()
	if c2.Capped != 1 || c2.GapsNotListed != gaps-MaxListed || c2.FindingsNotListed[SilentPastTimeout] != gaps-MaxListed {
		t.Errorf("counts = %+v", c2)
	}
}

// TestListedGapsTwoKinds checks the gaps listed when their findings are
// of two kinds, each listed on its own: silences that keepalive probes
// bound are keepalives too slow, the others plain silences. The gaps
// listed are still the first MaxListed-1 and the latest, each with its
// outcome, though the findings listed are the first and the latest of
// each kind; the findings that name the gaps hold them.
func TestListedGapsTwoKinds(t *testing.T) {
	s := time.Second
	c, _, gaps := silentAgain(25)
	a := New(Config{Idle: 30 * s})
	for i := range c.segs {
		a.Add(&c.segs[i])
	}
	r := a.Finish(time.Time{})
	if r.Flows.Len() != 1 {
		t.Fatalf("%d flows flagged, want 1", r.Flows.Len())
	}
	f := r.Flows.At(0)

	// What is listed, worked out from the gaps.
	var wantGaps []time.Duration
	for i, g := range gaps {
		if i < MaxListed-1 || i == len(gaps)-1 {
			wantGaps = append(wantGaps, g.start)
		}
	}
	var wantFindings []Kind
	seen, last, notListed := map[Kind]int{}, map[Kind]int{}, map[Kind]int{}
	for i, g := range gaps {
		seen[g.kind]++
		last[g.kind] = i
	}
	counted := map[Kind]int{}
	for i, g := range gaps {
		if counted[g.kind]++; counted[g.kind] < MaxListed || i == last[g.kind] {
			wantFindings = append(wantFindings, g.kind)
		} else {
			notListed[g.kind]++
		}
	}
	if seen[SilentPastTimeout] <= MaxListed || seen[KeepaliveTooSlow] <= MaxListed {
		t.Fatalf("gaps of each kind: %v; want more than %d of both", seen, MaxListed)
	}

	var gotGaps []time.Duration
	for _, g := range f.Gaps {
		gotGaps = append(gotGaps, g.Start.Sub(base))
		if g.Outcome != Survived || g.Duration != g.End.Sub(g.Start) || g.Duration < 40*s {
			t.Errorf("gap at %v: %s, %v long (%v to %v); want survived, the time between its ends, 40 s or more", g.Start.Sub(base), g.Outcome, g.Duration, g.Start.Sub(base), g.End.Sub(base))
		}
	}
	if diff := cmp.Diff(wantGaps, gotGaps); diff != "" {
		t.Errorf("listed gaps' starts (-want +got):\n%s", diff)
	}
	if f.GapsNotListed != len(gaps)-MaxListed {
		t.Errorf("gaps not listed = %d, want %d", f.GapsNotListed, len(gaps)-MaxListed)
	}
	var gotFindings []Kind
	for _, fd := range f.Findings {
		gotFindings = append(gotFindings, fd.Kind)
	}
	if diff := cmp.Diff(wantFindings, gotFindings); diff != "" {
		t.Errorf("listed findings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(notListed, f.FindingsNotListed); diff != "" {
		t.Errorf("findings not listed (-want +got):\n%s", diff)
	}
	// Each listed gap is the one its finding names.
	for _, g := range f.Gaps {
		if !slices.ContainsFunc(f.Findings, func(fd Finding) bool {
			return fd.Evidence.GapStart != nil && fd.Evidence.GapStart.Time.Equal(g.Start) && fd.At.Equal(g.End)
		}) {
			t.Errorf("gap at %v: no listed finding names it", g.Start.Sub(base))
		}
	}
}

// gapAt is a long gap of a conversation: where it starts, and the kind of
// the finding made for it.
type gapAt struct {
	start time.Duration
	kind  Kind
}

// silentAgain is a pooled connection silent 40 s and more, n times (40 s,
// 41 s, ...): every third silence ends with a keepalive probe, answered,
// and the next starts from the answer; both are keepalives too slow, the
// others plain silences. It returns the conversation, the time of its last
// packet and its gaps.
func silentAgain(n int) (*conv, time.Duration, []gapAt) {
	s, ms := time.Second, time.Millisecond
	c := newConv(cli, srv, 1000).handshake(0).exchange(s, 100, 200, ms)
	at := s + 2*ms // the last packet
	var gaps []gapAt
	for i := range n {
		start := at
		at += time.Duration(40+i) * s
		kind := SilentPastTimeout
		if i%3 != 0 {
			kind = KeepaliveTooSlow
		}
		gaps = append(gaps, gapAt{start, kind})
		if i%3 == 1 { // the client probes, the server answers
			c.probe(Client, at).probeAck(Server, at+ms)
			at += ms
		} else {
			c.exchange(at, 100, 200, ms)
			at += 2 * ms
		}
	}
	return c, at, gaps
}
