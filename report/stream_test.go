package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/analyze"
)

// TestJSONStreamed checks that JSON, which writes the flows one by one,
// writes the bytes encoding/json writes for the whole document.
func TestJSONStreamed(t *testing.T) {
	check := func(name string, r *Report) {
		t.Helper()
		var whole, streamed bytes.Buffer
		enc := json.NewEncoder(&whole)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.jsonValue()); err != nil {
			t.Fatal(err)
		}
		if err := JSON(&streamed, r); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(whole.String(), streamed.String()); diff != "" {
			t.Errorf("%s: streamed JSON differs from the whole document's (-whole +streamed):\n%s", name, diff)
		}
	}
	for _, tc := range goldenCases {
		check(tc.name, build(t, tc.cfg, tc.files...))
	}
	r := build(t, analyze.Config{}, "clean.pcap")
	if r.Result.Flows.Len() != 0 {
		t.Fatalf("clean.pcap has %d flows to report, want none", r.Result.Flows.Len())
	}
	check("no flows", r)
}

// failingWriter fails every write.
type failingWriter struct{}

var errWrite = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestJSONWriteError checks that JSON reports a failed write.
func TestJSONWriteError(t *testing.T) {
	r := build(t, analyze.Config{}, "long-request-nokeepalive.pcap")
	if err := JSON(failingWriter{}, r); !errors.Is(err, errWrite) {
		t.Errorf("JSON to a failing writer returned %v, want %v", err, errWrite)
	}
}

// TestTableStreamed checks that fitTable writes the natural layout, which
// it streams, exactly when it fits the width; the golden files pin that
// layout to what tablewriter lays out whole.
func TestTableStreamed(t *testing.T) {
	r := &Report{Color: true}
	var rows [][]string
	for i := range 12 {
		sev := analyze.Severity(i % 2)
		rows = append(rows, []string{strconv.Itoa(i + 1), r.paint(sev, sev.String()), []string{"silent-past-timeout", "reset-after-idle"}[i%2],
			fmt.Sprintf("[2001:db8::%x]:%d → 192.0.2.%d:443", i*4099, 40000+i*7, i), "12:00:00.000", seconds(time.Duration(350+i*11) * time.Second)})
	}
	build := func(compact bool) ([]string, iter.Seq[[]string]) {
		if compact {
			var cells [][]string
			for _, row := range rows {
				cells = append(cells, []string{row[0], row[2] + "\n" + row[1], strings.Replace(row[3], " → ", "\n→ ", 1), row[4] + "\n" + row[5]})
			}
			return []string{"#", "Finding", "Client → Server", "At (UTC), gap"}, slices.Values(cells)
		}
		return []string{"#", "Severity", "Kind", "Client → Server", "At (UTC)", "Gap"}, slices.Values(rows)
	}
	table := func(width int) string {
		var b bytes.Buffer
		if err := fitTable(&b, width, build); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	streamed := table(0)
	natural := tableWidth(streamed)
	if got := table(natural); got != streamed {
		t.Errorf("at its own width %d, the natural layout is not chosen:\n%s", natural, got)
	}
	if got := table(natural - 1); got == streamed || tableWidth(got) > natural-1 {
		t.Errorf("at width %d, one less than the natural layout's, got:\n%s", natural-1, got)
	}
	// More rows than it lays out whole: the natural layout, row by row,
	// however narrow the terminal.
	defer func(n int) { maxLaidOut = n }(maxLaidOut)
	maxLaidOut = len(rows) - 1
	if got := table(natural - 1); got != streamed {
		t.Errorf("%d rows, more than %d, at width %d: not the natural layout:\n%s", len(rows), maxLaidOut, natural-1, got)
	}
	maxLaidOut = len(rows)
	if got := table(natural - 1); got == streamed {
		t.Errorf("%d rows, at most %d, at width %d: the natural layout", len(rows), maxLaidOut, natural-1)
	}
	// The rows are made once when they are at most maxKept, and made
	// again for the writing when they are more: the same table.
	defer func(n int) { maxKept = n }(maxKept)
	for _, kept := range []int{len(rows), len(rows) - 1} {
		maxKept = kept
		walks := 0
		var b bytes.Buffer
		err := fitTable(&b, 0, func(compact bool) ([]string, iter.Seq[[]string]) {
			head, all := build(compact)
			return head, func(yield func([]string) bool) {
				walks++
				for row := range all {
					if !yield(row) {
						return
					}
				}
			}
		})
		if want := 1 + min(1, len(rows)-kept); err != nil || walks != want || b.String() != streamed {
			t.Errorf("maxKept %d, %d rows: %d walks (want %d), error %v, the same table %v", kept, len(rows), walks, want, err, b.String() == streamed)
		}
	}
}

// TestIndent checks the indenting of compact JSON against
// json.MarshalIndent, on values with every kind of token, escapes in
// strings, and empty and nested objects and arrays, and on every flow of
// the shipped captures' reports.
func TestIndent(t *testing.T) {
	values := []any{
		nil, true, 12.5, "", `a "quoted" \ back\slash → <tag> & more`, []int{}, map[string]any{},
		map[string]any{"a": []any{}, "b": map[string]any{"c": nil, "d": []any{1, "x", false, []int{}}}, "e\"f": "g,h:i{j}[k]"},
		[]any{[]any{[]any{}}, map[string]any{"": ""}}, []any{`ends in a backslash \`, -1e-7, "\u2028", `quote" then, punctuation: [{`},
		[]any{`\\`, `\"`, `\\"`, `"\\\"`, `a\\\\"b", "c`, `""`, `"`},
	}
	deep := any(1)
	for range 40 { // deeper than the run of spaces indent copies from
		deep = []any{deep, map[string]any{"k": 2}}
	}
	values = append(values, deep)
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	if len(paths) == 0 {
		t.Fatal("no captures in testdata/pcaps")
	}
	for _, path := range paths {
		r := build(t, analyze.Config{Idle: 5 * time.Second, KeepAll: true}, filepath.Base(path))
		for _, fl := range r.Result.Flows.All() {
			values = append(values, r.jsonFlow(fl))
		}
	}
	for _, v := range values {
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.MarshalIndent(v, "    ", "  ")
		if got := indent(nil, compact, "    "); !bytes.Equal(got, want) {
			t.Errorf("indent of %s:\n%s\nwant:\n%s", compact, got, want)
		}
	}
}

// TestReportFollowsEdits checks that a report rendered after the Result's
// flows were edited (as --anonymize does) shows the edit in every format,
// although FlaggedFlows was asked of the Report before the edit.
func TestReportFollowsEdits(t *testing.T) {
	stand := netip.MustParseAddrPort("198.51.100.7:1234")
	for name, render := range Formats {
		r := build(t, analyze.Config{}, "long-request-nokeepalive.pcap")
		if r.FlaggedFlows() == 0 {
			t.Fatal("no flagged flow to edit")
		}
		r.Result.Flows = r.Result.Flows.Edit(func(f *analyze.Flow) { f.Client = stand })
		var out bytes.Buffer
		if err := render(&out, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), stand.String()) {
			t.Errorf("%s: the edited client %s is missing", name, stand)
		}
	}
}
