package capgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the captures in testdata/pcaps")

const pcapDir = "../../testdata/pcaps"

// TestGolden regenerates every capture of testdata/pcaps and compares it with
// the committed file, or with -update writes it. Gzipped files are compared
// after decompression, so a change in the compressor does not fail the test.
func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		c := sc.build()
		for _, f := range c.files {
			t.Run(f.name, func(t *testing.T) {
				got, err := f.bytes()
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(pcapDir, f.name)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/capgen -run TestGolden -update)", err)
				}
				if f.gzip {
					got, want = gunzip(t, got), gunzip(t, want)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from what the generator makes (%d bytes, want %d); run go test ./internal/capgen -run TestGolden -update", path, len(want), len(got))
				}
			})
		}
	}
}

// TestGoldenDeterministic builds every capture twice and compares the bytes.
func TestGoldenDeterministic(t *testing.T) {
	for _, sc := range scenarios {
		a, b := sc.build(), sc.build()
		for i := range a.files {
			x, err := a.files[i].bytes()
			if err != nil {
				t.Fatal(err)
			}
			y, err := b.files[i].bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x, y) {
				t.Errorf("%s: two builds differ", a.files[i].name)
			}
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// generated maps each generated file name to its scenario.
func generated() map[string]scenario {
	m := make(map[string]scenario)
	for _, sc := range scenarios {
		for _, f := range sc.build().files {
			m[f.name] = sc
		}
	}
	return m
}

// TestScenarioKeepalives checks each scenario's stated keepalive count
// against the probes its script sends.
func TestScenarioKeepalives(t *testing.T) {
	for _, sc := range scenarios {
		c := sc.build()
		if got := c.keepalives(); got != sc.keepalives {
			t.Errorf("%s: script sends %d keepalives, scenario says %d", c.files[0].name, got, sc.keepalives)
		}
	}
}

var findingKinds = []string{
	"blackholed-after-idle",
	"closed-after-idle",
	"hung-at-capture-end",
	"keepalive-too-slow",
	"reset-after-idle",
	"silent-past-timeout",
	"stale-connection-reuse",
}

// TestExpectManifest checks testdata/pcaps/EXPECT.tsv: its shape, that its
// files exist, that every generated file has a row, and that the keepalive
// counts of generated files agree with the scripts.
func TestExpectManifest(t *testing.T) {
	f, err := os.Open(filepath.Join(pcapDir, "EXPECT.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gen := generated()
	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		cols := strings.Split(sc.Text(), "\t")
		if line == 1 {
			want := []string{"files", "args", "kinds", "flagged_flows", "keepalives", "note"}
			if !slices.Equal(cols, want) {
				t.Fatalf("header = %q, want %q", cols, want)
			}
			continue
		}
		if len(cols) != 6 {
			t.Errorf("line %d: %d columns, want 6", line, len(cols))
			continue
		}
		files := strings.Fields(cols[0])
		allGen := len(files) > 0
		for _, name := range files {
			if _, err := os.Stat(filepath.Join(pcapDir, name)); err != nil {
				t.Errorf("line %d: %v", line, err)
			}
			if _, ok := gen[name]; !ok {
				allGen = false
				continue
			}
			seen[name] = true
		}
		if cols[2] != "-" {
			kinds := strings.Split(cols[2], ",")
			if !slices.IsSorted(kinds) || len(slices.Compact(slices.Clone(kinds))) != len(kinds) {
				t.Errorf("line %d: kinds %q not sorted and unique", line, cols[2])
			}
			for _, k := range kinds {
				if !slices.Contains(findingKinds, k) {
					t.Errorf("line %d: unknown kind %q", line, k)
				}
			}
		}
		flagged, err := strconv.Atoi(cols[3])
		if err != nil || flagged < 0 || (flagged == 0) != (cols[2] == "-") {
			t.Errorf("line %d: flagged_flows %q does not fit kinds %q", line, cols[3], cols[2])
		}
		ka, err := strconv.Atoi(cols[4])
		if err != nil {
			t.Errorf("line %d: keepalives %q: %v", line, cols[4], err)
		}
		if allGen {
			want := 0
			for _, s := range scenariosOf(files, gen) {
				want += s.keepalives
			}
			if ka != want {
				t.Errorf("line %d: keepalives = %d, scripts send %d", line, ka, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range gen {
		if !seen[name] {
			t.Errorf("%s has no row in EXPECT.tsv", name)
		}
	}
}

// scenariosOf returns the distinct scenarios that made files, in order.
func scenariosOf(files []string, gen map[string]scenario) []scenario {
	var out []scenario
	var names []string
	for _, f := range files {
		s := gen[f]
		first := s.build().files[0].name
		if !slices.Contains(names, first) {
			names = append(names, first)
			out = append(out, s)
		}
	}
	return out
}

// TestReadme checks that testdata/pcaps/README.md has a line for every
// generated file.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(pcapDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range generated() {
		if !bytes.Contains(b, []byte("`"+name+"`")) {
			t.Errorf("README.md has no line for %s", name)
		}
	}
}

// TestNoStrayFiles checks that every capture in testdata/pcaps (outside its
// subdirectories) is one the scenarios make, so a renamed scenario leaves no
// stale file behind.
func TestNoStrayFiles(t *testing.T) {
	entries, err := os.ReadDir(pcapDir)
	if err != nil {
		t.Fatal(err)
	}
	gen := generated()
	n := 0
	for _, e := range entries {
		if e.IsDir() || e.Name() == "README.md" || e.Name() == "EXPECT.tsv" {
			continue
		}
		n++
		if _, ok := gen[e.Name()]; !ok {
			t.Errorf("%s is made by no scenario", e.Name())
		}
	}
	if n != len(gen) {
		t.Errorf("%d captures in %s, scenarios make %d", n, pcapDir, len(gen))
	}
}
