// Package expect reads the EXPECT.tsv manifests of testdata/pcaps and
// testdata/pcaps/lab, and checks a JSON report against a row. Tests of the
// command and of the lab share it.
//
// A manifest has a header line naming its columns, then one tab-separated
// row per check: files (space-separated, relative to the manifest's folder),
// args (analyzer arguments), kinds (the exact set of finding kinds,
// comma-separated, "-" for none), flagged_flows, an optional keepalives
// (keepalive probes over all flows) and a note.
package expect

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Row is one check of a manifest.
type Row struct {
	Line         int      // line number in the manifest
	Files        []string // paths: the manifest's folder joined with each name
	Args         []string // analyzer arguments
	Kinds        []string // sorted finding kinds; empty for none
	FlaggedFlows int      // flows with at least one finding
	Keepalives   int      // keepalive probes over all flows; -1 when not given
	Note         string   // what the capture shows
}

// Name is a short name for the row, for subtests.
func (r Row) Name() string {
	var names []string
	for _, f := range r.Files {
		names = append(names, filepath.Base(f))
	}
	return strings.Join(names, "+") + "/" + strings.Join(r.Args, "_")
}

// Read parses the manifest at path.
func Read(path string) ([]Row, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	col := map[string]int{}
	for i, name := range strings.Split(lines[0], "\t") {
		col[name] = i
	}
	for _, need := range []string{"files", "args", "kinds", "flagged_flows", "note"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no %q column", path, need)
		}
	}
	dir := filepath.Dir(path)
	var rows []Row
	for n, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != len(col) {
			return nil, fmt.Errorf("%s:%d: %d columns, want %d", path, n+2, len(f), len(col))
		}
		r := Row{Line: n + 2, Args: strings.Fields(f[col["args"]]), Keepalives: -1, Note: f[col["note"]]}
		for _, name := range strings.Fields(f[col["files"]]) {
			r.Files = append(r.Files, filepath.Join(dir, name))
		}
		if len(r.Files) == 0 {
			return nil, fmt.Errorf("%s:%d: no files", path, r.Line)
		}
		if k := f[col["kinds"]]; k != "-" {
			r.Kinds = strings.Split(k, ",")
			slices.Sort(r.Kinds)
		}
		if r.FlaggedFlows, err = strconv.Atoi(f[col["flagged_flows"]]); err != nil {
			return nil, fmt.Errorf("%s:%d: flagged_flows: %w", path, r.Line, err)
		}
		if i, ok := col["keepalives"]; ok {
			if r.Keepalives, err = strconv.Atoi(f[i]); err != nil {
				return nil, fmt.Errorf("%s:%d: keepalives: %w", path, r.Line, err)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return rows, nil
}

// Outcome is what a JSON report says in the terms of a manifest row.
type Outcome struct {
	Kinds        []string // sorted, distinct
	FlaggedFlows int
	Keepalives   int // probes over the flows listed (run with --all to count every flow)
}

// Summarize reads a hangdiag.report/v1 JSON report.
func Summarize(report []byte) (Outcome, error) {
	var doc struct {
		Flows []struct {
			Keepalive map[string]struct {
				Probes int `json:"probes"`
			} `json:"keepalive"`
			Findings []struct {
				Kind string `json:"kind"`
			} `json:"findings"`
		} `json:"flows"`
	}
	if err := json.Unmarshal(report, &doc); err != nil {
		return Outcome{}, fmt.Errorf("not a JSON report: %w", err)
	}
	var o Outcome
	for _, f := range doc.Flows {
		if len(f.Findings) > 0 {
			o.FlaggedFlows++
		}
		for _, fd := range f.Findings {
			o.Kinds = append(o.Kinds, fd.Kind)
		}
		for _, k := range f.Keepalive {
			o.Keepalives += k.Probes
		}
	}
	slices.Sort(o.Kinds)
	o.Kinds = slices.Compact(o.Kinds)
	return o, nil
}

// Mismatch describes how o differs from what the row expects, or returns ""
// when it does not.
func (r Row) Mismatch(o Outcome) string {
	var diffs []string
	if !slices.Equal(r.Kinds, o.Kinds) {
		diffs = append(diffs, fmt.Sprintf("kinds %s, want %s", list(o.Kinds), list(r.Kinds)))
	}
	if o.FlaggedFlows != r.FlaggedFlows {
		diffs = append(diffs, fmt.Sprintf("%d flagged flows, want %d", o.FlaggedFlows, r.FlaggedFlows))
	}
	if r.Keepalives >= 0 && o.Keepalives != r.Keepalives {
		diffs = append(diffs, fmt.Sprintf("%d keepalive probes, want %d", o.Keepalives, r.Keepalives))
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("line %d: %s (%s)", r.Line, strings.Join(diffs, "; "), r.Note)
}

func list(kinds []string) string {
	if len(kinds) == 0 {
		return "-"
	}
	return strings.Join(kinds, ",")
}
