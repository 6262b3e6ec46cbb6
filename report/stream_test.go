package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	build := func(compact bool) ([]string, [][]string) {
		if compact {
			var cells [][]string
			for _, row := range rows {
				cells = append(cells, []string{row[0], row[2] + "\n" + row[1], strings.Replace(row[3], " → ", "\n→ ", 1), row[4] + "\n" + row[5]})
			}
			return []string{"#", "Finding", "Client → Server", "At (UTC), gap"}, cells
		}
		return []string{"#", "Severity", "Kind", "Client → Server", "At (UTC)", "Gap"}, rows
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
}
