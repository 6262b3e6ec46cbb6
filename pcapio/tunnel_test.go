package pcapio

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// Builders for the encapsulations Decode walks; each returns a new slice.

func udp(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}

// vxlan is a VXLAN header with the given flags (0x08: a network id
// follows) and network id, then the inner Ethernet frame.
func vxlan(flags byte, vni uint32, inner []byte) []byte {
	return append([]byte{flags, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, inner...)
}

// geneve is a Geneve header with optWords 4-byte words of options.
func geneve(optWords int, proto uint16, vni uint32, inner []byte) []byte {
	b := make([]byte, 8+4*optWords, 8+4*optWords+len(inner))
	b[0] = byte(optWords)
	binary.BigEndian.PutUint16(b[2:], proto)
	b[4], b[5], b[6] = byte(vni>>16), byte(vni>>8), byte(vni)
	return append(b, inner...)
}

// gpe is a VXLAN-GPE header with the given flags (0x08: a network id
// follows; 0x04: a next protocol is given; 0x30: the version), next
// protocol (1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH) and network id,
// then the inner packet.
func gpe(flags, next byte, vni uint32, inner []byte) []byte {
	return append([]byte{flags, 0, 0, next, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, inner...)
}

// nsh is an NSH header of metadata type 2 with no metadata, or of type 1
// with its 16 bytes, for the next protocol (1 IPv4, 2 IPv6, 3 Ethernet),
// service path and service index, then the inner packet.
func nsh(next byte, path uint32, index byte, inner []byte) []byte {
	words, mdType := byte(2), byte(2)
	if next == 3 {
		words, mdType = 6, 1 // Ethernet inside: type 1 here, to cover its metadata
	}
	b := []byte{0x0f, 0xc0 | words, mdType, next}
	b = binary.BigEndian.AppendUint32(b, path<<8|uint32(index))
	b = append(b, make([]byte, 4*int(words)-8)...)
	return append(b, inner...)
}

// l2tp is an L2TP header with the given flags and version (0x0002: a data
// message of version 2), tunnel and session, then opt (the Ns and Nr and
// offset fields the flags announce, placed after the session), then the
// frame. A length, when the flags announce it, is filled in.
func l2tp(flags uint16, tunnel, session uint16, opt []byte, frame []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, flags)
	if flags&0x4000 != 0 {
		b = binary.BigEndian.AppendUint16(b, uint16(2+2+4+len(opt)+len(frame)))
	}
	b = binary.BigEndian.AppendUint16(b, tunnel)
	b = binary.BigEndian.AppendUint16(b, session)
	b = append(b, opt...)
	return append(b, frame...)
}

// ppp is a PPP frame with address and control bytes and an uncompressed
// protocol.
func ppp(proto uint16, payload []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{0xff, 0x03}, proto), payload...)
}

// gtp is a GTP-U G-PDU header with the given flags (0x30, and 0x04 when
// extension headers follow, 0x02 with a sequence number) and TEID; opt is
// the sequence number, N-PDU number, next extension type and the
// extensions.
func gtp(flags byte, teid uint32, opt []byte, inner []byte) []byte {
	b := []byte{flags, 0xff}
	b = binary.BigEndian.AppendUint16(b, uint16(len(opt)+len(inner)))
	b = binary.BigEndian.AppendUint32(b, teid)
	b = append(b, opt...)
	return append(b, inner...)
}

// gre is a GRE header with the given flags and protocol, then fields (the
// checksum, key and sequence number the flags announce), then the inner
// packet.
func gre(flags, proto uint16, fields []byte, inner []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, flags)
	b = binary.BigEndian.AppendUint16(b, proto)
	b = append(b, fields...)
	return append(b, inner...)
}

func mpls(label uint32, bottom bool, payload []byte) []byte {
	v := label<<12 | 64 // TTL 64
	if bottom {
		v |= 1 << 8
	}
	return append(binary.BigEndian.AppendUint32(nil, v), payload...)
}

// pppoe is a PPPoE session header (session 0x42) and a PPP protocol.
func pppoe(proto uint16, payload []byte) []byte {
	b := []byte{0x11, 0, 0, 0x42}
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(payload)))
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, payload...)
}

// nflog is an NFLOG record of the given family and log group 7: a prefix
// attribute, then the payload attribute, in the given byte order.
func nflog(order binary.AppendByteOrder, family byte, payload []byte) []byte {
	b := []byte{family, 0, 0, 7}
	b = order.AppendUint16(b, 8)
	b = order.AppendUint16(b, 10) // NFULA_PREFIX
	b = append(b, "pfx\x00"...)
	b = order.AppendUint16(b, uint16(4+len(payload)))
	b = order.AppendUint16(b, 9) // NFULA_PAYLOAD
	return append(b, payload...)
}

// Outer addresses of the tunnels.
const (
	vtepA, vtepB = "198.51.100.1", "198.51.100.2"
	vtep6A       = "2001:db8:ffff::1"
)

// tunnelled returns seg as Decode reports it behind a tunnel whose id
// (its network id, key or session) is id.
func tunnelled(seg Segment, id uint32) Segment {
	seg.Point = mixPoint(seg.Point, id)
	return seg
}

var (
	outer4 = func(proto uint8, payload []byte) []byte {
		return ipv4(ipFields{src: vtepA, dst: vtepB, proto: proto, ttl: 250}, payload)
	}
	grePlain = func(proto uint16, inner []byte) []byte { return gre(0, proto, nil, inner) }
)

// tunnelTests are decodeTests of frames in tunnels and other
// encapsulations.
var tunnelTests = []decodeTest{
	{name: "VXLAN", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 100<<8),
		frame: eth(0x0800, outer4(17, udp(51000, 4789, vxlan(0x08, 100, eth(0x0800, data4)))))},
	{name: "VXLAN on flannel's port 8472, IPv6 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 1<<8),
		frame: eth(0x0800, outer4(17, udp(51000, 8472, vxlan(0x08, 1, eth(0x86dd, ack6)))))},
	{name: "VXLAN over IPv6, VLAN inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 7<<8),
		frame: eth(0x86dd, ipv6(ipFields{src: vtep6A, dst: v6b, proto: 17}, udp(4789, 4789, vxlan(0x08, 7, eth(0x8100, vlanTag(0x0800, data4))))))},
	{name: "VXLAN without a network id", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(51000, 4789, vxlan(0, 100, eth(0x0800, data4)))))},
	{name: "VXLAN header cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(51000, 4789, []byte{8, 0, 0})))},
	{name: "VXLAN inner frame cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(51000, 4789, vxlan(0x08, 100, eth(0x0800, data4)[:20]))))},
	{name: "VXLAN-GPE, IPv4 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 100<<8),
		frame: eth(0x0800, outer4(17, udp(51000, 4790, gpe(0x0c, 1, 100, data4))))},
	{name: "VXLAN-GPE, Ethernet inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 3<<8),
		frame: eth(0x0800, outer4(17, udp(4790, 4790, gpe(0x0c, 3, 3, eth(0x86dd, ack6)))))},
	{name: "VXLAN-GPE without the next protocol's flag", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 100<<8),
		frame: eth(0x0800, outer4(17, udp(51000, 4790, gpe(0x08, 1, 100, data4))))},
	{name: "VXLAN-GPE, NSH inside", link: LinkEthernet, want: Decoded, seg: tunnelled(tunnelled(data4Seg, 100<<8), 0x123<<8|255),
		frame: eth(0x0800, outer4(17, udp(51000, 4790, gpe(0x0c, 4, 100, nsh(1, 0x123, 255, data4)))))},
	{name: "VXLAN-GPE version 1", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(51000, 4790, gpe(0x1c, 1, 100, data4))))},
	{name: "VXLAN-GPE carrying another protocol", link: LinkEthernet, want: NotIP,
		frame: eth(0x0800, outer4(17, udp(51000, 4790, gpe(0x0c, 0x81, 100, data4))))},
	{name: "VXLAN-GPE header cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(51000, 4790, gpe(0x0c, 1, 100, nil)[:6])))},
	{name: "NSH with metadata of type 1, Ethernet inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 0xabcdef<<8|254),
		frame: eth(0x894f, nsh(3, 0xabcdef, 254, eth(0x0800, data4)))},
	{name: "NSH, the next hop's copy: the service index lowered", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 7<<8|200),
		frame: eth(0x894f, nsh(2, 7, 200, ack6))},
	{name: "NSH version 1", link: LinkEthernet, want: NotIP,
		frame: eth(0x894f, patch(nsh(1, 7, 255, data4), 0, 0x40))},
	{name: "NSH length below its fixed header", link: LinkEthernet, want: Malformed,
		frame: eth(0x894f, patch(nsh(1, 7, 255, data4), 1, 1))},
	{name: "NSH metadata cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x894f, nsh(3, 7, 255, nil)[:20])},
	{name: "L2TP: PPP inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 5<<16|9),
		frame: eth(0x0800, outer4(17, udp(1701, 1701, l2tp(0x0002, 5, 9, nil, ppp(0x0021, data4)))))},
	{name: "L2TP with length, sequence numbers and padding, IPv6 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 5<<16|9),
		frame: eth(0x0800, outer4(17, udp(50000, 1701, l2tp(0x4a02, 5, 9, []byte{0, 1, 0, 2, 0, 3, 0xee, 0xee, 0xee}, ppp(0x0057, ack6)))))},
	{name: "L2TP, the PPP protocol compressed", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 1<<16|1),
		frame: eth(0x0800, outer4(17, udp(1701, 1701, l2tp(0x0002, 1, 1, nil, append([]byte{0x21}, data4...)))))},
	{name: "L2TP control message", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(1701, 1701, l2tp(0xc802, 5, 0, []byte{0, 0x14, 0, 0, 0, 0}, make([]byte, 8)))))},
	{name: "L2TPv3", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(1701, 1701, l2tp(0x0003, 0, 0, u32s(0x1234), eth(0x0800, data4)))))},
	{name: "L2TP, LCP inside", link: LinkEthernet, want: NotIP,
		frame: eth(0x0800, outer4(17, udp(1701, 1701, l2tp(0x0002, 5, 9, nil, ppp(0xc021, make([]byte, 8))))))},
	{name: "L2TP padding past the packet", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(1701, 1701, l2tp(0x0202, 5, 9, []byte{0x10, 0}, ppp(0x0021, nil)))))},
	{name: "UDP on another port", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(51000, 4788, vxlan(0x08, 100, eth(0x0800, data4)))))},

	{name: "Geneve with options, Ethernet inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 0x1234<<8),
		frame: eth(0x0800, outer4(17, udp(40000, 6081, geneve(2, 0x6558, 0x1234, eth(0x0800, data4)))))},
	{name: "Geneve, IPv6 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 5<<8),
		frame: eth(0x0800, outer4(17, udp(40000, 6081, geneve(0, 0x86dd, 5, ack6))))},
	{name: "Geneve version 1", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(40000, 6081, patch(geneve(0, 0x86dd, 5, ack6), 0, 0x40))))},
	{name: "Geneve options cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(40000, 6081, geneve(4, 0x86dd, 5, nil)[:20])))},

	{name: "GTP-U", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 0x1234abcd),
		frame: eth(0x0800, outer4(17, udp(2152, 2152, gtp(0x30, 0x1234abcd, nil, data4))))},
	{name: "GTP-U with a sequence number and an extension header, IPv6 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 7),
		frame: eth(0x0800, outer4(17, udp(2152, 2152, gtp(0x36, 7, []byte{0, 1, 0, 0x85, 1, 0x09, 0x01, 0}, ack6))))},
	{name: "GTP-U extension header of length 0", link: LinkEthernet, want: Malformed,
		frame: eth(0x0800, outer4(17, udp(2152, 2152, gtp(0x34, 7, []byte{0, 1, 0, 0x85, 0, 0, 0, 0}, ack6))))},
	{name: "GTP-U extension header cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(2152, 2152, gtp(0x34, 7, []byte{0, 1, 0, 0x85, 2, 0, 0}, nil))))},
	{name: "GTP-U echo request", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(2152, 2152, patch(gtp(0x30, 7, nil, data4), 1, 1))))},
	{name: "GRE, IPv4 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 47),
		frame: eth(0x0800, outer4(47, grePlain(0x0800, data4)))},
	{name: "GRE with checksum, key and sequence number, IPv6 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 47^0xabcd),
		frame: eth(0x0800, outer4(47, gre(0xb000, 0x86dd, u32s(0, 0xabcd, 9), ack6)))},
	{name: "GRE bridging Ethernet", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 47^2),
		frame: eth(0x0800, outer4(47, gre(0x2000, 0x6558, u32s(2), eth(0x0800, data4))))},
	{name: "PPTP: enhanced GRE with an acknowledgement, PPP inside", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 47^0x42),
		frame: eth(0x0800, outer4(47, gre(0x3081, 0x880b, u32s(uint32(4+len(data4))<<16|0x42, 1, 0), ppp(0x0021, data4))))},
	{name: "PPTP, the PPP protocol compressed, IPv6 inside", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 47^0x42),
		frame: eth(0x0800, outer4(47, gre(0x3001, 0x880b, u32s(uint32(1+len(ack6))<<16|0x42, 1), append([]byte{0x57}, ack6...))))},
	{name: "PPTP, compressed or encrypted PPP (MPPE)", link: LinkEthernet, want: NotIP,
		frame: eth(0x0800, outer4(47, gre(0x3001, 0x880b, u32s(0x420042, 1), ppp(0x00fd, data4))))},
	{name: "PPTP acknowledgement alone", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(47, gre(0x2081, 0x880b, u32s(0x42, 7), nil)))},
	{name: "PPTP, a payload length of 0", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(47, gre(0x3001, 0x880b, u32s(0x42, 1), nil)))},
	{name: "PPTP, PPP header cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(47, gre(0x3001, 0x880b, u32s(0x420042, 1), []byte{0xff, 0x03, 0})))},
	{name: "GRE version 1 not carrying PPP", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(47, gre(0x3001, 0x0800, u32s(0, 1), data4)))},
	{name: "GRE version 2", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(47, gre(0x3002, 0x880b, u32s(0, 1), ppp(0x0021, data4))))},
	{name: "GRE with routing", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(47, gre(0x4000, 0x0800, u32s(0), data4)))},
	{name: "GRE fields cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(47, gre(0x3000, 0x0800, nil, nil)[:6]))},
	{name: "ERSPAN type I", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 47),
		frame: eth(0x0800, outer4(47, grePlain(0x88be, eth(0x0800, data4))))},
	{name: "ERSPAN type II", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 47^5<<16),
		frame: eth(0x0800, outer4(47, gre(0x1000, 0x88be, u32s(77), append(u32s(0x10000005, 0), eth(0x0800, data4)...))))},
	{name: "ERSPAN type III with its subheader", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 47^9<<16),
		frame: eth(0x0800, outer4(47, gre(0x1000, 0x22eb, u32s(78), append(u32s(0x20000009, 0, 1, 0, 0), eth(0x86dd, ack6)...))))},
	{name: "ERSPAN type II header cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(47, gre(0x1000, 0x88be, u32s(77), u32s(0x10000005))))},

	{name: "IPv4 in IPv4", link: LinkRaw, want: Decoded, seg: tunnelled(data4Seg, 4), frame: outer4(4, data4)},
	{name: "IPv6 in IPv4 (6in4)", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 41), frame: eth(0x0800, outer4(41, ack6))},
	{name: "IPv6 in IPv6 after hop-by-hop", link: LinkRaw, want: Decoded, seg: tunnelled(ack6Seg, 41),
		frame: ipv6(ipFields{src: vtep6A, dst: v6b, proto: 41}, ack6, hopByHop)},
	{name: "IPv4 in IPv6", link: LinkRaw, want: Decoded, seg: tunnelled(data4Seg, 4),
		frame: ipv6(ipFields{src: vtep6A, dst: v6b, proto: 4}, data4)},
	{name: "tunnels nested past the bound", link: LinkRaw, want: NotTCP,
		frame: outer4(4, outer4(4, outer4(4, outer4(4, outer4(4, outer4(4, outer4(4, outer4(4, outer4(4, data4)))))))))},
	{name: "a tunnel's first fragment holds the inner headers", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 47),
		frame: eth(0x0800, ipv4(ipFields{src: vtepA, dst: vtepB, proto: 47, ttl: 250, frag: 0x2000}, grePlain(0x0800, data4)))},
	{name: "a tunnel's first fragment cutting the inner headers", link: LinkEthernet, want: Fragment,
		frame: eth(0x0800, ipv4(ipFields{src: vtepA, dst: vtepB, proto: 47, ttl: 250, frag: 0x2000}, grePlain(0x0800, data4[:30])))},
	{name: "a tunnel's later fragment", link: LinkEthernet, want: Fragment,
		frame: eth(0x0800, ipv4(ipFields{src: vtepA, dst: vtepB, proto: 47, ttl: 250, frag: 185}, grePlain(0x0800, data4)))},
	{name: "UDP later fragment is not TCP", link: LinkRaw, want: NotTCP,
		frame: ipv4(ipFields{src: v4a, dst: v4b, proto: 17, frag: 185}, make([]byte, 40))},
	{name: "ESP later fragment is not TCP", link: LinkRaw, want: NotTCP,
		frame: ipv4(ipFields{src: v4a, dst: v4b, proto: 50, frag: 0x2000 | 185}, make([]byte, 40))},
	{name: "UDP first fragment is not TCP", link: LinkRaw, want: NotTCP,
		frame: ipv4(ipFields{src: v4a, dst: v4b, proto: 17, frag: 0x2000}, udp(53, 53, make([]byte, 40)))},

	{name: "MPLS, IPv4 inside", link: LinkEthernet, want: Decoded, seg: data4Seg,
		frame: eth(0x8847, mpls(16, false, mpls(17, true, data4)))},
	{name: "MPLS, IPv6 inside", link: LinkEthernet, want: Decoded, seg: ack6Seg, frame: eth(0x8848, mpls(16, true, ack6))},
	{name: "MPLS pseudowire: control word, then Ethernet", link: LinkEthernet, want: Decoded, seg: data4Seg,
		frame: eth(0x8847, mpls(16, true, append(u32s(0), eth(0x0800, data4)...)))},
	{name: "MPLS label stack cut", link: LinkEthernet, want: Truncated, frame: eth(0x8847, mpls(16, false, []byte{0, 1}))},
	{name: "MPLS, something else inside", link: LinkEthernet, want: NotIP, frame: eth(0x8847, mpls(16, true, []byte{0x80, 0, 0, 0}))},
	{name: "PPPoE, IPv4", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 0x42), frame: eth(0x8864, pppoe(0x0021, data4))},
	{name: "PPPoE over QinQ, IPv6", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 0x42),
		frame: eth(0x88a8, vlanTag(0x8100, vlanTag(0x8864, pppoe(0x0057, ack6))))},
	{name: "PPPoE, LCP", link: LinkEthernet, want: NotIP, frame: eth(0x8864, pppoe(0xc021, make([]byte, 8)))},
	{name: "VN-Tag between VLAN tags", link: LinkEthernet, want: Decoded, seg: data4Seg,
		frame: eth(0x8100, vlanTag(0x8926, append([]byte{0, 0, 0, 1, 0x81, 0x00}, vlanTag(0x0800, data4)...)))},
	{name: "E-Tag", link: LinkEthernet, want: Decoded, seg: ack6Seg, frame: eth(0x893f, append(make([]byte, 6), append([]byte{0x86, 0xdd}, ack6...)...))},
	{name: "Cisco MetaData: a security group tag", link: LinkEthernet, want: Decoded, seg: data4Seg,
		frame: eth(0x8909, append([]byte{1, 1, 0, 1, 0x00, 0x64, 0x08, 0x00}, data4...))},
	{name: "Cisco MetaData cut", link: LinkEthernet, want: Truncated, frame: eth(0x8909, []byte{1, 1, 0, 1, 0x00, 0x64})},
	{name: "802.1ah backbone frame", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 0x012345),
		frame: eth(0x88a8, vlanTag(0x88e7, append([]byte{0, 0x01, 0x23, 0x45}, eth(0x86dd, ack6)...)))},
	{name: "802.1ah tag cut", link: LinkEthernet, want: Truncated, frame: eth(0x88e7, []byte{0, 1, 2})},
	{name: "802.3 frame with LLC and SNAP", link: LinkEthernet, want: Decoded, seg: data4Seg,
		frame: eth(uint16(8+len(data4)), append([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, data4...))},
	{name: "802.3 frame of spanning tree", link: LinkEthernet, want: NotIP,
		frame: eth(38, append([]byte{0x42, 0x42, 0x03}, make([]byte, 35)...))},
	{name: "802.3 frame's SNAP header cut", link: LinkEthernet, want: Truncated, frame: eth(46, []byte{0xaa, 0xaa, 0x03}), wireLen: 14 + 46},
	{name: "802.3 frame of 3 bytes of LLC, sent unpadded", link: LinkEthernet, want: NotIP, frame: eth(3, []byte{0x42, 0x42, 0x03})},
	{name: "802.3 frame of SNAP's first 3 bytes alone", link: LinkEthernet, want: NotIP, frame: eth(3, []byte{0xaa, 0xaa, 0x03})},

	{name: "PPP", link: LinkPPP, want: Decoded, seg: data4Seg, frame: append([]byte{0xff, 0x03, 0x00, 0x21}, data4...)},
	{name: "PPP without address and control", link: LinkPPP, want: Decoded, seg: ack6Seg, frame: append([]byte{0x00, 0x57}, ack6...)},
	{name: "PPP with a compressed protocol", link: LinkPPP, want: Decoded, seg: data4Seg, frame: append([]byte{0x21}, data4...)},
	{name: "PPP carrying Cisco HDLC", link: LinkPPP, want: Decoded, seg: data4Seg, frame: append([]byte{0x0f, 0x00, 0x08, 0x00}, data4...)},
	{name: "PPP, LCP", link: LinkPPP, want: NotIP, frame: append([]byte{0xff, 0x03, 0xc0, 0x21}, make([]byte, 8)...)},
	{name: "PPP header cut", link: LinkPPP, want: Truncated, frame: []byte{0xff, 0x03, 0x00}},
	{name: "PPP in HDLC framing", link: LinkPPPHDLC, want: Decoded, seg: ack6Seg, frame: append([]byte{0xff, 0x03, 0x00, 0x57}, ack6...)},
	{name: "Cisco HDLC", link: LinkCHDLC, want: Decoded, seg: data4Seg, frame: append([]byte{0x8f, 0x00, 0x08, 0x00}, data4...)},
	{name: "Cisco HDLC, SLARP", link: LinkCHDLC, want: NotIP, frame: append([]byte{0x8f, 0x00, 0x80, 0x35}, make([]byte, 20)...)},
	{name: "Cisco HDLC with another address", link: LinkCHDLC, want: NotIP, frame: append([]byte{0x11, 0x00, 0x08, 0x00}, data4...)},
	{name: "PPPoE link", link: LinkPPPoE, want: Decoded, seg: atPoint(data4Seg, 0x42), frame: pppoe(0x0021, data4)},

	{name: "NFLOG little-endian", link: LinkNFLOG, want: Decoded, seg: atPoint(data4Seg, 7), frame: nflog(binary.LittleEndian, 2, data4)},
	{name: "NFLOG big-endian, IPv6", link: LinkNFLOG, want: Decoded, seg: atPoint(ack6Seg, 7), frame: nflog(binary.BigEndian, 10, ack6)},
	{name: "NFLOG payload cut by the snap length", link: LinkNFLOG, want: Decoded, seg: atPoint(data4Seg, 7),
		frame: nflog(binary.LittleEndian, 2, data4)[:4+8+4+20+32], wireLen: len(nflog(binary.LittleEndian, 2, data4))},
	{name: "NFLOG without a payload", link: LinkNFLOG, want: Truncated, frame: nflog(binary.LittleEndian, 2, nil)[:12]},
	{name: "NFLOG attribute shorter than its header", link: LinkNFLOG, want: Malformed, frame: []byte{2, 0, 0, 7, 2, 0, 9, 0}},
	{name: "NFLOG attribute of the greatest length", link: LinkNFLOG, want: Truncated, frame: []byte{2, 0, 0, 7, 0xff, 0xff, 10, 0, 0, 0, 0, 0}},
	{name: "NFLOG of another family", link: LinkNFLOG, want: NotIP, frame: nflog(binary.LittleEndian, 7, data4)},
}

// TestMapAddrsTunnel checks that MapAddrs maps a tunnel's own addresses
// too, not only the segment's.
func TestMapAddrsTunnel(t *testing.T) {
	tunnels := 0
	for _, tt := range tunnelTests {
		if tt.want != Decoded {
			continue
		}
		frame := bytes.Clone(tt.frame)
		if !MapAddrs(tt.link, frame, uint32(len(frame)), func(a netip.Addr) netip.Addr {
			if a.Is4() {
				return netip.AddrFrom4([4]byte{10, 9, 9, 9})
			}
			return netip.MustParseAddr("fd00::9")
		}) {
			t.Fatalf("%s: MapAddrs found no headers", tt.name)
		}
		for _, a := range []string{vtepA, vtepB, vtep6A} {
			raw := string(netip.MustParseAddr(a).AsSlice())
			if containsBytes(tt.frame, raw) {
				tunnels++
				if containsBytes(frame, raw) {
					t.Errorf("%s: MapAddrs left the tunnel's address %s", tt.name, a)
				}
			}
		}
	}
	if tunnels == 0 {
		t.Fatal("no tunnel address in the frames")
	}
}

func containsBytes(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// TestTunnelPoint checks that copies of one segment captured inside and
// outside a tunnel, or in two tunnels, are told apart by Point, and that
// the same tunnel gives the same Point.
func TestTunnelPoint(t *testing.T) {
	frames := [][]byte{
		eth(0x0800, data4),
		eth(0x0800, outer4(17, udp(1, 4789, vxlan(0x08, 100, eth(0x0800, data4))))),
		eth(0x0800, outer4(17, udp(2, 4789, vxlan(0x08, 101, eth(0x0800, data4))))),
		eth(0x0800, outer4(47, grePlain(0x0800, data4))),
	}
	points := map[uint32]int{}
	for i, f := range frames {
		var seg Segment
		if r := Decode(LinkEthernet, f, uint32(len(f)), &seg); r != Decoded {
			t.Fatalf("frame %d: %v", i, r)
		}
		if j, seen := points[seg.Point]; seen {
			t.Errorf("frames %d and %d have the same Point %#x", j, i, seg.Point)
		}
		points[seg.Point] = i
	}
	var again Segment
	Decode(LinkEthernet, frames[1], uint32(len(frames[1])), &again)
	if points[again.Point] != 1 {
		t.Errorf("the same tunnel gave another Point")
	}
}
