package analyze

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/pcapio"
)

const (
	cli = "192.0.2.10:51234"
	srv = "198.51.100.5:443"
)

func TestFindings(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		cfg   Config
		conv  func() *conv
		end   time.Duration // capture end; 0 means the last packet
		want  []Kind
		check func(t *testing.T, r *Result)
	}{
		{
			name: "keepalives every 60s protect a 16-minute request",
			conv: func() *conv {
				c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond)
				for at := 61 * s; at < 960*s; at += 60 * s {
					c.probe(Client, at).probeAck(Server, at+time.Millisecond)
				}
				return c.send(Server, 961*s, 112).ack(Client, 961*s+time.Millisecond).fin(Client, 962*s).fin(Server, 962*s+time.Millisecond).ack(Client, 962*s+2*time.Millisecond)
			},
			check: func(t *testing.T, r *Result) {
				if r.Flows.Len() != 0 {
					t.Fatalf("flows with findings: %d, want 0", r.Flows.Len())
				}
			},
		},
		{
			name: "server's late answer reset by a middlebox",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					send(Server, 961*s, 112).rst(Client, 961*s+300*time.Microsecond, true)
			},
			want: []Kind{SilentPastTimeout, ResetAfterIdle},
			check: func(t *testing.T, r *Result) {
				f := r.Flows.At(0)
				ri := f.Findings[1].Evidence.Reset
				if ri.Verdict != "middlebox" || ri.ClaimedBy != Client || ri.TriggeredBy == nil || ri.TriggeredBy.Side != Server {
					t.Errorf("reset evidence = %+v, want a middlebox RST claiming the client, triggered by the server", ri)
				}
				if ri.After != 300*time.Microsecond {
					t.Errorf("RST after %v, want 300µs", ri.After)
				}
				if got := f.Findings[0].Gap; got != 960*s-time.Millisecond {
					t.Errorf("gap = %v, want 959.999s", got)
				}
				if w := f.Findings[0].Evidence.Waiting; w != "client" {
					t.Errorf("waiting = %q, want client", w)
				}
				if f.State != Reset {
					t.Errorf("state = %v, want reset", f.State)
				}
				for _, want := range []string{"192.0.2.10:51234 → 198.51.100.5:443", "960 s (16m0s)", "TTL is 63", "no TCP timestamps option"} {
					if !strings.Contains(f.Findings[0].Message+f.Findings[1].Message, want) {
						t.Errorf("messages lack %q:\n%s\n%s", want, f.Findings[0].Message, f.Findings[1].Message)
					}
				}
				if r.Inference.Fatal != 960*s-time.Millisecond {
					t.Errorf("fatal bound = %v, want 959.999s", r.Inference.Fatal)
				}
			},
		},
		{
			name: "the peer's own RST after a gap",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					send(Server, 400*s, 112).rst(Client, 400*s+time.Millisecond, false)
			},
			want: []Kind{SilentPastTimeout, ResetAfterIdle},
			check: func(t *testing.T, r *Result) {
				if v := r.Flows.At(0).Findings[1].Evidence.Reset.Verdict; v != "endpoint" {
					t.Errorf("verdict = %q, want endpoint", v)
				}
			},
		},
		{
			name: "pooled connection reused after the middlebox forgot it",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).exchange(s, 200, 900, 50*time.Millisecond).
					send(Client, 401*s, 200).rst(Server, 401*s+200*time.Microsecond, true)
			},
			want: []Kind{SilentPastTimeout, StaleConnectionReuse},
			check: func(t *testing.T, r *Result) {
				if w := r.Flows.At(0).Findings[0].Evidence.Waiting; w != "" {
					t.Errorf("waiting = %q, want nothing outstanding", w)
				}
			},
		},
		{
			name: "answer after the gap black-holed",
			conv: func() *conv {
				c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).send(Server, 401*s, 112)
				for i, at := 0, 401*s; i < 5; i++ {
					at += (200 * time.Millisecond) << i
					c.retransmit(Server, at)
				}
				return c
			},
			want: []Kind{SilentPastTimeout, BlackholedAfterIdle},
			check: func(t *testing.T, r *Result) {
				if n := r.Flows.At(0).Findings[1].Evidence.Retransmitted; n != 5 {
					t.Errorf("retransmissions = %d, want 5", n)
				}
			},
		},
		{
			name: "one quick retransmission at the capture end is no black hole",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					send(Server, 401*s, 112).retransmit(Server, 401*s+time.Millisecond)
			},
			want: []Kind{SilentPastTimeout},
		},
		{
			name: "proxy closes while the request is outstanding",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					fin(Server, 401*s).ack(Client, 401*s+time.Millisecond)
			},
			want: []Kind{SilentPastTimeout, ClosedAfterIdle},
		},
		{
			name: "request still unanswered at capture end",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond)
			},
			end:  500 * s,
			want: []Kind{SilentPastTimeout, HungAtCaptureEnd},
			check: func(t *testing.T, r *Result) {
				f := r.Flows.At(0)
				if f.IdleAtEnd != 499*s-time.Millisecond {
					t.Errorf("idle at end = %v", f.IdleAtEnd)
				}
				if f.Findings[1].Evidence.GapEnd != nil || f.Findings[1].Evidence.EndedBy != "capture-end" {
					t.Errorf("evidence = %+v", f.Findings[1].Evidence)
				}
			},
		},
		{
			name: "idle pooled connection at capture end is only a warning",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).exchange(s, 200, 900, 50*time.Millisecond)
			},
			end:  500 * s,
			want: []Kind{SilentPastTimeout},
		},
		{
			name: "first keepalive too late, then reset",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					probe(Client, 401*s).rst(Server, 401*s+time.Millisecond, true)
			},
			want: []Kind{KeepaliveTooSlow, ResetAfterIdle},
			check: func(t *testing.T, r *Result) {
				k := r.Flows.At(0).Keepalive[Client]
				if k.Probes != 1 || k.IdleBeforeFirst != 400*s-time.Millisecond {
					t.Errorf("client keepalive = %+v", k)
				}
			},
		},
		{
			name: "gap survived: the answer is acknowledged",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					send(Server, 401*s, 112).ack(Client, 401*s+time.Millisecond)
			},
			want: []Kind{SilentPastTimeout},
			check: func(t *testing.T, r *Result) {
				if g := r.Flows.At(0).Gaps[0]; g.Outcome != Survived || g.EndedBy != "data" {
					t.Errorf("gap = %+v", g)
				}
				if r.Inference.Survived != 400*s-time.Millisecond {
					t.Errorf("survived = %v, want 399.999s", r.Inference.Survived)
				}
			},
		},
		{
			name: "RST at expiry with nothing to answer",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).
					rst(Server, 352*s, true)
			},
			want: []Kind{SilentPastTimeout, ResetAfterIdle},
			check: func(t *testing.T, r *Result) {
				ri := r.Flows.At(0).Findings[1].Evidence.Reset
				if ri.TriggeredBy != nil {
					t.Errorf("triggered by %+v, want nothing", ri.TriggeredBy)
				}
			},
		},
		{
			name: "gaps below the threshold",
			conv: func() *conv {
				return newConv(cli, srv, 1000).handshake(0).exchange(s, 200, 900, 349*s)
			},
		},
		{
			name: "keepalives do not reset an ALB's timer",
			cfg:  Config{Middlebox: mustPreset("aws-alb")},
			conv: func() *conv {
				c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond)
				for at := 31 * s; at < 100*s; at += 30 * s {
					c.probe(Client, at).probeAck(Server, at+time.Millisecond)
				}
				return c.send(Server, 100*s, 112).ack(Client, 100*s+time.Millisecond)
			},
			want: []Kind{SilentPastTimeout},
			check: func(t *testing.T, r *Result) {
				if r.Threshold != 60*s {
					t.Errorf("threshold = %v, want the preset's 60s", r.Threshold)
				}
				if !strings.Contains(r.Flows.At(0).Findings[0].Fix, "do not reset") {
					t.Errorf("fix = %q", r.Flows.At(0).Findings[0].Fix)
				}
			},
		},
		{
			name: "sequence numbers wrap around during the flow",
			conv: func() *conv {
				c := newConv(cli, srv, 0xffffff00).handshake(0)
				c.next[Server] = 0xfffffff0
				c.exchange(s, 1000, 3000, 10*time.Millisecond)
				for at := 61 * s; at < 500*s; at += 60 * s {
					c.probe(Client, at).probeAck(Server, at+time.Millisecond)
				}
				return c
			},
			check: func(t *testing.T, r *Result) {
				if r.Flows.Len() != 0 {
					t.Fatalf("findings: %v", kinds(r))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(tt.cfg, tt.end, tt.conv())
			if diff := cmp.Diff(tt.want, kinds(r)); diff != "" {
				t.Fatalf("finding kinds (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestFinishEndOutOfRange checks that a capture end that int64
// nanoseconds cannot hold is taken as the last packet's time, as one
// before it is, rather than wrapping round to some other time.
func TestFinishEndOutOfRange(t *testing.T) {
	s := time.Second
	last := base.Add(s + time.Millisecond)
	later := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ end, want time.Time }{
		{time.Time{}, last},
		{base, last},
		{later, later},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), last},
		{time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC), last},
		{time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), last},
	} {
		c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, last.Sub(base))
		a := New(Config{KeepAll: true})
		for i := range c.segs {
			a.Add(&c.segs[i])
		}
		r := a.Finish(tt.end)
		if !r.CaptureEnd.Equal(tt.want) {
			t.Errorf("Finish(%v): capture end %v, want %v", tt.end, r.CaptureEnd, tt.want)
		}
		if f := r.Flows.At(0); f.IdleAtEnd != tt.want.Sub(last) {
			t.Errorf("Finish(%v): idle at end %v, want %v", tt.end, f.IdleAtEnd, tt.want.Sub(last))
		}
	}
}

// TestTimeIsPerFlow checks that a packet stamped far ahead of the
// packets around it moves no other flow's times: a flow's packets after
// it keep their own times, so that the flow has no long gap, while a
// packet stamped before its own flow's last one takes that one's time.
func TestTimeIsPerFlow(t *testing.T) {
	s := time.Second
	a := newConv(cli, srv, 1000).handshake(0).exchange(s, 100, 200, 10*time.Millisecond).fin(Client, 3*s).fin(Server, 3*s+time.Millisecond).ack(Client, 3*s+2*time.Millisecond)
	ahead := newConv("192.0.2.77:40000", srv, 5000).send(Client, 100*s, 10)
	behind := newConv("192.0.2.78:40000", srv, 7000).handshake(4*s).send(Client, 200*s, 10).send(Client, 150*s, 10).ack(Server, 201*s)
	// In capture order: the far-ahead packet among the first flow's
	// packets, and the third flow's second data packet stamped before its
	// first.
	var segs []pcapio.Segment
	segs = append(segs, a.segs[:4]...)
	segs = append(segs, ahead.segs...)
	segs = append(segs, a.segs[4:]...)
	segs = append(segs, behind.segs...)

	an := New(Config{KeepAll: true, Idle: 60 * s})
	for i := range segs {
		an.Add(&segs[i])
	}
	r := an.Finish(time.Time{})
	if want := base.Add(201 * s); !r.CaptureEnd.Equal(want) {
		t.Errorf("capture end %v, want %v", r.CaptureEnd, want)
	}
	byClient := map[string]Flow{}
	for _, f := range r.Flows.All() {
		byClient[f.Client.String()] = *f
	}
	first := byClient[cli]
	if want := base.Add(3*s + 2*time.Millisecond); !first.Last.Equal(want) || first.MaxGap != 1989*time.Millisecond || len(first.Findings) != 0 {
		t.Errorf("first flow: last %v (want %v), longest gap %v (want 1.989s), findings %v", first.Last, want, first.MaxGap, first.Findings)
	}
	third := byClient["192.0.2.78:40000"]
	if want := 196*s - 2*time.Millisecond; third.MaxGap != want || !third.Last.Equal(base.Add(201*s)) {
		t.Errorf("third flow: longest gap %v (want %v, none negative), last %v", third.MaxGap, want, third.Last)
	}
}

func mustPreset(name string) *Middlebox {
	m, ok := LookupMiddlebox(name)
	if !ok {
		panic("no preset " + name)
	}
	return m
}

func TestKeepaliveCounting(t *testing.T) {
	s := time.Second
	tests := []struct {
		name          string
		conv          *conv
		probes, acks  [2]int
		zeroWinProbes [2]int
		meanInterval  time.Duration
	}{
		{
			name: "answered probes from both sides",
			conv: func() *conv {
				c := newConv(cli, srv, 5).handshake(0).exchange(s, 10, 10, time.Millisecond)
				for i := range 3 {
					at := time.Duration(60*(i+1)) * s
					c.probe(Client, at).probeAck(Server, at+time.Millisecond)
					c.probe(Server, at+30*s).probeAck(Client, at+30*s+time.Millisecond)
				}
				return c
			}(),
			probes: [2]int{3, 3}, acks: [2]int{3, 3}, meanInterval: 60 * s,
		},
		{
			name: "Linux zero-window probes look like keepalives but are not",
			conv: func() *conv {
				c := newConv(cli, srv, 5).handshake(0).send(Client, s, 100).zeroWindow(Server, s+time.Millisecond)
				for i := range 4 {
					at := 2*s + time.Duration(i)*s
					c.probe(Client, at).ack(Server, at+time.Millisecond)
				}
				return c.openWindow(Server, 10*s).send(Client, 10*s+time.Millisecond, 100)
			}(),
			zeroWinProbes: [2]int{4, 0},
		},
		{
			name: "unanswered probes",
			conv: func() *conv {
				c := newConv(cli, srv, 5).handshake(0).exchange(s, 10, 10, time.Millisecond)
				for i := range 5 {
					c.probe(Client, 61*s+time.Duration(i)*75*s)
				}
				return c
			}(),
			probes: [2]int{5, 0}, meanInterval: 75 * s,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(Config{KeepAll: true, Idle: time.Hour}, 0, tt.conv)
			if r.Flows.Len() != 1 {
				t.Fatalf("flows = %d", r.Flows.Len())
			}
			k := r.Flows.At(0).Keepalive
			got := struct{ P, A, Z [2]int }{[2]int{k[0].Probes, k[1].Probes}, [2]int{k[0].Acks, k[1].Acks}, [2]int{k[0].ZeroWindowProbes, k[1].ZeroWindowProbes}}
			want := struct{ P, A, Z [2]int }{tt.probes, tt.acks, tt.zeroWinProbes}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("probes/acks/zero-window probes (-want +got):\n%s", diff)
			}
			if tt.meanInterval != 0 && k[Client].MeanInterval != tt.meanInterval {
				t.Errorf("client mean interval = %v, want %v", k[Client].MeanInterval, tt.meanInterval)
			}
		})
	}
}

func TestCaptureStartsMidIdle(t *testing.T) {
	s := time.Second
	c := newConv(cli, srv, 5000)
	// No handshake, no data: the first packet is a keepalive probe. Alone
	// it looks like an ACK (Wireshark counts none of these), but the
	// server's answer acknowledges seq+1, which makes it and every later
	// one a probe.
	for i := range 4 {
		at := time.Duration(i) * 60 * s
		c.probe(Client, at).probeAck(Server, at+time.Millisecond)
	}
	r := run(Config{KeepAll: true}, 0, c)
	f := r.Flows.At(0)
	if f.HandshakeSeen {
		t.Error("handshake seen in a capture without one")
	}
	if got, acks := f.Keepalive[Client].Probes, f.Keepalive[Client].Acks; got != 4 || acks != 4 {
		t.Errorf("client probes = %d, acks %d; want 4 and 4", got, acks)
	}
	if f.Client.String() != cli {
		t.Errorf("client = %v, want the ephemeral-port side %s", f.Client, cli)
	}
}

func TestPortReuse(t *testing.T) {
	s := time.Second
	first := newConv(cli, srv, 1000).handshake(0).exchange(s, 100, 100, time.Millisecond).
		fin(Client, 2*s).fin(Server, 2*s+time.Millisecond).ack(Client, 2*s+2*time.Millisecond)
	second := newConv(cli, srv, 777777).handshake(10*s).exchange(11*s, 100, 100, time.Millisecond).
		send(Client, 411*s, 100).rst(Server, 411*s+time.Millisecond, true)
	r := run(Config{KeepAll: true}, 0, first, second)
	if r.Flows.Len() != 2 {
		t.Fatalf("flows = %d, want 2", r.Flows.Len())
	}
	if first := r.Flows.At(0); first.State != Closed || len(first.Findings) != 0 {
		t.Errorf("first flow: state %v, findings %v", first.State, first.Findings)
	}
	if diff := cmp.Diff([]Kind{SilentPastTimeout, StaleConnectionReuse}, kinds(&Result{Flows: FlowsOf(r.Flows.At(1))})); diff != "" {
		t.Errorf("second flow kinds (-want +got):\n%s", diff)
	}
	if r.Stats.Flows != 2 {
		t.Errorf("stats flows = %d", r.Stats.Flows)
	}
}

func TestDuplicatesIgnored(t *testing.T) {
	s := time.Second
	c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 200).ack(Server, s+time.Millisecond).send(Server, 401*s, 112)
	// tcpdump -i any on a router: every packet again, 20µs later, one hop on.
	var doubled []pcapio.Segment
	for _, sg := range c.segs {
		twin := sg
		twin.Nanos += 20_000
		twin.TTL--
		doubled = append(doubled, sg, twin)
	}
	c.segs = doubled
	r := run(Config{KeepAll: true}, 0, c)
	f := r.Flows.At(0)
	if r.Stats.Duplicates != 6 || f.Packets != 6 {
		t.Errorf("duplicates = %d, packets = %d; want 6 and 6", r.Stats.Duplicates, f.Packets)
	}
	if f.Retransmitted[Server] != 0 {
		t.Errorf("duplicates counted as retransmissions: %d", f.Retransmitted[Server])
	}
	if f.MaxGap != 400*s-time.Millisecond {
		t.Errorf("max gap = %v", f.MaxGap)
	}
}

func TestMaxFlowsEvicts(t *testing.T) {
	var convs []*conv
	for i := range 100 {
		c := newConv("192.0.2.10:"+strconv.Itoa(40000+i), srv, uint32(i)).handshake(time.Duration(i) * time.Second)
		convs = append(convs, c)
	}
	r := run(Config{MaxFlows: 16, KeepAll: true}, 0, convs...)
	if r.Stats.Evicted == 0 || r.Stats.MaxLive > 16 {
		t.Errorf("evicted %d, max live %d; want evictions and at most 16 live", r.Stats.Evicted, r.Stats.MaxLive)
	}
	if r.Flows.Len() != 100 {
		t.Errorf("flows kept = %d, want 100", r.Flows.Len())
	}
}

// TestEvictsLongestIdle pins which flows a full table evicts: those idle
// longest, and of two idle as long the one that started first.
func TestEvictsLongestIdle(t *testing.T) {
	s := time.Second
	var convs []*conv
	for i := range 8 {
		at := time.Duration(i) * s
		if i == 6 {
			at = 5 * s // idle as long as flow 5, which started first
		}
		c := newConv("192.0.2.10:"+strconv.Itoa(40000+i), srv, uint32(i)).handshake(at)
		if i < 3 {
			c.send(Client, 100*s, 10) // the oldest three were active lately
		}
		convs = append(convs, c)
	}
	for i := range 3 { // each new flow finds the table of 8 full: room for one is made
		convs = append(convs, newConv("192.0.2.11:"+strconv.Itoa(40000+i), srv, 0).handshake(time.Duration(101+i)*s))
	}
	r := run(Config{MaxFlows: 8, KeepAll: true}, 0, convs...)
	var evicted []string
	for _, f := range r.Flows.All() {
		if f.Evicted {
			evicted = append(evicted, f.Client.String())
		}
	}
	want := []string{"192.0.2.10:40003", "192.0.2.10:40004", "192.0.2.10:40005"}
	if !slices.Equal(evicted, want) {
		t.Errorf("evicted %v, want %v", evicted, want)
	}
}

// TestLeastEvictees checks the selection makeRoom evicts by against a
// sort, on tables of 40 sizes from 1 to 274 (each a tenth larger than the
// last, or one) whose flows are idle as long in runs of three, in sorted,
// reversed and shuffled order, for every count to evict.
func TestLeastEvictees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 300; n += 1 + n/10 {
		for order := range 3 {
			es := make([]evictee, n)
			for i := range es {
				es[i] = evictee{last: int64(i / 3), index: uint32(i)} // runs of three idle as long
			}
			switch order {
			case 1:
				slices.Reverse(es)
			case 2:
				rng.Shuffle(n, func(i, j int) { es[i], es[j] = es[j], es[i] })
			}
			want := slices.SortedFunc(slices.Values(es), evictee.compare)
			for k := 1; k <= n; k++ {
				got := slices.Clone(leastEvictees(slices.Clone(es), k))
				slices.SortFunc(got, evictee.compare)
				if !slices.Equal(got, want[:k]) {
					t.Fatalf("%d flows in order %d, %d to evict: picked %v, want %v", n, order, k, got, want[:k])
				}
			}
		}
	}
}

func TestCopiesNeedProof(t *testing.T) {
	s := time.Second
	// A host with no socket answers two segments in flight with two RSTs
	// alike in every field (IP ID 0, same TTL): both count.
	c := newConv(cli, srv, 1000).handshake(0).send(Client, s, 10).send(Client, s+time.Millisecond, 10)
	c.rst(Server, s+2*time.Millisecond, false)
	c.rst(Server, s+2*time.Millisecond+100*time.Microsecond, false)
	for i := len(c.segs) - 2; i < len(c.segs); i++ {
		c.segs[i].IPID, c.segs[i].Seq = 0, 5
	}
	// tcpdump -i any: one packet seen at two points (packet types), same
	// TTL and IP ID 0, interleaved with a copy of the ACK before it.
	d := newConv("192.0.2.11:40000", srv, 1).handshake(0)
	ack := d.segs[len(d.segs)-1]
	d.rst(Client, 2*time.Millisecond, false)
	rst := d.segs[len(d.segs)-1]
	rst.IPID, ack.IPID = 0, 0
	d.segs = d.segs[:len(d.segs)-2]
	for i, sg := range []pcapio.Segment{ack, rst} {
		for point := range uint32(3) {
			sg.Point = point
			sg.Nanos += int64(i*10 + int(point))
			d.segs = append(d.segs, sg)
		}
	}
	r := run(Config{KeepAll: true}, 0, c, d)
	if got := r.Flows.At(0).Resets[Server]; got != 2 {
		t.Errorf("identical RSTs without proof of copying: counted %d, want 2", got)
	}
	if got := r.Flows.At(1).Resets[Client]; got != 1 {
		t.Errorf("one RST seen at three points: counted %d, want 1", got)
	}
}

func TestCaptureStartsWithOneByteProbe(t *testing.T) {
	c := newConv(cli, srv, 5000)
	// A Windows keepalive (1 byte at next-1) opens the capture. Its answer
	// acknowledges seq+1 like any data's, so only the D-SACK for the byte
	// proves it a probe; a second flow's answer carries none.
	c.seg(Client, 0, pcapio.ACK, c.next[Client]-1, 1)
	c.ack(Server, time.Millisecond)
	c.segs[len(c.segs)-1].DSACK = true
	d := newConv("192.0.2.11:40000", srv, 7000)
	d.seg(Client, 0, pcapio.ACK, d.next[Client]-1, 1)
	d.ack(Server, time.Millisecond)
	r := run(Config{KeepAll: true}, 0, c, d)
	if k := r.Flows.At(0).Keepalive[Client]; k.Probes != 1 || k.Acks != 1 || r.Flows.At(0).Bytes[Client] != 0 {
		t.Errorf("with D-SACK: probes %d, acks %d, bytes %d; want 1, 1, 0", k.Probes, k.Acks, r.Flows.At(0).Bytes[Client])
	}
	if k := r.Flows.At(1).Keepalive[Client]; k.Probes != 0 || r.Flows.At(1).Bytes[Client] != 1 {
		t.Errorf("without D-SACK: probes %d, bytes %d; want 0 and 1 (data)", k.Probes, r.Flows.At(1).Bytes[Client])
	}
}

// TestPacketRefPlace checks that a packet's number and its file's index,
// which a packetRef keeps in one word, come back as they went in, at the
// ends of their ranges too.
func TestPacketRefPlace(t *testing.T) {
	for _, tc := range []struct {
		frame uint64
		file  int
	}{
		{1, 0}, {2, 1}, {1<<32 + 5, 255}, {1 << 39, 1 << 20}, {1<<40 - 1, 1<<fileBits - 1},
	} {
		seg := pcapio.Segment{Frame: tc.frame, File: tc.file, PayloadLen: 1448}
		r := refTo(&seg, 7, Server, kindData)
		p := r.value()
		if r.frame() != tc.frame || r.file() != tc.file || p.Frame != tc.frame || p.File != tc.file || r.none() {
			t.Errorf("frame %d of file %d: kept as frame %d of file %d, exported as frame %d of file %d", tc.frame, tc.file, r.frame(), r.file(), p.Frame, p.File)
		}
	}
}

// corpusDir holds real captures from public projects, described by
// MANIFEST.tsv, beside the repository (wiresharkCorpus, for the tests
// outside the package).
const corpusDir = "../../shared/pcaps/corpus"

// TestTimeIsPerFlowCorpus checks each flow's times on the corpus captures
// whose timestamps go back, against the packets as pcapio reads them: a
// flow starts at its first packet's own time and ends at the latest time
// among its packets, whatever other flows' packets say. With one clock for
// the capture, every flow after a late packet took that packet's time.
func TestTimeIsPerFlowCorpus(t *testing.T) {
	for _, name := range []string{"tcpdump__kday4.pcap", "tcpdump__kday7.pcap", "arkime__tcpseq_synthetic.pcap"} {
		path := filepath.Join(corpusDir, name)
		src, err := pcapio.Open(path)
		if err != nil {
			t.Skipf("no corpus capture beside the repository: %v", err)
		}
		type span struct{ first, last int64 }
		want := map[pcapio.FlowKey]*span{}
		a := New(Config{KeepAll: true})
		backwards := false
		var seg pcapio.Segment
		var prev int64
		for src.Next(&seg) {
			backwards = backwards || seg.Nanos < prev
			prev = max(prev, seg.Nanos)
			if s := want[seg.Flow]; s == nil {
				want[seg.Flow] = &span{seg.Nanos, seg.Nanos}
			} else {
				s.last = max(s.last, seg.Nanos)
			}
			a.Add(&seg)
		}
		src.Close()
		if !backwards {
			t.Fatalf("%s: no timestamp goes back; the test needs one that does", name)
		}
		r := a.Finish(time.Time{})
		if r.Flows.Len() != len(want) {
			t.Fatalf("%s: %d flows, %d 4-tuples", name, r.Flows.Len(), len(want))
		}
		for _, f := range r.Flows.All() {
			var key pcapio.Segment
			key.SetAddrs(f.Client, f.Server)
			s := want[key.Flow]
			if s == nil {
				t.Errorf("%s: flow %v → %v has no packets", name, f.Client, f.Server)
				continue
			}
			if f.First.UnixNano() != s.first || f.Last.UnixNano() != s.last {
				t.Errorf("%s: flow %v → %v runs %v to %v; its packets, %v to %v", name, f.Client, f.Server,
					f.First, f.Last, time.Unix(0, s.first).UTC(), time.Unix(0, s.last).UTC())
			}
		}
	}
}
