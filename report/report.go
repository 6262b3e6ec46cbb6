// Package report renders an analysis for people and programs: a terminal
// table, Markdown for tickets, a self-contained HTML page with a timeline
// of every flagged flow, CSV of flows, JSON lines of findings, and the JSON
// contract (schema hangdiag.report/v1). It computes nothing new beyond
// presentation; every figure comes from the analyze.Result and the capture
// statistics it is given.
package report

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// Report is everything a renderer needs.
type Report struct {
	Files   []pcapio.FileInfo
	Capture pcapio.Stats
	Result  *analyze.Result
	// Timelines gives every packet of each flagged flow, by flow Index, as
	// a second pass over the capture traced them; nil when not collected.
	Timelines Timelines
	// Color lets the terminal table colour severities with ANSI escapes.
	// The zero value writes plain text, as for a file or a pipe.
	Color bool
	// Width is the terminal width in columns the table report fits into:
	// paragraphs wrap to it and wide tables are laid out more compactly.
	// Zero means no terminal: paragraphs wrap at 100 columns and tables
	// keep their natural width.
	Width int
}

// Formats maps each --format name to its renderer, all of one signature.
var Formats = map[string]func(io.Writer, *Report) error{
	"table":    Table,
	"json":     JSON,
	"jsonl":    JSONL,
	"csv":      CSV,
	"markdown": Markdown,
	"html":     HTML,
}

// FormatNames lists the formats in a stable order.
func FormatNames() []string {
	names := make([]string, 0, len(Formats))
	for n := range Formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Warnings lists, in plain words, what limits the analysis: damaged files,
// timestamps going backwards, packets skipped, flows evicted.
func (r *Report) Warnings() []string {
	var ws []string
	for _, f := range r.Files {
		if f.Damage == "" {
			continue
		}
		w := fmt.Sprintf("%s: %s; results cover", f.Name, f.Damage)
		if f.Packets == 0 {
			w += " no packets of this file"
		} else {
			w += fmt.Sprintf(" %s–%s", stamp(f.First), stamp(f.Last))
		}
		ws = append(ws, w)
	}
	st := &r.Capture
	if st.Leaps > 0 {
		ws = append(ws, fmt.Sprintf("%s more than 30 days after the packet before: the capture's clock jumped, and gaps that long are timestamp errors, not idle time", count(st.Leaps, "packet comes", "packets come")))
	}
	if st.Backwards > 0 {
		ws = append(ws, fmt.Sprintf("%s earlier than the packet before; no gap is taken as negative", count(st.Backwards, "packet timestamp is", "packet timestamps are")))
	}
	for _, l := range st.Links {
		if !pcapio.LinkSupported(l.LinkType) {
			ws = append(ws, fmt.Sprintf("%s of link type %s (%d) skipped: not supported", count(l.Packets, "packet", "packets"), pcapio.LinkName(l.LinkType), l.LinkType))
		}
	}
	if st.Packets > 0 && st.TCP() == 0 {
		var parts []string
		for _, r := range st.SkipReasons() {
			parts = append(parts, fmt.Sprintf("%d %s", st.Skipped[r], r))
		}
		w := fmt.Sprintf("no TCP segment in %s (%s); hangdiag finds TCP over Ethernet, VLAN, MPLS, PPP, PPPoE and 802.11 and in GRE, ERSPAN, VXLAN, VXLAN-GPE, Geneve, GTP-U, CAPWAP, Teredo, L2TP, PPTP and IP-in-IP tunnels, not in encrypted ones",
			count(st.Packets, "packet", "packets"), strings.Join(parts, ", "))
		if slices.ContainsFunc(st.Links, func(l pcapio.LinkCount) bool { return pcapio.Link80211(l.LinkType) }) {
			w += ": a monitor-mode capture of a protected wireless network holds its data frames encrypted; capture on the client or the server instead, or decrypt the frames in Wireshark and export them"
		}
		ws = append(ws, w)
	}
	if n := st.Skipped[pcapio.Fragment]; n > 0 {
		ws = append(ws, count(n, "IP fragment", "IP fragments")+" skipped: TCP is not reassembled from fragments")
	}
	if n := st.Skipped[pcapio.Truncated]; n > 0 {
		ws = append(ws, count(n, "packet", "packets")+" skipped: headers cut by the snap length (capture with -s 128 or more)")
	}
	if n := st.Skipped[pcapio.Malformed]; n > 0 {
		ws = append(ws, count(n, "packet", "packets")+" skipped: malformed link, IP or TCP header")
	}
	if r.Result != nil {
		if n := r.Result.Stats.Evicted; n > 0 {
			ws = append(ws, fmt.Sprintf("%s evicted early because the flow table was full (--max-flows); their later packets count as new flows", count(uint64(n), "flow was", "flows were")))
		}
	}
	return ws
}

// Notes lists facts worth knowing that do not limit the analysis.
func (r *Report) Notes() []string {
	if r.Result == nil {
		return nil
	}
	var ns []string
	if n := r.Result.Stats.Duplicates; n > 0 {
		ns = append(ns, fmt.Sprintf("%s captured twice (e.g. tcpdump -i any on a router) counted once", count(n, "packet", "packets")))
	}
	if c := r.Result.Flows.Counts(); c.Capped > 0 {
		ns = append(ns, fmt.Sprintf("%s silent past the threshold more than %d times: a flow lists its first %d long gaps and findings of each kind, and its latest; %s between them are counted, not listed (gaps_not_listed and findings_not_listed in the JSON report)",
			count(uint64(c.Capped), "flow was", "flows were"), analyze.MaxListed, analyze.MaxListed-1, notListed(c.GapsNotListed, c.FindingsNotListed)))
	}
	return ns
}

// notListed says how many long gaps and findings of each kind a list
// leaves out: "22 long gaps and 22 keepalive-too-slow findings".
func notListed(gaps int, findings map[analyze.Kind]int) string {
	var parts []string
	if gaps > 0 {
		parts = append(parts, count(uint64(gaps), "long gap", "long gaps"))
	}
	kinds := slices.Sorted(maps.Keys(findings))
	for i, k := range kinds {
		word := ""
		if i == len(kinds)-1 {
			word = " finding"
			if findings[k] != 1 || i > 0 {
				word = " findings"
			}
		}
		parts = append(parts, fmt.Sprintf("%d %s%s", findings[k], k, word))
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// findingRow names one finding in the order reports list findings: by
// severity, then time, then flow.
type findingRow struct {
	pos      int // the flow's position in Result.Flows
	n        int // the finding's position in the flow
	index    int // the flow's Index
	severity analyze.Severity
	at       time.Time
	kind     analyze.Kind
	gap      time.Duration
	flow     string // the flow's name, client → server, shared by its rows
}

// findingList is every finding of a Result in that order. A row holds
// what a table of findings shows; the rest of the flow is decoded as rows
// ask for it, so a long list costs a few words a finding.
type findingList struct {
	rows    []findingRow   // in order; the first ones only when the list is limited
	counts  analyze.Counts // of every finding, listed or not
	total   int            // findings, listed or not
	flows   analyze.Flows
	byIndex map[int][]int // row numbers of each flow's listed findings, by flow Index
	last    *analyze.Flow // the flow decoded last
	lastPos int
}

// Timelines gives the packets of the flows a pass over a capture traced,
// in order: what the Markdown and HTML reports draw a flow's timeline
// from. Packets returns nil for a flow it did not trace. A report asks
// for one flow at a time, so that an implementation can keep them in less
// memory than the packets take and make each list as it is asked for.
type Timelines interface {
	Packets(flow int) []analyze.Packet
}

// listedFindings is the most findings the reports for people list: the
// terminal table, each in a row and a paragraph, and Markdown and HTML,
// with a section and a timeline for each of their flows. A screen holds a
// few dozen, and a list of many thousands is for a program to read, from
// the other formats. Tests lower it.
var listedFindings = 2000

// compareRows orders findings by severity, then time, then flow, then
// their order in the flow.
func compareRows(a, b *findingRow) int {
	return cmp.Or(cmp.Compare(a.severity, b.severity), a.at.Compare(b.at), cmp.Compare(a.index, b.index), cmp.Compare(a.n, b.n))
}

// sortedFindings returns the findings of the report in order: all of
// them, or when limit > 0 the first limit (chosenFindings), with their
// flows' names, for which it decodes the flows of those findings alone.
// A renderer works it out once and hands it down.
func (r *Report) sortedFindings(limit int) *findingList {
	l := r.chosenFindings(limit)
	names := map[int]string{} // by position in the list
	bare := l.flows.WithoutText()
	for i := range l.rows {
		row := &l.rows[i]
		name, ok := names[row.pos]
		if !ok {
			fl := bare.At(row.pos)
			name = flowName(&fl)
			names[row.pos] = name
		}
		row.flow = name
	}
	return l
}

// chosenFindings is sortedFindings without the flows' names: the findings
// in order, or when limit > 0 the first limit, chosen from the findings'
// keys (the greatest kept at the root of a heap), so that the list of a
// million findings takes limit rows and decodes no flow.
func (r *Report) chosenFindings(limit int) *findingList {
	l := &findingList{flows: r.Result.Flows, byIndex: map[int][]int{}, counts: r.Result.Flows.Counts()}
	for _, n := range l.counts.Findings {
		l.total += n
	}
	kept := rowHeap{}
	for k := range l.flows.FindingKeys() {
		row := findingRow{k.Pos, k.N, k.Index, k.Severity, k.At, k.Kind, k.Gap, ""}
		if limit > 0 && len(kept) == limit {
			if compareRows(&row, &kept[0]) >= 0 {
				continue
			}
			heap.Pop(&kept)
		}
		heap.Push(&kept, row)
	}
	l.rows = kept
	slices.SortFunc(l.rows, func(a, b findingRow) int { return compareRows(&a, &b) })
	for i, row := range l.rows {
		l.byIndex[row.index] = append(l.byIndex[row.index], i)
	}
	return l
}

// rowHeap is a heap of findings, the last in order at its root.
type rowHeap []findingRow

func (h rowHeap) Len() int           { return len(h) }
func (h rowHeap) Less(i, j int) bool { return compareRows(&h[i], &h[j]) > 0 }
func (h rowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rowHeap) Push(x any)        { *h = append(*h, x.(findingRow)) }
func (h *rowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// listedFlows yields, in list order, the flows of fs (the list's flows,
// with or without text) whose findings the list shows: those a report for
// people gives a line and a section. It decodes those flows alone.
func (l *findingList) listedFlows(fs analyze.Flows) iter.Seq2[int, *analyze.Flow] {
	positions := make([]int, 0, len(l.byIndex))
	for _, row := range l.rows {
		positions = append(positions, row.pos)
	}
	slices.Sort(positions)
	return fs.Some(slices.Compact(positions))
}

// ListedFlows returns the Indexes of the flows whose findings the reports
// for people list (the terminal table, Markdown and HTML): every flagged
// flow, or those of the first findings when there are more than a report
// lists. Markdown and HTML draw a timeline for each.
func (r *Report) ListedFlows() map[int]bool {
	l := r.chosenFindings(listedFindings)
	listed := make(map[int]bool, len(l.byIndex))
	for index := range l.byIndex {
		listed[index] = true
	}
	return listed
}

// unlistedNote says, when the list leaves findings out, how many of each
// kind and where they are; "" when it lists them all.
func (l *findingList) unlistedNote() string {
	left := l.total - len(l.rows)
	if left <= 0 {
		return ""
	}
	return fmt.Sprintf("This report lists the first %d findings, by severity then time. The other %d (%s) are in the JSON, JSON lines and CSV reports (--format json, jsonl or csv).",
		len(l.rows), left, l.unlisted())
}

// unlisted says how many findings of each kind the list leaves out, most
// first: "322750 silent-past-timeout, 4 hung-at-capture-end".
func (l *findingList) unlisted() string {
	left := maps.Clone(l.counts.Findings)
	for i := range l.rows {
		left[l.rows[i].kind]--
	}
	kinds := slices.Collect(maps.Keys(left))
	slices.SortFunc(kinds, func(a, b analyze.Kind) int { return cmp.Or(cmp.Compare(left[b], left[a]), cmp.Compare(a, b)) })
	var parts []string
	for _, k := range kinds {
		if left[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", left[k], k))
		}
	}
	return strings.Join(parts, ", ")
}

// at returns the flow and the finding of row i, with the finding's text
// (and only its: a flow's other findings have theirs in their own rows).
// Consecutive rows of one flow share its decoded copy.
func (l *findingList) at(i int) (*analyze.Flow, *analyze.Finding) {
	row := l.rows[i]
	if l.last == nil || l.lastPos != row.pos {
		f := l.flows.WithoutText().At(row.pos)
		l.last, l.lastPos = &f, row.pos
	}
	fd := &l.last.Findings[row.n]
	l.flows.FillText(l.last, fd)
	return l.last, fd
}

// flagged counts the flows with at least one finding.
func (l *findingList) flagged() int { return l.counts.Flagged }

// hasUnflagged tells whether the result keeps flows without findings
// (--all).
func (l *findingList) hasUnflagged() bool { return l.flagged() < l.flows.Len() }

// FlaggedFlows counts the flows with at least one finding.
func (r *Report) FlaggedFlows() int { return r.Result.Flows.Counts().Flagged }

// WiresharkFilter returns a display filter that selects the flow.
func WiresharkFilter(f *analyze.Flow) string {
	ip := "ip.addr=="
	if f.Client.Addr().Is6() && !f.Client.Addr().Is4In6() {
		ip = "ipv6.addr=="
	}
	b := make([]byte, 0, 128)
	for i, end := range []netip.AddrPort{f.Client, f.Server} {
		if i > 0 {
			b = append(b, " && "...)
		}
		b = append(b, ip...)
		b = end.Addr().AppendTo(b)
		b = append(b, " && tcp.port=="...)
		b = strconv.AppendUint(b, uint64(end.Port()), 10)
	}
	return string(b)
}

func stamp(n int64) string {
	if n == 0 {
		return "-"
	}
	return time.Unix(0, n).UTC().Format("2006-01-02 15:04:05.000")
}

// formatWords gives a capture file's format for people, with its
// compression when it had one: "pcapng, zstd".
func formatWords(f *pcapio.FileInfo) string {
	if f.Compression != "" {
		return f.Format + ", " + f.Compression
	}
	return f.Format
}

func count(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// seconds prints a duration as seconds with millisecond precision.
func seconds(d time.Duration) string {
	s := fmt.Sprintf("%.3f", d.Seconds())
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " s"
}

func timeOf(n int64) time.Time { return time.Unix(0, n).UTC() }

// spanWords is the capture's span, from its first packet to its last, and,
// when the capture ended later than its last packet (--capture-end, or a
// live capture stopped after a quiet spell), when it ended; "" when not.
// Flows still open are judged up to that end.
func (r *Report) spanWords() (span, end string) {
	st := &r.Capture
	span = fmt.Sprintf("%s – %s UTC (%s)", stamp(st.First), stamp(st.Last), seconds(timeOf(st.Last).Sub(timeOf(st.First))))
	if after := r.Result.CaptureEnd.Sub(timeOf(st.Last)); after > 0 {
		end = fmt.Sprintf("%s UTC, %s after the last packet", stamp(r.Result.CaptureEnd.UnixNano()), seconds(after))
	}
	return span, end
}
