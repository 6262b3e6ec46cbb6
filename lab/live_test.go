package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/internal/expect"
)

// liveAlert is one JSON line of hangdiag live --alerts jsonl.
type liveAlert struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Kind  string    `json:"kind"`
	Idle  float64   `json:"idle_seconds"`
}

// TestLabLive runs hangdiag live in the client namespace while the
// requests-nokeepalive scenario runs (T = 5 s: the request goes unanswered
// for 12 s, the router forgot the flow at 5 s and resets the late packets),
// through lab.sh's LAB_CLIENT_HOOK. The warning must come between 4 and 5 s
// of silence, the expired alert just past 5 s, the final report must flag
// the flow as the manifest says for the client's capture, and the packets
// live saved with -w must analyze to the same findings. It needs root and
// the lab's tools.
func TestLabLive(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the live lab run (about 20 s) in -short mode")
	}
	if reason := labUnavailable(); reason != "" {
		t.Skip(reason)
	}
	var row expect.Row
	for _, r := range readManifest(t) {
		if len(r.Files) == 1 && filepath.Base(r.Files[0]) == "requests-nokeepalive.client.pcap" {
			row = r
		}
	}
	if row.Files == nil {
		t.Fatal("no manifest row for requests-nokeepalive.client.pcap")
	}
	bin := buildAnalyzer(t)
	dir := t.TempDir()
	capFile := filepath.Join(dir, "live.pcap")
	repFile := filepath.Join(dir, "live.json")
	logFile := filepath.Join(dir, "live.log")
	// Run as root, hangdiag live switches to nobody once its socket and
	// files are open: the bounded duration stops it if lab.sh cannot.
	hook := fmt.Sprintf(`exec %q live -i "$LAB_IFACE" --idle 5s --warn-at 0.8 --duration 60s --alerts jsonl -w %q --format json -o %q`, bin, capFile, repFile)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "lab.sh", "-o", dir, "requests-nokeepalive")
	cmd.Env = append(os.Environ(), "LAB_CLIENT_HOOK="+hook, "LAB_CLIENT_HOOK_LOG="+logFile)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("lab.sh requests-nokeepalive: %v\n%s\nhangdiag live:\n%s", err, out.String(), log)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hangdiag live:\n%s", log)

	// The alerts, in order.
	var alerts []liveAlert
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // start and end messages
		}
		var al liveAlert
		if err := json.Unmarshal(line, &al); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		alerts = append(alerts, al)
	}
	idleOf := func(level string) (float64, bool) {
		for _, al := range alerts {
			if al.Level == level {
				return al.Idle, true
			}
		}
		return 0, false
	}
	if idle, ok := idleOf("warning"); !ok || idle < 4 || idle >= 5 {
		t.Errorf("warning alert at %.3f s of silence (found: %v), want between 4 and 5 s", idle, ok)
	}
	// Ticks come every 250 ms; allow for a slow machine.
	if idle, ok := idleOf("expired"); !ok || idle < 5 || idle > 5.75 {
		t.Errorf("expired alert at %.3f s of silence (found: %v), want 5 to 5.75 s", idle, ok)
	}
	var alerted []string
	for _, al := range alerts {
		if al.Level == "finding" {
			alerted = append(alerted, al.Kind)
		}
	}
	slices.Sort(alerted)
	if !slices.Equal(slices.Compact(alerted), row.Kinds) {
		t.Errorf("finding alerts %v, want %v", alerted, row.Kinds)
	}

	// The final report.
	rep, err := os.ReadFile(repFile)
	if err != nil {
		t.Fatal(err)
	}
	live, err := expect.Summarize(rep)
	if err != nil {
		t.Fatal(err)
	}
	if m := row.Mismatch(live); m != "" {
		t.Errorf("live report: %s", m)
	}

	// The saved packets, analyzed afterwards.
	var stdout, stderr bytes.Buffer
	an := exec.Command(bin, append(append([]string{"analyze", "--format", "json"}, row.Args...), capFile)...)
	an.Stdout, an.Stderr = &stdout, &stderr
	if err := an.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
		t.Fatal(err)
	}
	saved, err := expect.Summarize(stdout.Bytes())
	if err != nil {
		t.Fatalf("analyze %s: %v\n%s", capFile, err, stderr.String())
	}
	if !slices.Equal(saved.Kinds, live.Kinds) || saved.FlaggedFlows != live.FlaggedFlows {
		t.Errorf("analyze of the saved capture: kinds %v in %d flows; live: %v in %d flows",
			saved.Kinds, saved.FlaggedFlows, live.Kinds, live.FlaggedFlows)
	}
	t.Logf("alerts: %s", strings.Join(alertSummary(alerts), "; "))
}

// alertSummary lists the alerts as level, kind and silence.
func alertSummary(alerts []liveAlert) []string {
	var s []string
	for _, al := range alerts {
		x := al.Level
		if al.Kind != "" {
			x += " " + al.Kind
		}
		if al.Idle > 0 {
			x += fmt.Sprintf(" at %.3f s of silence", al.Idle)
		}
		s = append(s, x)
	}
	return s
}
