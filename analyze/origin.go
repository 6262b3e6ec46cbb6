package analyze

import (
	"fmt"
	"math"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// Evidence weights: a strong sign alone decides; weak signs need company,
// because a Linux endpoint answering a segment it has no socket for sends a
// RST with no options, window 0 and IP ID 0, exactly like a middlebox.
const (
	strongSign = 2
	weakSign   = 1
)

// resetInfo weighs the evidence on who sent a RST: the TTL against the
// claimed sender's usual one, how fast it came against the claimed sender's
// round trip, the timestamps option, the IP ID, the sequence number.
func (f *flow) resetInfo(a *Analyzer, p packetRef, seg *pcapio.Segment) *ResetInfo {
	claimed := p.side
	d := &f.dirs[claimed]
	ri := &ResetInfo{Packet: p.value(), ClaimedBy: claimed, UsualTTL: d.ttl, TSInUse: d.segs > 0 && d.segsTS == d.segs}
	if t := a.watchOf(f).trigger; t.kind != kindRst && t.side != claimed {
		ri.TriggeredBy = t.export()
		ri.After = time.Duration(p.nanos - t.nanos)
	}
	if seg == nil {
		ri.Verdict = "unknown"
		return ri
	}
	ri.TTL, ri.HasTS = seg.TTL, seg.HasTS
	name := claimed.String()
	middlebox, endpoint := 0, 0
	add := func(toMiddlebox bool, weight int, format string, args ...any) {
		if toMiddlebox {
			middlebox += weight
		} else {
			endpoint += weight
		}
		ri.Reasons = append(ri.Reasons, fmt.Sprintf(format, args...))
	}

	if ri.UsualTTL != 0 {
		if ri.TTL != ri.UsualTTL {
			add(true, strongSign, "its TTL is %d, but the %s's other packets arrive with TTL %d (sent %s away, the %s is %s away)",
				ri.TTL, name, ri.UsualTTL, hops(ri.TTL), name, hops(ri.UsualTTL))
		} else {
			add(false, strongSign, "its TTL %d matches the %s's other packets", ri.TTL, name)
		}
	}
	if rtt := f.rttToward(claimed); ri.TriggeredBy != nil && rtt > int64(time.Millisecond) && int64(ri.After) < rtt/2 {
		add(true, strongSign, "it came %s after the %s's packet, faster than a round trip to the %s (%s): something closer answered",
			fmtDur(int64(ri.After)), claimed.Other(), name, fmtDur(rtt))
	}
	if ri.TSInUse {
		if !ri.HasTS {
			add(true, weakSign, "it carries no TCP timestamps option, although the %s put one in every other segment", name)
		} else {
			add(false, weakSign, "it carries the TCP timestamps option, like the %s's other segments", name)
		}
	}
	if seg.Flow.Lo.Is4 && seg.IPID == 0 && d.ipidRunning() {
		add(true, weakSign, "its IP ID is 0, while the %s's packets carry a running IP ID (last %d)", name, d.lastIPID)
	}
	if d.nextValid && seg.Seq != d.nextSeq && seg.Seq != d.nextSeq-1 {
		add(true, weakSign, "its sequence number %d is not the %s's next one (%d)", seg.Seq, name, d.nextSeq)
	}
	switch {
	case middlebox >= strongSign && middlebox > endpoint:
		ri.Verdict = "middlebox"
	case endpoint >= strongSign && middlebox == 0:
		ri.Verdict = "endpoint"
	default:
		ri.Verdict = "unknown"
	}
	return ri
}

// ipidRunning reports whether the side's IPv4 packets carry a non-zero,
// changing IP ID, as Linux does for connected sockets.
func (d *dirState) ipidRunning() bool { return d.ipidNonZero >= 3 }

// rttToward is the round-trip time from this vantage point to a side, from
// the handshake: SYN to SYN-ACK for the server, SYN-ACK to ACK for the
// client; 0 when the handshake was not seen in full.
func (f *flow) rttToward(s Side) int64 {
	if f.synAckIn == 0 || f.synAckIn == untimed || f.hsAckIn == 0 || f.hsAckIn == untimed {
		return 0
	}
	if s == Server {
		return int64(f.synAckIn - 1)
	}
	return int64(f.hsAckIn - 1)
}

// untimed marks a handshake step that could not be timed.
const untimed = math.MaxUint32

// elapsed encodes the time from a handshake step at from to the next at
// now for flow state: 1 + the nanoseconds between them, or untimed when
// the first step was not seen (from is 0) or they are 4.3 s or more
// apart, too long for a round trip to be of use.
func elapsed(from, now int64) uint32 {
	if from == 0 || now-from >= untimed-1 {
		return untimed
	}
	return uint32(now-from) + 1
}

// hops describes how far away a sender is, from the TTL left when its packet
// arrived and the nearest common initial TTL above it.
func hops(ttl uint8) string {
	for _, initial := range []int{64, 128, 255} {
		if int(ttl) <= initial {
			return plural(initial-int(ttl), "hop")
		}
	}
	return "? hops"
}
