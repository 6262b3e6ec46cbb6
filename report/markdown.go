package report

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
)

// mdMaxLines bounds a flow's timeline in words; longer ones keep their
// first and last lines and summarise the middle.
const mdMaxLines = 40

// mdShortTimeline is the most packets a timeline tells one by one, without
// summing up runs.
const mdShortTimeline = 15

// Markdown writes the report as GitHub-flavoured Markdown for a ticket: a
// summary with one line per flagged flow, the capture facts, the findings
// table, then a section per flagged flow with its timeline in words, the
// findings, the fix with per-stack keepalive settings (once for each side
// and interval), and a Wireshark display filter. Past listedFindings
// findings, it lists the first and the flows of those, and counts the
// rest.
func Markdown(w io.Writer, r *Report) error {
	bw := newOutput(w)
	ew := &errWriter{w: bw}
	res := r.Result
	rows := r.sortedFindings(listedFindings)

	fmt.Fprintf(ew, "# hangdiag report\n\n")
	fmt.Fprintf(ew, "**%s**\n\n", mdText(r.verdict(rows)))
	for _, fl := range rows.listedFlows(res.Flows.WithoutText()) {
		adv := flowAdvice(res, fl)
		fmt.Fprintf(ew, "- **%s** (flow %d): %s. Fix: %s.\n", mdText(flowName(fl)), fl.Index, mdText(headline(fl)), mdText(adv.Short))
	}
	if len(rows.rows) > 0 {
		fmt.Fprintln(ew)
	}

	fmt.Fprintf(ew, "| Capture | |\n| --- | --- |\n")
	for i := range r.Files {
		f := &r.Files[i]
		fmt.Fprintf(ew, "| File | %s (%s, %s) |\n", mdCode(strings.ReplaceAll(f.Name, "|", `\|`)), mdCell(formatWords(f)), count(f.Packets, "packet", "packets"))
	}
	st := &r.Capture
	if st.Packets > 0 {
		span, end := r.spanWords()
		fmt.Fprintf(ew, "| Span | %s |\n", span)
		if end != "" {
			fmt.Fprintf(ew, "| Capture end | %s |\n", end)
		}
	}
	fmt.Fprintf(ew, "| Packets | %d, of which %d TCP; %s |\n", st.Packets, st.TCP(), count(uint64(res.Stats.Flows), "flow", "flows"))
	fmt.Fprintf(ew, "| Idle threshold | %s |\n", mdCell(r.thresholdWords()))
	if inf := res.Inference; inf.Fatal > 0 || inf.Survived > 0 {
		fmt.Fprintf(ew, "| Timeout bracket | %s |\n", mdCell(bracket(inf)))
	}
	if m := matchedPresets(res.Inference); m != "" {
		fmt.Fprintf(ew, "| Presets in the bracket | %s |\n", mdCell(m))
	}
	for _, s := range r.Warnings() {
		fmt.Fprintf(ew, "| Warning | %s |\n", mdCell(s))
	}
	for _, s := range r.Notes() {
		fmt.Fprintf(ew, "| Note | %s |\n", mdCell(s))
	}

	if len(rows.rows) > 0 {
		fmt.Fprintf(ew, "\n## Findings\n\n")
		fmt.Fprintf(ew, "| # | Severity | Kind | Client → Server | At (UTC) | Gap |\n| ---: | --- | --- | --- | --- | ---: |\n")
		for i := range rows.rows {
			row := &rows.rows[i]
			fmt.Fprintf(ew, "| %d | %s | %s | %s | %s | %s |\n", i+1, row.severity, row.kind,
				mdCell(row.flow), row.at.Format("15:04:05.000"), seconds(row.gap))
		}
		if note := rows.unlistedNote(); note != "" {
			fmt.Fprintf(ew, "\n%s\n", mdText(note))
		}
		shown := howTos{}
		for _, fl := range rows.listedFlows(res.Flows) {
			r.mdFlow(ew, fl, rows, shown)
		}
	}
	if rows.hasUnflagged() {
		fmt.Fprintf(ew, "\n## All flows\n\n")
		fmt.Fprintf(ew, "| # | Client → Server | State | Packets | Max gap | Keepalives client/server | Findings |\n| ---: | --- | --- | ---: | ---: | --- | ---: |\n")
		for _, f := range res.Flows.WithoutText().All() {
			fmt.Fprintf(ew, "| %d | %s | %s | %d | %s | %d/%d | %d |\n", f.Index, mdCell(flowName(f)), f.State, f.Packets, seconds(f.MaxGap),
				f.Keepalive[analyze.Client].Probes, f.Keepalive[analyze.Server].Probes, len(f.Findings))
		}
	}
	return ew.flush(bw)
}

// mdFlow writes the section of one flagged flow; the how-to of turning
// keepalives on only when no section before it, among those shown
// records, has the same.
func (r *Report) mdFlow(w io.Writer, fl *analyze.Flow, rows *findingList, shown howTos) {
	res := r.Result
	fmt.Fprintf(w, "\n### Flow %d: %s\n\n", fl.Index, mdText(flowName(fl)))
	fmt.Fprintf(w, "**%s.** %s\n\n", mdText(capitalize(headline(fl))), mdText(flowFacts(fl, r.Result.Threshold)))

	tl := r.timeline(fl)
	fmt.Fprintf(w, "**Timeline** (UTC, %s", tl.Events[0].Time.UTC().Format("2006-01-02"))
	if !tl.Full {
		fmt.Fprint(w, "; only the packets the findings name")
	}
	fmt.Fprint(w, "):\n\n")
	for _, line := range r.mdTimeline(&tl, res.Threshold) {
		fmt.Fprintf(w, "- %s\n", line)
	}

	fmt.Fprintf(w, "\n**Findings** (numbered as in the table)\n\n")
	for _, sf := range rows.shown(fl) {
		if sf.Last > 0 {
			fmt.Fprintf(w, "- **%d–%d.** %s.\n", sf.N, sf.Last, mdText(sf.Summary))
			continue
		}
		fmt.Fprintf(w, "- **%d. %s, %s**: %s\n", sf.N, sf.F.Severity, sf.F.Kind, mdText(sf.F.Message))
	}

	adv := flowAdvice(res, fl)
	fmt.Fprintf(w, "\n**Fix**: ")
	var fixes []string
	for _, f := range fl.Findings {
		if f.Fix != "" && !slices.Contains(fixes, f.Fix) {
			fixes = append(fixes, f.Fix)
		}
	}
	fmt.Fprintf(w, "%s\n", mdText(strings.Join(fixes, " ")))
	if adv.Middlebox != "" {
		fmt.Fprintf(w, "\n**Middlebox**: %s Source: <%s>\n", mdText(adv.Middlebox), adv.Source)
	}
	if adv.Keepalive {
		if at, ok := shown.shownAt(&adv, fl.Index); ok {
			fmt.Fprintf(w, "\n**How to enable TCP keepalive on the %s, every %s**: as under flow %d.\n", adv.Side, seconds(adv.Interval), at)
		} else {
			mdHowTo(w, &adv)
		}
	}
	fmt.Fprintf(w, "\n**Wireshark filter**: %s\n", mdCode(WiresharkFilter(fl)))
}

// mdHowTo writes how to turn keepalives on, per stack, folded.
func mdHowTo(w io.Writer, adv *advice) {
	snippets := adv.Snippets()
	fmt.Fprintf(w, "\n<details>\n<summary>How to enable TCP keepalive on the %s, every %s: %s</summary>\n\n%s\n",
		adv.Side, seconds(adv.Interval), stackNames(snippets), mdText(httpKeepAliveNote))
	for _, s := range snippets {
		fmt.Fprintf(w, "\n**%s**\n\n```%s\n%s\n```\n", s.Stack, s.Lang, s.Code)
		if s.Note != "" {
			fmt.Fprintf(w, "\n%s\n", mdText(s.Note))
		}
	}
	fmt.Fprintf(w, "\n</details>\n")
}

// mdLine is one bullet of a timeline in words.
type mdLine struct {
	text string
	ev   *event // nil for a silence or the capture end
	keep bool   // never folded into a summary
}

// mdTimeline tells a flow's timeline in words, one line per packet, long
// silence and the capture end; runs of unremarkable packets are summed up.
func (r *Report) mdTimeline(tl *timeline, threshold time.Duration) []string {
	var lines []mdLine
	day := tl.Events[0].Time.UTC().Format("2006-01-02")
	when := func(t time.Time) string {
		if d := t.UTC().Format("2006-01-02"); d != day {
			day = d
			return d + " " + clockOf(t)
		}
		return clockOf(t)
	}
	evidence := map[frameKey]bool{}
	for _, f := range tl.Flow.Findings {
		for _, p := range []*analyze.PacketRef{f.Evidence.GapStart, f.Evidence.GapEnd, f.Evidence.Unacked} {
			if p != nil {
				evidence[keyOf(p)] = true
			}
		}
	}
	gi := 0
	gapLines := func(gi int) []mdLine {
		var ls []mdLine
		g := tl.Gaps[gi]
		if n := tl.Flow.GapsNotListed; n > 0 && gi == len(tl.Gaps)-1 {
			ls = append(ls, mdLine{text: fmt.Sprintf("… %s past the %s idle threshold before the next, not listed …",
				count(uint64(n), "more silence", "more silences"), seconds(threshold)), keep: true})
		}
		s := fmt.Sprintf("… **%s**, past the %s idle threshold", gapWords(g.Duration), seconds(threshold))
		if g.EndedBy == "capture-end" {
			s += ", until the capture end"
		}
		return append(ls, mdLine{text: s + " …", keep: true})
	}
	for i := range tl.Events {
		e := &tl.Events[i]
		for gi < len(tl.Gaps) && !tl.Gaps[gi].End.After(e.Time) {
			lines = append(lines, gapLines(gi)...)
			gi++
		}
		var s string
		if e.Kind == "" {
			s = when(e.Time) + " " + e.What
		} else {
			s = when(e.Time) + " " + e.direction() + ": " + e.words()
			if e.Kind == analyze.PacketRst {
				s = when(e.Time) + " " + e.direction() + ": **RST**"
			}
			if fr := r.frameName(&e.PacketRef); fr != "" {
				s += " (" + fr + ")"
			}
			if e.Reset != nil {
				s += ", " + resetVerdict(e.Reset)
			}
		}
		keep := !tl.Full || len(tl.Events) <= mdShortTimeline || i < 3 || i >= len(tl.Events)-3 || e.Kind == analyze.PacketRst || e.Reset != nil || evidence[keyOf(&e.PacketRef)]
		lines = append(lines, mdLine{text: s, ev: e, keep: keep})
	}
	for ; gi < len(tl.Gaps); gi++ {
		lines = append(lines, gapLines(gi)...)
	}
	lines = append(lines, mdLine{text: when(tl.End) + " capture end", keep: true})
	// Keep the packets on either side of a silence.
	for i := range lines {
		if lines[i].ev == nil && i > 0 {
			lines[i-1].keep = true
			if i+1 < len(lines) {
				lines[i+1].keep = true
			}
		}
	}

	var out []string
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && !lines[j].keep {
			j++
		}
		switch {
		case j-i >= 3:
			out = append(out, r.mdRun(lines[i:j]))
			i = j
		case j > i:
			for ; i < j; i++ {
				out = append(out, lines[i].text)
			}
		default:
			out = append(out, lines[i].text)
			i++
		}
	}
	if len(out) > mdMaxLines {
		half := mdMaxLines / 2
		cut := len(out) - 2*half
		out = append(append(out[:half:half], fmt.Sprintf("… %d more lines left out; the HTML report draws every packet …", cut)), out[len(out)-half:]...)
	}
	return out
}

// mdRun sums up a run of packets in one line.
func (r *Report) mdRun(run []mdLine) string {
	type key struct {
		side analyze.Side
		kind analyze.PacketKind
	}
	counts := map[key]int{}
	var order []key
	for _, l := range run {
		k := key{l.ev.Side, l.ev.Kind}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, kindNoun(k.kind, counts[k])+" from the "+k.side.String())
	}
	first, last := run[0].ev.Time, run[len(run)-1].ev.Time
	return fmt.Sprintf("… %d packets over %s (%s to %s): %s …", len(run), seconds(last.Sub(first)), clockOf(first), clockOf(last), strings.Join(parts, ", "))
}

// verdict is the report's first line: how many flows hung on an idle
// timeout, or that none did.
func (r *Report) verdict(rows *findingList) string {
	res := r.Result
	n := rows.flagged()
	if n == 0 {
		return fmt.Sprintf("No flow was silent for %s or longer (%s analysed).", seconds(res.Threshold), count(uint64(res.Stats.Flows), "flow", "flows"))
	}
	return fmt.Sprintf("%s of %s went silent past the %s idle threshold: %s.", count(uint64(n), "flow", "flows"),
		strconv.Itoa(res.Stats.Flows), seconds(res.Threshold), count(uint64(rows.total), "finding", "findings"))
}

// thresholdWords names the idle threshold and the preset behind it.
func (r *Report) thresholdWords() string {
	s := seconds(r.Result.Threshold)
	if mb := r.Result.Middlebox; mb != nil {
		s += " (" + mb.Name + ": " + mb.Title + ")"
	}
	return s
}

// flowFacts sums up a flow in a sentence, and in another what its
// keepalive probes reveal of the ends' settings.
func flowFacts(fl *analyze.Flow, threshold time.Duration) string {
	hs := "handshake seen"
	if !fl.HandshakeSeen {
		hs = "handshake not captured"
	}
	ka := "no keepalive probes"
	if c, s := fl.Keepalive[analyze.Client].Probes, fl.Keepalive[analyze.Server].Probes; c+s > 0 {
		ka = fmt.Sprintf("keepalive probes: %d from the client, %d from the server", c, s)
	}
	facts := fmt.Sprintf("State %s, %s, %s; the client sent %s, the server %s; %s; longest silence %s.",
		fl.State, count(fl.Packets, "packet", "packets"), hs, count(fl.Bytes[analyze.Client], "byte", "bytes"),
		count(fl.Bytes[analyze.Server], "byte", "bytes"), ka, seconds(fl.MaxGap))
	if k := keepaliveWords(fl, threshold); k != "" {
		facts += " " + k
	}
	if fl.GapsNotListed > 0 || len(fl.FindingsNotListed) > 0 {
		facts += fmt.Sprintf(" Not listed here: %s, between the first %d and the latest.", notListed(fl.GapsNotListed, fl.FindingsNotListed), analyze.MaxListed-1)
	}
	return facts
}

// keepaliveWords says what each side's probes reveal of its keepalive
// settings, or "".
func keepaliveWords(fl *analyze.Flow, threshold time.Duration) string {
	var parts []string
	for _, s := range []analyze.Side{analyze.Client, analyze.Server} {
		if d := fl.Keepalive[s].Settings.Describe(s, threshold); d != "" {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, " ")
}

// flowName is "client → server" with ports.
func flowName(fl *analyze.Flow) string { return fl.Client.String() + " → " + fl.Server.String() }

// mdTextEscapes and mdCellEscapes are made once: a Replacer builds its
// tables on first use, which took most of a long report's time when it
// was made for every string.
var (
	mdTextEscapes = strings.NewReplacer("<", "&lt;", ">", "&gt;")
	mdCellEscapes = strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", `\|`)
)

// mdText escapes the characters that would turn plain text into HTML.
func mdText(s string) string { return mdTextEscapes.Replace(s) }

// mdCell escapes text for a table cell.
func mdCell(s string) string { return mdCellEscapes.Replace(s) }

// mdCode wraps s in a code span long enough for the backticks inside it.
func mdCode(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
