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
// alerted. With a spill file, those nothing can change any more wait
// there rather than in memory (noteSpill).
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
	findings []findingNote // those kept in memory: the ones made after those moved out
	spilled  int64         // 1 + the offset in the spill file of the latest finding moved there; 0 for none
	minFatal fatalGap      // the shortest gap it died of
	// moved counts the findings moved to the spill file, movedKind those
	// of each kind.
	moved     int32
	movedKind [len(noteKinds)]uint8
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
		if latest := n.latestListed(); latest != nil {
			latest.listedGap = 0
		}
		n.gapsNotListed++
	}
	fd.listedGap = 1 // Unresolved
}

// setOutcome sets the outcome of the latest gap, which is listed.
func (n *flowNotes) setOutcome(out Outcome) {
	if latest := n.latestListed(); latest != nil {
		latest.listedGap = 1 + uint8(slices.Index(outcomes[:], out))
	}
}

// latestListed returns the finding of the latest listed gap, or nil. It
// is always in memory: seal moves a listed gap's finding only once a later
// one is listed.
func (n *flowNotes) latestListed() *findingNote {
	for i := len(n.findings) - 1; i >= 0; i-- {
		if n.findings[i].listedGap != 0 {
			return &n.findings[i]
		}
	}
	return nil
}

// addFinding adds fd; past MaxListed findings of its kind, it drops the
// latest listed one of the kind, which is counted.
func (n *flowNotes) addFinding(fd findingNote) {
	latest, listed := -1, int(n.movedKind[fd.kind]) // the latest of a kind is never moved
	for i := range n.findings {
		if n.findings[i].kind == fd.kind {
			latest, listed = i, listed+1
		}
	}
	if listed == MaxListed {
		if latest >= len(n.findings)-int(n.unalerted) {
			n.unalerted--
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
	if f.notes == 0 {
		return false
	}
	n := &a.notes.items[f.notes-1]
	return len(n.findings) > 0 || n.moved > 0
}

// seal moves to the spill file, in order, the findings at the start of
// n's that nothing can change any more.
func (a *Analyzer) seal(n *flowNotes) {
	for len(n.findings) > 0 && a.spill.usable() && a.settled(n) {
		fd := &n.findings[0]
		n.spilled = a.spill.add(fd, n.spilled)
		n.moved++
		n.movedKind[fd.kind]++
		n.findings = n.findings[:copy(n.findings, n.findings[1:])]
		n.unalerted = min(n.unalerted, int32(len(n.findings)))
	}
}

// settled reports whether nothing can change the first of the findings n
// keeps in memory.
func (a *Analyzer) settled(n *flowNotes) bool {
	fd := &n.findings[0]
	switch {
	case int(n.movedKind[fd.kind]) >= MaxListed-1: // the latest of its kind, which a later one replaces
		return false
	case fd.more != nil && fd.more.reset != nil: // its evidence holds text
		return false
	case a.ticking && int(n.unalerted) >= len(n.findings): // not alerted yet
		return false
	case fd.listedGap != 0: // a listed gap's: listGap and setOutcome change only the latest listed
		for i := 1; i < len(n.findings); i++ {
			if n.findings[i].listedGap != 0 {
				return true
			}
		}
		return false
	}
	return true
}

// unsealed returns the findings of n moved to the spill file, read back in
// order into scratch space the next call reuses. When one cannot be read,
// it returns those after it.
func (a *Analyzer) unsealed(n *flowNotes) []findingNote {
	k := int(n.moved)
	if k == 0 {
		return nil
	}
	a.backNotes = slices.Grow(a.backNotes[:0], k)[:k]
	a.backMore = slices.Grow(a.backMore[:0], k)[:k]
	ref := n.spilled
	for i := k - 1; i >= 0; i-- {
		var ok bool
		if ref, ok = a.spill.get(ref, &a.backNotes[i], &a.backMore[i]); !ok {
			return a.backNotes[i+1:]
		}
	}
	return a.backNotes
}

// exportNotes sets out's Gaps, Findings and the counts of those not
// listed from n. The slices are carved from into.
func (a *Analyzer) exportNotes(n *flowNotes, out *Flow, into *exportChunks) {
	back := a.unsealed(n)
	gaps := 0
	for _, part := range [2][]findingNote{back, n.findings} {
		for i := range part {
			if part[i].listedGap != 0 {
				gaps++
			}
		}
	}
	if gaps > 0 {
		out.Gaps = into.gaps.take(gaps)
	}
	if all := len(back) + len(n.findings); all > 0 {
		out.Findings = into.findings.take(all)
	}
	k, j := 0, 0 // gaps and findings exported
	for _, part := range [2][]findingNote{back, n.findings} {
		for i := range part {
			if part[i].listedGap != 0 {
				out.Gaps[k] = part[i].exportGap()
				k++
			}
			exportFinding(&part[i], &out.Findings[j], into)
			j++
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
