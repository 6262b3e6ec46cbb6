package main

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Mix is a blend of flow kinds.
type Mix uint8

// The mixes; the package comment describes them.
const (
	Realistic Mix = iota
	Small
	Open
	Keepalive
	Pooled
	Scan
)

func (m Mix) String() string {
	switch m {
	case Small:
		return "small"
	case Open:
		return "open"
	case Keepalive:
		return "keepalive"
	case Pooled:
		return "pooled"
	case Scan:
		return "scan"
	}
	return "realistic"
}

// Config sets up Generate. Exactly one of Size and Flows is non-zero.
type Config struct {
	Mix      Mix
	Size     int64         // approximate bytes at Length 1; the flow count follows from a pilot run
	Flows    int           // flows at Length 1
	Length   float64       // span and flow count multiplier; 0 means 1
	Duration time.Duration // span at Length 1; 0 means 1000 s (realistic) or 300 s (small)
	IPv6     int           // percent of the flows carried over IPv6, up to 100; 0 means 20, less than 0 none
	Seed     uint64
}

// Summary says what Generate wrote.
type Summary struct {
	Bytes   uint64        // file size
	Packets uint64        // records
	Flows   int           // flows started (some may have no packet before the capture end)
	Span    time.Duration // from the first packet to the last
}

// captureStart is the time of the capture start: 2024-03-01 12:00:00 UTC.
const captureStart = 1709294400

// pilotFlows is how many flows the pilot run plans to estimate the bytes
// one flow adds to the file.
const pilotFlows = 10000

// Generate writes a capture for cfg to w and says what it wrote. It keeps
// only the flows in progress in memory.
func Generate(w io.Writer, cfg Config) (Summary, error) {
	if cfg.Length == 0 {
		cfg.Length = 1
	}
	span := int64(cfg.Duration)
	if span == 0 {
		span = int64(1000 * time.Second)
		if cfg.Mix != Realistic {
			span = int64(300 * time.Second)
		}
	}
	g := newGen(cfg.Mix, cfg.Seed)
	g.ipv6 = cfg.IPv6
	switch {
	case g.ipv6 == 0:
		g.ipv6 = 20
	case g.ipv6 < 0:
		g.ipv6 = 0
	}
	n := cfg.Flows
	if n == 0 {
		if cfg.Size <= 0 {
			return Summary{}, errors.New("no size and no flow count")
		}
		per := g.pilot(span)
		n = max(1, int(math.Round(float64(cfg.Size-24)/per)))
	}
	n = max(1, int(math.Round(float64(n)*cfg.Length)))
	g.end = int64(math.Round(float64(span) * cfg.Length))
	g.slot = float64(g.end) / float64(n)
	return g.write(w, n)
}

// pkt is one planned packet of a flow.
type pkt struct {
	t        int64  // nanoseconds since the capture start
	seq, ack uint32 // absolute sequence numbers
	n        uint32 // payload bytes
	flags    uint8
	from     uint8 // client or server; for a DNS lookup, the query or the answer
	mbox     bool  // forged by a middlebox with the sender's address
	udp      bool  // a DNS lookup by the busy host, outside the flow
}

// Sides of a flow, and TCP flags.
const (
	client = 0
	server = 1

	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

// flow is one connection being written: its constant header fields and its
// planned packets.
type flow struct {
	id    int
	plan  []pkt
	next  int // index in plan of the next packet to write
	v6    bool
	ts    bool // the timestamps option is used
	vlan  uint16
	local uint8 // the side that is the busy host
	addr  [2][16]byte
	port  [2]uint16
	ttl   [2]uint8
	win   [2]uint16
	tsval [2]uint32
	ipid  [2]uint16
	label uint32 // IPv6 flow label
	mss   uint32
	dport uint16 // the DNS lookup's source port
}

// gen writes one capture.
type gen struct {
	mix   Mix
	ipv6  int // percent of the flows carried over IPv6
	seed  uint64
	end   int64   // capture end, nanoseconds since the start
	slot  float64 // nanoseconds between flow starts
	pcg   rand.PCG
	r     *rand.Rand
	ports []uint16 // next ephemeral port of each remote client host
	local uint16   // next ephemeral port of the busy host
	heap  []*flow
	free  []*flow
	buf   [16 + 2048]byte
	body  []byte // payload bytes
}

// remoteHosts is how many client hosts connect to the busy host.
const remoteHosts = 1 << 16

// Ephemeral ports run from firstPort to lastPort, as on Linux.
const (
	firstPort = 32768
	lastPort  = 60999
)

func newGen(mix Mix, seed uint64) *gen {
	g := &gen{mix: mix, seed: seed, ports: make([]uint16, remoteHosts), local: firstPort}
	g.r = rand.New(&g.pcg)
	// Payload bytes look encrypted, as most traffic is.
	g.body = make([]byte, 4096)
	fill := rand.New(rand.NewPCG(0x6861, 0x6e67))
	for i := 0; i < len(g.body); i += 8 {
		binary.LittleEndian.PutUint64(g.body[i:], fill.Uint64())
	}
	return g
}

// pilot plans the first flows of the capture and returns the mean bytes one
// flow adds to the file.
func (g *gen) pilot(span int64) float64 {
	var f flow
	var total float64
	g.slot = 0
	for i := range pilotFlows {
		g.start(&f, i, span/2)
		for j := range f.plan {
			total += float64(16 + f.frameLen(&f.plan[j]))
		}
	}
	clear(g.ports)
	g.local = firstPort
	return total / pilotFlows
}

// start plans flow i in its slot; packets after end are left out.
func (g *gen) start(f *flow, i int, end int64) {
	g.pcg.Seed(g.seed, uint64(i))
	at := g.slotStart(i) + int64(g.r.Float64()*g.slot)
	g.plan(f, i, at, end)
}

// write starts n flows, one in each of n equal slots of the span, and
// writes their packets in time order.
func (g *gen) write(w io.Writer, n int) (Summary, error) {
	var sum Summary
	h := g.buf[:24]
	le := binary.LittleEndian
	le.PutUint32(h[0:], 0xa1b2c3d4)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[8:], 0)
	le.PutUint32(h[12:], 0)
	le.PutUint32(h[16:], 262144)
	le.PutUint32(h[20:], 1) // Ethernet
	if _, err := w.Write(h); err != nil {
		return sum, err
	}
	sum.Bytes = 24
	var first, last int64
	next := 0
	for {
		// Start every flow whose slot begins before the next packet.
		for next < n && (len(g.heap) == 0 || g.slotStart(next) <= g.heap[0].plan[g.heap[0].next].t) {
			f := g.newFlow()
			g.start(f, next, g.end)
			next++
			sum.Flows++
			if len(f.plan) > 0 {
				g.push(f)
			} else {
				g.free = append(g.free, f)
			}
		}
		if len(g.heap) == 0 {
			break
		}
		f := g.heap[0]
		p := &f.plan[f.next]
		rec := g.record(f, p)
		if _, err := w.Write(rec); err != nil {
			return sum, err
		}
		if sum.Packets == 0 {
			first = p.t
		}
		last = p.t
		sum.Packets++
		sum.Bytes += uint64(len(rec))
		f.next++
		if f.next < len(f.plan) {
			g.down(0)
		} else {
			g.pop()
			g.free = append(g.free, f)
		}
	}
	sum.Span = time.Duration(last - first)
	return sum, nil
}

func (g *gen) slotStart(i int) int64 { return int64(float64(i) * g.slot) }

func (g *gen) newFlow() *flow {
	if k := len(g.free); k > 0 {
		f := g.free[k-1]
		g.free = g.free[:k-1]
		return f
	}
	return new(flow)
}

// The heap orders flows by the time of their next packet, then by id, so
// that the output does not depend on heap history.

func (g *gen) less(i, j int) bool {
	a, b := g.heap[i], g.heap[j]
	ta, tb := a.plan[a.next].t, b.plan[b.next].t
	return ta < tb || ta == tb && a.id < b.id
}

func (g *gen) push(f *flow) {
	g.heap = append(g.heap, f)
	for i := len(g.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !g.less(i, p) {
			break
		}
		g.heap[i], g.heap[p] = g.heap[p], g.heap[i]
		i = p
	}
}

func (g *gen) pop() {
	k := len(g.heap) - 1
	g.heap[0] = g.heap[k]
	g.heap[k] = nil
	g.heap = g.heap[:k]
	if k > 0 {
		g.down(0)
	}
}

func (g *gen) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(g.heap) {
			return
		}
		m := l
		if r := l + 1; r < len(g.heap) && g.less(r, l) {
			m = r
		}
		if !g.less(m, i) {
			return
		}
		g.heap[i], g.heap[m] = g.heap[m], g.heap[i]
		i = m
	}
}

// Flow kinds.
const (
	kindHTTP          = iota // inbound keep-alive connection with many exchanges
	kindKeepalive            // outbound pooled connection, idle with 60 s keepalives, then closed
	kindSlowKeepalive        // outbound, keepalives every 400 s: the first probe meets a middlebox RST
	kindLateAnswer           // inbound request answered after a long silence, then acknowledged
	kindLateReset            // the same, but a middlebox resets the late answer
	kindStaleReuse           // outbound pooled connection reused after idle, reset by a middlebox
	kindBlackhole            // outbound request after idle, retransmitted, never answered
	kindRefused              // SYN answered by RST
	kindHealthCheck          // handshake, then RST
	kindOpen                 // handshake, then nothing
	kindOneShot              // one tiny exchange, server closes
	kindPooled               // outbound pooled connection kept to the end, a request every 60–120 s, no keepalives
	kindLoneSYN              // a SYN never answered: a SYN flood, or a scan a firewall drops
)

// kindShares gives each mix's kinds with their shares of flows.
var kindShares = [...][]struct {
	kind  int
	share float64
}{
	Realistic: {
		{kindHTTP, 0.88}, {kindKeepalive, 0.03}, {kindSlowKeepalive, 0.01}, {kindLateAnswer, 0.01},
		{kindLateReset, 0.01}, {kindStaleReuse, 0.01}, {kindBlackhole, 0.005}, {kindRefused, 0.025},
		{kindHealthCheck, 0.02},
	},
	Small:     {{kindOpen, 0.5}, {kindRefused, 0.2}, {kindHealthCheck, 0.15}, {kindOneShot, 0.15}},
	Open:      {{kindOpen, 1}},
	Keepalive: {{kindKeepalive, 1}},
	Pooled:    {{kindPooled, 1}},
	Scan:      {{kindLoneSYN, 1}},
}

// Per-flow timing.
const (
	ms          = int64(time.Millisecond)
	us          = int64(time.Microsecond)
	sec         = int64(time.Second)
	serialize   = 12 * us // one full-size frame at 1 Gbit/s
	delayedAck  = 40 * ms
	mboxLatency = 300 * us // a middlebox next to the busy host answers this fast
)

// plan fills f with flow i starting at start; packets after end are left
// out. It draws from g.r, which the caller seeds for the flow.
func (g *gen) plan(f *flow, i int, start, end int64) {
	r := g.r
	*f = flow{id: i, plan: f.plan[:0]}
	var kind int
	u := r.Float64()
	for _, ks := range kindShares[g.mix] {
		kind = ks.kind
		if u -= ks.share; u < 0 {
			break
		}
	}
	outbound := kind == kindKeepalive || kind == kindSlowKeepalive || kind == kindStaleReuse || kind == kindBlackhole || kind == kindPooled
	f.local = server
	if outbound {
		f.local = client
	}
	if g.ipv6 == 20 { // drawn as before there was a choice: the same files
		f.v6 = r.IntN(5) == 0
	} else {
		f.v6 = r.IntN(100) < g.ipv6
	}
	if r.IntN(100) < 15 {
		f.vlan = 100 + uint16(r.IntN(16))
	}
	f.ts = r.IntN(10) != 0
	f.mss = 1460
	if f.ts {
		f.mss = 1448
	}
	f.label = r.Uint32() & 0xfffff
	hops := uint8(3 + r.IntN(18))
	remote := f.local ^ 1
	f.ttl[f.local] = 64
	f.ttl[remote] = 64 - hops
	if !f.ts {
		f.ttl[remote] = 128 - hops // a Windows peer
	}
	f.win = [2]uint16{502, 509}
	f.tsval = [2]uint32{r.Uint32(), r.Uint32()}
	f.ipid = [2]uint16{uint16(r.Uint32()), uint16(r.Uint32())}
	g.address(f, outbound)

	b := builder{r: r, f: f, t: start, end: end, nxt: [2]uint32{r.Uint32(), r.Uint32()}}
	b.rtt = int64(math.Exp(uniform(r, math.Log(0.2), math.Log(150))) * float64(ms))
	b.proc = int64(20+r.IntN(80)) * us
	if outbound && r.IntN(2) == 0 {
		b.dns()
	}
	switch kind {
	case kindHTTP:
		b.handshake()
		for n := 1 + int(r.ExpFloat64()*28); n > 0 && b.t < end; n-- {
			b.exchange(requestSize(r), responseSize(r), think(r))
			b.t += int64(r.ExpFloat64() * float64(800*ms))
		}
		b.close(uint8(r.IntN(2)))
	case kindKeepalive:
		b.handshake()
		b.exchange(100+r.IntN(200), 100+r.IntN(1000), think(r))
		for n := 1 + r.IntN(2); n > 0 && b.t < end; n-- { // one or two idle spells
			b.keepalive(int64(150+r.IntN(300))*sec, 60*sec, false)
			b.exchange(100+r.IntN(200), 100+r.IntN(1000), think(r))
		}
		b.close(b.f.local)
	case kindPooled:
		b.handshake()
		for b.t < end {
			b.exchange(100+r.IntN(200), 100+r.IntN(1000), think(r))
			b.t += int64(60+r.IntN(61)) * sec
		}
	case kindSlowKeepalive:
		b.handshake()
		b.exchange(100+r.IntN(200), 100+r.IntN(1000), think(r))
		b.keepalive(1500*sec, 400*sec, true)
	case kindLateAnswer, kindLateReset:
		b.handshake()
		if r.IntN(2) == 0 {
			b.exchange(requestSize(r), responseSize(r), think(r))
		}
		b.exchange(requestSize(r), 0, 0) // a request only
		b.add(b.t+delayedAck, server, ack, b.nxt[server], b.nxt[client], 0)
		b.t += int64(400+r.IntN(600)) * sec
		last := b.send(server, b.t, 200+r.IntN(3000))
		if kind == kindLateReset {
			b.add(last+mboxLatency, client, rst, b.nxt[client], 0, 0).mbox = true
			break
		}
		b.add(last+b.react(client), client, ack, b.nxt[client], b.nxt[server], 0)
		b.t = last + b.react(client)
		b.close(client)
	case kindStaleReuse:
		b.handshake()
		b.exchange(100+r.IntN(200), 100+r.IntN(1000), think(r))
		b.t += int64(400+r.IntN(500)) * sec
		last := b.send(client, b.t, 100+r.IntN(200))
		b.add(last+mboxLatency, server, rst, b.nxt[server], 0, 0).mbox = true
	case kindBlackhole:
		b.handshake()
		b.exchange(100+r.IntN(200), 100+r.IntN(1000), think(r))
		b.t += int64(400+r.IntN(500)) * sec
		n := uint32(100 + r.IntN(200))
		seq := b.nxt[client]
		b.nxt[client] += n
		rto := 200 * ms
		for range 6 {
			b.add(b.t, client, psh|ack, seq, b.nxt[server], n)
			b.t += rto
			rto *= 2
		}
		b.add(b.t, client, rst|ack, b.nxt[client], b.nxt[server], 0)
	case kindRefused:
		b.add(b.t, client, syn, b.nxt[client], 0, 0)
		b.add(b.t+b.react(server), server, rst|ack, 0, b.nxt[client]+1, 0)
	case kindHealthCheck:
		b.handshake()
		b.add(b.t+b.react(client), client, rst|ack, b.nxt[client], b.nxt[server], 0)
	case kindOpen:
		b.handshake()
	case kindLoneSYN:
		b.add(b.t, client, syn, b.nxt[client], 0, 0)
	case kindOneShot:
		b.handshake()
		b.exchange(60+r.IntN(240), 0, 0)
		t := b.t + b.react(server) + think(r)
		n := uint32(60 + r.IntN(540))
		b.add(t, server, fin|psh|ack, b.nxt[server], b.nxt[client], n)
		b.nxt[server] += n + 1
		t += b.react(client)
		b.add(t, client, fin|ack, b.nxt[client], b.nxt[server], 0)
		b.nxt[client]++
		b.add(t+b.react(server), server, ack, b.nxt[server], b.nxt[client], 0)
	}
	// Each side's packets were planned in order; the two sides interleave.
	slices.SortStableFunc(f.plan, func(x, y pkt) int {
		switch {
		case x.t < y.t:
			return -1
		case x.t > y.t:
			return 1
		}
		return 0
	})
	k := len(f.plan)
	for k > 0 && f.plan[k-1].t > end {
		k--
	}
	f.plan = f.plan[:k]
}

// address picks the flow's endpoints: the busy host is 10.1.0.10
// (fd00:1::10); remote clients are 10.64.0.0/16 (fd00:c::/64) with
// sequential ephemeral ports per host; upstream servers are 10.2.0.0/24
// (fd00:2::/64).
func (g *gen) address(f *flow, outbound bool) {
	r := g.r
	host := func(prefix [16]byte, v6 bool, n uint32) (a [16]byte) {
		a = prefix
		if v6 {
			binary.BigEndian.PutUint32(a[12:], n)
			return a
		}
		binary.BigEndian.PutUint32(a[:4], binary.BigEndian.Uint32(a[:4])|n)
		return a
	}
	busy, clients, upstream := [16]byte{10, 1, 0, 10}, [16]byte{10, 64}, [16]byte{10, 2}
	if f.v6 {
		busy = [16]byte{0xfd, 0, 0, 1, 15: 0x10}
		clients = [16]byte{0xfd, 0, 0, 0x0c}
		upstream = [16]byte{0xfd, 0, 0, 2}
	}
	if outbound {
		f.addr[client] = busy
		f.addr[server] = host(upstream, f.v6, uint32(1+r.IntN(16)))
		f.port[client] = g.local
		if g.local++; g.local > lastPort {
			g.local = firstPort
		}
		f.port[server] = [...]uint16{5432, 6379, 443, 3306}[r.IntN(4)]
	} else {
		h := uint32(r.IntN(remoteHosts))
		f.addr[client] = host(clients, f.v6, h)
		f.addr[server] = busy
		p := &g.ports[h]
		if *p == 0 {
			*p = firstPort + uint16(h*7919%(lastPort-firstPort+1))
		}
		f.port[client] = *p
		if *p++; *p > lastPort {
			*p = firstPort
		}
		f.port[server] = [...]uint16{443, 443, 443, 443, 8443}[r.IntN(5)]
	}
	f.dport = uint16(40000 + r.IntN(20000))
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

// requestSize draws an API request's size: 60 to 300 bytes.
func requestSize(r *rand.Rand) int { return 60 + r.IntN(240) }

// responseSize draws an API response's size: mostly small, some a few
// segments, one in 200 a download of 16 to 128 KiB.
func responseSize(r *rand.Rand) int {
	switch u := r.Float64(); {
	case u < 0.88:
		return 40 + r.IntN(440)
	case u < 0.995:
		return 1000 + r.IntN(5000)
	}
	return int(math.Exp(uniform(r, math.Log(16<<10), math.Log(128<<10))))
}

// think draws a server's time to answer: 0.2 to 100 ms, log-uniform.
func think(r *rand.Rand) int64 {
	return int64(math.Exp(uniform(r, math.Log(0.2), math.Log(100))) * float64(ms))
}

// builder plans a flow's packets as seen at the busy host.
type builder struct {
	r    *rand.Rand
	f    *flow
	t    int64 // time of the flow's latest planned event
	end  int64
	nxt  [2]uint32 // each side's next sequence number
	rtt  int64     // round trip from the busy host to the remote side
	proc int64     // the busy host's reaction time
}

// add plans one packet and returns it for adjustment.
func (b *builder) add(t int64, from, flags uint8, seq, ackNo, n uint32) *pkt {
	b.f.plan = append(b.f.plan, pkt{t: t, from: from, flags: flags, seq: seq, ack: ackNo, n: n})
	return &b.f.plan[len(b.f.plan)-1]
}

// react is how long side to takes, as the capture sees it, to answer a
// packet the capture has just seen.
func (b *builder) react(to uint8) int64 {
	if to == b.f.local {
		return b.proc
	}
	return b.rtt
}

func (b *builder) handshake() {
	t := b.t
	b.add(t, client, syn, b.nxt[client], 0, 0)
	b.nxt[client]++
	t += b.react(server)
	b.add(t, server, syn|ack, b.nxt[server], b.nxt[client], 0)
	b.nxt[server]++
	t += b.react(client)
	b.add(t, client, ack, b.nxt[client], b.nxt[server], 0)
	b.t = t
}

// send plans a message of n bytes from one side starting at t, in
// back-to-back segments, and returns the time of the last.
func (b *builder) send(from uint8, t int64, n int) int64 {
	for n > 0 {
		k := min(uint32(n), b.f.mss)
		n -= int(k)
		flags := uint8(ack)
		if n == 0 {
			flags |= psh
		}
		b.add(t, from, flags, b.nxt[from], b.nxt[from^1], k)
		b.nxt[from] += k
		if n > 0 {
			t += serialize
		}
	}
	return t
}

// exchange plans a request and its response (none when resp is 0): the
// server's delayed ACK when it thinks long, the response in slow-start
// rounds, and the client's ACK of every second segment.
func (b *builder) exchange(req, resp int, think int64) {
	last := b.send(client, b.t, req)
	at := last + b.react(server)
	b.t = at
	if resp == 0 {
		return
	}
	if think > delayedAck {
		b.add(at+delayedAck, server, ack, b.nxt[server], b.nxt[client], 0)
	}
	t := at + think
	cwnd, unacked := 10, 0
	for resp > 0 {
		for range cwnd {
			if resp == 0 {
				break
			}
			k := min(uint32(resp), b.f.mss)
			resp -= int(k)
			flags := uint8(ack)
			if resp == 0 {
				flags |= psh
			}
			b.add(t, server, flags, b.nxt[server], b.nxt[client], k)
			if b.r.IntN(1000) == 0 { // a lost segment, sent again
				b.add(t+3*b.rtt+ms, server, flags, b.nxt[server], b.nxt[client], k)
			}
			b.nxt[server] += k
			if unacked++; unacked == 2 || resp == 0 {
				at := t + b.react(client)
				if unacked == 1 {
					at += delayedAck
				}
				b.add(at, client, ack, b.nxt[client], b.nxt[server], 0)
				b.t = max(b.t, at)
				unacked = 0
			}
			t += serialize
		}
		cwnd *= 2
		t += b.react(client) + b.react(server)
	}
}

// keepalive plans an idle time of the busy host's connection with a probe
// from it every interval, each answered by an ACK. When fatal, the
// middlebox has forgotten the flow and resets the first probe.
func (b *builder) keepalive(idle, interval int64, fatal bool) {
	p, o := b.f.local, b.f.local^1
	end := b.t + idle
	for t := b.t + interval; t < end && t <= b.end; t += interval {
		b.add(t, p, ack, b.nxt[p]-1, b.nxt[o], 0)
		if fatal {
			b.add(t+mboxLatency, o, rst, b.nxt[o], 0, 0).mbox = true
			b.t = b.end + 1
			return
		}
		b.add(t+b.react(o), o, ack, b.nxt[o], b.nxt[p], 0)
	}
	b.t = end
}

// close plans a FIN from side first, the peer's FIN and the last ACK.
func (b *builder) close(first uint8) {
	a, o := first, first^1
	t := b.t
	b.add(t, a, fin|ack, b.nxt[a], b.nxt[o], 0)
	b.nxt[a]++
	t += b.react(o)
	b.add(t, o, fin|ack, b.nxt[o], b.nxt[a], 0)
	b.nxt[o]++
	t += b.react(a)
	b.add(t, a, ack, b.nxt[a], b.nxt[o], 0)
	b.t = t
}

// dns plans a lookup of the server's name by the busy host before the
// connection.
func (b *builder) dns() {
	b.add(b.t, 0, 0, 0, 0, uint32(len(dnsMessage(b.f.v6, 0)))).udp = true
	b.add(b.t+500*us, 1, 0, 0, 0, uint32(len(dnsMessage(b.f.v6, 1)))).udp = true
	b.t += 600 * us
}

// dnsMessages holds a query for upstream.internal and its answer, for A
// and AAAA.
var dnsMessages = func() (m [2][2][]byte) {
	for v6 := range 2 {
		typ, rdata := byte(1), []byte{10, 2, 0, 1}
		if v6 == 1 {
			typ, rdata = 28, []byte{0xfd, 0, 0, 2, 15: 1}
		}
		q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
		q = append(q, "\x08upstream\x08internal\x00"...)
		q = append(q, 0, typ, 0, 1)
		a := append([]byte{}, q...)
		a[2], a[3], a[7] = 0x81, 0x80, 1
		a = append(a, 0xc0, 0x0c, 0, typ, 0, 1, 0, 0, 0, 60, 0, byte(len(rdata)))
		m[v6] = [2][]byte{q, append(a, rdata...)}
	}
	return m
}()

// dnsMessage returns the query (from 0) or the answer (from 1).
func dnsMessage(v6 bool, from uint8) []byte {
	if v6 {
		return dnsMessages[1][from]
	}
	return dnsMessages[0][from]
}

// frameLen is the length of p's Ethernet frame.
func (f *flow) frameLen(p *pkt) int {
	n := 14 + 20 + int(p.n)
	if f.vlan != 0 {
		n += 4
	}
	if f.v6 {
		n += 20
	}
	if p.udp {
		return n + 8
	}
	return n + f.tcpHeaderLen(p)
}

func (f *flow) tcpHeaderLen(p *pkt) int {
	switch {
	case p.mbox || !f.ts && p.flags&syn == 0:
		return 20
	case p.flags&syn != 0 && f.ts:
		return 40
	}
	return 32 // the timestamps option, or a SYN's options without it
}

// record builds p's pcap record in g.buf and returns it.
func (g *gen) record(f *flow, p *pkt) []byte {
	be := binary.BigEndian
	b := g.buf[:16+f.frameLen(p)]
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(captureStart+p.t/sec))
	le.PutUint32(b[4:], uint32(p.t%sec/us))
	le.PutUint32(b[8:], uint32(len(b)-16))
	le.PutUint32(b[12:], uint32(len(b)-16))
	e := b[16:]

	// Ethernet: the busy host's MAC and its router's.
	fromLocal := p.from == f.local
	if p.udp {
		fromLocal = p.from == 0
	}
	hostMAC, routerMAC := [6]byte{2, 0, 0, 0, 0, 0x10}, [6]byte{2, 0, 0, 0, 0, 1}
	if fromLocal {
		copy(e[0:6], routerMAC[:])
		copy(e[6:12], hostMAC[:])
	} else {
		copy(e[0:6], hostMAC[:])
		copy(e[6:12], routerMAC[:])
	}
	i := 12
	if f.vlan != 0 {
		be.PutUint16(e[i:], 0x8100)
		be.PutUint16(e[i+2:], f.vlan)
		i += 4
	}
	ip := e[i+2:]
	proto := uint8(6)
	l4len := len(e) - i - 2 - 20
	if f.v6 {
		l4len -= 20
	}
	if p.udp {
		proto = 17
	}

	// Addresses: the flow's, or the busy host and its resolver.
	src, dst := f.addr[p.from][:], f.addr[p.from^1][:]
	ttl := f.ttl[p.from]
	if p.mbox {
		ttl = 63
	}
	if p.udp {
		src, dst = f.addr[f.local][:], resolver(f.v6)
		ttl = 64
		if p.from == 1 {
			src, dst = dst, src
		}
	}
	if !f.v6 {
		src, dst = src[:4], dst[:4]
	}
	var l4 []byte
	if f.v6 {
		be.PutUint16(e[i:], 0x86dd)
		be.PutUint32(ip[0:], 6<<28|f.label)
		be.PutUint16(ip[4:], uint16(l4len))
		ip[6], ip[7] = proto, ttl
		copy(ip[8:24], src)
		copy(ip[24:40], dst)
		l4 = ip[40:]
	} else {
		be.PutUint16(e[i:], 0x0800)
		ip[0], ip[1] = 0x45, 0
		be.PutUint16(ip[2:], uint16(20+l4len))
		id := f.ipid[p.from&1]
		f.ipid[p.from&1]++
		be.PutUint16(ip[4:], id)
		be.PutUint16(ip[6:], 0x4000) // don't fragment
		ip[8], ip[9] = ttl, proto
		ip[10], ip[11] = 0, 0
		copy(ip[12:16], src)
		copy(ip[16:20], dst)
		be.PutUint16(ip[10:], checksum(ip[:20]))
		l4 = ip[20:]
	}

	if p.udp {
		sport, dport := f.dport, uint16(53)
		if p.from == 1 {
			sport, dport = dport, sport
		}
		be.PutUint16(l4[0:], sport)
		be.PutUint16(l4[2:], dport)
		be.PutUint16(l4[4:], uint16(8+p.n))
		be.PutUint16(l4[6:], 0)
		copy(l4[8:], dnsMessage(f.v6, p.from))
		be.PutUint16(l4[6:], udpChecksum(src, dst, l4[:8+p.n]))
		return b
	}

	h := f.tcpHeaderLen(p)
	be.PutUint16(l4[0:], f.port[p.from])
	be.PutUint16(l4[2:], f.port[p.from^1])
	be.PutUint32(l4[4:], p.seq)
	be.PutUint32(l4[8:], p.ack)
	l4[12], l4[13] = uint8(h/4)<<4, p.flags
	win := f.win[p.from]
	switch {
	case p.mbox:
		win = 0
	case p.flags&syn != 0:
		win = [2]uint16{64240, 65160}[p.from]
	}
	be.PutUint16(l4[14:], win)
	be.PutUint32(l4[16:], 0) // checksum (left to offload) and urgent pointer
	o := l4[20:h]
	tsval := f.tsval[p.from] + uint32(p.t/ms)
	var tsecr uint32
	if p.flags&ack != 0 {
		tsecr = f.tsval[p.from^1] + uint32(max(0, p.t-ms)/ms)
	}
	switch {
	case h == 20:
	case p.flags&syn != 0 && f.ts: // Linux: MSS, SACK permitted, timestamps, NOP, window scale
		o[0], o[1] = 2, 4
		be.PutUint16(o[2:], uint16(f.mss+12))
		o[4], o[5] = 4, 2
		o[6], o[7] = 8, 10
		be.PutUint32(o[8:], tsval)
		be.PutUint32(o[12:], tsecr)
		o[16], o[17], o[18], o[19] = 1, 3, 3, 7
	case p.flags&syn != 0: // Windows: MSS, NOP, window scale, NOP, NOP, SACK permitted
		o[0], o[1] = 2, 4
		be.PutUint16(o[2:], uint16(f.mss))
		o[4], o[5], o[6], o[7] = 1, 3, 3, 8
		o[8], o[9], o[10], o[11] = 1, 1, 4, 2
	default: // NOP, NOP, timestamps
		o[0], o[1], o[2], o[3] = 1, 1, 8, 10
		be.PutUint32(o[4:], tsval)
		be.PutUint32(o[8:], tsecr)
	}
	copy(l4[h:], g.body[p.seq%2048:])
	return b
}

// The busy host's DNS resolver.
var resolver4, resolver6 = []byte{10, 1, 0, 2}, []byte{0xfd, 0, 0, 1, 15: 2}

func resolver(v6 bool) []byte {
	if v6 {
		return resolver6
	}
	return resolver4
}

// checksum is the Internet checksum of b (RFC 1071).
func checksum(b []byte) uint16 { return ^fold(sum(0, b)) }

// udpChecksum is the checksum of a UDP datagram with its pseudo-header;
// src and dst are 4 or 16 bytes.
func udpChecksum(src, dst, udp []byte) uint16 {
	s := sum(sum(sum(0, src), dst), udp)
	s += 17 + uint32(len(udp))
	c := ^fold(s)
	if c == 0 {
		c = 0xffff
	}
	return c
}

func sum(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
