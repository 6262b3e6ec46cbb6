package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/internal/expect"
)

// repoRoot is where testdata lives, relative to this package.
const repoRoot = "../.."

// TestExpectations runs the command on every capture of
// testdata/pcaps/EXPECT.tsv and checks the exact set of finding kinds, the
// flagged flows and the keepalive count. The lab's captures are checked the
// same way, through the built binary, by the lab package.
func TestExpectations(t *testing.T) {
	rows, err := expect.Read(filepath.Join(repoRoot, "testdata/pcaps/EXPECT.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		t.Run(row.Name(), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"analyze", "--format", "json", "--all"}, row.Args...), row.Files...)
			if err := run(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("hangdiag %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			got, err := expect.Summarize(stdout.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if m := row.Mismatch(got); m != "" {
				t.Error(m)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	nokeepalive := filepath.Join(repoRoot, "testdata/pcaps/long-request-nokeepalive.pcap")
	clean := filepath.Join(repoRoot, "testdata/pcaps/clean.pcap")
	notCapture := filepath.Join(repoRoot, "go.mod")
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantStderr string // a substring of the one error line
	}{
		{"findings without --exit-code", []string{"analyze", nokeepalive}, exitOK, ""},
		{"findings with --exit-code", []string{"analyze", "--exit-code", nokeepalive}, exitFindings, ""},
		{"clean capture with --exit-code", []string{"analyze", "--exit-code", clean}, exitOK, ""},
		{"not a capture", []string{"analyze", notCapture}, exitUsage, "go.mod: a text file, not a pcap or pcapng capture"},
		{"missing file", []string{"analyze", "no-such.pcap"}, exitUsage, "no-such.pcap: no such file or directory"},
		{"no files", []string{"analyze"}, exitUsage, "no capture files given"},
		{"bad idle", []string{"analyze", "--idle", "soon", clean}, exitUsage, `--idle "soon"`},
		{"negative idle", []string{"analyze", "--idle", "-5s", clean}, exitUsage, "--idle -5s is out of range: give 1ms to 720h"},
		{"idle past time.Duration", []string{"analyze", "--idle", "2562048h", clean}, exitUsage, "--idle 2562048h is out of range: give 1ms to 720h"},
		{"capture end past 2262", []string{"analyze", "--capture-end", "9999-12-31T23:59:59Z", clean}, exitUsage, "--capture-end 9999-12-31T23:59:59Z is out of range: give a time from 1678 to 2262"},
		{"capture end before 1678", []string{"analyze", "--capture-end", "0001-01-01T00:00:00Z", clean}, exitUsage, "--capture-end 0001-01-01T00:00:00Z is out of range"},
		{"unknown middlebox", []string{"analyze", "--middlebox", "acme", clean}, exitUsage, `unknown middlebox "acme"`},
		{"unknown format", []string{"analyze", "--format", "xml", clean}, exitUsage, `unknown format "xml"`},
		{"unknown flag", []string{"analyze", "--frobnicate", clean}, exitUsage, "unknown flag: --frobnicate"},
		{"unknown command", []string{"analyse-this"}, exitUsage, `unknown command "analyse-this"`},
		{"help", []string{"analyze", "--help"}, exitOK, ""},
		{"version", []string{"--version"}, exitOK, ""},
		{"middleboxes", []string{"middleboxes"}, exitOK, ""},
		{"full disk", []string{"analyze", "-o", "/dev/full", nokeepalive}, exitUsage, "hangdiag: write /dev/full: no space left on device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if slices.Contains(tt.args, "/dev/full") {
				if _, err := os.Stat("/dev/full"); err != nil {
					t.Skip("no /dev/full here")
				}
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			var errLine bytes.Buffer
			status := exitStatus(err, &errLine)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d (err %v)", status, tt.wantStatus, err)
			}
			line := errLine.String()
			if tt.wantStderr != "" && strings.Count(line, tt.wantStderr) != 1 {
				t.Errorf("error line %q does not say %q once", line, tt.wantStderr)
			}
			if strings.Count(line, "\n") > 1 || (line != "" && !strings.HasPrefix(line, "hangdiag: ")) {
				t.Errorf("error output is not one line: %q", line)
			}
		})
	}
}

func TestParseIdle(t *testing.T) {
	for in, want := range map[string]float64{"350s": 350, "350": 350, "6m": 360, "1.5": 1.5, "1h": 3600, "1ms": 0.001, "0.001": 0.001, "720h": 2592000, "2592000": 2592000} {
		d, err := parseIdle(in)
		if err != nil || d.Seconds() != want {
			t.Errorf("parseIdle(%q) = %v, %v; want %vs", in, d, err, want)
		}
	}
	// Values that read as a duration or a number are out of range; the
	// rest are neither.
	for in, outOfRange := range map[string]bool{"": false, "fast": false, "5 s": false, "s": false, "1.5.5s": false, "0": true, "-1": true, "-5s": true,
		"999us": true, "0.0009": true, "0.0000000001": true, "1ns": true, "721h": true, "2592001": true, "1e10": true, "1e300": true, "NaN": true, "Inf": true,
		"2562048h": true, "99999999999999999999s": true, "1h99999999999999999999m": true, ".5us": true} {
		_, err := parseIdle(in)
		if err == nil {
			t.Errorf("parseIdle(%q) succeeded", in)
			continue
		}
		if !errors.As(err, new(*usageError)) {
			t.Errorf("parseIdle(%q) error %v is not a usage error", in, err)
		}
		if got := strings.Contains(err.Error(), "out of range"); got != outOfRange {
			t.Errorf("parseIdle(%q) = %v; out of range %v, want %v", in, err, got, outOfRange)
		}
	}
}

func TestOutputFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.json")
	capture := filepath.Join(repoRoot, "testdata/pcaps/long-request-nokeepalive.pcap")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--format", "json", "-o", out, capture}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout got %d bytes with -o", stdout.Len())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) || !bytes.Contains(data, []byte(`"schema": "hangdiag.report/v1"`)) {
		t.Errorf("report file is not the JSON report: %.200s", data)
	}
}

// TestCPUProfile checks that --cpuprofile writes a profile (gzipped, as
// pprof writes them) beside the report, and that a profile that cannot be
// written fails the run before any work.
func TestCPUProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	capture := filepath.Join(repoRoot, "testdata/pcaps/long-request-nokeepalive.pcap")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--cpuprofile", prof, capture}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) || !strings.Contains(stdout.String(), "idle") {
		t.Errorf("profile of %d bytes starts % x; report: %.100q", len(data), data[:min(len(data), 2)], stdout.String())
	}
	stdout.Reset()
	err = run(context.Background(), []string{"analyze", "--cpuprofile", filepath.Join(prof, "no", "such"), capture}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--cpuprofile") || stdout.Len() != 0 {
		t.Errorf("unwritable profile: err %v, %d bytes of report", err, stdout.Len())
	}
}

func TestStdin(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "testdata/pcaps/gzip.pcap.gz"))
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--format", "json", "-"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got, err := expect.Summarize(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := expect.Row{Kinds: []string{"reset-after-idle", "silent-past-timeout"}, FlaggedFlows: 1, Keepalives: 0}
	if m := want.Mismatch(got); m != "" {
		t.Error(m)
	}
}

// TestDamageWarnsInEveryFormat: a capture cut off part-way is analysed up to
// the damage, the exit status is that of a successful run, and every format
// says where reading stopped — in the report, or on stderr for the formats
// made for programs.
func TestDamageWarnsInEveryFormat(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata/pcaps/long-request-nokeepalive.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "json", "jsonl", "csv", "markdown", "html"} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"analyze", "--format", format, cut}, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.Contains(stdout.String()+stderr.String(), "truncated record at byte") {
			t.Errorf("%s: no word of the damage\nstdout: %.300s\nstderr: %s", format, stdout.String(), stderr.String())
		}
	}
}

// TestSpillFile checks that the command gives the analysis a spill file
// for long captures, and that the file is gone from the directory as soon
// as it is made, yet readable and writable.
func TestSpillFile(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	o := analyzeOptions{maxFlows: analyze.DefaultMaxFlows}
	cfg, err := o.config()
	if err != nil || cfg.Spill == nil {
		t.Fatalf("config: spill %v, error %v", cfg.Spill != nil, err)
	}
	f, err := cfg.Spill()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names, _ := os.ReadDir(os.Getenv("TMPDIR")); len(names) != 0 {
		t.Errorf("the spill file is still listed: %v", names)
	}
	if _, err := f.WriteAt([]byte("flows"), 3); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := f.ReadAt(b, 3); err != nil || string(b) != "flows" {
		t.Errorf("read back %q, %v", b, err)
	}
}

// TestOutputNotAnInput checks that no output flag may name a capture being
// read, nor two outputs the same file, nor the captures one file twice:
// the run stops before it writes, and the capture, often the only copy,
// is left as it was.
func TestOutputNotAnInput(t *testing.T) {
	dir := t.TempDir()
	capture, data := copyCapture(t, dir, "long-request-nokeepalive.pcap")
	alias := filepath.Join(dir, "alias.pcap") // another name for the capture
	if err := os.Link(capture, alias); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", capture}, "-o " + capture + " would overwrite a capture being read"},
		{[]string{"--cpuprofile", capture}, "--cpuprofile " + capture + " would overwrite a capture being read"},
		{[]string{"--write-flagged", capture}, "--write-flagged " + capture + " would overwrite a capture being read"},
		{[]string{"-o", alias}, "-o " + alias + " would overwrite a capture being read"},
		{[]string{"-o", out, "--write-flagged", out}, "-o and --write-flagged both name " + out},
		{[]string{"-o", out, "--cpuprofile", out}, "-o and --cpuprofile both name " + out},
		{[]string{alias}, capture + " is named twice among the captures"}, // alias, then capture
		{[]string{"-", "-"}, "- (standard input) is named twice among the captures"},
		{[]string{"--vantage", capture + "," + filepath.Join(repoRoot, "testdata/pcaps/clean.pcap")}, "is named twice among the captures"},
	}
	for _, tt := range tests {
		args := append(append([]string{"analyze"}, tt.args...), capture)
		var stdout, stderr, line bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if status := exitStatus(err, &line); status != exitUsage || !strings.Contains(line.String(), tt.want) {
			t.Errorf("%v: status %d, error line %q; want %d and %q", tt.args, status, line.String(), exitUsage, tt.want)
		}
		if got, _ := os.ReadFile(capture); !bytes.Equal(got, data) {
			t.Fatalf("%v: the capture was overwritten", tt.args)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: %s was written", tt.args, out)
			os.Remove(out)
		}
	}
}

// TestCaptureEndBeforeLastPacket checks that a --capture-end before the
// capture's last packet, which the analysis cannot use, is said on stderr
// rather than dropped in silence, and a later one is taken as given.
func TestCaptureEndBeforeLastPacket(t *testing.T) {
	capture := filepath.Join(repoRoot, "testdata/pcaps/long-request-nokeepalive.pcap") // last packet 12:16:00.02055
	for end, warned := range map[string]bool{"2024-03-01T12:10:00Z": true, "2024-03-01T12:30:00Z": false} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"analyze", "-q", "--capture-end", end, capture}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(stderr.String(), "--capture-end "+end+" is before the capture's last packet (2024-03-01T12:16:00.02055Z)")
		if got != warned {
			t.Errorf("--capture-end %s: warned %v, want %v; stderr %q", end, got, warned, stderr.String())
		}
	}
}
