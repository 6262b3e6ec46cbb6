package capgen

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// seg is what a test checks of one decoded packet.
type seg struct {
	From  Dir
	At    time.Duration
	Flags string
	Seq   uint32
	Ack   uint32
	Len   int
	Win   uint16
	TTL   uint8
	ID    uint16
	TS    bool
}

// decode returns the segments of c's packets as gopacket decodes them.
func decode(t *testing.T, c *Conn) []seg {
	t.Helper()
	var out []seg
	pkts := c.Packets()
	for _, p := range pkts {
		first := layers.LayerTypeIPv4
		if p.Data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		gp := gopacket.NewPacket(p.Data, first, gopacket.Default)
		if el := gp.ErrorLayer(); el != nil {
			t.Fatalf("decode: %v", el.Error())
		}
		tcp := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
		s := seg{
			From: p.From, At: p.Time.Sub(pkts[0].Time),
			Seq: tcp.Seq, Ack: tcp.Ack, Len: len(tcp.Payload), Win: tcp.Window,
		}
		for _, f := range []struct {
			on bool
			c  string
		}{{tcp.SYN, "S"}, {tcp.FIN, "F"}, {tcp.RST, "R"}, {tcp.PSH, "P"}, {tcp.ACK, "."}} {
			if f.on {
				s.Flags += f.c
			}
		}
		for _, o := range tcp.Options {
			if o.OptionType == layers.TCPOptionKindTimestamps {
				s.TS = true
			}
		}
		switch ip := gp.NetworkLayer().(type) {
		case *layers.IPv4:
			s.TTL, s.ID = ip.TTL, ip.Id
		case *layers.IPv6:
			s.TTL = ip.HopLimit
		}
		out = append(out, s)
	}
	return out
}

func TestConn(t *testing.T) {
	base := Config{
		Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80"),
		ClientISN: 1000, ServerISN: 5000, ClientTTL: 50, Window: 300,
	}
	tests := []struct {
		name   string
		cfg    Config
		script func(c *Conn)
		want   []seg
	}{
		{
			name: "handshake data ack",
			cfg:  base,
			script: func(c *Conn) {
				c.Handshake(0, 1*MS, 2*MS)
				c.Send(Client, 3*MS, 100)
				c.Ack(Server, 4*MS)
			},
			want: []seg{
				{From: Client, At: 0, Flags: "S", Seq: 1000, Win: synWindow, TTL: 50, ID: 0x4d2e},
				{From: Server, At: 1 * MS, Flags: "S.", Seq: 5000, Ack: 1001, Win: synAckWindow, TTL: 64, ID: 0xa31b},
				{From: Client, At: 2 * MS, Flags: ".", Seq: 1001, Ack: 5001, Win: 300, TTL: 50, ID: 0x4d2f},
				{From: Client, At: 3 * MS, Flags: "P.", Seq: 1001, Ack: 5001, Len: 100, Win: 300, TTL: 50, ID: 0x4d30},
				{From: Server, At: 4 * MS, Flags: ".", Seq: 5001, Ack: 1101, Win: 300, TTL: 64, ID: 0xa31c},
			},
		},
		{
			name: "sequence numbers wrap",
			cfg:  Config{Client: base.Client, Server: base.Server, ClientISN: 0xffffff00, ServerISN: 0xfffffffe},
			script: func(c *Conn) {
				c.Handshake(0, 1*MS, 2*MS)
				c.Send(Client, 3*MS, 0x200)
				c.Send(Server, 4*MS, 10)
				c.Keepalive(Client, 5*MS, false)
				c.KeepaliveAck(Server, 6*MS)
			},
			want: []seg{
				{From: Client, At: 0, Flags: "S", Seq: 0xffffff00, Win: synWindow, TTL: 64, ID: 0x4d2e},
				{From: Server, At: 1 * MS, Flags: "S.", Seq: 0xfffffffe, Ack: 0xffffff01, Win: synAckWindow, TTL: 64, ID: 0xa31b},
				{From: Client, At: 2 * MS, Flags: ".", Seq: 0xffffff01, Ack: 0xffffffff, Win: defaultWindow, TTL: 64, ID: 0x4d2f},
				{From: Client, At: 3 * MS, Flags: "P.", Seq: 0xffffff01, Ack: 0xffffffff, Len: 0x200, Win: defaultWindow, TTL: 64, ID: 0x4d30},
				{From: Server, At: 4 * MS, Flags: "P.", Seq: 0xffffffff, Ack: 0x101, Len: 10, Win: defaultWindow, TTL: 64, ID: 0xa31c},
				{From: Client, At: 5 * MS, Flags: ".", Seq: 0x100, Ack: 9, Win: defaultWindow, TTL: 64, ID: 0x4d31},
				{From: Server, At: 6 * MS, Flags: ".", Seq: 9, Ack: 0x101, Win: defaultWindow, TTL: 64, ID: 0xa31d},
			},
		},
		{
			name: "keepalive at sequence zero",
			cfg:  Config{Client: base.Client, Server: base.Server, ClientISN: 0, ServerISN: 7},
			script: func(c *Conn) {
				c.Keepalive(Client, 0, false)
				c.KeepaliveAck(Server, 1*MS)
				c.Keepalive(Client, 60*S, true)
			},
			want: []seg{
				{From: Client, At: 0, Flags: ".", Seq: 0xffffffff, Ack: 7, Win: defaultWindow, TTL: 64, ID: 0x4d2e},
				{From: Server, At: 1 * MS, Flags: ".", Seq: 7, Ack: 0, Win: defaultWindow, TTL: 64, ID: 0xa31b},
				{From: Client, At: 60 * S, Flags: ".", Seq: 0xffffffff, Ack: 7, Len: 1, Win: defaultWindow, TTL: 64, ID: 0x4d2f},
			},
		},
		{
			name: "zero window and probes",
			cfg:  base,
			script: func(c *Conn) {
				c.Send(Server, 0, 50)
				c.ZeroWindow(Client, 1*MS)
				c.ZeroWindowProbe(Server, 200*MS, false)
				c.Ack(Client, 201*MS)
				c.ZeroWindowProbe(Server, 600*MS, true)
				c.WindowUpdate(Client, 1*S)
			},
			want: []seg{
				{From: Server, At: 0, Flags: "P.", Seq: 5000, Ack: 1000, Len: 50, Win: 300, TTL: 64, ID: 0xa31b},
				{From: Client, At: 1 * MS, Flags: ".", Seq: 1000, Ack: 5050, Win: 0, TTL: 50, ID: 0x4d2e},
				{From: Server, At: 200 * MS, Flags: ".", Seq: 5049, Ack: 1000, Win: 300, TTL: 64, ID: 0xa31c},
				{From: Client, At: 201 * MS, Flags: ".", Seq: 1000, Ack: 5050, Win: 0, TTL: 50, ID: 0x4d2f},
				{From: Server, At: 600 * MS, Flags: ".", Seq: 5050, Ack: 1000, Len: 1, Win: 300, TTL: 64, ID: 0xa31d},
				{From: Client, At: 1 * S, Flags: ".", Seq: 1000, Ack: 5050, Win: 300, TTL: 50, ID: 0x4d30},
			},
		},
		{
			name: "retransmit data and fin",
			cfg:  base,
			script: func(c *Conn) {
				c.Send(Server, 0, 20)
				c.Retransmit(Server, 200*MS)
				c.Fin(Server, 300*MS)
				c.Retransmit(Server, 700*MS)
				c.Fin(Client, 800*MS)
			},
			want: []seg{
				{From: Server, At: 0, Flags: "P.", Seq: 5000, Ack: 1000, Len: 20, Win: 300, TTL: 64, ID: 0xa31b},
				{From: Server, At: 200 * MS, Flags: "P.", Seq: 5000, Ack: 1000, Len: 20, Win: 300, TTL: 64, ID: 0xa31c},
				{From: Server, At: 300 * MS, Flags: "F.", Seq: 5020, Ack: 1000, Win: 300, TTL: 64, ID: 0xa31d},
				{From: Server, At: 700 * MS, Flags: "F.", Seq: 5020, Ack: 1000, Win: 300, TTL: 64, ID: 0xa31e},
				{From: Client, At: 800 * MS, Flags: "F.", Seq: 1000, Ack: 5021, Win: 300, TTL: 50, ID: 0x4d2e},
			},
		},
		{
			name: "endpoint and forged resets",
			cfg:  Config{Client: base.Client, Server: base.Server, ClientISN: 1000, ServerISN: 5000, Timestamps: true},
			script: func(c *Conn) {
				c.Send(Server, 0, 10)
				c.Rst(Client, 1*MS, Middlebox(250))
				c.Rst(Client, 2*MS, &RstOpts{SeqOffset: 3})
				c.Rst(Client, 3*MS, nil)
			},
			want: []seg{
				{From: Server, At: 0, Flags: "P.", Seq: 5000, Ack: 1000, Len: 10, Win: defaultWindow, TTL: 64, ID: 0xa31b, TS: true},
				{From: Client, At: 1 * MS, Flags: "R", Seq: 1000, TTL: 250, ID: 0},
				{From: Client, At: 2 * MS, Flags: "R.", Seq: 1003, Ack: 5010, TTL: 64, ID: 0x4d2e, TS: true},
				{From: Client, At: 3 * MS, Flags: "R.", Seq: 1000, Ack: 5010, TTL: 64, ID: 0x4d2f, TS: true},
			},
		},
		{
			name: "ipv6",
			cfg:  Config{Client: ap("[2001:db8::1]:40000"), Server: ap("[2001:db8::2]:443"), ClientISN: 1, ServerISN: 2, ServerTTL: 57},
			script: func(c *Conn) {
				c.Handshake(0, 1*MS, 2*MS)
			},
			want: []seg{
				{From: Client, At: 0, Flags: "S", Seq: 1, Win: synWindow, TTL: 64},
				{From: Server, At: 1 * MS, Flags: "S.", Seq: 2, Ack: 2, Win: synAckWindow, TTL: 57},
				{From: Client, At: 2 * MS, Flags: ".", Seq: 2, Ack: 3, Win: defaultWindow, TTL: 64},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.cfg)
			tt.script(c)
			if diff := cmp.Diff(tt.want, decode(t, c)); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKeepaliveAckUnchanged checks a keepalive ACK repeats the previous
// ACK's sequence, acknowledgement and window: only IP ID, timestamps and
// checksums differ.
func TestKeepaliveAckUnchanged(t *testing.T) {
	c := New(Config{Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80"), Timestamps: true})
	c.Handshake(0, 1*MS, 2*MS)
	c.Send(Client, 3*MS, 10)
	c.Ack(Server, 4*MS)
	c.Keepalive(Client, 60*S, false)
	c.KeepaliveAck(Server, 60*S+1*MS)
	got := decode(t, c)
	ack, kaAck := got[4], got[6]
	if ack.Seq != kaAck.Seq || ack.Ack != kaAck.Ack || ack.Win != kaAck.Win || kaAck.Len != 0 {
		t.Errorf("keepalive ACK %+v differs from ACK %+v", kaAck, ack)
	}
	ka := got[5]
	if ka.Seq != c.NextSeq(Client)-1 || ka.Len != 0 {
		t.Errorf("keepalive %+v, want seq %d and no payload", ka, c.NextSeq(Client)-1)
	}
	want := Counts{Packets: 7, Keepalives: 1, KeepaliveAcks: 1}
	if diff := cmp.Diff(want, c.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// TestTimestamps checks TSval follows a 1 kHz clock per side and TSecr
// echoes the peer's latest TSval, zero in the SYN.
func TestTimestamps(t *testing.T) {
	c := New(Config{Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80"), Timestamps: true, WindowScale: 7})
	c.Handshake(0, 10*MS, 20*MS)
	c.Send(Server, 1500*MS, 5)
	c.Rst(Client, 1600*MS, &RstOpts{Forged: true})
	c.Ack(Client, 1700*MS)
	type ts struct{ Val, Ecr uint32 }
	var got []ts
	for _, p := range c.Packets() {
		gp := gopacket.NewPacket(p.Data, layers.LayerTypeIPv4, gopacket.Default)
		for _, o := range gp.Layer(layers.LayerTypeTCP).(*layers.TCP).Options {
			if o.OptionType == layers.TCPOptionKindTimestamps {
				got = append(got, ts{
					uint32(o.OptionData[0])<<24 | uint32(o.OptionData[1])<<16 | uint32(o.OptionData[2])<<8 | uint32(o.OptionData[3]),
					uint32(o.OptionData[4])<<24 | uint32(o.OptionData[5])<<16 | uint32(o.OptionData[6])<<8 | uint32(o.OptionData[7]),
				})
			}
		}
	}
	cb, sb := c.ends[0].tsBase, c.ends[1].tsBase
	want := []ts{
		{cb, 0},
		{sb + 10, cb},
		{cb + 20, sb + 10},
		{sb + 1500, cb + 20},
		{cb + 1600, sb + 1500}, // forged: the server does not learn it
		{cb + 1700, sb + 1500},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
}

// TestSynOptions checks the SYN's options in Linux's order.
func TestSynOptions(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []layers.TCPOptionKind
	}{
		{"timestamps and scale", Config{Timestamps: true, WindowScale: 7}, []layers.TCPOptionKind{2, 4, 8, 1, 3}},
		{"scale only", Config{WindowScale: 8}, []layers.TCPOptionKind{2, 1, 1, 4, 1, 3}},
		{"neither", Config{}, []layers.TCPOptionKind{2, 1, 1, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Client, tt.cfg.Server = ap("192.0.2.1:40000"), ap("198.51.100.1:80")
			c := New(tt.cfg)
			c.Handshake(0, 1*MS, 2*MS)
			gp := gopacket.NewPacket(c.Packets()[0].Data, layers.LayerTypeIPv4, gopacket.Default)
			var got []layers.TCPOptionKind
			for _, o := range gp.Layer(layers.LayerTypeTCP).(*layers.TCP).Options {
				got = append(got, o.OptionType)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPayloadDeterministic checks payload bytes continue the side's text
// across segments.
func TestPayloadDeterministic(t *testing.T) {
	c := New(Config{Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80")})
	c.Send(Client, 0, 10)
	c.Send(Client, 1*MS, len(clientText))
	var got []byte
	for _, p := range c.Packets() {
		got = append(got, p.Data[40:]...)
	}
	want := []byte((clientText + clientText)[:10+len(clientText)])
	if !bytes.Equal(got, want) {
		t.Errorf("payload %q, want %q", got, want)
	}
}

func TestConnPanics(t *testing.T) {
	cfg := Config{Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80")}
	tests := []struct {
		name string
		f    func()
	}{
		{"time goes back", func() { c := New(cfg); c.Ack(Client, 2*S); c.Ack(Server, 1*S) }},
		{"bad dir", func() { New(cfg).Ack(Dir(0), 0) }},
		{"retransmit nothing", func() { New(cfg).Retransmit(Server, 0) }},
		{"handshake late", func() { c := New(cfg); c.Ack(Client, 0); c.Handshake(1, 2, 3) }},
		{"mixed families", func() { New(Config{Client: cfg.Client, Server: ap("[2001:db8::1]:80")}) }},
		{"empty send", func() { New(cfg).Send(Client, 0, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}
