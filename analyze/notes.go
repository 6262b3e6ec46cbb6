package analyze

import (
	"slices"
	"time"
)

// A flow keeps its findings, while it is analysed, in the compact form
// below: times as nanoseconds, packets as packetRefs, kinds and outcomes
// as indexes, no text. A flow silent past the threshold again and again
// keeps up to MaxListed of each kind, and a capture of many such flows
// holds all of theirs at once, so their size is what such a capture
// takes: a finding is 80 bytes here, against 184 as a Finding, with 80
// more for each of a Finding's PacketRefs and their text. Only the kinds
// with more evidence than most allocate when a finding is made. They
// become Findings when the flow is exported (summary) or a finding
// alerted.
//
// A flow's long gaps are not kept apart: each is named by the finding
// made for it (addCause), whose packets and times are the gap's, and that
// finding notes whether the gap is listed and its outcome. Every listed
// gap's finding is listed too: the first MaxListed-1 gaps' findings are
// among the first of their kinds, and the latest gap's is the latest of
// its kind.

// flowNotes holds what only some flows have: findings, and through them
// long gaps. It lives outside the flow so that flows hold no pointers.
type flowNotes struct {
	findings []findingNote
	minFatal fatalGap // the shortest gap it died of
	// gapsListed counts the findings that name a listed gap.
	gapsListed int32
	// Past MaxListed, the gaps and findings of each kind left out (Flow's
	// GapsNotListed and FindingsNotListed).
	gapsNotListed     int32
	findingsNotListed [len(noteKinds)]int32
	// unalerted is how many findings at the end of findings live mode
	// has not raised an alert for.
	unalerted int32
}

// outcomes are a gap's outcomes, indexed so that notes hold no strings.
var outcomes = [...]Outcome{Unresolved, Survived, WasReset, Blackholed, WasClosed, Hung}

// noteKinds are the finding kinds, indexed so that notes hold no strings.
var noteKinds = [...]Kind{SilentPastTimeout, ResetAfterIdle, StaleConnectionReuse, BlackholedAfterIdle, ClosedAfterIdle, HungAtCaptureEnd, KeepaliveTooSlow}

// findingNote is a Finding as a flow keeps it: Finding's fields, and its
// Evidence's GapStart, GapEnd, EndedBy, Waiting and Probes; the evidence
// only some kinds have is in more. A finding that names a listed gap
// holds it too: the gap runs from start to at, and ends with end.
type findingNote struct {
	at, gap    int64
	start, end packetRef    // the last packet before the gap and the first after it; end is none when the gap ran to the capture end
	more       *findingMore // nil but for resets, black holes and keepalives too slow
	probes     int32
	kind       uint8 // index in noteKinds
	severity   Severity
	waiting    int8  // the side waiting during the gap, or -1
	listedGap  uint8 // 1 + the index in outcomes of the gap's outcome, when it names a listed gap; else 0
}

// findingMore is the evidence of the findings that have more than most.
type findingMore struct {
	reset     *ResetInfo
	last      packetRef // black holes: the last retransmission, or the sender's RST
	retrans   int32     // black holes: retransmissions of the data sent after the gap
	keepalive bool      // keepalives too slow: sides holds each side's settings
	sides     [2]keepNote
}

// keepNote is a KeepaliveSettings as a finding keeps it: its Matches
// follow from Idle and Interval, and are found when it is exported.
type keepNote struct {
	idle, interval int64
	count          int32
	gaveUp         bool
}

// kindIndex is k's index in noteKinds.
func kindIndex(k Kind) uint8 { return uint8(slices.Index(noteKinds[:], k)) }

// listGap lists the long gap that the next finding added names: past
// MaxListed, it takes the place of the latest listed one, which is
// counted.
func (n *flowNotes) listGap(fd *findingNote) {
	if n.gapsListed < MaxListed {
		n.gapsListed++
	} else {
		for i := len(n.findings) - 1; i >= 0; i-- {
			if n.findings[i].listedGap != 0 {
				n.findings[i].listedGap = 0
				break
			}
		}
		n.gapsNotListed++
	}
	fd.listedGap = 1 // Unresolved
}

// setOutcome sets the outcome of the latest gap, which is listed.
func (n *flowNotes) setOutcome(out Outcome) {
	for i := len(n.findings) - 1; i >= 0; i-- {
		if n.findings[i].listedGap != 0 {
			n.findings[i].listedGap = 1 + uint8(slices.Index(outcomes[:], out))
			return
		}
	}
}

// addFinding adds fd; past MaxListed findings of its kind, it drops the
// latest listed one of the kind, which is counted.
func (n *flowNotes) addFinding(fd findingNote) {
	latest, listed := -1, 0
	for i := range n.findings {
		if n.findings[i].kind == fd.kind {
			latest, listed = i, listed+1
		}
	}
	if listed == MaxListed {
		if latest >= len(n.findings)-int(n.unalerted) {
			n.unalerted--
		}
		if n.findings[latest].listedGap != 0 { // never: a gap listed is among the first of its kind, or the latest
			n.gapsListed--
			n.gapsNotListed++
		}
		n.findings = slices.Delete(n.findings, latest, latest+1)
		n.findingsNotListed[fd.kind]++
	}
	n.findings = append(n.findings, fd)
	n.unalerted++
}

// notesOf returns the flow's notes, making them on first use. The pointer
// is valid until the next call.
func (a *Analyzer) notesOf(f *flow) *flowNotes { return a.notes.at(&f.notes) }

// hasFindings reports whether the flow has findings, without making
// notes.
func (a *Analyzer) hasFindings(f *flow) bool {
	return f.notes != 0 && len(a.notes.items[f.notes-1].findings) > 0
}

// exportNotes sets out's Gaps, Findings and the counts of those not
// listed from n. The slices are carved from into.
func (a *Analyzer) exportNotes(n *flowNotes, out *Flow, into *exportChunks) {
	if n.gapsListed > 0 {
		out.Gaps = into.gaps.take(int(n.gapsListed))
		k := 0
		for i := range n.findings {
			if n.findings[i].listedGap != 0 {
				out.Gaps[k] = n.findings[i].exportGap()
				k++
			}
		}
	}
	if len(n.findings) > 0 {
		out.Findings = into.findings.take(len(n.findings))
		for i := range n.findings {
			exportFinding(&n.findings[i], &out.Findings[i], into)
		}
	}
	out.GapsNotListed = int(n.gapsNotListed)
	for k, c := range n.findingsNotListed {
		if c > 0 {
			if out.FindingsNotListed == nil {
				out.FindingsNotListed = into.notListedMap()
			}
			out.FindingsNotListed[noteKinds[k]] = int(c)
		}
	}
}

// exportGap returns the listed gap n names.
func (n *findingNote) exportGap() Gap {
	endedBy := "capture-end"
	if !n.end.none() {
		endedBy = n.end.kind.endedBy()
	}
	return Gap{Start: nanoTime(n.start.nanos), End: nanoTime(n.at), Duration: time.Duration(n.at - n.start.nanos), EndedBy: endedBy, Outcome: outcomes[n.listedGap-1]}
}

// exportFinding writes the Finding n notes, without its text, to fd, its
// packets carved from into.
func exportFinding(n *findingNote, fd *Finding, into *exportChunks) {
	*fd = Finding{Kind: noteKinds[n.kind], Severity: n.severity, At: nanoTime(n.at), Gap: time.Duration(n.gap)}
	ev := &fd.Evidence
	ev.GapStart, ev.EndedBy, ev.Probes = into.ref(n.start), "capture-end", int(n.probes)
	if !n.end.none() {
		ev.GapEnd, ev.EndedBy = into.ref(n.end), n.end.kind.endedBy()
	}
	if n.waiting >= 0 {
		ev.Waiting = Side(n.waiting).String()
	}
	m := n.more
	if m == nil {
		return
	}
	ev.Reset = m.reset
	if fd.Kind == BlackholedAfterIdle {
		ev.Retransmitted, ev.Unacked, ev.Last = int(m.retrans), into.ref(n.end), into.ref(m.last)
	}
	if m.keepalive {
		ev.Keepalive = &[2]KeepaliveSettings{m.sides[0].export(), m.sides[1].export()}
	}
}

// ref exports p, carved from e; nil when p names no packet.
func (e *exportChunks) ref(p packetRef) *PacketRef {
	if p.none() {
		return nil
	}
	r := e.refs.take(1)
	r[0] = p.valueWhat(e.what(p))
	return &r[0]
}
