package analyze

import (
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// segKind classifies a segment by what it does to the connection.
type segKind uint8

const (
	kindAck          segKind = iota // pure ACK (or a window update)
	kindData                        // new payload
	kindRetransmit                  // payload already sent
	kindProbe                       // keepalive probe
	kindProbeAck                    // keepalive ACK
	kindZeroWinProbe                // zero-window probe
	kindSyn
	kindFin
	kindRst
)

// endedBy names a gap's ending packet kind as reports say it.
func (k segKind) endedBy() string {
	switch k {
	case kindData, kindRetransmit, kindZeroWinProbe:
		return "data"
	case kindProbe, kindProbeAck:
		return "keepalive"
	case kindFin:
		return "fin"
	case kindRst:
		return "reset"
	case kindSyn:
		return "syn"
	}
	return "ack"
}

// packetRef is the compact form of PacketRef kept in flow state: 24
// bytes, the packet's number and its file's index sharing a word.
type packetRef struct {
	nanos int64
	place uint64 // frame<<fileBits | file
	len   uint32
	side  Side
	kind  segKind
}

// fileBits is how many bits of a packetRef's place hold the file's index:
// room for 16,777,216 files of up to 2⁴⁰ packets each, which at 16 bytes
// a record at least would be a file of 17 TB.
const fileBits = 24

// refTo returns the packetRef of seg, captured at now.
func refTo(seg *pcapio.Segment, now int64, side Side, kind segKind) packetRef {
	return packetRef{nanos: now, place: seg.Frame<<fileBits | uint64(seg.File), len: seg.PayloadLen, side: side, kind: kind}
}

// frame is the packet's number in its file, from 1.
func (p packetRef) frame() uint64 { return p.place >> fileBits }

// file is the index of the packet's file.
func (p packetRef) file() int { return int(p.place & (1<<fileBits - 1)) }

func (p packetRef) export() *PacketRef {
	if p.none() {
		return nil
	}
	r := p.value()
	return &r
}

// none reports whether p names no packet.
func (p packetRef) none() bool { return p.frame() == 0 && p.nanos == 0 }

func (p packetRef) value() PacketRef { return p.valueWhat(p.what()) }

// valueWhat is value with p.what() given.
func (p packetRef) valueWhat(what string) PacketRef {
	return PacketRef{File: p.file(), Frame: p.frame(), Time: nanoTime(p.nanos), Side: p.side, Kind: packetKinds[p.kind], What: what}
}

func (p packetRef) what() string {
	switch p.kind {
	case kindData:
		return plural(int(p.len), "byte") + " of data"
	case kindRetransmit:
		return "a retransmission (" + plural(int(p.len), "byte") + ")"
	case kindProbe:
		return "a keepalive probe"
	case kindProbeAck:
		return "a keepalive ACK"
	case kindZeroWinProbe:
		return "a zero-window probe"
	case kindSyn:
		return "a SYN"
	case kindFin:
		return "a FIN"
	case kindRst:
		return "a RST"
	}
	return "an ACK"
}

var packetKinds = [...]PacketKind{
	kindAck: PacketAck, kindData: PacketData, kindRetransmit: PacketRetransmission, kindProbe: PacketKeepalive,
	kindProbeAck: PacketKeepaliveAck, kindZeroWinProbe: PacketZeroWindowProbe, kindSyn: PacketSyn, kindFin: PacketFin, kindRst: PacketRst,
}

func tracePacket(seg *pcapio.Segment, side Side, kind segKind, duplicate bool, now int64) Packet {
	p := Packet{
		PacketRef: PacketRef{File: seg.File, Frame: seg.Frame, Time: nanoTime(now), Side: side, Kind: packetKinds[kind]},
		Len:       seg.PayloadLen, Seq: seg.Seq, Ack: seg.Ack, TTL: seg.TTL, Flags: seg.Flags,
	}
	if duplicate {
		p.Kind = PacketDuplicate
	}
	p.What = string(p.Kind)
	return p
}

func nanoTime(n int64) time.Time { return time.Unix(0, n).UTC() }

// recentSeg remembers a segment for spotting copies of it.
type recentSeg struct {
	sig   uint64 // signature: what two copies of one packet share
	at    uint32 // capture time in units of 1,024 ns, modulo 2³²: 73 minutes
	where uint32 // whereFrom: the point of capture and TTL
}

// whereFrom folds a segment's point of capture and TTL into one word that
// differs whenever either alone differs.
func whereFrom(seg *pcapio.Segment) uint32 { return seg.Point ^ uint32(seg.TTL)*0x9e3779b1 }

// recentAt is a capture time as recentSeg keeps it.
func recentAt(nanos int64) uint32 { return uint32(nanos >> 10) }

// signature folds the fields two copies of one captured packet share —
// sequence and acknowledgement numbers, timestamp value, length, window,
// IP ID, flags — into one word.
func signature(seg *pcapio.Segment) uint64 {
	h := uint64(seg.Seq)<<32 | uint64(seg.Ack)
	h ^= (uint64(seg.TSVal)<<32 | uint64(seg.PayloadLen)) * 0x9e3779b97f4a7c15
	h ^= (uint64(seg.Window)<<24 | uint64(seg.IPID)<<8 | uint64(seg.Flags)) * 0xc2b2ae3d27d4eb4f
	return h
}

// isCopy reports whether seg is a second capture of one of the side's last
// two segments: identical within duplicateWindow, and provably the same
// packet — an IPv4 ID that is not 0, a TTL one router lower, or another
// point of capture (interface, packet type). Two RSTs a host sends with IP
// ID 0 to two segments in flight are identical too, and both count.
func (d *dirState) isCopy(seg *pcapio.Segment, sig uint64, now int64) bool {
	if d.packets == 0 || (d.recent[0].sig != sig && d.recent[1].sig != sig) {
		return false // most segments: nothing more to check
	}
	at, where := recentAt(now), whereFrom(seg)
	for _, r := range d.recent {
		if r.sig == sig && at-r.at <= recentAt(duplicateWindow)+1 && (seg.IPID != 0 || where != r.where) {
			return true
		}
	}
	return false
}

// dirState is what one side has sent so far. Its fields are ordered by size
// so that it has no padding: a million flows hold two each.
type dirState struct {
	recent [2]recentSeg // its last two segments, newest first, to spot copies
	bytes  uint64

	nextSeq     uint32 // sequence number after the highest byte sent
	lastAck     uint32 // last acknowledgement number sent
	isn         uint32
	ipidNonZero uint32 // IPv4 segments with an IP ID that is non-zero and new
	segs        uint32 // non-RST segments
	segsTS      uint32 // of which carrying the timestamps option
	packets     uint32
	retrans     uint32
	resets      uint32

	probes, probeAcks, zeroWinProbes int32
	keep                             int32 // 1 + index of its keepState in the Analyzer; 0 before its first probe
	candidate                        int32 // 1 + index of its probeCandidate while its first segment may be a keepalive probe; else 0

	window      uint16 // last advertised window (unscaled)
	lastIPID    uint16
	ttl         uint8
	nextValid   bool
	ackValid    bool
	windowValid bool
	synSeen     bool
	finSeen     bool
	lastProbe   bool // its last segment was a keepalive probe
}

// probeCandidate is a side's first segment while it may yet prove to be a
// keepalive probe: a capture that begins with one cannot tell it from an
// ACK, or a 1-byte one from data, until the peer answers.
type probeCandidate struct {
	at   int64
	seq  uint32
	byte bool // it carried one byte (counted as data until proven a probe)
	was  int8 // the flow's lastData before it
}

// keepState is the timing of one side's keepalive probes. It lives in a
// side table of the Analyzer, since most flows never probe.
type keepState struct {
	lastProbeAt                      int64
	idleBeforeFirst                  int64
	minInterval, maxInterval, sumInt int64
	keepIdleMin                      int64 // shortest silence before a probe that follows other traffic (≈ TCP_KEEPIDLE)
	keepIntvlMin                     int64 // shortest spacing of back-to-back unanswered probes (≈ TCP_KEEPINTVL)
	keepRun                          int32 // unanswered probes in a row so far
	keepMaxRun                       int32 // most unanswered probes in a row (≈ TCP_KEEPCNT when it gave up)
	keepGaveUp                       bool  // it sent a RST right after unanswered probes
}

// countProbe records a keepalive probe of d sent at now after idle of
// silence.
func (a *Analyzer) countProbe(d *dirState, now, idle int64) {
	k := a.keepOf(d)
	if d.probes == 0 {
		k.idleBeforeFirst = idle
	} else {
		iv := now - k.lastProbeAt
		if d.probes == 1 || iv < k.minInterval {
			k.minInterval = iv
		}
		k.maxInterval = max(k.maxInterval, iv)
		k.sumInt += iv
	}
	d.probes++
	k.lastProbeAt = now
}

// gapWatch follows what happens after a gap until the flow shows it
// survived, or failed, or the capture ends.
type gapWatch struct {
	active      bool
	long        bool // at or above the threshold
	duration    int64
	start       packetRef // last packet before the gap
	trigger     packetRef // first packet after it
	triggerEnd  uint32    // sequence number after the trigger's data or FIN
	triggerData bool      // the trigger carried data or a FIN
	waiting     int8      // side with a request outstanding at the gap, or -1
	retrans     int
	lastRetrans packetRef
}

// flow is one TCP connection being tracked. A million of them may be alive
// at once, so what only some flows need lives in the Analyzer's side
// tables (slab), and the fields are ordered by size so that there is no
// padding.
type flow struct {
	key     pcapio.FlowKey
	hash    uint32 // low half of the key's hash
	id      uint32 // place in the flow table; 0 when not in it
	index   uint32 // flows are numbered from 0 in the order they start
	watch   int32  // 1 + index of its gapWatch in the Analyzer; 0 when none is open
	first   int64
	last    int64
	lastRef packetRef // last packet that reset the middlebox timer
	dirs    [2]dirState

	maxGap, maxGapAt  int64
	maxSurvived       time.Duration // longest gap under watch it survived
	synAt             int64         // time of the first SYN, for round trips
	synAckIn, hsAckIn uint32        // handshake steps timed for round trips, as elapsed() makes them

	notes  int32 // 1 + index of its flowNotes in the Analyzer; 0 when none
	alerts int32 // live mode: 1 + index of its alertState in the Analyzer; 0 when none

	state      State
	lastData   int8    // side that sent the latest new payload, or -1
	prevSide   Side    // sender of the previous packet
	prevKind   segKind // and what it was
	clientIsLo bool
	handshake  bool
	evicted    bool
}

// packets is how many packets the flow has had, copies not counted.
func (f *flow) packets() uint64 {
	return uint64(f.dirs[Client].packets) + uint64(f.dirs[Server].packets)
}

// start sets up a flow the table has just made for seg's key.
func (f *flow) start(index uint32, seg *pcapio.Segment, now int64) {
	f.index, f.first, f.last, f.lastData = index, now, now, -1
	switch {
	case seg.Has(pcapio.SYN) && !seg.Has(pcapio.ACK):
		f.clientIsLo = seg.SrcIsLo
	case seg.Has(pcapio.SYN | pcapio.ACK):
		f.clientIsLo = !seg.SrcIsLo
	default:
		f.clientIsLo = !isServerPort(f.key.Lo.Port, f.key.Hi.Port)
	}
	f.lastRef = packetRef{nanos: now}
}

// isServerPort reports whether port a rather than b looks like the server's
// when the handshake was not captured: the well-known port, else the one
// outside the ephemeral ranges, else the lower one.
func isServerPort(a, b uint16) bool {
	switch {
	case a < 1024 != (b < 1024):
		return a < 1024
	case isEphemeral(a) != isEphemeral(b):
		return isEphemeral(b)
	}
	return a <= b
}

func isEphemeral(p uint16) bool { return p >= 32768 }

// silent reports whether the flow is open and neither side has sent a FIN:
// a silence in it may still be a hang.
func (f *flow) silent() bool {
	return f.state == Open && !f.dirs[Client].finSeen && !f.dirs[Server].finSeen
}

func (f *flow) sideOf(srcIsLo bool) Side {
	if srcIsLo == f.clientIsLo {
		return Client
	}
	return Server
}

// startsNewFlow reports whether seg, a packet for this 4-tuple, begins a new
// connection: a SYN after the old one closed or reset, or a SYN with a new
// initial sequence number once the old one carried data.
func (f *flow) startsNewFlow(seg *pcapio.Segment) bool {
	if !seg.Has(pcapio.SYN) || seg.Has(pcapio.ACK) {
		return false
	}
	if f.state != Open {
		return true
	}
	d := &f.dirs[f.sideOf(seg.SrcIsLo)]
	return d.synSeen && seg.Seq != d.isn && (f.dirs[0].bytes > 0 || f.dirs[1].bytes > 0)
}

func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }

type addResult uint8

const (
	added addResult = iota
	addedDuplicate
)

// add updates the flow with one segment.
func (f *flow) add(a *Analyzer, seg *pcapio.Segment, now int64) addResult {
	side := f.sideOf(seg.SrcIsLo)
	fwd, rev := &f.dirs[side], &f.dirs[side.Other()]

	// A flow has a watch only while it is active (see the end).
	sig := signature(seg)
	duplicate := fwd.isCopy(seg, sig, now)
	var kind segKind
	if !duplicate {
		fwd.recent[1] = fwd.recent[0]
		fwd.recent[0] = recentSeg{sig: sig, at: recentAt(now), where: whereFrom(seg)}
		kind = classify(seg, fwd, rev)
	}
	if a.trace != nil && (a.traceAll || a.traceFlows[int(f.index)]) {
		a.trace(int(f.index), tracePacket(seg, side, kind, duplicate, now))
	}
	if duplicate {
		return addedDuplicate
	}
	ref := refTo(seg, now, side, kind)

	if a.resetsTimer(kind) {
		gap := now - f.lastRef.nanos // 0 for the first packet: start set lastRef to its time
		if gap > f.maxGap {
			f.maxGap, f.maxGapAt = gap, f.lastRef.nanos
		}
		// A long gap's watch is not cut short by the backoff gaps of
		// the retransmissions it is waiting for.
		active := f.watch != 0
		if gap >= a.watchFrom() && (!active || !a.watchOf(f).long || gap >= a.threshold) {
			f.finishWatch(a, 0)
			f.openWatch(a, gap, ref, seg)
		} else if active {
			f.watchPacket(a, ref, seg)
		}
		f.lastRef = ref
	} else if f.watch != 0 {
		f.watchPacket(a, ref, seg)
	}
	f.update(a, seg, side, kind, now)
	if f.watch != 0 && !a.watching(f) {
		a.watches.release(&f.watch) // over, and its findings written
	}
	return added
}

// resetsTimer reports whether a packet of this kind restarts the
// middlebox's idle timer.
func (a *Analyzer) resetsTimer(k segKind) bool {
	if a.probesCount {
		return true
	}
	switch k {
	case kindData, kindRetransmit, kindSyn, kindFin, kindRst:
		return true
	}
	return false
}

// watchFrom is the shortest gap worth following: long gaps for findings,
// shorter ones so that the timeout bracket learns which gaps flows survive.
func (a *Analyzer) watchFrom() int64 { return min(a.threshold, int64(time.Second)) }

// classify decides what a segment is from the state before it, by the rules
// of RFC 1122 4.2.3.6 and Wireshark's tcp.analysis checks, plus the window
// context that tells a Linux zero-window probe from a keepalive.
func classify(seg *pcapio.Segment, fwd, rev *dirState) segKind {
	switch {
	case seg.Has(pcapio.RST):
		return kindRst
	case seg.Has(pcapio.SYN):
		return kindSyn
	case seg.Has(pcapio.FIN):
		if fwd.nextValid && seqLT(seg.Seq+seg.PayloadLen, fwd.nextSeq) {
			return kindRetransmit
		}
		return kindFin
	}
	peerWindowZero := rev.windowValid && rev.window == 0
	n := seg.PayloadLen
	if n == 1 && fwd.nextValid && seg.Seq == fwd.nextSeq && peerWindowZero {
		return kindZeroWinProbe
	}
	if n <= 1 {
		next, known := fwd.nextSeq, fwd.nextValid
		if !known && rev.ackValid { // capture began mid-flow: the peer's ACK tells
			next, known = rev.lastAck, true
		}
		if known && seg.Seq == next-1 {
			if peerWindowZero {
				return kindZeroWinProbe
			}
			return kindProbe
		}
	}
	if n == 0 {
		if rev.lastProbe && fwd.nextValid && seg.Seq == fwd.nextSeq && fwd.ackValid && seg.Ack == fwd.lastAck &&
			seg.Window != 0 && fwd.windowValid && seg.Window == fwd.window {
			return kindProbeAck
		}
		return kindAck
	}
	if fwd.nextValid && seqLE(seg.Seq+n, fwd.nextSeq) {
		return kindRetransmit
	}
	return kindData
}

// update records the segment in the sender's state and the flow's.
func (f *flow) update(a *Analyzer, seg *pcapio.Segment, side Side, kind segKind, now int64) {
	fwd, rev := &f.dirs[side], &f.dirs[side.Other()]
	fwd.packets++
	lastData := f.lastData

	switch kind {
	case kindRst:
		fwd.resets++
		f.state = Reset
		if f.prevSide == side && f.prevKind == kindProbe {
			a.keepOf(fwd).keepGaveUp = true // the sender's keepalive timer gave up
		}
	case kindSyn:
		fwd.synSeen, fwd.isn = true, seg.Seq
		if !seg.Has(pcapio.ACK) && f.synAt == 0 {
			f.synAt = now
		}
		if seg.Has(pcapio.ACK) && rev.synSeen {
			if !f.handshake { // the first SYN-ACK
				f.synAckIn = elapsed(f.synAt, now)
			}
			f.handshake = true
		}
	case kindProbe:
		a.countProbe(fwd, now, now-f.last)
		a.keepOf(fwd).noteProbe(now, now-f.last, f.prevSide == side && f.prevKind == kindProbe)
	case kindProbeAck:
		fwd.probeAcks++
	case kindZeroWinProbe:
		fwd.zeroWinProbes++
	case kindRetransmit:
		fwd.retrans++
	case kindData:
		f.lastData = int8(side)
	}
	fwd.lastProbe = kind == kindProbe

	// A capture that begins with a keepalive probe cannot tell it from an
	// ACK, or a 1-byte one from data, until the peer answers it: with
	// ack = seq + 1, and for the byte a D-SACK saying it came twice.
	if rev.candidate != 0 {
		c := a.candidates.get(rev.candidate)
		a.candidates.release(&rev.candidate)
		if kind == kindAck && seg.Ack == c.seq+1 && (!c.byte || seg.DSACK) {
			a.countProbe(rev, c.at, 0)
			fwd.probeAcks++
			if c.byte {
				rev.bytes--
				if f.lastData == int8(side.Other()) {
					f.lastData = c.was
				}
			}
		}
	}
	a.candidates.release(&fwd.candidate)
	if fwd.packets == 1 && !fwd.nextValid && !rev.ackValid &&
		((kind == kindAck && seg.PayloadLen == 0) || (kind == kindData && seg.PayloadLen == 1)) {
		*a.candidates.at(&fwd.candidate) = probeCandidate{at: now, seq: seg.Seq, byte: seg.PayloadLen == 1, was: lastData}
	}

	if kind == kindAck && side == Client && f.handshake && f.hsAckIn == 0 {
		f.hsAckIn = untimed
		if f.synAckIn != untimed {
			f.hsAckIn = elapsed(f.synAt+int64(f.synAckIn-1), now)
		}
	}
	if kind != kindRst {
		if seg.IPID != 0 && seg.IPID != fwd.lastIPID {
			fwd.ipidNonZero++
		}
		fwd.segs++
		if seg.HasTS {
			fwd.segsTS++
		}
		fwd.ttl = seg.TTL
		fwd.lastIPID = seg.IPID
		fwd.window, fwd.windowValid = seg.Window, true
		if seg.Has(pcapio.ACK) {
			fwd.lastAck, fwd.ackValid = seg.Ack, true
			// The peer acknowledges what it received: bytes this capture
			// missed (it began mid-flow) still advance the peer's next
			// sequence number, so that its keepalives are recognised.
			if !rev.nextValid || seqLT(rev.nextSeq, seg.Ack) {
				rev.nextSeq, rev.nextValid = seg.Ack, true
			}
		}
	}
	if kind == kindData || kind == kindFin || kind == kindSyn {
		end := seg.Seq + seg.PayloadLen
		if seg.Has(pcapio.SYN) || seg.Has(pcapio.FIN) {
			end++
		}
		if !fwd.nextValid || seqLT(fwd.nextSeq, end) {
			fwd.nextSeq, fwd.nextValid = end, true
		}
		fwd.bytes += uint64(seg.PayloadLen)
	} else if !fwd.nextValid && kind != kindRst && kind != kindProbe {
		fwd.nextSeq, fwd.nextValid = seg.Seq+seg.PayloadLen, true
	}
	if seg.Has(pcapio.FIN) {
		fwd.finSeen = true
		if rev.finSeen && f.state == Open {
			f.state = Closed
		}
	}
	f.last = now
	f.prevSide, f.prevKind = side, kind
}

// waiting returns the side with a request outstanding: the client when the
// latest payload was its own (a request not yet answered), else a side
// whose data the peer has not acknowledged; -1 when neither.
func (f *flow) waiting() int8 {
	if f.lastData == int8(Client) {
		return int8(Client)
	}
	for s := Client; s <= Server; s++ {
		d, peer := &f.dirs[s], &f.dirs[s.Other()]
		if d.bytes > 0 && d.nextValid && peer.ackValid && seqLT(peer.lastAck, d.nextSeq) && !d.finSeen {
			return int8(s)
		}
	}
	return -1
}

// watching reports whether the flow has a gap under watch.
func (a *Analyzer) watching(f *flow) bool { return f.watch != 0 && a.watches.items[f.watch-1].active }

// watchOf returns the flow's gapWatch, making one on first use.
func (a *Analyzer) watchOf(f *flow) *gapWatch { return a.watches.at(&f.watch) }

// keepOf returns the side's keepState, making one on first use.
func (a *Analyzer) keepOf(d *dirState) *keepState { return a.keeps.at(&d.keep) }
