package report

import (
	"bytes"
	stdcmp "cmp"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/hangdiag/hangdiag/analyze"
)

// tablewriterBox renders a table as writeBox must: with tablewriter,
// streamed, its column widths given.
func tablewriterBox(t *testing.T, widths []int, head []string, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	per := tw.NewMapper[int, int]()
	for c, n := range widths {
		per.Set(c, n)
	}
	tab := tablewriter.NewTable(&b, tablewriter.WithRowAutoWrap(tw.WrapNone), tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithStreaming(tw.StreamConfig{Enable: true}), tablewriter.WithWidths(tw.CellWidth{PerColumn: per}))
	if err := tab.Start(); err != nil {
		t.Fatal(err)
	}
	tab.Header(head)
	for _, row := range rows {
		if err := tab.Append(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestWriteBox checks that writeBox draws, byte for byte, what tablewriter
// draws: on cells of every width parity, wide characters, colour escapes,
// empty cells, columns wider than the padding it copies from, and the
// tables of every shipped capture's report, in colour and not.
func TestWriteBox(t *testing.T) {
	type table struct {
		name string
		head []string
		rows [][]string
	}
	r := &Report{Color: true}
	wide := strings.Repeat("x", 150)
	tables := []table{
		{"one cell", []string{"#"}, [][]string{{"1"}}},
		{"parities", []string{"#", "ab", "abc", "Client → Server"}, [][]string{{"1", "a", "abcd", "x"}, {"12", "abcdef", "", "10.0.0.1:1 → 10.0.0.2:2"}}},
		{"wide characters", []string{"名前", "Kind"}, [][]string{{"東京 → 大阪", "x"}, {"é", "ünïcödé"}}},
		{"colour", []string{"Severity", "Gap"}, [][]string{{r.paint(analyze.Error, "error"), "1 s"}, {r.paint(analyze.Warning, "warning"), "350 s"}}},
		{"no rows", []string{"#", "Kind"}, nil},
		{"wide column", []string{"#", "x"}, [][]string{{"1", wide}, {"2", "y"}}},
		{"wide head", []string{wide, "x"}, [][]string{{"1", "y"}}},
	}
	for _, tc := range goldenCases {
		for _, color := range []bool{false, true} {
			rep := build(t, tc.cfg, tc.files...)
			rep.Color = color
			rows := rep.sortedFindings(0)
			var cells [][]string
			for i, row := range rows.rows {
				cells = append(cells, []string{strconv.Itoa(i + 1), rep.paint(row.severity, row.severity.String()), string(row.kind),
					row.flow, row.at.Format("15:04:05.000"), seconds(row.gap)})
			}
			tables = append(tables, table{tc.name + "/color=" + strconv.FormatBool(color), []string{"#", "Severity", "Kind", "Client → Server", "At (UTC)", "Gap"}, cells})
		}
	}
	for _, tab := range tables {
		widths := make([]int, len(tab.head))
		for c := range tab.head {
			widths[c] = cellWidth(tab.head[c]) + 2
			for _, row := range tab.rows {
				widths[c] = max(widths[c], cellWidth(row[c])+2)
			}
		}
		var got bytes.Buffer
		if err := writeBox(&got, widths, tab.head, slices.Values(tab.rows)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tablewriterBox(t, widths, tab.head, tab.rows), got.String()); diff != "" {
			t.Errorf("%s: writeBox differs from tablewriter (-tablewriter +writeBox):\n%s", tab.name, diff)
		}
	}
}

// TestWriteBoxWriteError checks that writeBox returns a failed write.
func TestWriteBoxWriteError(t *testing.T) {
	rows := make([][]string, 2000) // more than one buffer's worth
	for i := range rows {
		rows[i] = []string{strconv.Itoa(i), strings.Repeat("y", 20)}
	}
	if err := writeBox(failingWriter{}, []int{6, 22}, []string{"#", "x"}, slices.Values(rows)); err != errWrite {
		t.Errorf("writeBox to a failing writer returned %v, want %v", err, errWrite)
	}
}

// manyFindings is a report of many findings, ties in severity and time
// among them: every lab capture's server side, with a short threshold.
func manyFindings(t *testing.T) *Report {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.server.pcap"))
	var files []string
	for _, p := range paths {
		files = append(files, filepath.Join("lab", filepath.Base(p)))
	}
	r := build(t, analyze.Config{Idle: time.Second}, files...)
	if r.FlaggedFlows() < 5 {
		t.Fatalf("%d flagged flows, want more", r.FlaggedFlows())
	}
	return r
}

// TestSortedFindingsLimit checks the order of the findings against a
// stable sort of them all by severity, time and flow, and that a limited
// list is the first rows of the whole one, with the counts of all.
func TestSortedFindingsLimit(t *testing.T) {
	r := manyFindings(t)
	var want []findingRow
	for pos, fl := range r.Result.Flows.All() {
		for n, fd := range fl.Findings {
			want = append(want, findingRow{pos, n, fl.Index, fd.Severity, fd.At, fd.Kind, fd.Gap, flowName(fl)})
		}
	}
	slices.SortStableFunc(want, func(a, b findingRow) int {
		return stdcmp.Or(stdcmp.Compare(a.severity, b.severity), a.at.Compare(b.at), stdcmp.Compare(a.index, b.index))
	})
	all := r.sortedFindings(0)
	if diff := cmp.Diff(want, all.rows, cmp.AllowUnexported(findingRow{})); diff != "" {
		t.Fatalf("sorted findings (-want +got):\n%s", diff)
	}
	for _, limit := range []int{1, 2, 3, len(want) / 2, len(want) - 1, len(want), len(want) + 5} {
		l := r.sortedFindings(limit)
		if diff := cmp.Diff(want[:min(limit, len(want))], l.rows, cmp.AllowUnexported(findingRow{})); diff != "" {
			t.Errorf("limit %d (-want +got):\n%s", limit, diff)
		}
		if l.total != len(want) || l.flagged() != r.FlaggedFlows() {
			t.Errorf("limit %d: %d findings in %d flows, want %d in %d", limit, l.total, l.flagged(), len(want), r.FlaggedFlows())
		}
	}
	t.Logf("%d findings", len(want))
}

// TestTableListed checks that Table lists at most listedFindings findings,
// in the table and in paragraphs, and says how many of each kind it left
// out and where they are.
func TestTableListed(t *testing.T) {
	r := manyFindings(t)
	all := r.sortedFindings(0)
	defer func(n int) { listedFindings = n }(listedFindings)
	listedFindings = 3
	out := render(t, "table", r)
	left := map[analyze.Kind]int{}
	for _, row := range all.rows[3:] {
		left[row.kind]++
	}
	var parts []string
	for k, n := range left {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	note := fmt.Sprintf("lists the first 3 findings, by severity then time. The other %d (", len(all.rows)-3)
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, note) {
		t.Errorf("no note %q in:\n%s", note, out)
	} else {
		rest := flat[strings.Index(flat, note)+len(note):]
		said := strings.Split(rest[:strings.Index(rest, ")")], ", ")
		slices.Sort(said)
		slices.Sort(parts)
		if !slices.Equal(said, parts) {
			t.Errorf("the note counts %q, want %q", said, parts)
		}
	}
	for i := 1; i <= 4; i++ {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^│ %d +│`, i))
		paragraph := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\. `, i))
		if listed := i <= 3; row.MatchString(out) != listed || paragraph.MatchString(out) != listed {
			t.Errorf("finding %d: in the table %v, in a paragraph %v; want %v", i, row.MatchString(out), paragraph.MatchString(out), listed)
		}
	}
}

// TestListedFlows checks that, when a report has more findings than it
// lists, Markdown and HTML give a section (and a summary line) to the
// flows of the listed findings alone, which ListedFlows names, and say
// how many findings they leave out.
func TestListedFlows(t *testing.T) {
	r := manyFindings(t)
	all := r.sortedFindings(0)
	defer func(n int) { listedFindings = n }(listedFindings)
	listedFindings = 3
	want := map[int]bool{}
	for _, row := range all.rows[:3] {
		want[row.index] = true
	}
	if got := r.ListedFlows(); !maps.Equal(got, want) {
		t.Errorf("ListedFlows = %v, want %v", got, want)
	}
	note := fmt.Sprintf("This report lists the first 3 findings, by severity then time. The other %d (", len(all.rows)-3)
	md := render(t, "markdown", r)
	if n := strings.Count(md, "\n### Flow "); n != len(want) {
		t.Errorf("Markdown: %d sections, want %d", n, len(want))
	}
	if n := len(regexp.MustCompile(`(?m)^- \*\*.*\(flow \d+\)`).FindAllString(md, -1)); n != len(want) {
		t.Errorf("Markdown: %d summary lines, want %d", n, len(want))
	}
	html := render(t, "html", r)
	if n := strings.Count(html, `<article class="flow"`); n != len(want) {
		t.Errorf("HTML: %d sections, want %d", n, len(want))
	}
	for name, out := range map[string]string{"markdown": md, "html": html} {
		if !strings.Contains(out, note) {
			t.Errorf("%s: no note %q", name, note)
		}
		for index := range want {
			if !strings.Contains(out, fmt.Sprintf("Flow %d: ", index)) {
				t.Errorf("%s: no section for flow %d", name, index)
			}
		}
	}
	listedFindings = len(all.rows)
	if got := r.ListedFlows(); len(got) != r.FlaggedFlows() {
		t.Errorf("listing every finding, ListedFlows names %d flows, want all %d flagged", len(got), r.FlaggedFlows())
	}
	if strings.Contains(render(t, "markdown", r), "This report lists the first") {
		t.Error("Markdown notes findings left out when it lists them all")
	}
}
