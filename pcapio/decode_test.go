package pcapio

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Frame builders. Each returns a new slice; the layers nest as on the wire:
// eth(0x0800, ipv4(ipFields{...}, tcp(tcpFields{...}))).

// tcpFields are the TCP header fields a test sets; the header length is
// 20 plus the options, which must be a multiple of 4 bytes.
type tcpFields struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	win          uint16
	opts         []byte
	payload      int // payload bytes after the header, all zero
}

func tcp(f tcpFields) []byte {
	b := make([]byte, 20, 20+len(f.opts)+f.payload)
	binary.BigEndian.PutUint16(b[0:], f.sport)
	binary.BigEndian.PutUint16(b[2:], f.dport)
	binary.BigEndian.PutUint32(b[4:], f.seq)
	binary.BigEndian.PutUint32(b[8:], f.ack)
	b[12] = byte((20+len(f.opts))/4) << 4
	b[13] = f.flags
	binary.BigEndian.PutUint16(b[14:], f.win)
	b = append(b, f.opts...)
	return append(b, make([]byte, f.payload)...)
}

// TCP options.
func optMSS(mss uint16) []byte { return []byte{2, 4, byte(mss >> 8), byte(mss)} }
func optWS(shift uint8) []byte { return []byte{1, 3, 3, shift} } // NOP-padded
func optSACKPerm() []byte      { return []byte{1, 1, 4, 2} }     // NOP-padded
func optTS(val, ecr uint32) []byte {
	b := []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0} // NOP-padded
	binary.BigEndian.PutUint32(b[4:], val)
	binary.BigEndian.PutUint32(b[8:], ecr)
	return b
}

func opts(o ...[]byte) []byte {
	var b []byte
	for _, x := range o {
		b = append(b, x...)
	}
	return b
}

// ipFields are the IP header fields a test sets. Zero ttl means 64.
type ipFields struct {
	src, dst string
	proto    uint8  // IPv4 protocol or IPv6 next header; 0 means TCP
	ttl      uint8  // TTL or hop limit
	id       uint16 // IPv4 identification
	frag     uint16 // IPv4 flags and fragment offset
	options  []byte // IPv4 options, a multiple of 4 bytes
}

func (f ipFields) protoOrTCP() uint8 {
	if f.proto == 0 {
		return 6
	}
	return f.proto
}

func (f ipFields) ttlOr64() uint8 {
	if f.ttl == 0 {
		return 64
	}
	return f.ttl
}

func ipv4(f ipFields, payload []byte) []byte {
	hl := 20 + len(f.options)
	b := make([]byte, hl, hl+len(payload))
	b[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(b[4:], f.id)
	binary.BigEndian.PutUint16(b[6:], f.frag)
	b[8] = f.ttlOr64()
	b[9] = f.protoOrTCP()
	src, dst := netip.MustParseAddr(f.src).As4(), netip.MustParseAddr(f.dst).As4()
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	copy(b[20:], f.options)
	return append(b, payload...)
}

// ipv6 builds an IPv6 header; ext are extension headers, each built by
// extHdr, whose next-header fields are chained here.
func ipv6(f ipFields, payload []byte, ext ...ipv6Ext) []byte {
	var chain []byte
	next := f.protoOrTCP()
	for i := len(ext) - 1; i >= 0; i-- {
		h := ext[i].build(next)
		chain = append(h, chain...)
		next = ext[i].typ
	}
	b := make([]byte, 40, 40+len(chain)+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(chain)+len(payload)))
	b[6] = next
	b[7] = f.ttlOr64()
	src, dst := netip.MustParseAddr(f.src).As16(), netip.MustParseAddr(f.dst).As16()
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	b = append(b, chain...)
	return append(b, payload...)
}

// ipv6Ext is an IPv6 extension header of type typ with units 8-byte units
// beyond the first (the Hdr Ext Len field).
type ipv6Ext struct {
	typ   uint8
	units uint8
}

var (
	hopByHop = ipv6Ext{typ: 0}
	destOpts = ipv6Ext{typ: 60, units: 1}
	routing  = ipv6Ext{typ: 43}
	fragHdr  = ipv6Ext{typ: 44}
)

func (e ipv6Ext) build(next uint8) []byte {
	b := make([]byte, 8*(int(e.units)+1))
	b[0], b[1] = next, e.units
	b[2] = 1 // PadN option filling the rest
	b[3] = byte(len(b) - 4)
	return b
}

func eth(ethType uint16, payload []byte) []byte {
	b := []byte{
		0x02, 0, 0, 0, 0, 2, // dst
		0x02, 0, 0, 0, 0, 1, // src
		byte(ethType >> 8), byte(ethType),
	}
	return append(b, payload...)
}

// vlanTag is an 802.1Q/802.1ad tag body: VLAN 100, then the next EtherType.
func vlanTag(next uint16, payload []byte) []byte {
	return append([]byte{0x00, 100, byte(next >> 8), byte(next)}, payload...)
}

func sll(proto uint16, payload []byte) []byte {
	b := []byte{
		0, 0, // packet type: to us
		0, 1, // ARPHRD_ETHER
		0, 6, // address length
		2, 0, 0, 0, 0, 1, 0, 0, // address, padded to 8
		byte(proto >> 8), byte(proto),
	}
	return append(b, payload...)
}

func sll2(proto uint16, payload []byte) []byte {
	b := []byte{
		byte(proto >> 8), byte(proto),
		0, 0, // reserved
		0, 0, 0, 2, // interface index
		0, 1, // ARPHRD_ETHER
		4,                      // packet type: outgoing
		6,                      // address length
		2, 0, 0, 0, 0, 1, 0, 0, // address, padded to 8
	}
	return append(b, payload...)
}

func null(order binary.AppendByteOrder, family uint32, payload []byte) []byte {
	return append(order.AppendUint32(nil, family), payload...)
}

// patch returns a copy of b with the bytes at off replaced by v.
func patch(b []byte, off int, v ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], v)
	return c
}

var (
	v4a, v4b = "192.0.2.1", "192.0.2.2"
	v6a, v6b = "2001:db8::1", "2001:db8::2"
)

func ap(addr string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(addr), port)
}

// between returns seg sent from src to dst.
func between(src, dst netip.AddrPort, seg Segment) Segment {
	seg.SetAddrs(src, dst)
	return seg
}

// Packets shared by several cases.
var (
	synOpts = opts(optMSS(1460), optSACKPerm(), optTS(1000, 0), optWS(7))
	syn4    = ipv4(ipFields{src: v4a, dst: v4b, id: 0x1234, frag: 0x4000 /* DF */},
		tcp(tcpFields{sport: 40000, dport: 80, seq: 100, flags: SYN, win: 64240, opts: synOpts}))
	syn4Seg = between(ap(v4a, 40000), ap(v4b, 80), Segment{
		Seq: 100, Window: 64240, Flags: SYN,
		TTL: 64, IPID: 0x1234, WScale: 7, HasTS: true, TSVal: 1000,
	})
	data4 = ipv4(ipFields{src: v4b, dst: v4a, ttl: 57, id: 7},
		tcp(tcpFields{sport: 80, dport: 40000, seq: 5000, ack: 101, flags: ACK | PSH, win: 502, opts: optTS(77, 1000), payload: 100}))
	data4Seg = between(ap(v4b, 80), ap(v4a, 40000), Segment{
		Seq: 5000, Ack: 101, PayloadLen: 100, Window: 502,
		Flags: ACK | PSH, TTL: 57, IPID: 7, WScale: -1, HasTS: true, TSVal: 77, TSEcr: 1000,
	})
	ack6 = ipv6(ipFields{src: v6a, dst: v6b, ttl: 255},
		tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 2, flags: ACK, win: 1000, payload: 10}))
	ack6Seg = between(ap(v6a, 443), ap(v6b, 50000), Segment{
		Seq: 1, Ack: 2, PayloadLen: 10, Window: 1000,
		Flags: ACK, TTL: 255, WScale: -1,
	})
	udp4 = ipv4(ipFields{src: v4a, dst: v4b, proto: 17}, make([]byte, 8))
)

// decodeTests are frames with what Decode makes of them, those in tunnels
// among them (tunnelTests); FuzzDecode starts from them too.
var decodeTests = append([]decodeTest{
	{name: "ethernet IPv4 SYN with options", link: LinkEthernet, frame: eth(0x0800, syn4), want: Decoded, seg: syn4Seg},
	{name: "ethernet IPv4 data", link: LinkEthernet, frame: eth(0x0800, data4), want: Decoded, seg: data4Seg},
	{name: "ethernet IPv6", link: LinkEthernet, frame: eth(0x86dd, ack6), want: Decoded, seg: ack6Seg},
	{name: "802.1Q", link: LinkEthernet, frame: eth(0x8100, vlanTag(0x0800, data4)), want: Decoded, seg: data4Seg},
	{name: "QinQ 802.1ad", link: LinkEthernet, frame: eth(0x88a8, vlanTag(0x8100, vlanTag(0x86dd, ack6))), want: Decoded, seg: ack6Seg},
	{name: "QinQ 0x9100", link: LinkEthernet, frame: eth(0x9100, vlanTag(0x8100, vlanTag(0x0800, data4))), want: Decoded, seg: data4Seg},
	{name: "SLL IPv4", link: LinkSLL, frame: sll(0x0800, syn4), want: Decoded, seg: syn4Seg},
	{name: "SLL IPv6", link: LinkSLL, frame: sll(0x86dd, ack6), want: Decoded, seg: ack6Seg},
	{
		// A D-SACK (RFC 2883): the first SACK block lies below the ACK
		// number; a second block above it is an ordinary SACK.
		name: "D-SACK", link: LinkIPv6, want: Decoded,
		frame: ipv6(ipFields{src: v6a, dst: v6b, ttl: 255}, tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 1000, flags: ACK, win: 1000,
			opts: opts([]byte{1, 1, 5, 18}, u32s(999, 1000, 2000, 2100))})),
		seg: between(ap(v6a, 443), ap(v6b, 50000), Segment{Seq: 1, Ack: 1000, Window: 1000, Flags: ACK, TTL: 255, WScale: -1, DSACK: true}),
	},
	{
		name: "SACK above the ACK is no D-SACK", link: LinkIPv6, want: Decoded,
		frame: ipv6(ipFields{src: v6a, dst: v6b, ttl: 255}, tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 1000, flags: ACK, win: 1000,
			opts: opts([]byte{1, 1, 5, 10}, u32s(2000, 2100))})),
		seg: between(ap(v6a, 443), ap(v6b, 50000), Segment{Seq: 1, Ack: 1000, Window: 1000, Flags: ACK, TTL: 255, WScale: -1}),
	},
	{name: "SLL2 IPv4", link: LinkSLL2, frame: sll2(0x0800, data4), want: Decoded, seg: atPoint(data4Seg, 2<<8|4)},
	{name: "SLL2 IPv6", link: LinkSLL2, frame: sll2(0x86dd, ack6), want: Decoded, seg: atPoint(ack6Seg, 2<<8|4)},
	{name: "raw 101 IPv4", link: LinkRaw, frame: syn4, want: Decoded, seg: syn4Seg},
	{name: "raw 101 IPv6", link: LinkRaw, frame: ack6, want: Decoded, seg: ack6Seg},
	{name: "raw 12", link: LinkRaw12, frame: data4, want: Decoded, seg: data4Seg},
	{name: "raw 14", link: LinkRaw14, frame: ack6, want: Decoded, seg: ack6Seg},
	{name: "IPV4 228", link: LinkIPv4, frame: data4, want: Decoded, seg: data4Seg},
	{name: "IPV6 229", link: LinkIPv6, frame: ack6, want: Decoded, seg: ack6Seg},
	{name: "NULL little-endian AF_INET", link: LinkNull, frame: null(binary.LittleEndian, 2, data4), want: Decoded, seg: data4Seg},
	{name: "NULL big-endian AF_INET", link: LinkNull, frame: null(binary.BigEndian, 2, data4), want: Decoded, seg: data4Seg},
	{name: "NULL little-endian AF_INET6 Linux", link: LinkNull, frame: null(binary.LittleEndian, 10, ack6), want: Decoded, seg: ack6Seg},
	{name: "NULL little-endian AF_INET6 BSD", link: LinkNull, frame: null(binary.LittleEndian, 24, ack6), want: Decoded, seg: ack6Seg},
	{name: "NULL little-endian AF_INET6 FreeBSD", link: LinkNull, frame: null(binary.LittleEndian, 28, ack6), want: Decoded, seg: ack6Seg},
	{name: "NULL big-endian AF_INET6 Darwin", link: LinkNull, frame: null(binary.BigEndian, 30, ack6), want: Decoded, seg: ack6Seg},
	{name: "LOOP AF_INET", link: LinkLoop, frame: null(binary.BigEndian, 2, syn4), want: Decoded, seg: syn4Seg},
	{name: "LOOP AF_INET6", link: LinkLoop, frame: null(binary.BigEndian, 24, ack6), want: Decoded, seg: ack6Seg},
	{
		name: "IPv6 hop-by-hop and destination options", link: LinkRaw, want: Decoded, seg: ack6Seg,
		frame: ipv6(ipFields{src: v6a, dst: v6b, ttl: 255},
			tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 2, flags: ACK, win: 1000, payload: 10}),
			hopByHop, destOpts),
	},
	{
		name: "IPv6 routing header", link: LinkRaw, want: Decoded, seg: ack6Seg,
		frame: ipv6(ipFields{src: v6a, dst: v6b, ttl: 255},
			tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 2, flags: ACK, win: 1000, payload: 10}),
			routing),
	},
	{
		name: "IPv6 authentication header", link: LinkRaw, want: Decoded, seg: ack6Seg,
		frame: ipv6(ipFields{src: v6a, dst: v6b, ttl: 255, proto: 51},
			append([]byte{6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, // AH, (2+2)*4 bytes
				tcp(tcpFields{sport: 443, dport: 50000, seq: 1, ack: 2, flags: ACK, win: 1000, payload: 10})...),
		),
	},
	{
		name: "IPv4 options", link: LinkRaw, want: Decoded, seg: data4Seg,
		frame: ipv4(ipFields{src: v4b, dst: v4a, ttl: 57, id: 7, options: []byte{1, 1, 1, 0}},
			tcp(tcpFields{sport: 80, dport: 40000, seq: 5000, ack: 101, flags: ACK | PSH, win: 502, opts: optTS(77, 1000), payload: 100})),
	},
	{
		// Ethernet pads short frames to 60 bytes; the IP length says where they end.
		name: "ethernet padding is not payload", link: LinkEthernet, want: Decoded,
		frame: append(eth(0x0800, ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: ACK}))), 0, 0, 0, 0, 0, 0),
		seg:   between(ap(v4a, 1), ap(v4b, 2), Segment{Flags: ACK, TTL: 64, WScale: -1}),
	},
	{
		// With segmentation offload the kernel hands a 64 KB super-packet with
		// IP total length 0 to the capture; the wire length gives the size.
		name: "IPv4 total length 0 takes the wire length", link: LinkEthernet, want: Decoded,
		frame:   eth(0x0800, patch(ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: ACK})), 2, 0, 0)),
		wireLen: 14 + 20 + 20 + 30000,
		seg:     between(ap(v4a, 1), ap(v4b, 2), Segment{PayloadLen: 30000, Flags: ACK, TTL: 64, WScale: -1}),
	},
	{
		name: "IPv4 total length 0 behind VLAN", link: LinkEthernet, want: Decoded,
		frame:   eth(0x8100, vlanTag(0x0800, patch(ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: ACK})), 2, 0, 0))),
		wireLen: 14 + 4 + 20 + 20 + 1000,
		seg:     between(ap(v4a, 1), ap(v4b, 2), Segment{PayloadLen: 1000, Flags: ACK, TTL: 64, WScale: -1}),
	},
	{
		name: "IPv6 payload length 0 takes the wire length", link: LinkSLL2, want: Decoded,
		frame:   sll2(0x86dd, patch(ack6[:40+20], 4, 0, 0)),
		wireLen: 20 + 40 + 20 + 5000,
		seg:     between(ap(v6a, 443), ap(v6b, 50000), Segment{Seq: 1, Ack: 2, PayloadLen: 5000, Window: 1000, Flags: ACK, TTL: 255, WScale: -1, Point: 2<<8 | 4}),
	},
	{
		// tcpdump -s 54: the payload is cut, the length comes from the IP header.
		name: "payload cut by snap length", link: LinkEthernet, want: Decoded, seg: data4Seg,
		frame: eth(0x0800, data4)[:14+20+32], wireLen: 14 + len(data4),
	},
	{
		name: "IPv6 payload cut by snap length", link: LinkRaw, want: Decoded, seg: ack6Seg,
		frame: ack6[:60], wireLen: len(ack6),
	},
	{
		// The fixed header is there; the cut options are left out.
		name: "TCP options cut by snap length", link: LinkRaw, want: Decoded,
		frame: syn4[:20+20+6], wireLen: len(syn4),
		seg: between(ap(v4a, 40000), ap(v4b, 80), Segment{Seq: 100, Window: 64240, Flags: SYN, TTL: 64, IPID: 0x1234, WScale: -1}),
	},
	{
		// tcpdump -s 54 behind a VLAN tag: the checksum, urgent pointer
		// and options are cut.
		name: "TCP header cut after the window", link: LinkEthernet, want: Decoded,
		frame: eth(0x8100, vlanTag(0x0800, data4))[:54], wireLen: 18 + len(data4),
		seg: between(ap(v4b, 80), ap(v4a, 40000), Segment{
			Seq: 5000, Ack: 101, PayloadLen: 100, Window: 502, Flags: ACK | PSH, TTL: 57, IPID: 7, WScale: -1,
		}),
	},
	{
		// The same timestamps behind NOPs in another order: the option
		// walk, not the NOP-NOP-timestamps shortcut.
		name: "timestamps before their NOPs", link: LinkRaw, want: Decoded, seg: data4Seg,
		frame: ipv4(ipFields{src: v4b, dst: v4a, ttl: 57, id: 7},
			tcp(tcpFields{sport: 80, dport: 40000, seq: 5000, ack: 101, flags: ACK | PSH, win: 502, opts: opts(optTS(77, 1000)[2:], []byte{1, 1}), payload: 100})),
	},
	{
		// The shortcut's option bytes with a longer header: the walk
		// reads the SACK block after them too.
		name: "timestamps then a D-SACK block", link: LinkRaw, want: Decoded,
		frame: ipv4(ipFields{src: v4b, dst: v4a}, tcp(tcpFields{sport: 80, dport: 40000, ack: 5000, flags: ACK, opts: opts(optTS(5, 6), []byte{1, 1, 5, 10, 0, 0, 0x0f, 0xa0, 0, 0, 0x13, 0x88})})),
		seg:   between(ap(v4b, 80), ap(v4a, 40000), Segment{Ack: 5000, Flags: ACK, TTL: 64, WScale: -1, HasTS: true, TSVal: 5, TSEcr: 6, DSACK: true}),
	},
	{
		name: "window scale above 14 is clamped", link: LinkRaw, want: Decoded,
		frame: ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: SYN, opts: optWS(200)})),
		seg:   between(ap(v4a, 1), ap(v4b, 2), Segment{Flags: SYN, TTL: 64, WScale: 14}),
	},
	{
		name: "end of options list stops parsing", link: LinkRaw, want: Decoded,
		frame: ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: SYN, opts: opts([]byte{0, 0, 0, 0}, optWS(3))})),
		seg:   between(ap(v4a, 1), ap(v4b, 2), Segment{Flags: SYN, TTL: 64, WScale: -1}),
	},
	{
		name: "option with bad length stops parsing", link: LinkRaw, want: Decoded,
		frame: ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: SYN, opts: opts(optWS(3), []byte{8, 1, 0, 0}, optTS(1, 2))})),
		seg:   between(ap(v4a, 1), ap(v4b, 2), Segment{Flags: SYN, TTL: 64, WScale: 3}),
	},
	{
		name: "option running past the header stops parsing", link: LinkRaw, want: Decoded,
		frame: ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{sport: 1, dport: 2, flags: SYN, opts: opts(optWS(3), []byte{1, 1, 8, 10})})),
		seg:   between(ap(v4a, 1), ap(v4b, 2), Segment{Flags: SYN, TTL: 64, WScale: 3}),
	},

	{name: "ARP", link: LinkEthernet, frame: eth(0x0806, make([]byte, 28)), want: NotIP},
	{name: "ARP in VLAN", link: LinkEthernet, frame: eth(0x8100, vlanTag(0x0806, make([]byte, 28))), want: NotIP},
	{name: "SLL ARP", link: LinkSLL, frame: sll(0x0806, make([]byte, 28)), want: NotIP},
	{name: "SLL2 ARP", link: LinkSLL2, frame: sll2(0x0806, make([]byte, 28)), want: NotIP},
	{name: "raw IP version 5", link: LinkRaw, frame: patch(data4, 0, 0x55), want: NotIP},
	{name: "NULL unknown family", link: LinkNull, frame: null(binary.LittleEndian, 7, data4), want: NotIP},

	{name: "IPv4 UDP", link: LinkEthernet, frame: eth(0x0800, udp4), want: NotTCP},
	{name: "IPv6 UDP", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b, proto: 17}, make([]byte, 8)), want: NotTCP},
	{name: "IPv6 ICMPv6 after hop-by-hop", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b, proto: 58}, make([]byte, 8), hopByHop), want: NotTCP},
	{name: "IPv6 no next header", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b, proto: 59}, nil), want: NotTCP},
	{name: "IPv6 ESP", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b, proto: 50}, make([]byte, 16)), want: NotTCP},

	{name: "IPv4 fragment offset", link: LinkRaw, frame: ipv4(ipFields{src: v4a, dst: v4b, frag: 185}, make([]byte, 100)), want: Fragment},
	{name: "IPv4 first fragment, MF set", link: LinkRaw, frame: ipv4(ipFields{src: v4a, dst: v4b, frag: 0x2000}, tcp(tcpFields{payload: 100})), want: Fragment},
	{name: "IPv4 last fragment with DF", link: LinkRaw, frame: ipv4(ipFields{src: v4a, dst: v4b, frag: 0x4000 | 10}, make([]byte, 40)), want: Fragment},
	{name: "IPv6 fragment header", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), fragHdr), want: Fragment},
	{name: "IPv6 hop-by-hop then fragment", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), hopByHop, fragHdr), want: Fragment},

	{name: "ethernet header cut", link: LinkEthernet, frame: eth(0x0800, nil)[:13], want: Truncated},
	{name: "empty ethernet frame", link: LinkEthernet, frame: nil, want: Truncated},
	{name: "VLAN tag cut", link: LinkEthernet, frame: eth(0x8100, []byte{0, 100, 8}), want: Truncated},
	{name: "SLL header cut", link: LinkSLL, frame: sll(0x0800, nil)[:15], want: Truncated},
	{name: "SLL2 header cut", link: LinkSLL2, frame: sll2(0x0800, nil)[:19], want: Truncated},
	{name: "raw empty", link: LinkRaw, frame: []byte{}, want: Truncated},
	{name: "NULL header cut", link: LinkNull, frame: []byte{2, 0, 0}, want: Truncated},
	{name: "LOOP header cut", link: LinkLoop, frame: []byte{0, 0, 0}, want: Truncated},
	{name: "IPv4 header cut", link: LinkEthernet, frame: eth(0x0800, syn4[:19]), want: Truncated},
	{name: "IPv4 options cut", link: LinkRaw, frame: ipv4(ipFields{src: v4a, dst: v4b, options: make([]byte, 20)}, tcp(tcpFields{}))[:30], want: Truncated},
	{name: "IPv6 header cut", link: LinkEthernet, frame: eth(0x86dd, ack6[:39]), want: Truncated},
	{name: "IPv6 extension header cut", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), destOpts)[:40+12], want: Truncated},
	{name: "IPv6 extension header length past the end", link: LinkRaw, frame: patch(ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), hopByHop), 41, 9), want: Truncated},
	{name: "IPv6 AH cut", link: LinkRaw, frame: ipv6(ipFields{src: v6a, dst: v6b, proto: 51}, []byte{6, 4, 0, 0}), want: Truncated},
	{name: "TCP header cut before the window", link: LinkEthernet, frame: eth(0x0800, syn4[:20+15]), wireLen: 14 + len(syn4), want: Truncated},
	{name: "TCP header cut after IPv6", link: LinkRaw, frame: ack6[:40+10], want: Truncated},

	{name: "IHL below 5", link: LinkRaw, frame: patch(data4, 0, 0x44), want: Malformed},
	{name: "IPv4 total length below IHL", link: LinkRaw, frame: patch(data4, 2, 0, 19), want: Malformed},
	{name: "IPv4 total length too short for TCP", link: LinkRaw, frame: patch(data4, 2, 0, 30), want: Malformed},
	{name: "EtherType IPv4 carrying IPv6", link: LinkEthernet, frame: eth(0x0800, ack6), want: Malformed},
	{name: "EtherType IPv6 carrying IPv4", link: LinkEthernet, frame: eth(0x86dd, append(data4, make([]byte, 40)...)), want: Malformed},
	{name: "TCP data offset below 5", link: LinkRaw, frame: patch(data4, 20+12, 0x40), want: Malformed},
	{name: "TCP data offset past the IP length", link: LinkRaw, frame: patch(ipv4(ipFields{src: v4a, dst: v4b}, tcp(tcpFields{})), 20+12, 0xf0), want: Malformed},
	{name: "IPv6 payload shorter than extension headers", link: LinkRaw, frame: patch(ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), destOpts), 4, 0, 20), want: Malformed},
	{
		name: "IPv6 more than 8 extension headers", link: LinkRaw, want: Malformed,
		frame: ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{}), hopByHop, destOpts, destOpts, destOpts, destOpts, destOpts, destOpts, destOpts, destOpts),
	},

	{name: "Bluetooth", link: 187, frame: eth(0x0800, data4), want: UnknownLink},
	{name: "unknown link, empty frame", link: 65535, frame: nil, want: UnknownLink},
}, append(tunnelTests, linkTests...)...)

// decodeTest is a frame and what Decode makes of it.
type decodeTest struct {
	name    string
	link    uint16
	frame   []byte
	wireLen int // 0 means len(frame)
	want    SkipReason
	seg     Segment // checked when want is Decoded
}

// wire is the frame's length on the wire.
func (tt decodeTest) wire() uint32 {
	if tt.wireLen == 0 {
		return uint32(len(tt.frame))
	}
	return uint32(tt.wireLen)
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			var seg Segment
			got := Decode(tt.link, tt.frame, tt.wire(), &seg)
			if got != tt.want {
				t.Fatalf("Decode = %v, want %v", got, tt.want)
			}
			if got != Decoded {
				return
			}
			if diff := cmp.Diff(tt.seg, seg); diff != "" {
				t.Errorf("Segment mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeOverwrites checks that a reused Segment keeps nothing from the
// previous packet: options and IPv4-only fields are reset.
func TestDecodeOverwrites(t *testing.T) {
	seg := Segment{Nanos: 5, File: 2, Frame: 9}
	if r := Decode(LinkRaw, syn4, uint32(len(syn4)), &seg); r != Decoded {
		t.Fatalf("Decode(syn4) = %v", r)
	}
	if r := Decode(LinkRaw, ack6, uint32(len(ack6)), &seg); r != Decoded {
		t.Fatalf("Decode(ack6) = %v", r)
	}
	want := ack6Seg
	want.Nanos, want.File, want.Frame = 5, 2, 9 // the reader's fields are left alone
	if diff := cmp.Diff(want, seg); diff != "" {
		t.Errorf("Segment mismatch (-want +got):\n%s", diff)
	}
}

func TestSegmentHas(t *testing.T) {
	s := Segment{Flags: SYN | ACK}
	if !s.Has(SYN) || !s.Has(SYN|ACK) || s.Has(FIN) || s.Has(SYN|FIN) {
		t.Errorf("Has on flags %#x gave wrong answers", s.Flags)
	}
}

func TestSkipReasonString(t *testing.T) {
	seen := map[string]bool{}
	for r := Decoded; r < numSkipReasons; r++ {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Errorf("SkipReason(%d).String() = %q, want a distinct name", r, s)
		}
		seen[s] = true
	}
	if got := numSkipReasons.String(); got != "unknown" {
		t.Errorf("out-of-range SkipReason = %q, want \"unknown\"", got)
	}
}

func TestLinkNames(t *testing.T) {
	tests := []struct {
		link      uint16
		name      string
		supported bool
	}{
		{LinkEthernet, "EN10MB", true},
		{LinkSLL2, "LINUX_SLL2", true},
		{LinkNull, "NULL", true},
		{LinkIPv6, "IPV6", true},
		{105, "IEEE802_11", true},
		{187, "BLUETOOTH_HCI_H4", false},
		{9, "PPP", true},
		{239, "NFLOG", true},
		{10, "FDDI", true},
		{4242, "LINKTYPE_4242", false},
	}
	for _, tt := range tests {
		if got := LinkName(tt.link); got != tt.name {
			t.Errorf("LinkName(%d) = %q, want %q", tt.link, got, tt.name)
		}
		if got := LinkSupported(tt.link); got != tt.supported {
			t.Errorf("LinkSupported(%d) = %v, want %v", tt.link, got, tt.supported)
		}
	}
	// Every link type Decode knows is reported as supported, and no other.
	frame := eth(0x0800, data4)
	for link := range 1 << 16 {
		var seg Segment
		decodes := Decode(uint16(link), frame, uint32(len(frame)), &seg) != UnknownLink
		if decodes != LinkSupported(uint16(link)) {
			t.Errorf("link %d: Decode knows it: %v, LinkSupported: %v", link, decodes, !decodes)
		}
	}
}

func TestDecodeNoAllocs(t *testing.T) {
	frames := []struct {
		link  uint16
		frame []byte
	}{
		{LinkEthernet, eth(0x0800, syn4)},
		{LinkEthernet, eth(0x8100, vlanTag(0x86dd, ack6))},
		{LinkSLL2, sll2(0x0800, data4)},
		{LinkRaw, ipv6(ipFields{src: v6a, dst: v6b}, tcp(tcpFields{opts: optTS(1, 2)}), hopByHop, destOpts)},
		{LinkNull, null(binary.LittleEndian, 2, udp4)},
		{LinkEthernet, eth(0x0800, outer4(17, udp(1, 4789, vxlan(0x08, 1, eth(0x8100, vlanTag(0x0800, data4))))))},
		{LinkEthernet, eth(0x8847, mpls(16, true, ipv4(ipFields{src: vtepA, dst: vtepB, proto: 47}, gre(0x1000, 0x88be, u32s(1), append(u32s(0x10000005, 0), eth(0x86dd, ack6)...)))))},
		{LinkNFLOG, nflog(binary.LittleEndian, 2, data4)},
	}
	var seg Segment
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			Decode(f.link, f.frame, uint32(len(f.frame)), &seg)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkDecode(b *testing.B) {
	benchmarks := []struct {
		name  string
		link  uint16
		frame []byte
	}{
		{"IPv4", LinkEthernet, eth(0x0800, data4)},
		{"IPv4SYN", LinkEthernet, eth(0x0800, syn4)},
		{"IPv6VLAN", LinkEthernet, eth(0x8100, vlanTag(0x86dd, ack6))},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			var seg Segment
			for b.Loop() {
				if Decode(bm.link, bm.frame, uint32(len(bm.frame)), &seg) != Decoded {
					b.Fatal("not decoded")
				}
			}
		})
	}
}

// atPoint returns seg as captured at a Linux cooked header's interface and
// packet type.
func atPoint(seg Segment, point uint32) Segment {
	seg.Point = point
	return seg
}

// u32s writes numbers big-endian, as TCP options carry them.
func u32s(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], x)
	}
	return b
}
