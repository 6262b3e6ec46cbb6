package pcapio

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/pcaps from the code that makes them")

// testdataFiles makes the captures in testdata/pcaps; README there says
// what each holds.
var testdataFiles = map[string]func() []byte{
	"handshake.pcap":   handshakePcap,
	"cut.pcap":         func() []byte { b := handshakePcap(); return b[:len(b)-30] },
	"two-links.pcapng": twoLinksPcapng,
}

// handshakePcap is one HTTP exchange from 192.0.2.1:40000 to 192.0.2.2:80
// captured with snap length 96: handshake, request, a 1400-byte response
// cut to its headers, an ARP, and the close.
func handshakePcap() []byte {
	c, s := v4a, v4b
	seg := func(src, dst string, sport, dport uint16, seq, ack uint32, flags uint8, o []byte, payload int) []byte {
		return eth(0x0800, ipv4(ipFields{src: src, dst: dst, frag: 0x4000},
			tcp(tcpFields{sport: sport, dport: dport, seq: seq, ack: ack, flags: flags, win: 502, opts: o, payload: payload})))
	}
	rec := func(usec uint32, frame []byte) pcapRec {
		r := pcapRec{sec: base, frac: usec, data: frame}
		if len(frame) > 96 {
			r.data, r.orig = frame[:96], uint32(len(frame))
		}
		return r
	}
	b := pcapFile(binary.LittleEndian, magicMicro, LinkEthernet,
		rec(0, seg(c, s, 40000, 80, 1000, 0, SYN, opts(optMSS(1460), optSACKPerm(), optTS(1, 0), optWS(7)), 0)),
		rec(250, seg(s, c, 80, 40000, 5000, 1001, SYN|ACK, opts(optMSS(1460), optSACKPerm(), optTS(9, 1), optWS(9)), 0)),
		rec(300, seg(c, s, 40000, 80, 1001, 5001, ACK, optTS(2, 9), 0)),
		rec(1000, seg(c, s, 40000, 80, 1001, 5001, PSH|ACK, optTS(3, 9), 40)),
		rec(20000, seg(s, c, 80, 40000, 5001, 1041, PSH|ACK, optTS(10, 3), 1400)),
		rec(30000, eth(0x0806, make([]byte, 28))),
		rec(40000, seg(c, s, 40000, 80, 1041, 6401, FIN|ACK, optTS(4, 10), 0)),
		rec(40200, seg(s, c, 80, 40000, 6401, 1042, FIN|ACK, optTS(11, 4), 0)),
		rec(40300, seg(c, s, 40000, 80, 1042, 6402, ACK, optTS(5, 11), 0)),
	)
	binary.LittleEndian.PutUint32(b[16:], 96) // snap length
	return b
}

// twoLinksPcapng has an Ethernet interface in nanoseconds and a Linux
// cooked v2 one in microseconds: IPv6 in a VLAN, IPv4, UDP, and a custom
// block to skip.
func twoLinksPcapng() []byte {
	le := binary.LittleEndian
	w := newNg(le)
	w.idb(LinkEthernet, w.opt(2, []byte("eth0")), w.opt(ngOptionTsresol, []byte{9}))
	w.idb(LinkSLL2, w.opt(2, []byte("any")))
	ack := ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 2, flags: ACK, win: 1000, payload: 10}), hopByHop)
	return w.epb(0, base*1e9+5, eth(0x8100, vlanTag(0x86dd, ack))).
		epb(1, base*1e6+1, sll2(0x0800, seqPacket(7))).
		block(0x40000bad, []byte{0, 0, 0x7e, 0xd4, 'h', 'i'}).
		epb(1, base*1e6+2, sll2(0x0800, udp4)).b
}

func TestTestdata(t *testing.T) {
	for name, build := range testdataFiles {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "pcaps", name)
			want := build()
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("%s differs from what the test makes; run go test ./pcapio -run TestTestdata -update", path)
			}
		})
	}
	// Every file there is made here and described in the README.
	readme, err := os.ReadFile("testdata/pcaps/README")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range globFiles(t, "testdata/pcaps/*.pcap*") {
		name := filepath.Base(path)
		if testdataFiles[name] == nil {
			t.Errorf("%s is not made by testdataFiles", path)
		}
		if !bytes.Contains(readme, []byte(name+":")) {
			t.Errorf("testdata/pcaps/README has no line for %s", name)
		}
	}
}

func TestTestdataContents(t *testing.T) {
	tests := []struct {
		name   string
		want   Stats
		damage string
	}{
		{
			name: "handshake.pcap",
			want: Stats{Packets: 9, Skipped: [numSkipReasons]uint64{Decoded: 8, NotIP: 1},
				Links: []LinkCount{{LinkEthernet, 9}}, First: base * 1e9, Last: base*1e9 + 40300000},
		},
		{
			name: "cut.pcap",
			want: Stats{Packets: 8, Skipped: [numSkipReasons]uint64{Decoded: 7, NotIP: 1},
				Links: []LinkCount{{LinkEthernet, 8}}, First: base * 1e9, Last: base*1e9 + 40200000},
			damage: "truncated record at byte 740 (packet 9)",
		},
		{
			name: "two-links.pcapng",
			want: Stats{Packets: 3, Skipped: [numSkipReasons]uint64{Decoded: 2, NotTCP: 1},
				Links: []LinkCount{{LinkEthernet, 1}, {LinkSLL2, 2}}, First: base*1e9 + 5, Last: base*1e9 + 2000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(filepath.Join("testdata", "pcaps", tt.name))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			readAll(t, s)
			if diff := cmp.Diff(tt.want, s.Stats()); diff != "" {
				t.Errorf("Stats mismatch (-want +got):\n%s", diff)
			}
			if d := s.Files()[0].Damage; d != tt.damage {
				t.Errorf("Damage = %q, want %q", d, tt.damage)
			}
		})
	}
}
