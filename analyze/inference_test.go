package analyze

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTimeoutBracket(t *testing.T) {
	s := time.Second
	var convs []*conv
	// Three flows survive waits of 300-340 s; two die after 352 and 355 s,
	// their late answers met by a RST from the middlebox.
	for i, wait := range []time.Duration{300 * s, 330 * s, 340 * s} {
		c := newConv("192.0.2.10:"+strconv.Itoa(40000+i), srv, uint32(i)).handshake(0).
			send(Client, s, 100).ack(Server, s+time.Millisecond).
			send(Server, s+wait, 100).ack(Client, s+wait+time.Millisecond)
		convs = append(convs, c)
	}
	for i, wait := range []time.Duration{352 * s, 355 * s} {
		c := newConv("192.0.2.20:"+strconv.Itoa(40000+i), srv, uint32(i)).handshake(0).
			send(Client, s, 100).ack(Server, s+time.Millisecond).
			send(Server, s+wait, 100).rst(Client, s+wait+time.Millisecond, true)
		convs = append(convs, c)
	}
	tests := []struct {
		name         string
		idle         time.Duration
		wantConflict string
	}{
		{"threshold at the NLB's", 350 * s, ""},
		{"threshold too high", 600 * s, "below the 600 s threshold under test"},
		{"threshold too low", 120 * s, "longer than the 120 s threshold under test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inf := run(Config{Idle: tt.idle}, 0, convs...).Inference
			want := Inference{
				Survived: 340*s - time.Millisecond, SurvivedBy: 2, // 300 s is not within 10 %
				Fatal: 352*s - time.Millisecond, FatalBy: 2,
				Endings: []Expiry{ResetNextPacket},
				Matches: []string{"aws-nlb", "aws-nat-gateway"},
			}
			got := inf
			got.Conflict = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("inference (-want +got):\n%s", diff)
			}
			if tt.wantConflict == "" && inf.Conflict != "" || !strings.Contains(inf.Conflict, tt.wantConflict) {
				t.Errorf("conflict = %q, want one saying %q", inf.Conflict, tt.wantConflict)
			}
		})
	}
}

func TestBlackholeBracketExcludesResettingPresets(t *testing.T) {
	s := time.Second
	survivor := newConv("192.0.2.10:40000", srv, 1).handshake(0).send(Client, s, 100).ack(Server, s+time.Millisecond).
		send(Server, 1100*s, 100).ack(Client, 1100*s+time.Millisecond)
	victim := newConv("192.0.2.10:40001", srv, 2).handshake(0).send(Client, s, 100).ack(Server, s+time.Millisecond).
		send(Server, 1250*s, 100)
	for i := range 4 {
		victim.retransmit(Server, 1250*s+time.Duration(1<<i)*200*time.Millisecond)
	}
	inf := run(Config{}, 0, survivor, victim).Inference
	if diff := cmp.Diff([]string{"gcp-cloud-nat"}, inf.Matches); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
}

func TestKeepaliveSettings(t *testing.T) {
	s := time.Second
	// Linux defaults: first probe after 7200 s of silence, then every 75 s
	// unanswered, and a RST after the ninth.
	c := newConv(cli, srv, 1).handshake(0).exchange(s, 100, 100, time.Millisecond)
	at := s + 2*time.Millisecond + 7200*s
	for range 9 {
		c.probe(Client, at)
		at += 75 * s
	}
	c.rst(Client, at-75*s+75*s, false)
	// curl: answered probes every 60 s.
	d := newConv("192.0.2.11:40000", srv, 1).handshake(0).exchange(s, 100, 100, time.Millisecond)
	for i := range 5 {
		at := s + time.Millisecond + time.Duration(i+1)*(60*s+time.Millisecond)
		d.probe(Client, at).probeAck(Server, at+time.Millisecond)
	}
	r := run(Config{KeepAll: true, Idle: 100000 * s}, 0, c, d)
	linux := r.Flows.At(0).Keepalive[Client].Settings
	if linux.Idle != 7200*s || linux.Interval != 75*s || linux.Count != 9 || !linux.GaveUp {
		t.Errorf("Linux settings = %+v", linux)
	}
	if len(linux.Matches) != 1 || !strings.HasPrefix(linux.Matches[0], "Linux") {
		t.Errorf("Linux matches = %v", linux.Matches)
	}
	curl := r.Flows.At(1).Keepalive[Client].Settings
	if curl.Idle != 60*s || curl.Interval != 0 || curl.Count != 1 || curl.GaveUp {
		t.Errorf("curl settings = %+v", curl)
	}
	if !slicesContainPrefix(curl.Matches, "curl") {
		t.Errorf("curl matches = %v", curl.Matches)
	}
}

func slicesContainPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestClockLeapsDoNotBracket(t *testing.T) {
	s := time.Second
	c := newConv(cli, srv, 1).handshake(0).send(Client, s, 100).ack(Server, s+time.Millisecond).
		send(Server, 40*24*time.Hour, 100).ack(Client, 40*24*time.Hour+time.Millisecond)
	inf := run(Config{}, 0, c).Inference
	if inf.Survived != 0 || inf.Conflict != "" {
		t.Errorf("a 40-day gap entered the bracket: %+v", inf)
	}
}
