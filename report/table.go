package report

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/hangdiag/hangdiag/analyze"
)

// textWidth is the width paragraphs are wrapped to when Report.Width is 0.
const textWidth = 100

// ANSI escapes for Report.Color.
const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

// Table writes the report for a terminal: a header on the capture, a table
// of findings sorted by severity then time, one paragraph per finding with
// its fix (the first listedFindings of them, the rest counted), and with
// --all a table of every flow. Report.Color colours severities;
// Report.Width fits paragraphs and tables to the terminal.
func Table(w io.Writer, r *Report) error {
	bw := newOutput(w)
	ew := &errWriter{w: bw}
	width := r.Width
	if width <= 0 {
		width = textWidth
	}
	wrap := func(out io.Writer, prefix, text string) { wrapTo(out, width, prefix, text) }
	res := r.Result
	rows := r.sortedFindings(listedFindings)
	th := seconds(res.Threshold)
	if mb := res.Middlebox; mb != nil {
		th += " (" + mb.Name + ": " + mb.Title + ")"
	}
	head := fmt.Sprintf("hangdiag: %s in %s of %s, idle threshold %s",
		count(uint64(rows.total), "finding", "findings"), count(uint64(rows.flagged()), "flow", "flows"),
		count(uint64(res.Stats.Flows), "flow", "flows"), th)
	if r.Width > 0 {
		wrap(ew, "", head)
	} else {
		fmt.Fprintln(ew, head)
	}
	fmt.Fprintln(ew)
	for i := range r.Files {
		f := &r.Files[i]
		line := f.Name + " (" + formatWords(f)
		line = fmt.Sprintf("%s, %s)", line, count(f.Packets, "packet", "packets"))
		if r.Width > 0 && 12+len([]rune(line)) > r.Width {
			// the name on one line, its format and size on the next
			fmt.Fprintf(ew, "  file      %s\n            %s\n", f.Name, strings.TrimPrefix(line, f.Name+" "))
		} else {
			fmt.Fprintf(ew, "  file      %s\n", line)
		}
	}
	st := &r.Capture
	if st.Packets > 0 {
		span, end := r.spanWords()
		fmt.Fprintf(ew, "  span      %s\n", span)
		if end != "" {
			fmt.Fprintf(ew, "  end       %s\n", end)
		}
	}
	fmt.Fprintf(ew, "  packets   %d, of which %d TCP\n", st.Packets, st.TCP())
	for _, w := range r.Warnings() {
		wrap(ew, "  warning   ", w)
	}
	for _, n := range r.Notes() {
		wrap(ew, "  note      ", n)
	}
	fmt.Fprintln(ew)

	if len(rows.rows) == 0 {
		fmt.Fprintf(ew, "No flow was silent for %s or longer.\n", seconds(res.Threshold))
	} else {
		err := fitTable(ew, r.Width, func(compact bool) ([]string, iter.Seq[[]string]) {
			cells := func(yield func([]string) bool) {
				for i := range rows.rows {
					row := &rows.rows[i]
					sev, at := r.paint(row.severity, row.severity.String()), row.at.Format("15:04:05.000")
					var c []string
					if compact {
						c = []string{strconv.Itoa(i + 1), string(row.kind) + "\n" + sev, strings.Replace(row.flow, " → ", "\n→ ", 1), at + "\n" + seconds(row.gap)}
					} else {
						c = []string{strconv.Itoa(i + 1), sev, string(row.kind), row.flow, at, seconds(row.gap)}
					}
					if !yield(c) {
						return
					}
				}
			}
			if compact {
				return []string{"#", "Finding", "Client → Server", "At (UTC), gap"}, cells
			}
			return []string{"#", "Severity", "Kind", "Client → Server", "At (UTC)", "Gap"}, cells
		})
		if err != nil {
			return err
		}
		if note := rows.unlistedNote(); note != "" {
			fmt.Fprintln(ew)
			wrap(ew, "", note)
		}
		fixedAt := map[string]int{}     // fix text -> number of the paragraph that gave it
		keepaliveSaid := map[int]bool{} // flows whose keepalive settings were given
		for i := range rows.rows {
			fl, fd := rows.at(i)
			fmt.Fprintf(ew, "\n%s\n", r.paint(fd.Severity, fmt.Sprintf("%d. %s (%s)", i+1, fd.Kind, fd.Severity)))
			wrap(ew, "   ", fd.Message)
			switch n, seen := fixedAt[fd.Fix]; {
			case fd.Fix == "":
			case seen:
				wrap(ew, "   ", fmt.Sprintf("Fix: as in %d.", n))
			default:
				fixedAt[fd.Fix] = i + 1
				wrap(ew, "   ", "Fix: "+fd.Fix)
			}
			wrap(ew, "   ", "Wireshark: "+WiresharkFilter(fl))
			if k := keepaliveWords(fl, res.Threshold); k != "" && !keepaliveSaid[fl.Index] {
				keepaliveSaid[fl.Index] = true
				wrap(ew, "   ", "Keepalives: "+k)
			}
		}
		for _, fl := range rows.listedFlows(res.Flows.WithoutText()) {
			if flowAdvice(res, fl).Keepalive {
				fmt.Fprintln(ew)
				wrap(ew, "", "How to turn on TCP keepalive in Linux, Python requests, Go, Java, Node.js, .NET and curl: run again with --format markdown or --format html.")
				break
			}
		}
	}
	if inf := res.Inference; inf.Fatal > 0 || inf.Survived > 0 {
		fmt.Fprintln(ew)
		wrap(ew, "", "Timeout bracket: "+bracket(inf))
	}
	if rows.hasUnflagged() {
		fmt.Fprintln(ew)
		if err := flowTable(ew, res, r.Width); err != nil {
			return err
		}
	}
	return ew.flush(bw)
}

// flowTable lists every flow kept in the result (--all), decoding the
// flows again for each walk over the rows rather than keeping them: a
// capture's flows can be millions.
func flowTable(w io.Writer, res *analyze.Result, width int) error {
	return fitTable(w, width, func(compact bool) ([]string, iter.Seq[[]string]) {
		cells := func(yield func([]string) bool) {
			for _, f := range res.Flows.WithoutText().All() {
				probes := fmt.Sprintf("%d/%d", f.Keepalive[analyze.Client].Probes, f.Keepalive[analyze.Server].Probes)
				var c []string
				if compact {
					c = []string{strconv.Itoa(f.Index), f.Client.String() + "\n→ " + f.Server.String(),
						f.State.String() + "\n" + count(f.Packets, "packet", "packets"), seconds(f.MaxGap), probes, strconv.Itoa(len(f.Findings))}
				} else {
					c = []string{strconv.Itoa(f.Index), f.Client.String() + " → " + f.Server.String(), f.State.String(),
						strconv.FormatUint(f.Packets, 10), seconds(f.MaxGap), probes, strconv.Itoa(len(f.Findings))}
				}
				if !yield(c) {
					return
				}
			}
		}
		if compact {
			return []string{"#", "Client → Server", "State", "Max gap", "Probes c/s", "Findings"}, cells
		}
		return []string{"#", "Client → Server", "State", "Packets", "Max gap", "Keepalives c/s", "Findings"}, cells
	})
}

// maxLaidOut is the most rows fitTable lays out whole, in the compact
// layout; a table of more is written in its natural layout, row by row,
// whatever its width. Tests lower it.
var maxLaidOut = 10000

// maxKept is the most rows fitTable keeps from the walk that measures
// their widths to the one that writes them, about 15 MB of a flow table's
// cells; more are made again. Tests lower it.
var maxKept = 1 << 16

// fitTable renders the table that build lays out, in its natural layout
// when that fits width (or width is 0), else in its compact one (cells on
// two lines), and if even that is too wide, with cells broken to fit. The
// natural layout is written row by row by writeBox, its column widths
// measured in a walk over the rows before, which keeps them when they are
// at most maxKept and otherwise walks them again: memory does not grow
// with the rows. The others are laid out whole by tablewriter, and so
// only for at most maxLaidOut rows.
func fitTable(w io.Writer, width int, build func(compact bool) (head []string, rows iter.Seq[[]string])) error {
	head, rows := build(false)
	widths := make([]int, len(head))
	for c := range head {
		widths[c] = cellWidth(head[c])
	}
	n := 0
	var kept [][]string // the rows, while they are at most maxKept
	for row := range rows {
		for c := range widths {
			widths[c] = max(widths[c], cellWidth(row[c]))
		}
		if n++; n <= maxKept {
			kept = append(kept, row)
		} else {
			kept = nil
		}
	}
	if n <= maxKept {
		rows = slices.Values(kept) // not made again
	}
	natural := 1 // the left border
	for c := range widths {
		natural += widths[c] + 3 // a space on either side, and a border
		widths[c] += 2
	}
	if width == 0 || natural <= width || n > maxLaidOut {
		return writeBox(w, widths, head, rows)
	}
	render := func(opts ...tablewriter.Option) (string, error) {
		var b strings.Builder
		opts = append([]tablewriter.Option{tablewriter.WithRowAutoWrap(tw.WrapNone), tablewriter.WithHeaderAutoFormat(tw.Off)}, opts...)
		t := tablewriter.NewTable(&b, opts...)
		head, rows := build(true)
		t.Header(head)
		for row := range rows {
			if err := t.Append(row); err != nil {
				return "", err
			}
		}
		err := t.Render()
		return b.String(), err
	}
	out, err := render()
	if err == nil && tableWidth(out) > width {
		out, err = render(tablewriter.WithRowAutoWrap(tw.WrapBreak), tablewriter.WithHeaderAutoWrap(tw.WrapBreak), tablewriter.WithMaxWidth(width))
	}
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, out)
	return err
}

// writeBox writes a table of one-line cells in the style tablewriter
// draws by default, byte for byte: a box of light lines, the head
// centred, the rows' cells after one space, each column widths[c]
// columns wide between its borders. It writes a row at a time, through
// one buffer, with none of the work per cell that tablewriter does to
// wrap, align and merge cells; a report of thousands of findings is
// written in a few milliseconds rather than tens.
func writeBox(w io.Writer, widths []int, head []string, rows iter.Seq[[]string]) error {
	var b []byte
	border := func(left, mid, right string) {
		b = append(b, left...)
		for c, n := range widths {
			if c > 0 {
				b = append(b, mid...)
			}
			for range n {
				b = append(b, "─"...)
			}
		}
		b = append(b, right...)
		b = append(b, '\n')
	}
	row := func(cells []string, centred bool) {
		for c, n := range widths {
			b = append(b, "│"...)
			left := 1
			pad := n - cellWidth(cells[c])
			if centred {
				left = pad / 2
			}
			b = appendSpaces(b, left)
			b = append(b, cells[c]...)
			b = appendSpaces(b, pad-left)
		}
		b = append(b, "│\n"...)
	}
	border("┌", "┬", "┐")
	row(head, true)
	first := true
	for cells := range rows {
		if first {
			border("├", "┼", "┤") // under the head only when rows follow
			first = false
		}
		row(cells, false)
		if len(b) >= 32<<10 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	border("└", "┴", "┘")
	_, err := w.Write(b)
	return err
}

// appendSpaces appends n spaces to b.
func appendSpaces(b []byte, n int) []byte {
	for ; n > 0; n -= len(spaces) {
		b = append(b, spaces[:min(n, len(spaces))]...)
	}
	return b
}

// cellWidth is the number of terminal columns text takes: its length when
// it is plain ASCII, as most cells are, else what tablewriter measures
// (wide characters, colour escapes).
func cellWidth(text string) int {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < ' ' || c > '~' {
			return twwidth.Width(text)
		}
	}
	return len(text)
}

// tableWidth is the width in columns of a rendered table's widest line.
func tableWidth(s string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		n = max(n, twwidth.Width(line))
	}
	return n
}

// paint colours text by severity when the report is for a colour terminal.
func (r *Report) paint(sev analyze.Severity, text string) string {
	if !r.Color {
		return text
	}
	switch sev {
	case analyze.Error:
		return ansiBold + ansiRed + text + ansiReset
	case analyze.Warning:
		return ansiBold + ansiYellow + text + ansiReset
	}
	return text
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
	s += "."
	if inf.Conflict != "" {
		s += " But " + inf.Conflict + "."
	}
	return s
}

// wrapTo writes text wrapped to width columns, every line starting with
// prefix. A word longer than a line stays whole. Widths count runes.
func wrapTo(w io.Writer, width int, prefix, text string) {
	indent := utf8.RuneCountInString(prefix)
	var buf [160]byte
	line := append(buf[:0], prefix...)
	cols, empty := indent, true
	for word := range strings.FieldsSeq(text) {
		n := utf8.RuneCountInString(word)
		if !empty && cols+1+n > width {
			w.Write(append(line, '\n'))
			line = line[:0]
			for range indent {
				line = append(line, ' ')
			}
			cols, empty = indent, true
		}
		if !empty {
			line = append(line, ' ')
			cols++
		}
		line = append(line, word...)
		cols += n
		empty = false
	}
	w.Write(append(line, '\n'))
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

// flush flushes bw, which e writes to, and returns the first error.
func (e *errWriter) flush(bw *bufio.Writer) error {
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}
