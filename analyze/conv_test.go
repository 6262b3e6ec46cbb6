package analyze

import (
	"net/netip"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// base is the time offsets in tests count from.
var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// conv scripts one TCP conversation as segments, with times as offsets from
// base. It tracks sequence numbers so that tests say only what happens.
type conv struct {
	addr    [2]netip.AddrPort // by Side
	next    [2]uint32         // next sequence number per side
	ttl     [2]uint8
	window  [2]uint16
	ipid    [2]uint16
	ts      bool // both sides use the timestamps option
	segs    []pcapio.Segment
	lastLen [2]uint32 // length of the side's last data segment
}

func newConv(client, server string, isn uint32) *conv {
	return &conv{
		addr:   [2]netip.AddrPort{netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)},
		next:   [2]uint32{isn, isn + 0x10000000},
		ttl:    [2]uint8{64, 60},
		window: [2]uint16{502, 509},
		ts:     true,
	}
}

func (c *conv) seg(side Side, at time.Duration, flags uint8, seq uint32, n uint32) *conv {
	c.ipid[side]++
	s := pcapio.Segment{
		Nanos: base.Add(at).UnixNano(),
		Seq:   seq, Ack: c.next[side.Other()], Flags: flags, PayloadLen: n, Window: c.window[side],
		TTL: c.ttl[side], IPID: c.ipid[side], WScale: -1, HasTS: c.ts, TSVal: uint32(at / time.Millisecond),
		Frame: uint64(len(c.segs) + 1),
	}
	s.SetAddrs(c.addr[side], c.addr[side.Other()])
	if flags&pcapio.ACK == 0 {
		s.Ack = 0
	}
	c.segs = append(c.segs, s)
	return c
}

// handshake adds SYN, SYN-ACK and ACK at at, at+1ms, at+2ms.
func (c *conv) handshake(at time.Duration) *conv {
	c.seg(Client, at, pcapio.SYN, c.next[Client], 0)
	c.next[Client]++
	c.segs[len(c.segs)-1].Ack = 0
	c.seg(Server, at+time.Millisecond, pcapio.SYN|pcapio.ACK, c.next[Server], 0)
	c.next[Server]++
	return c.ack(Client, at+2*time.Millisecond)
}

func (c *conv) send(side Side, at time.Duration, n uint32) *conv {
	c.seg(side, at, pcapio.PSH|pcapio.ACK, c.next[side], n)
	c.next[side] += n
	c.lastLen[side] = n
	return c
}

func (c *conv) ack(side Side, at time.Duration) *conv {
	return c.seg(side, at, pcapio.ACK, c.next[side], 0)
}

// exchange is a request and its answer, each acknowledged.
func (c *conv) exchange(at time.Duration, req, resp uint32, wait time.Duration) *conv {
	c.send(Client, at, req).ack(Server, at+time.Millisecond)
	return c.send(Server, at+wait, resp).ack(Client, at+wait+time.Millisecond)
}

func (c *conv) probe(side Side, at time.Duration) *conv {
	return c.seg(side, at, pcapio.ACK, c.next[side]-1, 0)
}

func (c *conv) probeAck(side Side, at time.Duration) *conv { return c.ack(side, at) }

// retransmit resends the side's last data segment.
func (c *conv) retransmit(side Side, at time.Duration) *conv {
	n := c.lastLen[side]
	return c.seg(side, at, pcapio.PSH|pcapio.ACK, c.next[side]-n, n)
}

func (c *conv) fin(side Side, at time.Duration) *conv {
	c.seg(side, at, pcapio.FIN|pcapio.ACK, c.next[side], 0)
	c.next[side]++
	return c
}

// rst adds a RST carrying side's address; forged sets what a middlebox
// would: its own TTL and no options.
func (c *conv) rst(side Side, at time.Duration, forged bool) *conv {
	c.seg(side, at, pcapio.RST|pcapio.ACK, c.next[side], 0)
	if forged {
		s := &c.segs[len(c.segs)-1]
		s.TTL, s.HasTS, s.IPID = 64+2, false, 0
		if side == Client {
			s.TTL = 63
		}
	}
	return c
}

// zeroWindow makes side advertise a zero window from now on.
func (c *conv) zeroWindow(side Side, at time.Duration) *conv {
	c.window[side] = 0
	return c.ack(side, at)
}

func (c *conv) openWindow(side Side, at time.Duration) *conv {
	c.window[side] = 509
	return c.ack(side, at)
}

// run feeds the segments to a new Analyzer and finishes at the last one, or
// at end when given.
func run(cfg Config, end time.Duration, convs ...*conv) *Result {
	a := New(cfg)
	var all []pcapio.Segment
	for _, c := range convs {
		all = append(all, c.segs...)
	}
	sortSegments(all)
	for i := range all {
		a.Add(&all[i])
	}
	var endTime time.Time
	if end > 0 {
		endTime = base.Add(end)
	}
	return a.Finish(endTime)
}

func sortSegments(s []pcapio.Segment) {
	for i := 1; i < len(s); i++ { // stable insertion sort: conversations are short
		for j := i; j > 0 && s[j].Nanos < s[j-1].Nanos; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// kinds lists the finding kinds of a result in order.
func kinds(r *Result) []Kind {
	var ks []Kind
	for _, f := range r.Flows.All() {
		for _, fd := range f.Findings {
			ks = append(ks, fd.Kind)
		}
	}
	return ks
}
