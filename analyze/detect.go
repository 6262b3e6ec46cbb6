package analyze

import (
	"net/netip"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// minBlackholeRetrans is how many retransmissions of unacknowledged data
// make a black hole: one can be a tail-loss probe racing a delayed ACK.
const minBlackholeRetrans = 2

// openWatch starts following the gap that trigger ended. A long gap gets
// its cause finding at once; its consequence is decided by the packets that
// follow.
func (f *flow) openWatch(a *Analyzer, gap int64, trigger packetRef, seg *pcapio.Segment) {
	w := a.watchOf(f)
	*w = gapWatch{
		active:   true,
		long:     gap >= a.threshold,
		duration: gap,
		start:    f.lastRef,
		trigger:  trigger,
		waiting:  f.waiting(),
	}
	if trigger.kind == kindData || trigger.kind == kindFin || trigger.kind == kindRetransmit {
		w.triggerData = true
		w.triggerEnd = seg.Seq + seg.PayloadLen
		if seg.Has(pcapio.FIN) {
			w.triggerEnd++
		}
	}
	if w.long {
		f.addCause(a, w.start, &trigger, gap, w.waiting)
	}
	switch {
	case trigger.kind == kindRst:
		f.resolve(a, WasReset, trigger, seg)
	case trigger.kind == kindFin && w.waiting == int8(trigger.side.Other()):
		f.resolve(a, WasClosed, trigger, seg)
	}
}

// watchPacket feeds a packet that came after the gap's trigger.
func (f *flow) watchPacket(a *Analyzer, p packetRef, seg *pcapio.Segment) {
	w := a.watchOf(f)
	d := w.trigger.side
	switch {
	case p.kind == kindRst:
		if p.side == d && w.retrans >= minBlackholeRetrans {
			f.resolve(a, Blackholed, p, seg) // the sender gave up
			return
		}
		f.resolve(a, WasReset, p, seg)
	case p.side == d.Other():
		if !w.triggerData || (seg.Has(pcapio.ACK) && seqLE(w.triggerEnd, seg.Ack)) {
			f.resolve(a, Survived, p, seg)
		}
	case p.kind == kindRetransmit || (p.kind == kindFin && w.triggerData):
		w.retrans++
		w.lastRetrans = p
	}
}

// finishWatch settles a watch that no packet resolved: data retransmitted
// and never acknowledged is a black hole.
func (f *flow) finishWatch(a *Analyzer, captureEnd int64) {
	if !a.watching(f) {
		return
	}
	w := a.watchOf(f)
	if w.triggerData && w.retrans >= minBlackholeRetrans {
		f.resolve(a, Blackholed, w.lastRetrans, nil)
		return
	}
	w.active = false
}

// resolve ends the watch with an outcome and, for a long gap, adds the
// consequence finding.
func (f *flow) resolve(a *Analyzer, out Outcome, p packetRef, seg *pcapio.Segment) {
	w := a.watchOf(f)
	w.active = false
	gap := time.Duration(w.duration)
	var ri *ResetInfo
	plausible := gap < pcapio.ClockLeap // longer gaps are the clock's, not the network's
	switch out {
	case Survived:
		if plausible {
			f.maxSurvived = max(f.maxSurvived, gap)
		}
	case Blackholed:
		if plausible {
			a.noteFatal(f, gap, SilentDrop)
		}
	case WasReset:
		ri = f.resetInfo(a, p, seg)
		if ri.Verdict == "middlebox" && plausible {
			if ri.TriggeredBy == nil {
				a.noteFatal(f, gap, ResetBoth)
			} else {
				a.noteFatal(f, gap, ResetNextPacket)
			}
		}
	}
	if !w.long {
		return
	}
	a.notesOf(f).setOutcome(out) // the gap watched is the latest
	switch out {
	case WasReset:
		f.addReset(a, p, ri)
	case Blackholed:
		f.addBlackhole(a, p)
	case WasClosed:
		f.addClosed(a, p)
	}
}

// judgeCaptureEnd looks at an open flow's silence up to the capture end.
func (f *flow) judgeCaptureEnd(a *Analyzer, end int64) {
	if !f.silent() {
		return
	}
	idle := end - f.lastRef.nanos
	if idle < a.threshold {
		return
	}
	waiting := f.waiting()
	f.addCause(a, f.lastRef, nil, idle, waiting)
	if waiting >= 0 {
		a.notesOf(f).setOutcome(Hung)
		f.addHung(a, end, idle, Side(waiting))
	}
}

// summary exports the flow, its slices carved from into.
func (f *flow) summary(a *Analyzer, captureEnd int64, into *exportChunks) Flow {
	out := Flow{
		Index:         int(f.index),
		Client:        f.addr(Client),
		Server:        f.addr(Server),
		First:         nanoTime(f.first),
		Last:          nanoTime(f.last),
		HandshakeSeen: f.handshake,
		State:         f.state,
		Packets:       f.packets(),
		MaxGap:        time.Duration(f.maxGap),

		Evicted: f.evicted,
	}
	if f.notes != 0 {
		a.exportNotes(a.notesOf(f), &out, into)
	}
	if f.maxGap > 0 {
		out.MaxGapAt = nanoTime(f.maxGapAt)
	}
	if captureEnd > 0 && f.silent() {
		idle := captureEnd - f.lastRef.nanos
		out.IdleAtEnd = time.Duration(idle)
		if idle > f.maxGap {
			out.MaxGap, out.MaxGapAt = time.Duration(idle), nanoTime(f.lastRef.nanos)
		}
	}
	for s := Client; s <= Server; s++ {
		d := &f.dirs[s]
		out.Bytes[s] = d.bytes
		out.Retransmitted[s] = uint64(d.retrans)
		out.Resets[s] = uint64(d.resets)
		out.ISN[s], out.SYNSeen[s] = d.isn, d.synSeen
		k := KeepaliveStats{Probes: int(d.probes), Acks: int(f.dirs[s.Other()].probeAcks), ZeroWindowProbes: int(d.zeroWinProbes)}
		ks := a.keeps.get(d.keep)
		if d.probes > 0 {
			k.IdleBeforeFirst = time.Duration(ks.idleBeforeFirst)
		}
		if d.probes > 1 {
			k.MinInterval = time.Duration(ks.minInterval)
			k.MaxInterval = time.Duration(ks.maxInterval)
			k.MeanInterval = time.Duration(ks.sumInt / int64(d.probes-1))
		}
		k.Settings = a.keepaliveSettings(d)
		out.Keepalive[s] = k
	}
	return out
}

func (f *flow) addr(s Side) netip.AddrPort {
	if (s == Client) == f.clientIsLo {
		return f.key.Lo.AddrPort()
	}
	return f.key.Hi.AddrPort()
}
