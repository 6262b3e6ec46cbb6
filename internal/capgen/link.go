package capgen

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// LinkType is a pcap link-layer header type (LINKTYPE_ value), as written in
// pcap file headers and pcapng interface blocks.
type LinkType uint16

// The link types Link can frame.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte address family
	LinkEthernet LinkType = 1   // Ethernet II, optionally VLAN-tagged
	LinkRaw      LinkType = 101 // raw IPv4 or IPv6
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228 // raw IPv4 only
	LinkIPv6     LinkType = 229 // raw IPv6 only
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
)

// Ethernet types and MAC addresses used in frames. The MACs are locally
// administered unicast addresses, one per side.
const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherQ    = 0x8100 // 802.1Q customer tag
	etherAD   = 0x88a8 // 802.1ad service tag
)

var (
	clientMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x0c, 0x01}
	serverMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x05, 0x01}
)

// Linux packet types (sll_pkttype) in cooked headers.
const (
	packetHost     = 0 // addressed to this host
	packetOutgoing = 4 // sent by this host
)

// A Link frames IP packets for one link type. The zero Link frames for BSD
// loopback, as LinkNull is 0.
type Link struct {
	// Type is the link type, one of the Link constants.
	Type LinkType

	// VLANs are the Ethernet VLAN IDs, outermost first. With one ID the
	// tag is 802.1Q (TPID 0x8100); with more, all but the innermost are
	// 802.1ad service tags (TPID 0x88a8), as in QinQ.
	VLANs []uint16

	// IfIndex is the interface index in Linux cooked v2 headers.
	IfIndex uint32

	// Local is the side on whose host the capture ran: in Linux cooked
	// headers its packets are marked outgoing and the other side's
	// incoming. The zero Dir marks every packet incoming.
	Local Dir

	// Egress marks every packet outgoing in Linux cooked headers, as for
	// packets a router forwards out of the captured interface.
	Egress bool

	// BigEndian writes the BSD loopback address family big-endian, as a
	// big-endian host does; the default is little-endian.
	BigEndian bool

	// VXLAN, when set on an Ethernet link, carries each Ethernet frame in
	// a VXLAN tunnel, as a mirror session (AWS VPC Traffic Mirroring)
	// delivers the traffic it copies.
	VXLAN *VXLAN
}

// VXLAN is a tunnel over IPv4 and UDP port 4789 from Src to Dst.
type VXLAN struct {
	Src, Dst [4]byte
	VNI      uint32 // the network id, 24 bits
}

// wrap returns frame in the tunnel: outer Ethernet, IPv4 (TTL 64, with its
// checksum), UDP (without a checksum, from a source port fixed per VNI)
// and the VXLAN header.
func (v *VXLAN) wrap(frame []byte) []byte {
	h := append(append([]byte{}, serverMAC[:]...), clientMAC[:]...)
	h = binary.BigEndian.AppendUint16(h, etherIPv4)
	ip := len(h)
	h = append(h, 0x45, 0)
	h = binary.BigEndian.AppendUint16(h, uint16(20+8+8+len(frame)))
	h = append(h, 0, 0, 0x40, 0, 64, 17, 0, 0) // id, DF, TTL, UDP, checksum
	h = append(h, v.Src[:]...)
	h = append(h, v.Dst[:]...)
	binary.BigEndian.PutUint16(h[ip+10:], checksum(h[ip:ip+20], 0))
	h = binary.BigEndian.AppendUint16(h, uint16(49152+v.VNI%16384))
	h = binary.BigEndian.AppendUint16(h, 4789)
	h = binary.BigEndian.AppendUint16(h, uint16(8+8+len(frame)))
	h = append(h, 0, 0)
	h = append(h, 0x08, 0, 0, 0, byte(v.VNI>>16), byte(v.VNI>>8), byte(v.VNI), 0)
	return append(h, frame...)
}

// Frame returns p with the link-layer header of l in front. It panics if l's
// type cannot carry p (an IPv6 packet on LinkIPv4, say).
func (l Link) Frame(p Packet) []byte {
	v6 := len(p.Data) > 0 && p.Data[0]>>4 == 6
	etherType := uint16(etherIPv4)
	if v6 {
		etherType = etherIPv6
	}
	src, dst := clientMAC, serverMAC
	if p.From == Server {
		src, dst = dst, src
	}
	pktType := uint16(packetHost)
	if l.Egress || (l.Local != 0 && p.From == l.Local) {
		pktType = packetOutgoing
	}
	var h []byte
	switch l.Type {
	case LinkEthernet:
		h = append(h, dst[:]...)
		h = append(h, src[:]...)
		for i, id := range l.VLANs {
			tpid := uint16(etherAD)
			if i == len(l.VLANs)-1 {
				tpid = etherQ
			}
			h = binary.BigEndian.AppendUint16(h, tpid)
			h = binary.BigEndian.AppendUint16(h, id&0x0fff)
		}
		h = binary.BigEndian.AppendUint16(h, etherType)
	case LinkSLL:
		h = binary.BigEndian.AppendUint16(h, pktType)
		h = binary.BigEndian.AppendUint16(h, 1) // ARPHRD_ETHER
		h = binary.BigEndian.AppendUint16(h, 6)
		h = append(h, src[:]...)
		h = append(h, 0, 0)
		h = binary.BigEndian.AppendUint16(h, etherType)
	case LinkSLL2:
		h = binary.BigEndian.AppendUint16(h, etherType)
		h = append(h, 0, 0) // reserved
		h = binary.BigEndian.AppendUint32(h, l.IfIndex)
		h = binary.BigEndian.AppendUint16(h, 1) // ARPHRD_ETHER
		h = append(h, byte(pktType), 6)
		h = append(h, src[:]...)
		h = append(h, 0, 0)
	case LinkNull:
		family := uint32(2) // AF_INET
		if v6 {
			family = 30 // AF_INET6 on macOS
		}
		if l.BigEndian {
			h = binary.BigEndian.AppendUint32(h, family)
		} else {
			h = binary.LittleEndian.AppendUint32(h, family)
		}
	case LinkRaw:
	case LinkIPv4, LinkIPv6:
		if v6 != (l.Type == LinkIPv6) {
			panic(fmt.Sprintf("capgen: link type %d cannot carry this packet", l.Type))
		}
	default:
		panic(fmt.Sprintf("capgen: unsupported link type %d", l.Type))
	}
	if l.VXLAN != nil {
		if l.Type != LinkEthernet {
			panic("capgen: VXLAN carries Ethernet frames only")
		}
		return l.VXLAN.wrap(append(h, p.Data...))
	}
	return append(h, p.Data...)
}

// A Record is one frame as it goes into a capture file.
type Record struct {
	// Time is the capture timestamp. Writers truncate it to their
	// resolution.
	Time time.Time
	// Interface is the pcapng interface ID; classic pcap ignores it.
	Interface int
	// Data is the frame, starting with the link-layer header.
	Data []byte
}

// Records frames pkts with l as records of interface iface.
func (l Link) Records(iface int, pkts []Packet) []Record {
	recs := make([]Record, len(pkts))
	for i, p := range pkts {
		recs[i] = Record{Time: p.Time, Interface: iface, Data: l.Frame(p)}
	}
	return recs
}

// Merge returns the records of all lists in time order. Records with equal
// times keep the order of the lists and their order within each list.
func Merge(lists ...[]Record) []Record {
	var all []Record
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b Record) int { return a.Time.Compare(b.Time) })
	return all
}

// Split cuts time-ordered records at t, as a capture tool rotating its
// output file (tcpdump -G) does: before holds the records earlier than t,
// after the rest.
func Split(recs []Record, t time.Time) (before, after []Record) {
	i := slices.IndexFunc(recs, func(r Record) bool { return !r.Time.Before(t) })
	if i < 0 {
		return recs, nil
	}
	return recs[:i], recs[i:]
}

// Forward returns a copy of p as a router sends it on delay later: IPv4 TTL
// or IPv6 hop limit one lower, IPv4 header checksum updated. It panics if
// the TTL is already 0.
func Forward(p Packet, delay time.Duration) Packet {
	d := slices.Clone(p.Data)
	ttl := &d[8]
	if d[0]>>4 == 6 {
		ttl = &d[7]
	}
	if *ttl == 0 {
		panic("capgen: Forward of a packet with TTL 0")
	}
	*ttl--
	if d[0]>>4 == 4 {
		hl := int(d[0]&0x0f) * 4
		d[10], d[11] = 0, 0
		binary.BigEndian.PutUint16(d[10:], checksum(d[:hl], 0))
	}
	return Packet{Time: p.Time.Add(delay), From: p.From, Data: d}
}
