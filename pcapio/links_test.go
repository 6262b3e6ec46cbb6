package pcapio

import (
	"encoding/binary"
	"slices"
)

// Builders for the rarer link layers; each returns a new slice.

// snap is an 802.2 LLC header with SNAP (RFC 1042), then payload.
func snap(ethType uint16, payload []byte) []byte {
	return append([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, byte(ethType >> 8), byte(ethType)}, payload...)
}

// wlan is an 802.11 data frame: frame control fc (type and subtype) and
// flags, a 24-byte header and the fields fc and flags call for (a fourth
// address, QoS control qos, HT control), then body.
func wlan(fc, flags byte, seqCtl uint16, qos byte, body []byte) []byte {
	b := make([]byte, 24)
	b[0], b[1] = fc, flags
	binary.LittleEndian.PutUint16(b[22:], seqCtl)
	if flags&3 == 3 {
		b = append(b, make([]byte, 6)...)
	}
	if fc&0x80 != 0 {
		b = append(b, qos, 0)
		if flags&0x80 != 0 {
			b = append(b, 0, 0, 0, 0)
		}
	}
	return append(b, body...)
}

// radiotap is a radiotap header with the given present words, then the
// fields (aligned by the caller), then frame.
func radiotap(present []uint32, fields []byte, frame []byte) []byte {
	b := make([]byte, 4, 4+4*len(present)+len(fields)+len(frame))
	for _, p := range present {
		b = binary.LittleEndian.AppendUint32(b, p)
	}
	b = append(b, fields...)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return append(b, frame...)
}

// ppi is a PPI header of n bytes naming link, then frame.
func ppi(n int, link uint32, frame []byte) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint16(b[2:], uint16(n))
	binary.LittleEndian.PutUint32(b[4:], link)
	return append(b, frame...)
}

// pktap is a PKTAP header of n bytes, of record type typ, naming link,
// then frame.
func pktap(n int, typ, link uint32, frame []byte) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b[0:], uint32(n))
	binary.LittleEndian.PutUint32(b[4:], typ)
	binary.LittleEndian.PutUint32(b[8:], link)
	return append(b, frame...)
}

// capwap is a CAPWAP data header of 16 bytes: wbid and native (the T
// bit), fragment with its offset, then frame.
func capwap(wbid byte, native bool, fragment bool, offset uint16, frame []byte) []byte {
	b := make([]byte, 16)
	b[1] = 4 << 3 // HLEN: 4 words
	b[2] = wbid << 1
	if native {
		b[2] |= 1
	}
	if fragment {
		b[3] = 0x80
	}
	binary.BigEndian.PutUint16(b[6:], offset<<3)
	return append(b, frame...)
}

var (
	data4Wlan    = wlan(0x08, 0x01, 0, 0, snap(0x0800, data4))                 // to the access point
	data4WlanQoS = wlan(0x88, 0x02, 0x10, 0, snap(0x0800, data4))              // from it, QoS data
	swapped      = func(b []byte) []byte { b[0], b[1] = b[1], b[0]; return b } // frame control as Cisco's access points send it in CAPWAP
	fddi         = func(fc byte, payload []byte) []byte {
		return append(append([]byte{fc}, make([]byte, 12)...), payload...)
	}
	ipoib = func(ethType uint16, payload []byte) []byte {
		return append(binary.BigEndian.AppendUint16(make([]byte, 40), ethType), append([]byte{0, 0}, payload...)...)
	}
	// amsdu is an A-MSDU subframe: destination, source, the length of
	// msdu, then msdu.
	amsdu = func(msdu []byte) []byte {
		return append(binary.BigEndian.AppendUint16(make([]byte, 12), uint16(len(msdu))), msdu...)
	}
	juniper = func(flags byte, ext []byte, payload []byte) []byte {
		b := []byte{'M', 'G', 'C', flags}
		if flags&0x80 != 0 {
			b = binary.BigEndian.AppendUint16(b, uint16(len(ext)))
			b = append(b, ext...)
		}
		return append(b, payload...)
	}
)

// linkTests are decodeTests of the link types of decodeRareLink, and of
// CAPWAP and Teredo.
var linkTests = []decodeTest{
	{name: "802.11 data to the access point", link: LinkIEEE80211, frame: data4Wlan, want: Decoded, seg: tunnelled(data4Seg, 1)},
	{name: "802.11 QoS data from the access point", link: LinkIEEE80211, frame: data4WlanQoS, want: Decoded, seg: tunnelled(data4Seg, 2)},
	{name: "802.11 QoS data with HT control, IPv6", link: LinkIEEE80211, want: Decoded, seg: tunnelled(ack6Seg, 2),
		frame: wlan(0x88, 0x82, 0, 0, snap(0x86dd, ack6))},
	{name: "802.11 between access points: four addresses", link: LinkIEEE80211, want: Decoded, seg: tunnelled(data4Seg, 3),
		frame: wlan(0x08, 0x03, 0, 0, snap(0x0800, data4))},
	{name: "802.11 A-MSDU: the first subframe", link: LinkIEEE80211, want: Decoded, seg: tunnelled(data4Seg, 2),
		frame: wlan(0x88, 0x02, 0, 0x80, amsdu(snap(0x0800, data4)))},
	{name: "802.11 bridge tunnel SNAP", link: LinkIEEE80211, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: wlan(0x08, 0x01, 0, 0, patch(snap(0x0800, data4), 5, 0xf8))},
	{name: "802.11 encrypted", link: LinkIEEE80211, frame: wlan(0x08, 0x41, 0, 0, snap(0x0800, data4)), want: NotIP},
	{name: "802.11 beacon", link: LinkIEEE80211, frame: wlan(0x80, 0, 0, 0, make([]byte, 40)), want: NotIP},
	{name: "802.11 QoS null", link: LinkIEEE80211, frame: wlan(0xc8, 0x01, 0, 0, nil), want: NotIP},
	{name: "802.11 not SNAP", link: LinkIEEE80211, frame: wlan(0x08, 0x01, 0, 0, patch(snap(0x0800, data4), 0, 0x42)), want: NotIP},
	{name: "802.11 first fragment", link: LinkIEEE80211, frame: wlan(0x08, 0x05, 0x20, 0, snap(0x0800, data4)), want: Decoded, seg: tunnelled(data4Seg, 1)},
	{name: "802.11 first fragment cut in its headers", link: LinkIEEE80211, frame: wlan(0x08, 0x05, 0x20, 0, snap(0x0800, data4[:30])), want: Fragment},
	{name: "802.11 middle fragment", link: LinkIEEE80211, frame: wlan(0x08, 0x05, 0x21, 0, make([]byte, 60)), want: Fragment},
	{name: "802.11 whole frame numbered as a last fragment", link: LinkIEEE80211, frame: wlan(0x08, 0x01, 0x26, 0, snap(0x0800, data4)), want: Decoded, seg: tunnelled(data4Seg, 1)},
	{name: "802.11 header cut", link: LinkIEEE80211, frame: data4Wlan[:20], want: Truncated},
	{name: "802.11 SNAP cut", link: LinkIEEE80211, frame: data4Wlan[:28], wireLen: len(data4Wlan), want: Truncated},
	{name: "802.11 version 1", link: LinkIEEE80211, frame: patch(slices.Clone(data4Wlan), 0, 0x09), want: NotIP},
	{name: "802.11 byte-swapped outside CAPWAP", link: LinkIEEE80211, frame: swapped(slices.Clone(data4Wlan)), want: NotIP},

	{name: "radiotap, TSFT and flags", link: LinkRadiotap, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: radiotap([]uint32{0x3}, append(make([]byte, 8), 0x00, 0, 0, 0), data4Wlan)},
	{name: "radiotap, extended present words, FCS at the end", link: LinkRadiotap, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: radiotap([]uint32{0x80000003, 0x20}, append(make([]byte, 4+8), 0x10, 0, 0, 0), append(slices.Clone(data4Wlan), 1, 2, 3, 4))},
	{name: "radiotap, data padded to 4 bytes", link: LinkRadiotap, want: Decoded, seg: tunnelled(data4Seg, 2),
		frame: radiotap([]uint32{0x2}, []byte{0x20}, wlan(0x88, 0x02, 0, 0, append([]byte{0, 0}, snap(0x0800, data4)...)))},
	{name: "radiotap, no flags", link: LinkRadiotap, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: radiotap([]uint32{0x800}, []byte{1, 0, 0, 0}, data4Wlan)},
	{name: "radiotap length past the frame", link: LinkRadiotap, frame: patch(radiotap([]uint32{0}, nil, nil), 2, 200), want: Truncated},
	{name: "radiotap version 1", link: LinkRadiotap, frame: patch(radiotap([]uint32{0}, nil, data4Wlan), 0, 1), want: Malformed},
	{name: "radiotap cut", link: LinkRadiotap, frame: []byte{0, 0, 8}, want: Truncated},

	{name: "PPI, 802.11", link: LinkPPI, frame: ppi(32, LinkIEEE80211, data4WlanQoS), want: Decoded, seg: tunnelled(data4Seg, 2)},
	{name: "PPI, Ethernet", link: LinkPPI, frame: ppi(8, LinkEthernet, eth(0x0800, data4)), want: Decoded, seg: data4Seg},
	{name: "PPI in PPI", link: LinkPPI, frame: ppi(8, LinkPPI, ppi(8, LinkEthernet, eth(0x0800, data4))), want: Malformed},
	{name: "PPI length past the frame", link: LinkPPI, frame: ppi(8, 1, nil)[:6], want: Truncated},

	{name: "PKTAP, Ethernet", link: LinkPKTAP, frame: pktap(108, 1, LinkEthernet, eth(0x0800, data4)), want: Decoded, seg: data4Seg},
	{name: "PKTAP, BSD loopback", link: LinkPKTAP, frame: pktap(108, 1, LinkNull, null(binary.LittleEndian, 30, ack6)), want: Decoded, seg: ack6Seg},
	{name: "PKTAP, not a packet", link: LinkPKTAP, frame: pktap(108, 2, LinkEthernet, eth(0x0800, data4)), want: NotIP},
	{name: "PKTAP in PKTAP", link: LinkPKTAP, frame: pktap(108, 1, LinkPKTAP, pktap(108, 1, LinkEthernet, eth(0x0800, data4))), want: Malformed},
	{name: "PKTAP length past the frame", link: LinkPKTAP, frame: pktap(108, 1, LinkEthernet, nil)[:100], want: Truncated},

	{name: "Prism", link: LinkPrism, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: append(patch(make([]byte, 144), 0, 0x44, 0, 0, 0, 144, 0, 0, 0), data4Wlan...)},
	{name: "AVS in a Prism capture", link: LinkPrism, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: append(patch(make([]byte, 64), 0, 0x80, 0x21, 0x10, 0x01, 0, 0, 0, 64), data4Wlan...)},
	{name: "AVS", link: LinkAVS, want: Decoded, seg: tunnelled(data4Seg, 1),
		frame: append(patch(make([]byte, 64), 0, 0x80, 0x21, 0x10, 0x01, 0, 0, 0, 64), data4Wlan...)},
	{name: "Prism length too short", link: LinkPrism, frame: append(patch(make([]byte, 144), 0, 0x44, 0, 0, 0, 4), data4Wlan...), want: Malformed},

	{name: "FDDI, LLC", link: LinkFDDI, frame: fddi(0x50, snap(0x0800, data4)), want: Decoded, seg: data4Seg},
	{name: "FDDI, synchronous LLC, IPv6", link: LinkFDDI, frame: fddi(0xd4, snap(0x86dd, ack6)), want: Decoded, seg: ack6Seg},
	{name: "FDDI, station management", link: LinkFDDI, frame: fddi(0x41, snap(0x0800, data4)), want: NotIP},
	{name: "FDDI cut", link: LinkFDDI, frame: make([]byte, 12), want: Truncated},

	{name: "ARCNET, RFC 1051 IP", link: LinkARCNETLinux, frame: append([]byte{1, 2, 0, 0, 0xf0}, data4...), want: Decoded, seg: data4Seg},
	{name: "ARCNET, RFC 1201 IP", link: LinkARCNETLinux, frame: append([]byte{1, 2, 0, 0, 0xd4, 0, 0, 1}, data4...), want: Decoded, seg: data4Seg},
	{name: "ARCNET, RFC 1201 IPv6", link: LinkARCNETLinux, frame: append([]byte{1, 2, 0, 0, 0xc4, 0, 0, 1}, ack6...), want: Decoded, seg: ack6Seg},
	{name: "ARCNET, exception packet", link: LinkARCNETLinux, frame: append([]byte{1, 2, 0, 0, 0xd4, 0xff, 0xff, 0xff, 0xd4, 0, 0, 1}, data4...), want: Decoded, seg: data4Seg},
	{name: "ARCNET, split packet", link: LinkARCNETLinux, frame: append([]byte{1, 2, 0, 0, 0xd4, 3, 0, 1}, data4...), want: Fragment},
	{name: "ARCNET, ARP", link: LinkARCNETLinux, frame: append([]byte{1, 2, 0, 0, 0xf1}, make([]byte, 18)...), want: NotIP},
	{name: "ARCNET cut", link: LinkARCNETLinux, frame: []byte{1, 2, 0, 0, 0xd4, 0}, want: Truncated},

	{name: "IP over InfiniBand", link: LinkIPoIB, frame: ipoib(0x0800, data4), want: Decoded, seg: data4Seg},
	{name: "IP over InfiniBand, IPv6", link: LinkIPoIB, frame: ipoib(0x86dd, ack6), want: Decoded, seg: ack6Seg},
	{name: "IP over InfiniBand, ARP", link: LinkIPoIB, frame: ipoib(0x0806, make([]byte, 28)), want: NotIP},
	{name: "IP over InfiniBand cut", link: LinkIPoIB, frame: make([]byte, 43), want: Truncated},

	{name: "Juniper Ethernet with extensions", link: LinkJuniperEther, frame: juniper(0x80, make([]byte, 16), eth(0x0800, data4)), want: Decoded, seg: data4Seg},
	{name: "Juniper Ethernet without", link: LinkJuniperEther, frame: juniper(0x00, nil, eth(0x86dd, ack6)), want: Decoded, seg: ack6Seg},
	{name: "Juniper, no layer 2 header", link: LinkJuniperEther, frame: juniper(0x82, []byte{1, 2}, append([]byte{2, 0, 0, 0}, data4...)), want: Decoded, seg: data4Seg},
	{name: "Juniper, bad magic", link: LinkJuniperEther, frame: patch(juniper(0, nil, eth(0x0800, data4)), 0, 'X'), want: Malformed},
	{name: "Juniper, extensions past the frame", link: LinkJuniperEther, frame: juniper(0x80, make([]byte, 16), nil)[:12], want: Truncated},

	{name: "CAPWAP, 802.11", link: LinkEthernet, want: Decoded, seg: tunnelled(tunnelled(data4Seg, 5247), 1),
		frame: eth(0x0800, outer4(17, udp(5247, 5247, capwap(1, true, false, 0, data4Wlan))))},
	{name: "CAPWAP, 802.11 frame control swapped", link: LinkEthernet, want: Decoded, seg: tunnelled(tunnelled(data4Seg, 5247), 1),
		frame: eth(0x0800, outer4(17, udp(40000, 5247, capwap(1, true, false, 0, swapped(slices.Clone(data4Wlan))))))},
	{name: "CAPWAP, Ethernet", link: LinkEthernet, want: Decoded, seg: tunnelled(data4Seg, 5247),
		frame: eth(0x0800, outer4(17, udp(5247, 40000, capwap(1, false, false, 0, eth(0x0800, data4)))))},
	{name: "CAPWAP, a fragment after the first", link: LinkEthernet, want: Fragment,
		frame: eth(0x0800, outer4(17, udp(5247, 5247, capwap(1, true, true, 100, make([]byte, 40)))))},
	{name: "CAPWAP, first fragment cut in its headers", link: LinkEthernet, want: Fragment,
		frame: eth(0x0800, outer4(17, udp(5247, 5247, capwap(1, true, true, 0, data4Wlan[:60]))))},
	{name: "CAPWAP, DTLS", link: LinkEthernet, want: NotTCP,
		frame: eth(0x0800, outer4(17, udp(5247, 5247, patch(capwap(1, true, false, 0, data4Wlan), 0, 1))))},
	{name: "Teredo", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 3544),
		frame: eth(0x0800, outer4(17, udp(3544, 51000, ack6)))},
	{name: "Teredo with an origin indication", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 3544),
		frame: eth(0x0800, outer4(17, udp(51000, 3544, append([]byte{0, 0, 0xc3, 0x50, 1, 2, 3, 4}, ack6...))))},
	{name: "Teredo with authentication and an origin indication", link: LinkEthernet, want: Decoded, seg: tunnelled(ack6Seg, 3544),
		frame: eth(0x0800, outer4(17, udp(3544, 3544, append(append([]byte{0, 1, 2, 3, 'i', 'd', 'a', 'u', 't'}, make([]byte, 9)...),
			append([]byte{0, 0, 0xc3, 0x50, 1, 2, 3, 4}, ack6...)...))))},
	{name: "Teredo, IPv4 inside", link: LinkEthernet, want: NotTCP, frame: eth(0x0800, outer4(17, udp(3544, 51000, data4)))},
	{name: "Teredo, authentication cut", link: LinkEthernet, want: Truncated, frame: eth(0x0800, outer4(17, udp(3544, 51000, []byte{0, 1, 200, 0})))},
	{name: "CAPWAP, header cut", link: LinkEthernet, want: Truncated,
		frame: eth(0x0800, outer4(17, udp(5247, 5247, capwap(1, true, false, 0, nil)[:6])))},
}
