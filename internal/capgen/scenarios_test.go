package capgen

import (
	"bytes"
	"net/netip"
	"time"
)

// The committed captures in testdata/pcaps, as scripts. Addresses are from
// the documentation ranges: clients in 192.0.2.0/24 and 2001:db8:1::/48,
// servers in 198.51.100.0/24, 203.0.113.0/24 and 2001:db8:2::/48.

const (
	US = time.Microsecond
	MS = time.Millisecond
	S  = time.Second
)

// A scenario makes one or more files of testdata/pcaps.
type scenario struct {
	build func() capture
	// keepalives is the number of keepalive probes hangdiag must count over
	// all files (zero-window probes are not keepalives).
	keepalives int
	// wireshark is the number of segments tshark flags
	// tcp.analysis.keep_alive over all files read as one capture.
	wireshark int
}

// A capture is what a scenario built: its files and the Conns behind them.
type capture struct {
	files []capFile
	conns []*Conn
}

// A capFile is one file: its records and format.
type capFile struct {
	name   string
	link   LinkType    // classic pcap link type; unused with ifaces
	pcap   *PcapConfig // classic pcap variant
	ifaces []Interface // pcapng interfaces; nil means classic pcap
	gzip   bool
	recs   []Record
}

// bytes serializes f.
func (f capFile) bytes() ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if f.ifaces != nil {
		err = WritePcapng(&buf, f.ifaces, f.recs)
	} else {
		err = WritePcap(&buf, f.link, f.recs, f.pcap)
	}
	if err != nil || !f.gzip {
		return buf.Bytes(), err
	}
	return Gzip(buf.Bytes())
}

func (c capture) keepalives() int {
	n := 0
	for _, c := range c.conns {
		n += c.Counts().Keepalives
	}
	return n
}

var scenarios = []scenario{
	{build: longRequestNoKeepalive, keepalives: 0, wireshark: 0},
	{build: longRequestKeepalive60s, keepalives: 15, wireshark: 15},
	{build: longRequestKeepalive7200s, keepalives: 0, wireshark: 0},
	{build: portReuse, keepalives: 0, wireshark: 0},
	// Wireshark 4.0 flags only the first probe at seq 0xffffffff: it then
	// takes the probe's sequence number as the next one.
	{build: seqWraparound, keepalives: 6, wireshark: 1},
	{build: ipv6, keepalives: 0, wireshark: 0},
	{build: vlan, keepalives: 0, wireshark: 0},
	{build: sll2, keepalives: 0, wireshark: 0},
	{build: twoLinkTypes, keepalives: 0, wireshark: 0},
	{build: rotated, keepalives: 7, wireshark: 7},
	{build: gzipped, keepalives: 0, wireshark: 0},
	// Wireshark takes Linux zero-window probes for keepalives.
	{build: zeroWindow, keepalives: 4, wireshark: 4 + 7},
	{build: clean, keepalives: 0, wireshark: 0},
	{build: closedAfterIdle, keepalives: 0, wireshark: 0},
	// Wireshark cannot learn the client's next sequence number from the
	// server's ACKs, so it sees none of the probes.
	{build: midstreamKeepalive, keepalives: 5, wireshark: 0},
	{build: keepaliveTooSlow, keepalives: 1, wireshark: 1},
	{build: resetAtExpiry, keepalives: 0, wireshark: 0},
	{build: vxlanMirror, keepalives: 0, wireshark: 0},
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func eth() Link { return Link{Type: LinkEthernet} }

// single returns a capture of one classic pcap file with the conns' packets
// framed by l and merged.
func single(name string, l Link, cfg *PcapConfig, conns ...*Conn) capture {
	var lists [][]Record
	for _, c := range conns {
		lists = append(lists, l.Records(0, c.Packets()))
	}
	return capture{
		files: []capFile{{name: name, link: l.Type, pcap: cfg, recs: Merge(lists...)}},
		conns: conns,
	}
}

// probes scripts n keepalive probes from d, the first at first and then one
// every period, each answered by the peer answer later. It returns the time
// of the last answer.
func probes(c *Conn, d Dir, first, period, answer time.Duration, n int, withByte bool) time.Duration {
	peer := Server
	if d == Server {
		peer = Client
	}
	at := first
	for i := range n {
		at = first + time.Duration(i)*period
		c.Keepalive(d, at, withByte)
		c.KeepaliveAck(peer, at+answer)
	}
	return at + answer
}

// closeFromClient scripts an orderly close started by the client at at, seen
// with round-trip time rtt from the client's side.
func closeFromClient(c *Conn, at, rtt time.Duration) {
	c.Fin(Client, at)
	c.Fin(Server, at+rtt)
	c.Ack(Client, at+rtt+50*US)
}

// shortGet scripts a healthy request and response starting at at, seen at
// the client with round-trip time rtt, and closes the connection.
func shortGet(c *Conn, at, rtt time.Duration, req, resp int) {
	c.Handshake(at, at+rtt, at+rtt+40*US)
	t := at + rtt + 80*US
	c.Send(Client, t, req)
	t += rtt
	c.Ack(Server, t)
	t += 3 * MS
	c.Send(Server, t, resp)
	c.Ack(Client, t+60*US)
	closeFromClient(c, t+200*US, rtt)
}

// longRequest scripts, at the server, a handshake and a request answered
// only after wait; it returns the time of the answer. The round trip to the
// client is 20 ms.
func longRequest(c *Conn, wait time.Duration) time.Duration {
	c.Handshake(0, 100*US, 20*MS+100*US)
	c.Send(Client, 20*MS+200*US, 180)
	c.Ack(Server, 60*MS+200*US) // delayed ACK
	return 20*MS + 200*US + wait
}

func longRequestConn() *Conn {
	return New(Config{
		Client: ap("192.0.2.10:51234"), Server: ap("198.51.100.20:80"),
		ClientISN: 0x3a1c2e07, ServerISN: 0x9b44f210,
		ClientTTL: 52, Timestamps: true, WindowScale: 7,
	})
}

// longRequestNoKeepalive: at the server, a client without keepalives waits
// 960 s for the answer; the middlebox forgot the flow at 350 s and resets
// the answer in the client's name.
func longRequestNoKeepalive() capture {
	c := longRequestConn()
	t := longRequest(c, 960*S)
	c.Send(Server, t, 1200)
	c.Rst(Client, t+350*US, Middlebox(63))
	return single("long-request-nokeepalive.pcap", eth(), nil, c)
}

// gzipped: the same capture as long-request-nokeepalive.pcap, gzipped.
func gzipped() capture {
	c := longRequestNoKeepalive()
	c.files[0].name = "gzip.pcap.gz"
	c.files[0].gzip = true
	return c
}

// longRequestKeepalive60s: the same request from a client sending keepalive
// probes after 60 s of idleness (curl's default), answered, so the flow
// survives and closes normally.
func longRequestKeepalive60s() capture {
	c := longRequestConn()
	t := longRequest(c, 960*S)
	// The client's idle timer starts when it receives the server's ACK; at
	// the server each probe arrives 60 s + one round trip after the last.
	probes(c, Client, 60*S+80*MS+200*US, 60*S+20*MS+100*US, 100*US, 15, false)
	c.Send(Server, t, 1200)
	c.Ack(Client, t+20*MS)
	c.Fin(Client, t+20*MS+100*US)
	c.Fin(Server, t+20*MS+200*US)
	c.Ack(Client, t+40*MS+200*US)
	return single("long-request-keepalive-60s.pcap", eth(), nil, c)
}

// longRequestKeepalive7200s: at the client, keepalive at the Linux default
// of 7200 s never fires; the answer is reset by the middlebox on the far
// side and never arrives. A short connection just before 1000 s marks the
// end of the capture, with the first still waiting.
func longRequestKeepalive7200s() capture {
	c := New(Config{
		Client: ap("192.0.2.10:51236"), Server: ap("198.51.100.20:80"),
		ClientISN: 0x0b7f3d21, ServerISN: 0x6c20a9e4,
		ServerTTL: 50, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 20*MS, 20*MS+40*US)
	c.Send(Client, 20*MS+100*US, 180)
	c.Ack(Server, 80*MS+100*US)

	other := New(Config{
		Client: ap("192.0.2.10:51300"), Server: ap("203.0.113.30:80"),
		ClientISN: 0x51d0e6a3, ServerISN: 0x1f9a8b72,
		ServerTTL: 55, Timestamps: true, WindowScale: 7,
	})
	shortGet(other, 999*S+950*MS, 12*MS, 150, 900)
	return single("long-request-keepalive-7200s.pcap", eth(), nil, c, other)
}

// portReuse: at the client, a connection closes with FIN/FIN and 2 s later
// a new one on the same four-tuple starts with another ISN; it serves one
// request, idles in the client's pool for 400 s, and the next request gets
// the middlebox's RST.
func portReuse() capture {
	cfg := Config{
		Client: ap("192.0.2.20:40001"), Server: ap("203.0.113.40:8080"),
		ClientISN: 0x1f2e3d4c, ServerISN: 0xc0ffee00,
		ServerTTL: 48, Timestamps: true, WindowScale: 7,
	}
	first := New(cfg)
	shortGet(first, 0, 15*MS, 200, 800)

	cfg.ClientISN, cfg.ServerISN = 0x5a6b7c8d, 0x0d15ea5e
	cfg.Start = BaseTime.Add(2 * S)
	second := New(cfg)
	second.Handshake(0, 15*MS, 15*MS+40*US)
	second.Send(Client, 15*MS+80*US, 200)
	second.Send(Server, 33*MS, 800)
	second.Ack(Client, 33*MS+60*US)
	t := 400*S + 33*MS
	second.Send(Client, t, 200)
	second.Rst(Server, t+1200*US, Middlebox(254))
	return single("port-reuse.pcap", eth(), nil, first, second)
}

// seqWraparound: at the client, both sides' sequence numbers wrap past 2^32
// during the transfer; the client's next sequence number is then exactly 0,
// so its keepalive probes (every 60 s, answered) carry 0xffffffff.
func seqWraparound() capture {
	c := New(Config{
		Client: ap("192.0.2.30:45000"), Server: ap("198.51.100.50:80"),
		ClientISN: 0xffffff00, ServerISN: 0xfffffff0,
		ServerTTL: 57, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 10*MS, 10*MS+40*US)
	c.Send(Client, 10*MS+80*US, 100)
	c.Send(Client, 10*MS+90*US, 155) // ends at 2^32: next is 0
	c.Ack(Server, 20*MS+100*US)
	c.Send(Server, 25*MS, 1000) // wraps
	c.Send(Server, 25*MS+10*US, 448)
	c.Ack(Client, 25*MS+100*US)
	last := probes(c, Client, 60*S+25*MS+100*US, 60*S+10*MS, 10*MS, 6, false)
	t := last + 30*S
	c.Send(Client, t, 255)
	c.Send(Server, t+15*MS, 600)
	c.Ack(Client, t+15*MS+60*US)
	closeFromClient(c, t+20*MS, 10*MS)
	return single("seq-wraparound.pcap", Link{Type: LinkIPv4}, nil, c)
}

// ipv6: at the server, over IPv6, a request answered after 400 s; the
// middlebox resets the answer in the client's name, with a hop limit unlike
// the client's and no timestamps option. Nanosecond timestamps.
func ipv6() capture {
	c := New(Config{
		Client: ap("[2001:db8:1::10]:51300"), Server: ap("[2001:db8:2::20]:8080"),
		ClientISN: 0x2d4f6a81, ServerISN: 0x7e9c0b35,
		Start:     BaseTime.Add(123456789 * time.Nanosecond),
		ClientTTL: 55, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 73*US, 15*MS+211*US)
	c.Send(Client, 15*MS+347*US+17, 200)
	c.Ack(Server, 55*MS+402*US+3)
	t := 400*S + 15*MS + 901*US + 5
	c.Send(Server, t, 1000)
	c.Rst(Client, t+412*US+7, Middlebox(63))
	return single("ipv6.pcap", eth(), &PcapConfig{Nanosecond: true}, c)
}

// vlan: two flows seen on a trunk, one 802.1Q-tagged (VLAN 100), one QinQ
// (802.1ad service VLAN 200, 802.1Q VLAN 300); each waits 400 s for its
// answer, which arrives, and closes normally.
func vlan() capture {
	var lists [][]Record
	var conns []*Conn
	for i, tags := range [][]uint16{{100}, {200, 300}} {
		c := New(Config{
			Client:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(40 + i)}), uint16(41000+i)),
			Server:    ap("198.51.100.60:80"),
			ClientISN: 0x10203040 * uint32(i+1), ServerISN: 0x55aa55aa + uint32(i),
			Start:     BaseTime.Add(time.Duration(i) * 10 * S),
			ClientTTL: 63, ServerTTL: 62, Timestamps: true, WindowScale: 7,
		})
		c.Handshake(0, 200*US, 400*US)
		c.Send(Client, 500*US, 180)
		c.Ack(Server, 40*MS+700*US)
		t := 400*S + 700*US
		c.Send(Server, t, 1000)
		c.Ack(Client, t+200*US)
		c.Fin(Client, t+400*US)
		c.Fin(Server, t+600*US)
		c.Ack(Client, t+800*US)
		lists = append(lists, Link{Type: LinkEthernet, VLANs: tags}.Records(0, c.Packets()))
		conns = append(conns, c)
	}
	return capture{
		files: []capFile{{name: "vlan.pcap", link: LinkEthernet, recs: Merge(lists...)}},
		conns: conns,
	}
}

// sll2: tcpdump -i any on a host routing between a pod's veth (ifindex 7)
// and eth0 (ifindex 2), so every packet appears twice, 20 µs apart, the
// second copy with a TTL one lower. A pooled connection idles 400 s; the
// next request gets the middlebox's RST.
func sll2() capture {
	c := New(Config{
		Client: ap("192.0.2.50:40000"), Server: ap("203.0.113.60:80"),
		ClientISN: 0x6b8b4567, ServerISN: 0x327b23c6,
		ServerTTL: 47, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 12*MS, 12*MS+100*US)
	c.Send(Client, 12*MS+200*US, 220)
	c.Ack(Server, 24*MS+300*US)
	c.Send(Server, 30*MS, 700)
	c.Ack(Client, 30*MS+100*US)
	t := 400*S + 30*MS
	c.Send(Client, t, 220)
	c.Rst(Server, t+900*US, Middlebox(250))

	const veth, eth0 = 7, 2
	var recs []Record
	for _, p := range c.Packets() {
		in, out := uint32(veth), uint32(eth0)
		if p.From == Server {
			in, out = eth0, veth
		}
		recs = append(recs,
			Record{Time: p.Time, Data: Link{Type: LinkSLL2, IfIndex: in}.Frame(p)},
			Record{Time: p.Time.Add(20 * US), Data: Link{Type: LinkSLL2, IfIndex: out, Egress: true}.Frame(Forward(p, 20*US))},
		)
	}
	return capture{
		files: []capFile{{name: "sll2.pcap", link: LinkSLL2, recs: recs}},
		conns: []*Conn{c},
	}
}

// twoLinkTypes: pcapng with an Ethernet interface (microsecond timestamps)
// and a raw IP tunnel interface (nanosecond timestamps), one flow on each.
// On the tunnel, at the server, a request is answered after 400 s and the
// middlebox drops the answer: six retransmissions with exponential backoff,
// none acknowledged.
func twoLinkTypes() capture {
	healthy := New(Config{
		Client: ap("192.0.2.71:50001"), Server: ap("203.0.113.90:80"),
		ClientISN: 0x2ae1c0de, ServerISN: 0x4b1d4b1d,
		ServerTTL: 58, Timestamps: true, WindowScale: 7,
	})
	shortGet(healthy, 1*S, 8*MS, 160, 1100)

	c := New(Config{
		Client: ap("192.0.2.70:50000"), Server: ap("198.51.100.80:80"),
		ClientISN: 0x7f3a9e11, ServerISN: 0x0a0b0c0d,
		Start:     BaseTime.Add(5 * S),
		ClientTTL: 51, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 90*US+333, 30*MS+125*US+1)
	c.Send(Client, 30*MS+250*US+7, 300)
	c.Ack(Server, 70*MS+251*US+9)
	t := 400*S + 30*MS + 250*US + 11
	c.Send(Server, t, 1400)
	rto := 220 * MS
	for range 6 {
		t += rto
		c.Retransmit(Server, t)
		rto *= 2
	}
	ifaces := []Interface{
		{Name: "eth0", LinkType: LinkEthernet, TSResol: 6},
		{Name: "tun0", LinkType: LinkRaw, TSResol: 9},
	}
	recs := Merge(eth().Records(0, healthy.Packets()), Link{Type: LinkRaw}.Records(1, c.Packets()))
	return capture{
		files: []capFile{{name: "two-linktypes.pcapng", ifaces: ifaces, recs: recs}},
		conns: []*Conn{healthy, c},
	}
}

// rotated: two files from tcpdump -G 300 at a server. One flow waits 410 s
// for its answer, across the file boundary at 300 s, and the middlebox
// resets the answer. Another flow sends keepalives every 60 s across the
// boundary and closes normally.
func rotated() capture {
	a := New(Config{
		Client: ap("192.0.2.90:51000"), Server: ap("198.51.100.100:80"),
		ClientISN: 0x31415926, ServerISN: 0x27182818,
		Start:     BaseTime.Add(10 * S),
		ClientTTL: 49, Timestamps: true, WindowScale: 7,
	})
	t := longRequest(a, 410*S)
	a.Send(Server, t, 900)
	a.Rst(Client, t+300*US, Middlebox(63))

	b := New(Config{
		Client: ap("192.0.2.91:52000"), Server: ap("198.51.100.101:5432"),
		ClientISN: 0x16180339, ServerISN: 0x14142135,
		ClientTTL: 49, Timestamps: true, WindowScale: 7,
	})
	b.Handshake(0, 100*US, 20*MS+100*US)
	b.Send(Client, 20*MS+200*US, 120)
	b.Send(Server, 22*MS, 400)
	b.Ack(Client, 42*MS)
	last := probes(b, Client, 60*S+42*MS, 60*S+20*MS+100*US, 100*US, 7, false)
	t = last + 20*S
	b.Send(Client, t, 120)
	b.Send(Server, t+2*MS, 400)
	b.Ack(Client, t+22*MS)
	b.Fin(Client, t+23*MS)
	b.Fin(Server, t+23*MS+100*US)
	b.Ack(Client, t+43*MS+100*US)

	recs := Merge(eth().Records(0, a.Packets()), eth().Records(0, b.Packets()))
	first, second := Split(recs, BaseTime.Add(300*S))
	return capture{
		files: []capFile{
			{name: "rotated-1.pcap", link: LinkEthernet, recs: first},
			{name: "rotated-2.pcap", link: LinkEthernet, recs: second},
		},
		conns: []*Conn{a, b},
	}
}

// zeroWindow: at a server, a client stops reading and advertises a zero
// window; the server sends Linux zero-window probes (no payload, sequence
// number one below the next: the bytes of a keepalive) with exponential
// backoff for 25 s, each answered with a zero window, until the window
// opens. A second flow, from a Windows client, sends 1-byte keepalives
// every 30 s, answered.
func zeroWindow() capture {
	z := New(Config{
		Client: ap("192.0.2.110:53000"), Server: ap("198.51.100.120:80"),
		ClientISN: 0x0badcafe, ServerISN: 0x5eedf00d,
		ClientTTL: 60, Timestamps: true, WindowScale: 7,
	})
	z.Handshake(0, 100*US, 5*MS+100*US)
	z.Send(Client, 5*MS+200*US, 150)
	t := 6 * MS
	for i := range 4 {
		z.Send(Server, t+time.Duration(i)*10*US, 1400)
	}
	z.ZeroWindow(Client, t+5*MS)
	rto := 210 * MS
	t += 5 * MS
	for range 7 {
		t += rto
		z.ZeroWindowProbe(Server, t, false)
		z.Ack(Client, t+5*MS)
		rto *= 2
	}
	t = 30 * S
	z.WindowUpdate(Client, t)
	z.Send(Server, t+5*MS, 1400)
	z.Send(Server, t+5*MS+10*US, 600)
	z.Ack(Client, t+10*MS)
	z.Fin(Client, t+11*MS)
	z.Fin(Server, t+16*MS)
	z.Ack(Client, t+21*MS)

	w := New(Config{
		Client: ap("192.0.2.111:49700"), Server: ap("198.51.100.121:80"),
		ClientISN: 0x9d2c5680, ServerISN: 0x3c6ef372,
		Start:     BaseTime.Add(2 * S),
		ClientTTL: 128, ServerTTL: 60, WindowScale: 8,
	})
	w.Handshake(0, 100*US, 5*MS+100*US)
	w.Send(Client, 5*MS+200*US, 150)
	w.Send(Server, 9*MS, 500)
	w.Ack(Client, 10*MS)
	last := probes(w, Client, 30*S+10*MS, 30*S+5*MS, 5*MS, 4, true)
	t = last + 10*S
	w.Send(Client, t, 150)
	w.Send(Server, t+5*MS, 500)
	w.Ack(Client, t+6*MS)
	closeFromClient(w, t+7*MS, 5*MS)
	return single("zero-window.pcap", eth(), nil, z, w)
}

// clean: short healthy request/response flows over IPv4 and IPv6, with and
// without timestamps, each closed with FINs.
func clean() capture {
	var conns []*Conn
	for i, cfg := range []Config{
		{Client: ap("192.0.2.120:55001"), Server: ap("198.51.100.130:80"), Timestamps: true, WindowScale: 7},
		{Client: ap("192.0.2.121:55002"), Server: ap("198.51.100.130:80"), Timestamps: true, WindowScale: 7},
		{Client: ap("192.0.2.122:49800"), Server: ap("203.0.113.131:8080"), ClientTTL: 128, WindowScale: 8},
		{Client: ap("[2001:db8:1::122]:55003"), Server: ap("[2001:db8:2::130]:80"), Timestamps: true, WindowScale: 7},
	} {
		cfg.ClientISN = 0x01000193 * uint32(i+7)
		cfg.ServerISN = 0x811c9dc5 + uint32(i)*0x1000
		cfg.ServerTTL = 56
		cfg.Start = BaseTime.Add(time.Duration(i) * 2500 * MS)
		c := New(cfg)
		shortGet(c, 0, time.Duration(5+i)*MS, 140+20*i, 600+300*i)
		conns = append(conns, c)
	}
	return single("clean.pcap", eth(), nil, conns...)
}

// closedAfterIdle: on a big-endian BSD host's loopback, a client waits for
// an L4 proxy that closes the connection with a FIN after 400 s, its
// request unanswered; the client closes its side too.
func closedAfterIdle() capture {
	c := New(Config{
		Client: ap("192.0.2.140:54000"), Server: ap("198.51.100.140:80"),
		ClientISN: 0x44332211, ServerISN: 0x88776655,
		Timestamps: true, WindowScale: 6,
	})
	c.Handshake(0, 60*US, 90*US)
	c.Send(Client, 150*US, 180)
	c.Ack(Server, 40*MS+150*US)
	t := 400*S + 40*MS + 150*US
	c.Fin(Server, t)
	c.Ack(Client, t+40*US)
	c.Fin(Client, t+90*US)
	c.Ack(Server, t+120*US)
	return single("closed-after-idle.pcap", Link{Type: LinkNull, BigEndian: true}, &PcapConfig{BigEndian: true}, c)
}

// midstreamKeepalive: tcpdump (Linux cooked v1) started on the client while
// its connection was idle: the first packet is a keepalive probe, which can
// only be told from the server's ACK number that answers it. Five answered
// probes 60 s apart, then a request, an answer and a close.
func midstreamKeepalive() capture {
	c := New(Config{
		Client: ap("192.0.2.150:46000"), Server: ap("203.0.113.150:8080"),
		ClientISN: 0x3b9aca00, ServerISN: 0x05f5e100,
		ServerTTL: 53, Timestamps: true, WindowScale: 7,
	})
	last := probes(c, Client, 0, 60*S+21*MS, 21*MS, 5, false)
	t := last + 25*S
	c.Send(Client, t, 240)
	c.Send(Server, t+30*MS, 900)
	c.Ack(Client, t+30*MS+50*US)
	closeFromClient(c, t+31*MS, 21*MS)
	return single("midstream-keepalive.pcap", Link{Type: LinkSLL, Local: Client}, nil, c)
}

// keepaliveTooSlow: at the client, keepalive idle set to 400 s, above the
// middlebox's 350 s: the first probe, sent with the request still
// unanswered, gets the middlebox's RST.
func keepaliveTooSlow() capture {
	c := New(Config{
		Client: ap("192.0.2.160:47000"), Server: ap("198.51.100.160:80"),
		ClientISN: 0x12345678, ServerISN: 0x9abcdef0,
		ServerTTL: 48, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 18*MS, 18*MS+40*US)
	c.Send(Client, 18*MS+90*US, 180)
	c.Ack(Server, 36*MS+90*US)
	t := 400*S + 36*MS + 90*US
	c.Keepalive(Client, t, false)
	c.Rst(Server, t+1100*US, Middlebox(250))
	return single("keepalive-too-slow.pcap", eth(), nil, c)
}

// resetAtExpiry: at the server, a middlebox that resets both ends when its
// 240 s idle timer expires (Azure Load Balancer with TCP reset on idle): a
// RST in the client's name ends a 240.4 s silence with no packet to
// trigger it.
func resetAtExpiry() capture {
	c := New(Config{
		Client: ap("192.0.2.170:48000"), Server: ap("198.51.100.170:80"),
		ClientISN: 0x0fedcba9, ServerISN: 0x87654321,
		ClientTTL: 54, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 100*US, 25*MS+100*US)
	c.Send(Client, 25*MS+200*US, 180)
	c.Ack(Server, 65*MS+200*US)
	c.Rst(Client, 240*S+400*MS+65*MS+200*US, Middlebox(64))
	return single("reset-at-expiry.pcap", eth(), nil, c)
}

// vxlanMirror: the server's traffic as a mirror session delivers it (AWS
// VPC Traffic Mirroring): every frame in VXLAN, UDP port 4789, from the
// server's interface to the mirror target. A request behind a Network Load
// Balancer is answered after 400 s, past its 350 s idle timeout, and the
// answer is met by the load balancer's RST in the client's name.
func vxlanMirror() capture {
	c := New(Config{
		Client: ap("192.0.2.180:51000"), Server: ap("198.51.100.180:443"),
		ClientISN: 0x2468ace0, ServerISN: 0x13579bdf,
		ClientTTL: 52, Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 100*US, 30*MS+100*US)
	c.Send(Client, 30*MS+200*US, 240)
	c.Ack(Server, 30*MS+300*US)
	t := 400*S + 30*MS
	c.Send(Server, t, 900)
	c.Rst(Client, t+300*US, Middlebox(63))
	l := Link{Type: LinkEthernet, VXLAN: &VXLAN{Src: [4]byte{198, 51, 100, 180}, Dst: [4]byte{203, 0, 113, 250}, VNI: 0x6b1c5}}
	return single("vxlan-mirror.pcap", l, nil, c)
}
