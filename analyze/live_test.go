package analyze

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTick(t *testing.T) {
	s := time.Second
	c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond)
	a := New(Config{})
	for i := range c.segs {
		a.Add(&c.segs[i])
	}
	last := s + time.Millisecond
	type got struct {
		Level AlertLevel
		Kind  Kind
	}
	tick := func(at time.Duration) []got {
		var out []got
		for _, al := range a.Tick(base.Add(at)) {
			out = append(out, got{al.Level, al.Kind})
			if al.Message == "" || al.Client != cli || al.Server != srv {
				t.Errorf("alert %+v", al)
			}
		}
		return out
	}
	steps := []struct {
		at   time.Duration
		want []got
	}{
		{last + 100*s, nil},
		{last + 280*s, []got{{AlertWarning, ""}}},
		{last + 300*s, nil}, // raised once per gap
		{last + 350*s, []got{{AlertExpired, ""}}},
		{last + 360*s, nil},
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, tick(st.at)); diff != "" {
			t.Errorf("at %v (-want +got):\n%s", st.at, diff)
		}
	}
	c.send(Server, last+400*s, 100).rst(Client, last+400*s+time.Millisecond, true)
	for i := len(c.segs) - 2; i < len(c.segs); i++ {
		a.Add(&c.segs[i])
	}
	want := []got{{AlertFinding, SilentPastTimeout}, {AlertFinding, ResetAfterIdle}}
	if diff := cmp.Diff(want, tick(last+401*s)); diff != "" {
		t.Errorf("after the reset (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]got(nil), tick(last+402*s)); diff != "" {
		t.Errorf("findings alerted twice (-want +got):\n%s", diff)
	}
}

func TestOfflineKeepsNoAlerts(t *testing.T) {
	c := newConv(cli, srv, 1).handshake(0).exchange(time.Second, 10, 10, time.Millisecond).
		fin(Client, 2*time.Second).fin(Server, 2*time.Second+time.Millisecond)
	a := New(Config{})
	for i := range c.segs {
		a.Add(&c.segs[i])
	}
	a.sweep(base.Add(time.Hour).UnixNano())
	if len(a.pending) != 0 {
		t.Errorf("pending alerts without Tick: %d", len(a.pending))
	}
}

// TestAlertsOfFinishedFlows checks that findings of a flow finished between
// two Ticks (here by the port's reuse) are alerted at the next Tick, with
// the text the Result gives them.
func TestAlertsOfFinishedFlows(t *testing.T) {
	s := time.Second
	old := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
		send(Server, 401*s, 100).rst(Client, 401*s+time.Millisecond, true)
	reuse := newConv(cli, srv, 900000).handshake(402 * s)
	a := New(Config{})
	a.Tick(base)
	for _, c := range []*conv{old, reuse} {
		for i := range c.segs {
			a.Add(&c.segs[i])
		}
	}
	var alerted []string
	for _, al := range a.Tick(base.Add(403 * s)) {
		if al.Level == AlertFinding {
			alerted = append(alerted, string(al.Kind)+": "+al.Message)
		}
	}
	var want []string
	for _, fl := range a.Finish(time.Time{}).Flows.All() {
		for _, fd := range fl.Findings {
			want = append(want, string(fd.Kind)+": "+fd.Message)
		}
	}
	if len(want) != 2 {
		t.Fatalf("the reused port's first flow has %d findings, want 2", len(want))
	}
	if diff := cmp.Diff(want, alerted); diff != "" {
		t.Errorf("alerts at the Tick after the flow finished (-result +alerts):\n%s", diff)
	}
}
