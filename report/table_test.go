package report

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

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
			rows := rep.sortedFindings()
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
		if err := writeBox(&got, widths, tab.head, tab.rows); err != nil {
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
	if err := writeBox(failingWriter{}, []int{6, 22}, []string{"#", "x"}, rows); err != errWrite {
		t.Errorf("writeBox to a failing writer returned %v, want %v", err, errWrite)
	}
}
