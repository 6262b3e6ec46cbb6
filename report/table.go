package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/hangdiag/hangdiag/analyze"
)

// textWidth is the width paragraphs are wrapped to.
const textWidth = 100

// Table writes the report for a terminal: a header on the capture, a table
// of findings sorted by severity then time, one paragraph per finding with
// its fix, and with --all a table of every flow.
func Table(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	res := r.Result
	rows := r.sortedFindings()
	th := seconds(res.Threshold)
	if mb := res.Middlebox; mb != nil {
		th += " (" + mb.Name + ": " + mb.Title + ")"
	}
	fmt.Fprintf(ew, "hangdiag: %s in %s of %s, idle threshold %s\n\n",
		count(uint64(len(rows)), "finding", "findings"), count(uint64(r.FlaggedFlows()), "flow", "flows"),
		count(uint64(res.Stats.Flows), "flow", "flows"), th)
	for _, f := range r.Files {
		line := f.Name + " (" + f.Format
		if f.Gzip {
			line += ", gzip"
		}
		fmt.Fprintf(ew, "  file      %s, %s)\n", line, count(f.Packets, "packet", "packets"))
	}
	st := &r.Capture
	if st.Packets > 0 {
		fmt.Fprintf(ew, "  span      %s – %s UTC (%s)\n", stamp(st.First), stamp(st.Last), seconds(res.CaptureEnd.Sub(timeOf(st.First))))
	}
	fmt.Fprintf(ew, "  packets   %d, of which %d TCP\n", st.Packets, st.TCP())
	for _, w := range r.Warnings() {
		wrap(ew, "  warning   ", w)
	}
	for _, n := range r.Notes() {
		wrap(ew, "  note      ", n)
	}
	fmt.Fprintln(ew)

	if len(rows) == 0 {
		fmt.Fprintf(ew, "No flow was silent for %s or longer.\n", seconds(res.Threshold))
	} else {
		t := tablewriter.NewTable(ew, tablewriter.WithRowAutoWrap(tw.WrapNone), tablewriter.WithHeaderAutoFormat(tw.Off))
		t.Header("#", "Severity", "Kind", "Client → Server", "At (UTC)", "Gap")
		for i, row := range rows {
			t.Append(strconv.Itoa(i+1), row.f.Severity.String(), string(row.f.Kind),
				row.flow.Client.String()+" → "+row.flow.Server.String(), row.f.At.Format("15:04:05.000"), seconds(row.f.Gap))
		}
		if err := t.Render(); err != nil {
			return err
		}
		fixedAt := map[string]int{} // fix text -> number of the paragraph that gave it
		for i, row := range rows {
			fmt.Fprintf(ew, "\n%d. %s (%s)\n", i+1, row.f.Kind, row.f.Severity)
			wrap(ew, "   ", row.f.Message)
			switch n, seen := fixedAt[row.f.Fix]; {
			case row.f.Fix == "":
			case seen:
				wrap(ew, "   ", fmt.Sprintf("Fix: as in %d.", n))
			default:
				fixedAt[row.f.Fix] = i + 1
				wrap(ew, "   ", "Fix: "+row.f.Fix)
			}
			wrap(ew, "   ", "Wireshark: "+WiresharkFilter(row.flow))
		}
	}
	if inf := res.Inference; inf.Fatal > 0 || inf.Survived > 0 {
		fmt.Fprintln(ew)
		wrap(ew, "", "Timeout bracket: "+bracket(inf))
	}
	if hasUnflagged(res) {
		fmt.Fprintln(ew)
		if err := flowTable(ew, res); err != nil {
			return err
		}
	}
	return ew.err
}

func hasUnflagged(res *analyze.Result) bool {
	for i := range res.Flows {
		if len(res.Flows[i].Findings) == 0 {
			return true
		}
	}
	return false
}

// flowTable lists every flow kept in the result (--all).
func flowTable(w io.Writer, res *analyze.Result) error {
	t := tablewriter.NewTable(w, tablewriter.WithRowAutoWrap(tw.WrapNone), tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header("#", "Client → Server", "State", "Packets", "Max gap", "Keepalives c/s", "Findings")
	for i := range res.Flows {
		f := &res.Flows[i]
		t.Append(strconv.Itoa(f.Index), f.Client.String()+" → "+f.Server.String(), f.State.String(),
			strconv.FormatUint(f.Packets, 10), seconds(f.MaxGap),
			fmt.Sprintf("%d/%d", f.Keepalive[analyze.Client].Probes, f.Keepalive[analyze.Server].Probes),
			strconv.Itoa(len(f.Findings)))
	}
	return t.Render()
}

// bracket describes the timeout bracket in words.
func bracket(inf analyze.Inference) string {
	var s string
	switch {
	case inf.Survived > 0 && inf.Fatal > inf.Survived:
		s = fmt.Sprintf("the middlebox timeout lies between %s (the longest gap survived, %s) and %s (the shortest gap followed by a reset or black hole, %s)",
			seconds(inf.Survived), count(uint64(inf.SurvivedBy), "flow", "flows"), seconds(inf.Fatal), count(uint64(inf.FatalBy), "flow", "flows"))
	case inf.Fatal > 0:
		s = fmt.Sprintf("the middlebox timeout is at most %s (the shortest gap followed by a reset or black hole, %s)", seconds(inf.Fatal), count(uint64(inf.FatalBy), "flow", "flows"))
		if inf.Survived > 0 {
			s += fmt.Sprintf("; a flow survived a gap of %s, so the evidence conflicts", seconds(inf.Survived))
		}
	default:
		s = fmt.Sprintf("flows survived gaps up to %s (%s); no gap was followed by a reset or black hole", seconds(inf.Survived), count(uint64(inf.SurvivedBy), "flow", "flows"))
	}
	if len(inf.Matches) > 0 {
		s += "; consistent with " + strings.Join(inf.Matches, ", ")
	}
	return s + "."
}

// wrap writes text wrapped to textWidth, every line starting with prefix.
func wrap(w io.Writer, prefix, text string) {
	indent := strings.Repeat(" ", len([]rune(prefix)))
	line := prefix
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len([]rune(line))+1+len([]rune(word)) > textWidth {
			fmt.Fprintln(w, line)
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	fmt.Fprintln(w, line)
}

// errWriter keeps the first write error so that rendering code can write
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
