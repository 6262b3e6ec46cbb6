package analyze_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/analyze"
)

// analyzeLab analyses one lab capture at a threshold, every flow kept.
func analyzeLab(t *testing.T, name string, idle time.Duration) *analyze.Result {
	r, _ := analyzeFile(t, filepath.Join("..", "testdata", "pcaps", "lab", name), idle, nil)
	return r
}

// TestLabKeepaliveSettings pins what real stacks' probes reveal: the lab's
// clients set TCP_KEEPIDLE to 2 s (requests, Go, curl --keepalive-time 2)
// or 7 s (curl --keepalive-time 7); Linux measures the idle time from the
// last packet received.
func TestLabKeepaliveSettings(t *testing.T) {
	for name, idle := range map[string]time.Duration{
		"requests-keepalive.client.pcap":   2 * time.Second,
		"go-keepalive.client.pcap":         2 * time.Second,
		"curl-keepalive-short.client.pcap": 2 * time.Second,
		"curl-keepalive-long.client.pcap":  7 * time.Second,
	} {
		r := analyzeLab(t, name, 5*time.Second)
		got := r.Flows.At(0).Keepalive[analyze.Client].Settings.Idle
		if d := got - idle; d < 0 || d > 200*time.Millisecond {
			t.Errorf("%s: TCP_KEEPIDLE recovered as %v, want %v (+200 ms at most)", name, got, idle)
		}
	}
}

// TestLabInference pins the timeout bracket on real captures: analysed at
// the default 350 s, the lab's 5 s conntrack timeout shows as a fatal gap
// far below it, with how the middlebox answered.
func TestLabInference(t *testing.T) {
	tests := []struct {
		name     string
		endings  []analyze.Expiry
		fatalMin time.Duration
	}{
		{"requests-nokeepalive.server.pcap", []analyze.Expiry{analyze.ResetNextPacket}, 10 * time.Second},
		{"drop-nokeepalive.server.pcap", []analyze.Expiry{analyze.SilentDrop}, 10 * time.Second},
	}
	for _, tt := range tests {
		inf := analyzeLab(t, tt.name, 0).Inference
		if diff := cmp.Diff(tt.endings, inf.Endings); diff != "" {
			t.Errorf("%s endings (-want +got):\n%s", tt.name, diff)
		}
		if inf.Fatal < tt.fatalMin || inf.Fatal > tt.fatalMin+2*time.Second {
			t.Errorf("%s: fatal gap %v, want about %v", tt.name, inf.Fatal, tt.fatalMin)
		}
		if !strings.Contains(inf.Conflict, "below the 350 s threshold") || !strings.Contains(inf.Conflict, "--idle 9s") {
			t.Errorf("%s: conflict %q does not say the threshold is too high and what to use", tt.name, inf.Conflict)
		}
	}
}
