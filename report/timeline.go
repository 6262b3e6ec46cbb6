package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
)

// event is one packet on a flow's timeline.
type event struct {
	analyze.PacketRef
	Kind  analyze.PacketKind // "" for a packet known only by its time (the flow's first or last)
	Len   uint32             // payload bytes; 0 when only the evidence is known
	Reset *analyze.ResetInfo // the RST a finding examined; nil otherwise
}

// timeline is what the Markdown and HTML reports draw for a flagged flow.
type timeline struct {
	Flow   *analyze.Flow
	Events []event       // in time order, duplicates left out
	Gaps   []analyze.Gap // the gaps at or above the threshold
	End    time.Time     // the capture end
	Full   bool          // Events hold every packet (Report.Timelines was set)
}

type frameKey struct {
	file  int
	frame uint64
}

func keyOf(p *analyze.PacketRef) frameKey { return frameKey{p.File, p.Frame} }

// timeline gathers the packets of a flagged flow: every packet when
// Report.Timelines has them, otherwise the packets the findings name plus
// the flow's first and last packet.
func (r *Report) timeline(fl *analyze.Flow) timeline {
	t := timeline{Flow: fl, Gaps: fl.Gaps, End: r.Result.CaptureEnd}
	resets := map[frameKey]*analyze.ResetInfo{}
	var refs []*analyze.PacketRef
	for i := range fl.Findings {
		e := &fl.Findings[i].Evidence
		refs = append(refs, e.GapStart, e.GapEnd, e.Unacked)
		if e.Reset != nil {
			resets[keyOf(&e.Reset.Packet)] = e.Reset
			refs = append(refs, e.Reset.TriggeredBy, &e.Reset.Packet)
		}
	}
	if pkts := r.tracedPackets(fl.Index); len(pkts) > 0 {
		t.Full = true
		for _, p := range pkts {
			if p.Kind == analyze.PacketDuplicate {
				continue
			}
			t.Events = append(t.Events, event{PacketRef: p.PacketRef, Kind: p.Kind, Len: p.Len, Reset: resets[keyOf(&p.PacketRef)]})
		}
		return t
	}
	seen := map[frameKey]bool{}
	for _, p := range refs {
		if p == nil || seen[keyOf(p)] {
			continue
		}
		seen[keyOf(p)] = true
		t.Events = append(t.Events, event{PacketRef: *p, Kind: p.Kind, Reset: resets[keyOf(p)]})
	}
	slices.SortStableFunc(t.Events, func(a, b event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.File, b.File), cmp.Compare(a.Frame, b.Frame))
	})
	if len(t.Events) == 0 || fl.First.Before(t.Events[0].Time) {
		t.Events = slices.Insert(t.Events, 0, event{PacketRef: analyze.PacketRef{Time: fl.First, What: "first packet of the flow"}})
	}
	if fl.Last.After(t.Events[len(t.Events)-1].Time) {
		t.Events = append(t.Events, event{PacketRef: analyze.PacketRef{Time: fl.Last, What: "last packet of the flow"}})
	}
	return t
}

// tracedPackets returns the packets the trace holds for flow, if any.
func (r *Report) tracedPackets(flow int) []analyze.Packet {
	if r.Timelines == nil {
		return nil
	}
	return r.Timelines.Packets(flow)
}

// words names what the packet is: "SYN-ACK", "1200 bytes of data".
func (e *event) words() string {
	if e.Len == 0 && e.What != "" && e.What != string(e.Kind) {
		// evidence words, as analyze wrote them
		return strings.TrimPrefix(strings.TrimPrefix(e.What, "an "), "a ")
	}
	switch e.Kind {
	case analyze.PacketSyn:
		if e.Side == analyze.Server {
			return "SYN-ACK"
		}
		return "SYN"
	case analyze.PacketData:
		return count(uint64(e.Len), "byte", "bytes") + " of data"
	case analyze.PacketRetransmission:
		return "retransmission of " + count(uint64(e.Len), "byte", "bytes")
	case analyze.PacketKeepalive:
		return "keepalive probe"
	case analyze.PacketKeepaliveAck:
		return "keepalive ACK"
	case analyze.PacketZeroWindowProbe:
		return "zero-window probe"
	case analyze.PacketFin:
		if e.Len > 0 {
			return "FIN with " + count(uint64(e.Len), "byte", "bytes") + " of data"
		}
		return "FIN"
	case analyze.PacketRst:
		return "RST"
	}
	return "ACK"
}

// direction is "client → server" for a packet the client sent.
func (e *event) direction() string {
	return e.Side.String() + " → " + e.Side.Other().String()
}

// frameName names a packet as Wireshark numbers it: "frame 6", or "file 2
// frame 5" when the report covers several files.
func (r *Report) frameName(p *analyze.PacketRef) string {
	if p.Frame == 0 {
		return ""
	}
	if len(r.Files) > 1 {
		return fmt.Sprintf("file %d frame %d", p.File+1, p.Frame)
	}
	return fmt.Sprintf("frame %d", p.Frame)
}

// resetVerdict says who most likely sent a RST, in a phrase.
func resetVerdict(ri *analyze.ResetInfo) string {
	switch ri.Verdict {
	case "middlebox":
		return fmt.Sprintf("most likely sent by a middlebox in the %s's name", ri.ClaimedBy)
	case "endpoint":
		return fmt.Sprintf("most likely the %s's own", ri.ClaimedBy)
	}
	return "sender unclear"
}

// resetSender says who most likely sent a RST, in a phrase that does not
// repeat whose address it carries.
func resetSender(ri *analyze.ResetInfo) string {
	switch ri.Verdict {
	case "middlebox":
		return "most likely sent by a middlebox"
	case "endpoint":
		return "most likely sent by the " + ri.ClaimedBy.String() + " itself"
	}
	return "whose sender is unclear"
}

// resetLabel is the short label drawn beside a RST.
func resetLabel(ri *analyze.ResetInfo) string {
	switch ri.Verdict {
	case "middlebox":
		return fmt.Sprintf("RST in the %s's name: middlebox?", ri.ClaimedBy)
	case "endpoint":
		return fmt.Sprintf("RST from the %s", ri.ClaimedBy)
	}
	return fmt.Sprintf("RST in the %s's name: sender unclear", ri.ClaimedBy)
}

// gapWords describes a long gap: "960 s (16m0s) of silence".
func gapWords(d time.Duration) string { return roughly(d) + " of silence" }

// roughly prints a duration for people, as the findings do: milliseconds
// below a second, one decimal below two minutes, whole seconds with a
// minutes form above.
func roughly(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d < 2*time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f s (%s)", d.Seconds(), d.Round(time.Second))
}

// clockOf prints a time of day with milliseconds, UTC.
func clockOf(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// headline says in a phrase what happened to a flagged flow, after its most
// severe finding.
func headline(fl *analyze.Flow) string {
	var top *analyze.Finding
	for i := range fl.Findings {
		f := &fl.Findings[i]
		if top == nil || f.Severity < top.Severity {
			top = f
		}
	}
	if top == nil {
		return "no finding"
	}
	gap := gapWords(top.Gap)
	switch top.Kind {
	case analyze.ResetAfterIdle:
		s := "reset after " + gap
		if ri := top.Evidence.Reset; ri != nil {
			s += "; the RST was " + resetVerdict(ri)
		}
		return s
	case analyze.StaleConnectionReuse:
		return "an idle pooled connection was reused after " + gap + " and reset"
	case analyze.BlackholedAfterIdle:
		return "packets black-holed after " + gap + ": retransmitted, never acknowledged"
	case analyze.ClosedAfterIdle:
		return "closed with a FIN by a proxy or the application after " + gap + ", a request outstanding"
	case analyze.HungAtCaptureEnd:
		return "still hanging at the capture end, after " + gap
	case analyze.KeepaliveTooSlow:
		return "keepalive probes too far apart: " + gap
	}
	return gap + ", past the idle threshold"
}

// kindNouns holds the singular and plural noun of each packet kind.
var kindNouns = map[analyze.PacketKind][2]string{
	analyze.PacketAck:             {"ACK", "ACKs"},
	analyze.PacketData:            {"data segment", "data segments"},
	analyze.PacketRetransmission:  {"retransmission", "retransmissions"},
	analyze.PacketKeepalive:       {"keepalive probe", "keepalive probes"},
	analyze.PacketKeepaliveAck:    {"keepalive ACK", "keepalive ACKs"},
	analyze.PacketZeroWindowProbe: {"zero-window probe", "zero-window probes"},
	analyze.PacketSyn:             {"SYN", "SYNs"},
	analyze.PacketFin:             {"FIN", "FINs"},
	analyze.PacketRst:             {"RST", "RSTs"},
}

// kindNoun names n packets of a kind: "1 ACK", "14 keepalive probes".
func kindNoun(k analyze.PacketKind, n int) string {
	nouns, ok := kindNouns[k]
	if !ok {
		nouns = [2]string{"packet", "packets"}
	}
	if n == 1 {
		return "1 " + nouns[0]
	}
	return fmt.Sprintf("%d %s", n, nouns[1])
}

// shownFinding is a line of a flow's findings as the Markdown and HTML
// reports show them: one finding, or a run of alike findings folded.
type shownFinding struct {
	N       int // the finding's number in the findings table
	F       *analyze.Finding
	Last    int    // for a fold, the number of the last finding folded; 0 otherwise
	Summary string // for a fold, what the folded findings have in common
}

// shownFindings lists a flow's findings in the order and with the numbers
// of the findings table; a run of more than four of one kind keeps its
// first two and its last, the middle folded into one line.
func (l *findingList) shown(fl *analyze.Flow) []shownFinding {
	var all []shownFinding
	for _, i := range l.byIndex[fl.Index] {
		all = append(all, shownFinding{N: i + 1, F: &fl.Findings[l.rows[i].n]})
	}
	var out []shownFinding
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].F.Kind == all[i].F.Kind {
			j++
		}
		run := all[i:j]
		if len(run) <= 4 {
			out = append(out, run...)
			i = j
			continue
		}
		mid := run[2 : len(run)-1]
		lo, hi := mid[0].F.Gap, mid[0].F.Gap
		for _, m := range mid {
			lo, hi = min(lo, m.F.Gap), max(hi, m.F.Gap)
		}
		gaps := "gaps of " + seconds(lo) + " each"
		if lo != hi {
			gaps = "gaps of " + seconds(lo) + " to " + seconds(hi)
		}
		fold := shownFinding{N: mid[0].N, F: mid[0].F, Last: mid[len(mid)-1].N,
			Summary: fmt.Sprintf("%d more %s findings like these, %s, at %s to %s UTC", len(mid), mid[0].F.Kind, gaps,
				clockOf(mid[0].F.At), clockOf(mid[len(mid)-1].F.At))}
		out = append(out, run[0], run[1], fold, run[len(run)-1])
		i = j
	}
	return out
}
