package analyze

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// FlowPair is one connection seen at two vantage points: Flows[i] is its
// flow in the Result of vantage i.
type FlowPair struct {
	Index     [2]int // Flow.Index at each vantage point
	MatchedBy string // "4-tuple", or "initial sequence numbers" when NAT changed the addresses
}

// MatchFlows pairs the flows of two vantage points' results that are one
// connection: the same 4-tuple first, then, when a NAT or load balancer
// rewrote the addresses, the same initial sequence numbers of both sides.
// No flow is paired twice. Results must hold every flow (Config.KeepAll).
func MatchFlows(a, b *Result) []FlowPair {
	type isns struct{ c, s uint32 }
	byTuple := map[[2]netip.AddrPort]int{}
	byISN := map[isns][]int{}
	for _, f := range b.Flows.WithoutText().All() {
		byTuple[[2]netip.AddrPort{f.Client, f.Server}] = f.Index
		if f.SYNSeen[Client] && f.SYNSeen[Server] {
			k := isns{f.ISN[Client], f.ISN[Server]}
			byISN[k] = append(byISN[k], f.Index)
		}
	}
	used := map[int]bool{}
	var pairs []FlowPair
	var unmatched []*Flow
	for _, f := range a.Flows.WithoutText().All() {
		if j, ok := byTuple[[2]netip.AddrPort{f.Client, f.Server}]; ok && !used[j] {
			used[j] = true
			pairs = append(pairs, FlowPair{Index: [2]int{f.Index, j}, MatchedBy: "4-tuple"})
			continue
		}
		unmatched = append(unmatched, f)
	}
	for _, f := range unmatched {
		if !f.SYNSeen[Client] || !f.SYNSeen[Server] {
			continue
		}
		for _, j := range byISN[isns{f.ISN[Client], f.ISN[Server]}] {
			if !used[j] {
				used[j] = true
				pairs = append(pairs, FlowPair{Index: [2]int{f.Index, j}, MatchedBy: "initial sequence numbers"})
				break
			}
		}
	}
	return pairs
}

// Vantage is what one capture point says of a connection: its name (the
// capture file), its packets of the connection as traced, and when its
// capture ended.
type Vantage struct {
	Name       string
	Packets    []Packet
	CaptureEnd time.Time
}

// Discrepancy is a packet seen at one vantage point and missing at the
// other where it should have been.
type Discrepancy struct {
	Packet   Packet // as seen where it was seen
	SeenAt   int    // the vantage point that saw it
	Vanished bool   // sent, seen near its sender, never seen near its receiver
	Injected bool   // seen near its receiver, never sent by the end whose address it carries
	Count    int    // copies of it (retransmissions) that went the same way
	Last     time.Time
	Message  string
}

// Comparison is the packet-by-packet verdict on one connection seen at two
// vantage points.
type Comparison struct {
	Pair          FlowPair
	Near          [2]int // Near[Client] is the vantage point nearer the client
	NearBy        string // how Near was decided
	Discrepancies []Discrepancy
}

// wireKey is what stays the same when one packet crosses a router or a NAT.
type wireKey struct {
	side     Side
	seq, ack uint32
	length   uint32
	flags    uint8
}

func keyOfPacket(p *Packet) wireKey {
	return wireKey{p.Side, p.Seq, p.Ack, p.Len, p.Flags}
}

// Compare matches the packets of one connection seen at two vantage
// points and reports those that vanished between them, and those that
// appeared without their claimed sender sending them. Which vantage point
// is nearer which end comes from the TTLs: an end's packets arrive with a
// higher TTL at the point nearer to it; when the TTLs do not tell, vantage
// 0 is taken as the client's.
func Compare(pair FlowPair, v [2]Vantage) Comparison {
	c := Comparison{Pair: pair, Near: [2]int{0, 1}, NearBy: "file order (the TTLs do not tell)"}
	if t0, t1 := maxTTL(v[0].Packets, Client), maxTTL(v[1].Packets, Client); t0 != t1 && t0 > 0 && t1 > 0 {
		if t1 > t0 {
			c.Near = [2]int{1, 0}
		}
		c.NearBy = fmt.Sprintf("the client's packets arrive with TTL %d at %s and %d at %s", t0, v[0].Name, t1, v[1].Name)
	}
	// Count each packet's copies at each vantage point, duplicates aside.
	var seen [2]map[wireKey]int
	for i := range v {
		seen[i] = map[wireKey]int{}
		for j := range v[i].Packets {
			if p := &v[i].Packets[j]; p.Kind != PacketDuplicate {
				seen[i][keyOfPacket(p)]++
			}
		}
	}
	for i := range v {
		other := 1 - i
		matched := map[wireKey]int{}
		for j := range v[i].Packets {
			p := v[i].Packets[j]
			if p.Kind == PacketDuplicate {
				continue
			}
			k := keyOfPacket(&p)
			matched[k]++
			if matched[k] <= seen[other][k] || p.Time.After(v[other].CaptureEnd) {
				continue
			}
			nearSender := c.Near[p.Side] == i
			if n := len(c.Discrepancies); n > 0 {
				last := &c.Discrepancies[n-1]
				if last.SeenAt == i && keyOfPacket(&last.Packet) == k {
					last.Count++
					last.Last = p.Time
					continue
				}
			}
			c.Discrepancies = append(c.Discrepancies, Discrepancy{
				Packet: p, SeenAt: i, Vanished: nearSender, Injected: !nearSender, Count: 1, Last: p.Time,
			})
		}
	}
	for i := range c.Discrepancies {
		d := &c.Discrepancies[i]
		d.Message = describeDiscrepancy(d, v)
	}
	return c
}

func maxTTL(ps []Packet, s Side) uint8 {
	var t uint8
	for _, p := range ps {
		if p.Side == s && p.Kind != PacketRst && p.Kind != PacketDuplicate {
			t = max(t, p.TTL)
		}
	}
	return t
}

// describeDiscrepancy says in a sentence what happened to the packet.
func describeDiscrepancy(d *Discrepancy, v [2]Vantage) string {
	p := d.Packet
	sender, receiver := p.Side, p.Side.Other()
	here, there := v[d.SeenAt].Name, v[1-d.SeenAt].Name
	what := describePacket(&p)
	var b strings.Builder
	if d.Vanished {
		fmt.Fprintf(&b, "The %s sent %s at %s (%s frame %d)", sender, what, clock(p.Time.UnixNano()), here, p.Frame)
		if d.Count > 1 {
			fmt.Fprintf(&b, " and sent it again %s up to %s", plural(d.Count-1, "time"), clock(d.Last.UnixNano()))
		}
		fmt.Fprintf(&b, "; the %s never received it (not in %s): it vanished between the two capture points.", receiver, there)
		return b.String()
	}
	fmt.Fprintf(&b, "%s carrying the %s's address reached the %s at %s (%s frame %d)", capitalize(what), sender, receiver, clock(p.Time.UnixNano()), here, p.Frame)
	// Name the packet it answered: the receiver's last one seen here.
	if t, ok := lastBefore(v[d.SeenAt].Packets, receiver, p.Time); ok {
		fmt.Fprintf(&b, ", %s after the %s's %s", fmtDur(int64(p.Time.Sub(t.Time))), receiver, withoutArticle(describePacket(&t)))
	}
	fmt.Fprintf(&b, "; the %s never sent it (not in %s): something between the two capture points forged it.", sender, there)
	return b.String()
}

func lastBefore(ps []Packet, s Side, t time.Time) (Packet, bool) {
	var found Packet
	ok := false
	for _, q := range ps {
		if q.Time.After(t) {
			break
		}
		if q.Side == s && q.Kind != PacketDuplicate {
			found, ok = q, true
		}
	}
	return found, ok
}

func describePacket(p *Packet) string {
	switch p.Kind {
	case PacketData, PacketRetransmission:
		return plural(int(p.Len), "byte") + " of data"
	case PacketRst:
		return "a RST"
	case PacketFin:
		return "a FIN"
	case PacketSyn:
		if p.Flags&pcapio.ACK != 0 {
			return "a SYN-ACK"
		}
		return "a SYN"
	case PacketKeepalive:
		return "a keepalive probe"
	case PacketKeepaliveAck:
		return "a keepalive ACK"
	}
	return "an ACK"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
