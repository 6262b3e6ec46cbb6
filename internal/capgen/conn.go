package capgen

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// BaseTime is the start of a conversation whose Config leaves Start zero.
var BaseTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// Dir names the side of a connection that sends a segment. The zero Dir is
// neither side.
type Dir uint8

// The two sides of a connection.
const (
	Client Dir = 1 + iota // the side that sent the SYN
	Server
)

// String returns "client", "server" or "Dir(n)".
func (d Dir) String() string {
	switch d {
	case Client:
		return "client"
	case Server:
		return "server"
	}
	return fmt.Sprintf("Dir(%d)", uint8(d))
}

// TCP flag bits.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// Defaults for Config fields left zero.
const (
	defaultTTL    = 64
	defaultWindow = 502
	synWindow     = 64240 // Linux's window in a SYN
	synAckWindow  = 65160 // Linux's window in a SYN-ACK
)

// Config describes a connection for New. Zero fields take the defaults given.
type Config struct {
	// Client and Server are the two endpoints. Both must be IPv4 or both
	// IPv6.
	Client, Server netip.AddrPort

	// ClientISN and ServerISN are the initial sequence numbers. When the
	// script never calls Handshake (a capture that begins mid-flow), they
	// are each side's next sequence number at the start instead.
	ClientISN, ServerISN uint32

	// Start is the time of offset 0; zero means BaseTime.
	Start time.Time

	// ClientTTL and ServerTTL are the IPv4 TTL or IPv6 hop limit of each
	// side's packets as seen at the capture point; zero means 64.
	ClientTTL, ServerTTL uint8

	// Timestamps adds the TCP timestamps option (RFC 7323) to every segment
	// of both sides, the SYN and SYN-ACK included.
	Timestamps bool

	// Window is the window field of every segment after the handshake, in
	// units of 2^WindowScale bytes; zero means 502.
	Window uint16

	// WindowScale is the shift count offered in the SYN and SYN-ACK; zero
	// sends no window scale option.
	WindowScale uint8
}

// A Packet is one IP packet of a conversation.
type Packet struct {
	// Time is when the packet passed the capture point.
	Time time.Time
	// From is the side that sent it, or that a forged RST claims sent it.
	From Dir
	// Data is the packet, starting with the IPv4 or IPv6 header.
	Data []byte
}

// Counts says how many packets of some kinds a Conn has scripted.
type Counts struct {
	Packets          int // all packets
	Keepalives       int // Keepalive calls
	KeepaliveAcks    int // KeepaliveAck calls
	ZeroWindowProbes int // ZeroWindowProbe calls
	Retransmissions  int // Retransmit calls
	Resets           int // Rst calls
}

// A Conn scripts one TCP connection. Methods append packets at an offset
// from the conversation's start and must be called in time order. A Conn is
// not safe for concurrent use.
type Conn struct {
	start  time.Time
	v6     bool
	window uint16
	wscale uint8
	ts     bool
	ends   [2]endpoint
	open   bool // a packet has been scripted
	last   time.Duration
	pkts   []Packet
	counts Counts
}

// endpoint is one side's sending state.
type endpoint struct {
	addr    netip.AddrPort
	nxt     uint32 // SND.NXT
	ttl     uint8
	ipid    uint16
	win     uint16 // window field of the next segment
	tsBase  uint32
	tsEcho  uint32 // the peer's latest TSval, echoed as TSecr
	sent    uint64 // payload bytes sent so far, to pick payload bytes
	pattern string
	lastSeg *segment // latest segment that used sequence space, for Retransmit
}

// segment is one TCP segment before encoding.
type segment struct {
	seq, ack uint32
	flags    uint8
	win      uint16
	opts     []byte
	payload  []byte
}

// Payload patterns: each side's bytes repeat its text.
const (
	clientText = "GET /export/report.csv?from=2024-01-01&to=2024-02-29 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: capgen\r\nAccept: */*\r\n\r\n"
	serverText = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: keep-alive\r\n\r\nid,region,total\r\n1,north,1024\r\n2,south,2048\r\n3,east,4096\r\n"
)

// New returns a Conn for cfg. It panics if the addresses are invalid or of
// different families.
func New(cfg Config) *Conn {
	if !cfg.Client.IsValid() || !cfg.Server.IsValid() {
		panic("capgen: invalid client or server address")
	}
	ca, sa := cfg.Client.Addr().Unmap(), cfg.Server.Addr().Unmap()
	if ca.Is4() != sa.Is4() {
		panic("capgen: client and server addresses of different families")
	}
	c := &Conn{
		start:  cfg.Start,
		v6:     ca.Is6(),
		window: cfg.Window,
		wscale: cfg.WindowScale,
		ts:     cfg.Timestamps,
	}
	if c.start.IsZero() {
		c.start = BaseTime
	}
	if c.window == 0 {
		c.window = defaultWindow
	}
	c.ends[0] = endpoint{
		addr:    netip.AddrPortFrom(ca, cfg.Client.Port()),
		nxt:     cfg.ClientISN,
		ttl:     orDefault(cfg.ClientTTL, defaultTTL),
		ipid:    0x4d2e,
		win:     c.window,
		tsBase:  0x1c4f0a00,
		pattern: clientText,
	}
	c.ends[1] = endpoint{
		addr:    netip.AddrPortFrom(sa, cfg.Server.Port()),
		nxt:     cfg.ServerISN,
		ttl:     orDefault(cfg.ServerTTL, defaultTTL),
		ipid:    0xa31b,
		win:     c.window,
		tsBase:  0x7e21b300,
		pattern: serverText,
	}
	// Mid-flow, each side echoes the peer's clock at the start; the SYN
	// echoes zero and the SYN-ACK the SYN's TSval.
	c.ends[0].tsEcho = c.ends[1].tsBase
	c.ends[1].tsEcho = c.ends[0].tsBase
	return c
}

func orDefault(v, def uint8) uint8 {
	if v == 0 {
		return def
	}
	return v
}

// Packets returns the scripted packets in time order. The slice is a copy;
// the packets' Data is shared with the Conn and must not be modified.
func (c *Conn) Packets() []Packet {
	return slices.Clone(c.pkts)
}

// Counts reports how many packets of each kind have been scripted.
func (c *Conn) Counts() Counts {
	return c.counts
}

// NextSeq returns the next sequence number of side d (SND.NXT).
func (c *Conn) NextSeq(d Dir) uint32 {
	return c.end(d).nxt
}

// Handshake scripts the three-way handshake: the client's SYN at syn, the
// server's SYN-ACK at synAck and the client's ACK at ack. It must come
// before any other packet.
func (c *Conn) Handshake(syn, synAck, ack time.Duration) {
	if c.open {
		panic("capgen: Handshake after other packets")
	}
	cl, sv := &c.ends[0], &c.ends[1]
	c.emit(Client, syn, segment{seq: cl.nxt, flags: flagSYN, win: synWindow, opts: c.synOptions(Client, syn)}, 0, true)
	cl.nxt++
	c.emit(Server, synAck, segment{seq: sv.nxt, ack: cl.nxt, flags: flagSYN | flagACK, win: synAckWindow, opts: c.synOptions(Server, synAck)}, 0, true)
	sv.nxt++
	c.Ack(Client, ack)
}

// Send scripts n bytes of data from d with PSH and ACK set, advancing d's
// sequence number by n (modulo 2^32). The bytes repeat a fixed HTTP-like
// text, the request text for the client and the response text for the
// server.
func (c *Conn) Send(d Dir, at time.Duration, n int) {
	if n <= 0 || n > 65000 {
		panic(fmt.Sprintf("capgen: Send of %d bytes", n))
	}
	e := c.end(d)
	p := make([]byte, n)
	for i := range p {
		p[i] = e.pattern[(e.sent+uint64(i))%uint64(len(e.pattern))]
	}
	s := c.segment(d, at, flagPSH|flagACK)
	s.payload = p
	c.emit(d, at, s, 0, true)
	e.nxt += uint32(n)
	e.sent += uint64(n)
	e.lastSeg = &s
}

// Ack scripts a pure ACK from d.
func (c *Conn) Ack(d Dir, at time.Duration) {
	c.emit(d, at, c.segment(d, at, flagACK), 0, true)
}

// Keepalive scripts a keepalive probe from d: an ACK whose sequence number
// is d's next sequence number minus one, with no payload (Linux, macOS) or,
// when withByte is set, one zero byte (Windows).
func (c *Conn) Keepalive(d Dir, at time.Duration, withByte bool) {
	s := c.segment(d, at, flagACK)
	s.seq--
	if withByte {
		s.payload = []byte{0}
	}
	c.emit(d, at, s, 0, true)
	c.counts.Keepalives++
}

// KeepaliveAck scripts d's answer to the peer's keepalive probe: a pure ACK
// with d's sequence number, acknowledgement number and window unchanged.
func (c *Conn) KeepaliveAck(d Dir, at time.Duration) {
	c.emit(d, at, c.segment(d, at, flagACK), 0, true)
	c.counts.KeepaliveAcks++
}

// ZeroWindow scripts a pure ACK from d advertising a zero window; d's later
// segments advertise zero too until WindowUpdate.
func (c *Conn) ZeroWindow(d Dir, at time.Duration) {
	c.end(d).win = 0
	c.Ack(d, at)
}

// WindowUpdate scripts a pure ACK from d that opens its window again to the
// Config's Window.
func (c *Conn) WindowUpdate(d Dir, at time.Duration) {
	c.end(d).win = c.window
	c.Ack(d, at)
}

// ZeroWindowProbe scripts a zero-window probe from d. Without withByte it is
// Linux's probe, byte for byte a keepalive: no payload, sequence number one
// below d's next. With withByte it carries the next byte of data at d's next
// sequence number (RFC 9293, Windows) without advancing it.
func (c *Conn) ZeroWindowProbe(d Dir, at time.Duration, withByte bool) {
	e := c.end(d)
	s := c.segment(d, at, flagACK)
	if withByte {
		s.payload = []byte{e.pattern[e.sent%uint64(len(e.pattern))]}
	} else {
		s.seq--
	}
	c.emit(d, at, s, 0, true)
	c.counts.ZeroWindowProbes++
}

// Fin scripts a FIN with ACK from d, advancing d's sequence number by one.
func (c *Conn) Fin(d Dir, at time.Duration) {
	e := c.end(d)
	s := c.segment(d, at, flagFIN|flagACK)
	c.emit(d, at, s, 0, true)
	e.nxt++
	e.lastSeg = &s
}

// Retransmit scripts d sending its latest data segment or FIN again: same
// sequence number, flags and payload, with the current acknowledgement
// number, window and timestamps. It panics if d has sent neither.
func (c *Conn) Retransmit(d Dir, at time.Duration) {
	e := c.end(d)
	if e.lastSeg == nil {
		panic(fmt.Sprintf("capgen: Retransmit: %v has sent no data or FIN", d))
	}
	s := c.segment(d, at, e.lastSeg.flags)
	s.seq = e.lastSeg.seq
	s.payload = e.lastSeg.payload
	c.emit(d, at, s, 0, true)
	c.counts.Retransmissions++
}

// RstOpts describes a RST for Conn.Rst. The zero value is a RST from the
// endpoint itself: RST and ACK set, the endpoint's TTL, IP ID sequence and
// TCP timestamps option, sequence number at the endpoint's next.
type RstOpts struct {
	// TTL overrides the IPv4 TTL or IPv6 hop limit; zero keeps the side's.
	TTL uint8
	// NoTimestamps leaves out the timestamps option although the
	// connection negotiated it.
	NoTimestamps bool
	// SeqOffset is added to the side's next sequence number.
	SeqOffset int32
	// NoAck sends RST alone, with acknowledgement number 0.
	NoAck bool
	// Forged marks a RST made by a middlebox in the side's name: its IPv4
	// ID is 0, the side's IP ID sequence does not advance and the peer
	// does not echo its timestamp.
	Forged bool
}

// Middlebox returns the options of a RST forged by a middlebox that forgot
// the flow, with the marks that may tell it from the endpoint's own: the
// given TTL, no TCP options, no ACK flag, IP ID 0.
func Middlebox(ttl uint8) *RstOpts {
	return &RstOpts{TTL: ttl, NoTimestamps: true, NoAck: true, Forged: true}
}

// Rst scripts a RST from d, or in d's name when opts.Forged is set. A nil
// opts is the same as a zero RstOpts. The window field is 0.
func (c *Conn) Rst(d Dir, at time.Duration, opts *RstOpts) {
	var o RstOpts
	if opts != nil {
		o = *opts
	}
	s := c.segment(d, at, flagRST|flagACK)
	s.seq += uint32(o.SeqOffset)
	s.win = 0
	if o.NoAck {
		s.flags = flagRST
		s.ack = 0
	}
	if o.NoTimestamps {
		s.opts = nil
	}
	c.emit(d, at, s, o.TTL, !o.Forged)
	c.counts.Resets++
}

// end returns d's endpoint, panicking on an invalid Dir.
func (c *Conn) end(d Dir) *endpoint {
	switch d {
	case Client:
		return &c.ends[0]
	case Server:
		return &c.ends[1]
	}
	panic(fmt.Sprintf("capgen: invalid %v", d))
}

func (c *Conn) peer(d Dir) *endpoint {
	if d == Client {
		return c.end(Server)
	}
	return c.end(Client)
}

// segment returns d's next segment with the given flags and no payload.
func (c *Conn) segment(d Dir, at time.Duration, flags uint8) segment {
	e := c.end(d)
	s := segment{seq: e.nxt, flags: flags, win: e.win}
	if flags&flagACK != 0 {
		s.ack = c.peer(d).nxt
	}
	if c.ts {
		s.opts = make([]byte, 0, 12)
		s.opts = append(s.opts, 1, 1)
		s.opts = appendTS(s.opts, e.tsval(at), e.tsEcho)
	}
	return s
}

// synOptions returns the options of d's SYN or SYN-ACK, in Linux's order.
func (c *Conn) synOptions(d Dir, at time.Duration) []byte {
	e := c.end(d)
	mss := uint16(1460)
	if c.v6 {
		mss = 1440
	}
	o := []byte{2, 4, byte(mss >> 8), byte(mss)}
	if c.ts {
		ecr := e.tsEcho
		if d == Client {
			ecr = 0
		}
		o = append(o, 4, 2) // SACK permitted
		o = appendTS(o, e.tsval(at), ecr)
	} else {
		o = append(o, 1, 1, 4, 2)
	}
	if c.wscale != 0 {
		o = append(o, 1, 3, 3, c.wscale)
	}
	return o
}

func appendTS(b []byte, val, ecr uint32) []byte {
	b = append(b, 8, 10)
	b = binary.BigEndian.AppendUint32(b, val)
	return binary.BigEndian.AppendUint32(b, ecr)
}

// tsval is the side's TSval at offset at: a 1 kHz clock.
func (e *endpoint) tsval(at time.Duration) uint32 {
	return e.tsBase + uint32(at/time.Millisecond)
}

// emit encodes s as sent by d at offset at and appends it. A nonzero ttl
// overrides the side's; own says the side itself sent it, so it uses and
// advances the side's IP ID and the peer learns its timestamp.
func (c *Conn) emit(d Dir, at time.Duration, s segment, ttl uint8, own bool) {
	if c.open && at < c.last {
		panic(fmt.Sprintf("capgen: packet at %v before the previous one at %v", at, c.last))
	}
	c.open, c.last = true, at
	e, p := c.end(d), c.peer(d)
	if ttl == 0 {
		ttl = e.ttl
	}
	var id uint16
	if own {
		id = e.ipid
		e.ipid++
		if len(s.opts) > 0 {
			p.tsEcho = e.tsval(at)
		}
	}
	c.pkts = append(c.pkts, Packet{
		Time: c.start.Add(at),
		From: d,
		Data: encode(e.addr, p.addr, ttl, id, s),
	})
	c.counts.Packets++
}

// encode returns the IP packet carrying s from src to dst.
func encode(src, dst netip.AddrPort, ttl uint8, id uint16, s segment) []byte {
	tcpLen := 20 + len(s.opts) + len(s.payload)
	if len(s.opts)%4 != 0 {
		panic("capgen: TCP options not a multiple of 4 bytes")
	}
	var b []byte
	var tcp []byte
	if src.Addr().Is4() {
		b = make([]byte, 20+tcpLen)
		h := b[:20]
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(len(b)))
		binary.BigEndian.PutUint16(h[4:], id)
		h[6] = 0x40 // don't fragment
		h[8] = ttl
		h[9] = 6
		s4, d4 := src.Addr().As4(), dst.Addr().As4()
		copy(h[12:], s4[:])
		copy(h[16:], d4[:])
		binary.BigEndian.PutUint16(h[10:], checksum(h, 0))
		tcp = b[20:]
	} else {
		b = make([]byte, 40+tcpLen)
		h := b[:40]
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(tcpLen))
		h[6] = 6
		h[7] = ttl
		s6, d6 := src.Addr().As16(), dst.Addr().As16()
		copy(h[8:], s6[:])
		copy(h[24:], d6[:])
		tcp = b[40:]
	}
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12] = byte((20 + len(s.opts)) / 4 << 4)
	tcp[13] = s.flags
	binary.BigEndian.PutUint16(tcp[14:], s.win)
	copy(tcp[20:], s.opts)
	copy(tcp[20+len(s.opts):], s.payload)
	binary.BigEndian.PutUint16(tcp[16:], checksum(tcp, pseudoHeaderSum(src.Addr(), dst.Addr(), len(tcp))))
	return b
}

// pseudoHeaderSum returns the unfolded sum of the TCP pseudo-header.
func pseudoHeaderSum(src, dst netip.Addr, n int) uint32 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		add(s[:])
		add(d[:])
	} else {
		s, d := src.As16(), dst.As16()
		add(s[:])
		add(d[:])
	}
	return sum + 6 + uint32(n)
}

// checksum returns the Internet checksum of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
