package capgen

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func testPackets(t *testing.T, v6 bool) []Packet {
	t.Helper()
	cfg := Config{Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80")}
	if v6 {
		cfg = Config{Client: ap("[2001:db8:1::1]:40000"), Server: ap("[2001:db8:2::1]:80")}
	}
	c := New(cfg)
	c.Send(Client, 0, 10)
	c.Ack(Server, 1*MS)
	return c.Packets()
}

// TestFrameHeaders checks the link-layer header Frame puts in front of a
// client packet, byte by byte.
func TestFrameHeaders(t *testing.T) {
	hexs := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		link Link
		v6   bool
		want []byte
	}{
		{"ethernet", Link{Type: LinkEthernet}, false, hexs("020000000501 020000000c01 0800")},
		{"ethernet ipv6", Link{Type: LinkEthernet}, true, hexs("020000000501 020000000c01 86dd")},
		{"802.1Q", Link{Type: LinkEthernet, VLANs: []uint16{100}}, false, hexs("020000000501 020000000c01 8100 0064 0800")},
		{"QinQ", Link{Type: LinkEthernet, VLANs: []uint16{200, 300}}, false, hexs("020000000501 020000000c01 88a8 00c8 8100 012c 0800")},
		{"sll incoming", Link{Type: LinkSLL, Local: Server}, false, hexs("0000 0001 0006 020000000c01 0000 0800")},
		{"sll outgoing", Link{Type: LinkSLL, Local: Client}, false, hexs("0004 0001 0006 020000000c01 0000 0800")},
		{"sll2", Link{Type: LinkSLL2, IfIndex: 7}, false, hexs("0800 0000 00000007 0001 00 06 020000000c01 0000")},
		{"sll2 egress", Link{Type: LinkSLL2, IfIndex: 2, Egress: true}, true, hexs("86dd 0000 00000002 0001 04 06 020000000c01 0000")},
		{"null", Link{Type: LinkNull}, false, hexs("02000000")},
		{"null big-endian ipv6", Link{Type: LinkNull, BigEndian: true}, true, hexs("0000001e")},
		{"raw", Link{Type: LinkRaw}, true, nil},
		{"ipv4", Link{Type: LinkIPv4}, false, nil},
		{"ipv6", Link{Type: LinkIPv6}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPackets(t, tt.v6)[0]
			got := tt.link.Frame(p)
			want := append(tt.want, p.Data...)
			if !bytes.Equal(got, want) {
				t.Errorf("frame\n got %x\nwant %x", got[:len(got)-len(p.Data)], tt.want)
			}
		})
	}
}

// TestFrameDecodes checks gopacket decodes framed packets down to TCP,
// VLAN tags included.
func TestFrameDecodes(t *testing.T) {
	tests := []struct {
		name  string
		link  Link
		first gopacket.Decoder
		want  []gopacket.LayerType
	}{
		{"qinq", Link{Type: LinkEthernet, VLANs: []uint16{200, 300}}, layers.LayerTypeEthernet,
			[]gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeDot1Q, layers.LayerTypeDot1Q, layers.LayerTypeIPv4, layers.LayerTypeTCP, gopacket.LayerTypePayload}},
		{"sll", Link{Type: LinkSLL}, layers.LayerTypeLinuxSLL,
			[]gopacket.LayerType{layers.LayerTypeLinuxSLL, layers.LayerTypeIPv4, layers.LayerTypeTCP, gopacket.LayerTypePayload}},
		{"null big-endian", Link{Type: LinkNull, BigEndian: true}, layers.LayerTypeLoopback,
			[]gopacket.LayerType{layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeTCP, gopacket.LayerTypePayload}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gopacket.NewPacket(tt.link.Frame(testPackets(t, false)[0]), tt.first, gopacket.Default)
			var got []gopacket.LayerType
			for _, l := range p.Layers() {
				got = append(got, l.LayerType())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("layers (-want +got):\n%s", diff)
			}
			if d, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok && d.VLANIdentifier != 200 {
				t.Errorf("outer VLAN %d, want 200", d.VLANIdentifier)
			}
		})
	}
}

func TestFramePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic framing IPv6 on LinkIPv4")
		}
	}()
	Link{Type: LinkIPv4}.Frame(testPackets(t, true)[0])
}

func TestMergeSplit(t *testing.T) {
	at := func(s int) time.Time { return BaseTime.Add(time.Duration(s) * S) }
	a := []Record{{Time: at(1), Data: []byte("a1")}, {Time: at(3), Data: []byte("a3")}}
	b := []Record{{Time: at(1), Interface: 1, Data: []byte("b1")}, {Time: at(2), Interface: 1, Data: []byte("b2")}}
	all := Merge(a, b)
	var got []string
	for _, r := range all {
		got = append(got, string(r.Data))
	}
	if diff := cmp.Diff([]string{"a1", "b1", "b2", "a3"}, got); diff != "" {
		t.Errorf("merge order (-want +got):\n%s", diff)
	}
	tests := []struct {
		split         time.Time
		before, after int
	}{
		{at(0), 0, 4},
		{at(2), 2, 2},
		{at(3), 3, 1},
		{at(4), 4, 0},
	}
	for _, tt := range tests {
		before, after := Split(all, tt.split)
		if len(before) != tt.before || len(after) != tt.after {
			t.Errorf("Split at %v: %d and %d records, want %d and %d", tt.split, len(before), len(after), tt.before, tt.after)
		}
	}
}

func TestForward(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := testPackets(t, v6)[0]
		orig := bytes.Clone(p.Data)
		f := Forward(p, 20*US)
		if !bytes.Equal(p.Data, orig) {
			t.Error("Forward changed the original packet")
		}
		if f.Time.Sub(p.Time) != 20*US || f.From != p.From {
			t.Errorf("v6=%v: forwarded at %v from %v", v6, f.Time.Sub(p.Time), f.From)
		}
		first := layers.LayerTypeIPv4
		if v6 {
			first = layers.LayerTypeIPv6
		}
		gp := gopacket.NewPacket(f.Data, first, gopacket.Default)
		switch ip := gp.NetworkLayer().(type) {
		case *layers.IPv4:
			if ip.TTL != 63 || checksum(ip.Contents, 0) != 0 {
				t.Errorf("IPv4 TTL %d, header checksum valid %v", ip.TTL, checksum(ip.Contents, 0) == 0)
			}
		case *layers.IPv6:
			if ip.HopLimit != 63 {
				t.Errorf("hop limit %d, want 63", ip.HopLimit)
			}
		}
		hl := 20
		if v6 {
			hl = 40
		}
		if !bytes.Equal(p.Data[hl:], f.Data[hl:]) {
			t.Error("Forward changed the TCP segment")
		}
	}
}
