package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// manifest is the capture list with the findings each capture must produce.
const manifest = "../testdata/pcaps/lab/EXPECT.tsv"

// expectation is one row of EXPECT.tsv.
type expectation struct {
	line    int
	files   []string // relative to the capture directory
	args    []string // extra analyzer arguments
	kinds   string   // sorted, comma-separated finding kinds, or "-"
	flagged int      // flows with at least one finding
	note    string
}

func (e expectation) name() string {
	return strings.TrimSuffix(strings.Join(e.files, "+"), ".pcap")
}

// readManifest parses EXPECT.tsv: a header line, then tab-separated rows of
// files, args, kinds, flagged_flows and note.
func readManifest(t *testing.T, path string) []expectation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	var rows []expectation
	sc := bufio.NewScanner(bytes.NewReader(data))
	header := "files\targs\tkinds\tflagged_flows\tnote"
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			if line != header {
				t.Fatalf("%s:1: header is %q, want %q", path, line, header)
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("%s:%d: %d columns, want 5", path, n, len(f))
		}
		flagged, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("%s:%d: flagged_flows: %v", path, n, err)
		}
		e := expectation{line: n, files: strings.Fields(f[0]), args: strings.Fields(f[1]),
			kinds: f[2], flagged: flagged, note: f[4]}
		if len(e.files) == 0 {
			t.Fatalf("%s:%d: no files", path, n)
		}
		rows = append(rows, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

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

// report is the part of the analyzer's JSON report the lab checks.
type report struct {
	Flows []struct {
		Findings []struct {
			Kind string `json:"kind"`
		} `json:"findings"`
	} `json:"flows"`
}

// checkCaptures runs the analyzer on every manifest row, with the files
// taken from dir, and compares the finding kinds and flagged-flow count.
func checkCaptures(t *testing.T, bin, dir string, rows []expectation) {
	t.Helper()
	for _, e := range rows {
		t.Run(e.name(), func(t *testing.T) {
			args := append([]string{"analyze", "--format", "json"}, e.args...)
			for _, f := range e.files {
				p := filepath.Join(dir, f)
				if _, err := os.Stat(p); err != nil {
					t.Fatalf("manifest line %d: %v", e.line, err)
				}
				args = append(args, p)
			}
			kinds, flagged := analyze(t, bin, args)
			if kinds != e.kinds || flagged != e.flagged {
				t.Errorf("manifest line %d: got kinds %s, %d flagged flows; want kinds %s, %d flagged flows\n(%s)",
					e.line, kinds, flagged, e.kinds, e.flagged, e.note)
			}
		})
	}
}

// analyze runs the analyzer and returns the sorted, comma-separated set of
// finding kinds ("-" for none) and the number of flows with findings. The
// exit status is not checked: findings may make it non-zero.
func analyze(t *testing.T, bin string, args []string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		t.Fatalf("run hangdiag: %v", runErr)
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("hangdiag %s: exit %v, output is not JSON: %v\nstderr:\n%s",
			strings.Join(args, " "), runErr, err, stderr.String())
	}
	var kinds []string
	flagged := 0
	for _, f := range r.Flows {
		if len(f.Findings) > 0 {
			flagged++
		}
		for _, fd := range f.Findings {
			kinds = append(kinds, fd.Kind)
		}
	}
	slices.Sort(kinds)
	kinds = slices.Compact(kinds)
	if len(kinds) == 0 {
		return "-", flagged
	}
	return strings.Join(kinds, ","), flagged
}

// TestLabCommitted checks the committed captures against the manifest.
func TestLabCommitted(t *testing.T) {
	rows := readManifest(t, manifest)
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
	rows := readManifest(t, manifest)
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
