package lab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/internal/expect"
)

// manifest is the capture list with the findings each capture must produce.
const manifest = "../testdata/pcaps/lab/EXPECT.tsv"

// buildAnalyzer builds cmd/hangdiag into a temporary directory.
func buildAnalyzer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hangdiag")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hangdiag")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hangdiag: %v\n%s", err, out)
	}
	return bin
}

// checkCaptures runs the built analyzer on every manifest row, with the
// files taken from dir instead of the manifest's folder, and compares its
// findings with the row's. The exit status is not checked: findings may make
// it non-zero.
func checkCaptures(t *testing.T, bin, dir string, rows []expect.Row) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.Name(), func(t *testing.T) {
			args := append([]string{"analyze", "--format", "json"}, row.Args...)
			for _, f := range row.Files {
				args = append(args, filepath.Join(dir, filepath.Base(f)))
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			if ee := (*exec.ExitError)(nil); runErr != nil && !errors.As(runErr, &ee) {
				t.Fatalf("run hangdiag: %v", runErr)
			}
			got, err := expect.Summarize(stdout.Bytes())
			if err != nil {
				t.Fatalf("hangdiag %s: exit %v, %v\nstderr:\n%s", strings.Join(args, " "), runErr, err, stderr.String())
			}
			if m := row.Mismatch(got); m != "" {
				t.Error(m)
			}
		})
	}
}

// readManifest reads the lab's manifest or stops the test.
func readManifest(t *testing.T) []expect.Row {
	t.Helper()
	rows, err := expect.Read(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestLabCommitted checks the committed captures against the manifest.
func TestLabCommitted(t *testing.T) {
	rows := readManifest(t)
	bin := buildAnalyzer(t)
	checkCaptures(t, bin, filepath.Dir(manifest), rows)
}

// TestLabFresh runs the whole lab into a temporary directory and checks the
// new captures against the manifest. It needs root and the lab's tools.
func TestLabFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the lab run (about 2 minutes) in -short mode")
	}
	if reason := labUnavailable(); reason != "" {
		t.Skip(reason)
	}
	rows := readManifest(t)
	bin := buildAnalyzer(t)

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "lab.sh", "-o", dir, "all")
	cmd.Stdout, cmd.Stderr = &out, &out
	// On timeout, let the script's trap tear down namespaces and processes.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	err := cmd.Run()
	t.Logf("lab.sh all took %v", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("lab.sh all: %v\n%s", err, out.String())
	}
	checkCaptures(t, bin, dir, rows)
}

// labUnavailable says why the lab cannot run here, or "" if it can.
func labUnavailable() string {
	if os.Geteuid() != 0 {
		return "the lab needs root (network namespaces, iptables, tcpdump); run go test as root"
	}
	for _, c := range []string{"ip", "tcpdump", "iptables", "conntrack", "curl", "go"} {
		if _, err := exec.LookPath(c); err != nil {
			return c + " not found; apt-get install iproute2 tcpdump iptables conntrack curl"
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import requests").Run(); err != nil {
		return "/usr/bin/python3 cannot import requests; apt-get install python3-requests"
	}
	ns := "hdlab-test-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return "ip netns add does not work here: " + strings.TrimSpace(string(out))
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
	return ""
}
