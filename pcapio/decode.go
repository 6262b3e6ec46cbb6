package pcapio

import "encoding/binary"

// TCP header flag bits, as in the 13th byte of the TCP header.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
)

// Link types that Decode understands (LINKTYPE_ values from tcpdump.org).
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkRaw12    = 12 // DLT_RAW on some BSDs
	LinkRaw14    = 14 // DLT_RAW on OpenBSD
	LinkPPP      = 9
	LinkPPPHDLC  = 50 // PPP in HDLC-like framing, or Cisco HDLC
	LinkPPPoE    = 51 // PPPoE session header, then PPP (LINKTYPE_PPP_ETHER)
	LinkRaw      = 101
	LinkCHDLC    = 104 // Cisco HDLC
	LinkLoop     = 108
	LinkSLL      = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkNFLOG    = 239 // Linux netfilter log (iptables NFLOG, tcpdump -i nflog)
	LinkSLL2     = 276
)

// Segment is one decoded TCP segment. Its zero value is not meaningful; it
// is filled by [Decode], [Source.Next] or [Source.NextBatch] and holds no
// reference to the packet buffer.
type Segment struct {
	Nanos      int64   // capture time, nanoseconds since the Unix epoch
	Flow       FlowKey // the connection's endpoints, the lower first; Src and Dst say which sent it
	Hash       uint64  // hash of Flow, for flow tables; it differs from run to run
	Seq, Ack   uint32  // sequence and acknowledgement numbers
	PayloadLen uint32  // TCP payload bytes on the wire (from the IP header, not the snap length)
	Window     uint16  // advertised window, unscaled
	Flags      uint8   // TCP flags (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR)
	TTL        uint8   // IPv4 TTL or IPv6 hop limit
	IPID       uint16  // IPv4 identification; 0 for IPv6
	WScale     int8    // window scale option (SYN only); -1 when absent
	SrcIsLo    bool    // the sender is Flow.Lo
	DSACK      bool    // the first SACK block lies below the ACK number: the receiver got those bytes twice (RFC 2883)
	HasTS      bool    // the TCP timestamps option is present
	TSVal      uint32  // timestamps option value, when HasTS
	TSEcr      uint32  // timestamps option echo reply, when HasTS
	Point      uint32  // where it was captured: the pcapng interface and the Linux cooked header's interface and packet type; two copies of one packet taken at two points differ here
	File       int     // index of the capture file in the list given to Open
	Frame      uint64  // 1-based packet number within that file, as Wireshark counts
}

// Has reports whether all of the given flag bits are set.
func (s *Segment) Has(flags uint8) bool { return s.Flags&flags == flags }

// SkipReason says why a packet did not yield a segment.
type SkipReason uint8

// Reasons a packet is not a TCP segment. Stats counts each.
const (
	Decoded     SkipReason = iota // a TCP segment was decoded
	NotIP                         // link payload is neither IPv4 nor IPv6
	NotTCP                        // IP packet carrying another protocol
	Fragment                      // IP fragment (TCP is not reassembled)
	Truncated                     // headers cut by the snap length
	Malformed                     // inconsistent header fields
	UnknownLink                   // link type not supported
	numSkipReasons
)

var skipNames = [numSkipReasons]string{"tcp", "not IP", "not TCP", "IP fragment", "headers cut by snap length", "malformed header", "unsupported link type"}

func (r SkipReason) String() string {
	if r < numSkipReasons {
		return skipNames[r]
	}
	return "unknown"
}

// Decode parses a captured frame of the given link type into seg. wireLen is
// the frame's original length on the wire; it stands in for an IP length of
// zero (segmentation offload). Decode never allocates and never panics on
// malformed input; it returns Decoded when seg was filled.
//
// The link types are those LinkSupported names: besides Ethernet, Linux's
// cooked headers, raw IP, loopback, PPP, Cisco HDLC and NFLOG, it reads
// 802.11 data frames (bare, or after a radiotap, PPI, Prism or AVS header,
// as monitor-mode captures of a wireless network give them; encrypted
// frames cannot be read), Apple's PKTAP, FDDI, ARCNET, IP over InfiniBand
// and Juniper's Ethernet captures.
//
// Below the link layer it walks VLAN, QinQ, VN-Tag, E-Tag, 802.1ah
// backbone and Cisco MetaData headers, 802.3 frames' LLC and SNAP headers,
// MPLS label stacks, PPPoE sessions and NSH service paths, and into the
// tunnels a capture in a cloud, a cluster, a mobile network or a VPN
// carries: GRE (with ERSPAN types I to III, and PPTP's enhanced GRE), IP
// in IP, VXLAN (UDP port 4789, and 8472, the Linux kernel's and flannel's
// default), VXLAN-GPE (UDP 4790), Geneve (UDP 6081), GTP-U (UDP 2152),
// CAPWAP (UDP 5247, a wireless controller's tunnel to its access points),
// Teredo (UDP 3544) and L2TP version 2 (UDP 1701), as tcpdump and
// Wireshark do; the segment is the innermost TCP one. A tunnelled segment's
// Point differs from the same segment's captured outside the tunnel, so
// that the two copies count once.
func Decode(linkType uint16, data []byte, wireLen uint32, seg *Segment) SkipReason {
	return decodeFrame(linkType, data, wireLen, seg, nil)
}

// maxEncap bounds the headers walked below the link layer that can nest:
// tunnels, tags and label stacks in any order.
const maxEncap = 8

// frameHeaders records, when a caller asks, where in frame each IP header and
// the innermost TCP header begin: the outer headers of a tunnel first.
type frameHeaders struct {
	frame []byte
	ips   [maxEncap + 1]int
	n     int
	tcp   int
}

// at returns the offset of b, a suffix of the frame, in the frame.
func (l *frameHeaders) at(b []byte) int { return len(l.frame) - len(b) }

func (l *frameHeaders) addIP(b []byte) {
	if l.n < len(l.ips) {
		l.ips[l.n] = l.at(b)
		l.n++
	}
}

func decodeFrame(linkType uint16, data []byte, wireLen uint32, seg *Segment, lay *frameHeaders) SkipReason {
	var ethType uint16
	seg.Point = 0
	switch linkType {
	case LinkEthernet:
		if len(data) < 14 {
			return Truncated
		}
		ethType = binary.BigEndian.Uint16((*[14]byte)(data)[12:14])
		data = data[14:]
		wireLen -= min(wireLen, 14)
	case LinkSLL:
		if len(data) < 16 {
			return Truncated
		}
		ethType = binary.BigEndian.Uint16(data[14:16])
		seg.Point = uint32(binary.BigEndian.Uint16(data[0:2])) // packet type
		data = data[16:]
		wireLen -= min(wireLen, 16)
	case LinkSLL2:
		if len(data) < 20 {
			return Truncated
		}
		ethType = binary.BigEndian.Uint16(data[0:2])
		seg.Point = binary.BigEndian.Uint32(data[4:8])<<8 | uint32(data[10]) // interface index, packet type
		data = data[20:]
		wireLen -= min(wireLen, 20)
	case LinkRaw, LinkRaw12, LinkRaw14, LinkIPv4, LinkIPv6:
		if len(data) < 1 {
			return Truncated
		}
		ethType = ipVersionType(data[0])
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return Truncated
		}
		ethType = nullFamilyType(data[:4])
		data = data[4:]
		wireLen -= min(wireLen, 4)
	default:
		return decodeOtherLink(linkType, data, wireLen, seg, lay)
	}
	// decodeEther's work, here too so that the common frames take one
	// call fewer.
	ethType, data, wireLen, ok := skipTags(ethType, data, wireLen)
	switch {
	case !ok:
		return Truncated
	case ethType == 0x0800:
		return decodeIPv4(data, wireLen, seg, lay, 0)
	case ethType == 0x86dd:
		return decodeIPv6(data, wireLen, seg, lay, 0)
	}
	return decodeEncap(ethType, data, wireLen, seg, lay, 0)
}

// skipTags walks the 802.1Q and 802.1ad tags before the EtherType of the
// payload; ok is false when a tag is cut short.
func skipTags(ethType uint16, data []byte, wireLen uint32) (uint16, []byte, uint32, bool) {
	for ethType == 0x8100 || ethType == 0x88a8 || ethType == 0x9100 {
		if len(data) < 4 {
			return 0, nil, 0, false
		}
		ethType = binary.BigEndian.Uint16(data[2:4])
		data = data[4:]
		wireLen -= min(wireLen, 4)
	}
	return ethType, data, wireLen, true
}

// decodeEther decodes data, which follows a header that named its
// EtherType. depth counts the encapsulations walked so far.
func decodeEther(ethType uint16, data []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	ethType, data, wireLen, ok := skipTags(ethType, data, wireLen)
	switch {
	case !ok:
		return Truncated
	case ethType == 0x0800:
		return decodeIPv4(data, wireLen, seg, lay, depth)
	case ethType == 0x86dd:
		return decodeIPv6(data, wireLen, seg, lay, depth)
	}
	return decodeEncap(ethType, data, wireLen, seg, lay, depth)
}

// decodeEthernet decodes an Ethernet frame carried in a tunnel.
func decodeEthernet(data []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(data) < 14 {
		return Truncated
	}
	return decodeEther(binary.BigEndian.Uint16(data[12:14]), data[14:], wireLen-min(wireLen, 14), seg, lay, depth)
}

// decodeEncap decodes the EtherTypes other than IP and VLAN tags: further
// tags, MPLS, PPPoE, NSH and bridged Ethernet, and the SNAP header of an
// 802.3 frame, whose EtherType field holds its length.
func decodeEncap(ethType uint16, data []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if depth >= maxEncap {
		return NotIP
	}
	depth++
	skip := func(n int) {
		data = data[n:]
		wireLen -= min(wireLen, uint32(n))
	}
	if ethType <= 1500 { // an 802.3 frame's length: IP comes in 802.2 LLC with a SNAP header
		return decodeSNAP(data, wireLen, seg, lay, depth)
	}
	switch ethType {
	// Tags of a fixed length that end with the EtherType of what follows:
	// Cisco's VN-Tag (4 bytes before it), Cisco MetaData (TrustSec's
	// security group tag: version, length, option and tag, 6 bytes) and
	// IEEE 802.1BR's E-Tag (6 bytes).
	case 0x8926, 0x8909, 0x893f:
		n := 8
		if ethType == 0x8926 {
			n = 6
		}
		if len(data) < n {
			return Truncated
		}
		ethType = binary.BigEndian.Uint16(data[n-2 : n])
		skip(n)
		return decodeEther(ethType, data, wireLen, seg, lay, depth)
	case 0x88e7: // IEEE 802.1ah backbone service instance tag: 4 bytes, then the customer's Ethernet frame
		if len(data) < 4 {
			return Truncated
		}
		seg.Point = mixPoint(seg.Point, binary.BigEndian.Uint32(data[0:4])&0xffffff) // the service instance
		skip(4)
		return decodeEthernet(data, wireLen, seg, lay, depth)
	case 0x8847, 0x8848: // MPLS: labels down to the bottom of the stack
		for {
			if len(data) < 4 {
				return Truncated
			}
			bottom := data[2]&1 != 0
			skip(4)
			if bottom {
				break
			}
		}
		if len(data) < 1 {
			return Truncated
		}
		switch data[0] >> 4 {
		case 4:
			return decodeIPv4(data, wireLen, seg, lay, depth)
		case 6:
			return decodeIPv6(data, wireLen, seg, lay, depth)
		case 0: // a pseudowire's control word, then Ethernet
			if len(data) < 4 {
				return Truncated
			}
			skip(4)
			return decodeEthernet(data, wireLen, seg, lay, depth)
		}
		return NotIP
	case 0x8864: // PPPoE session: 6 bytes, then the PPP protocol
		if len(data) < 8 {
			return Truncated
		}
		seg.Point = mixPoint(seg.Point, uint32(binary.BigEndian.Uint16(data[2:4]))) // session
		ethType = pppType(binary.BigEndian.Uint16(data[6:8]))
		skip(8)
		return decodeEther(ethType, data, wireLen, seg, lay, depth)
	case 0x6558: // transparent Ethernet bridging (GRE, Geneve)
		return decodeEthernet(data, wireLen, seg, lay, depth)
	case 0x894f: // NSH (RFC 8300): version, length in words, next protocol; the service path and index
		if len(data) < 8 {
			return Truncated
		}
		n := int(data[1]&0x3f) * 4
		switch {
		case data[0]>>6 != 0:
			return NotIP
		case n < 8:
			return Malformed
		case len(data) < n:
			return Truncated
		}
		// The service path and index: each hop lowers the index, so that
		// a copy taken at the next hop is at another point.
		seg.Point = mixPoint(seg.Point, binary.BigEndian.Uint32(data[4:8]))
		ethType = nextProtocolType(data[3])
		skip(n)
		return decodeEther(ethType, data, wireLen, seg, lay, depth)
	}
	return NotIP
}

// nextProtocolType maps the next protocol of NSH and VXLAN-GPE to an
// EtherType: IPv4, IPv6, Ethernet, NSH or MPLS; 0 for any other.
func nextProtocolType(next byte) uint16 {
	switch next {
	case 1:
		return 0x0800
	case 2:
		return 0x86dd
	case 3:
		return 0x6558
	case 4:
		return 0x894f
	case 5:
		return 0x8847
	}
	return 0
}

// decodePPP decodes a PPP frame (a PPP link's, or L2TP's and PPTP's
// payload): the address and control bytes when they are there, the
// protocol, one byte when it is compressed (odd), then what it carries.
func decodePPP(p []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	n := 0
	if len(p) >= 2 && p[0] == 0xff && p[1] == 0x03 {
		n = 2
	}
	if len(p) < n+1 {
		return Truncated
	}
	var ethType uint16
	if proto := p[n]; proto&1 != 0 {
		ethType, n = pppType(uint16(proto)), n+1
	} else if len(p) < n+2 {
		return Truncated
	} else {
		ethType, n = pppType(binary.BigEndian.Uint16(p[n:n+2])), n+2
	}
	return decodeEther(ethType, p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
}

// pppType maps a PPP protocol number to an EtherType: IP, or MPLS; 0 for
// any other.
func pppType(proto uint16) uint16 {
	switch proto {
	case 0x0021:
		return 0x0800
	case 0x0057:
		return 0x86dd
	case 0x0281:
		return 0x8847
	}
	return 0
}

// decodeOtherLink decodes the link types with a PPP, Cisco HDLC or NFLOG
// header, and the rarer ones of decodeRareLink.
func decodeOtherLink(linkType uint16, data []byte, wireLen uint32, seg *Segment, lay *frameHeaders) SkipReason {
	var ethType uint16
	n := 0 // header length
	switch linkType {
	case LinkPPP, LinkPPPHDLC, LinkCHDLC:
		if len(data) < 2 {
			return Truncated
		}
		if a := data[0]; a == 0x0f || a == 0x8f { // Cisco HDLC (which some PPP links carry too): address, control, EtherType
			if len(data) < 4 {
				return Truncated
			}
			ethType, n = binary.BigEndian.Uint16(data[2:4]), 4
			break
		} else if linkType == LinkCHDLC {
			return NotIP
		}
		return decodePPP(data, wireLen, seg, lay, 0)
	case LinkPPPoE:
		if len(data) < 8 {
			return Truncated
		}
		seg.Point = uint32(binary.BigEndian.Uint16(data[2:4])) // session
		ethType, n = pppType(binary.BigEndian.Uint16(data[6:8])), 8
	case LinkNFLOG:
		return decodeNFLOG(data, seg, lay)
	default:
		return decodeRareLink(linkType, data, wireLen, seg, lay)
	}
	return decodeEther(ethType, data[n:], wireLen-min(wireLen, uint32(n)), seg, lay, 0)
}

// decodeNFLOG decodes a Linux netfilter log record: a 4-byte header (the
// address family, a version and the log group), then type-length-value
// attributes in the capturing host's byte order, one of them the packet
// from its IP header on.
func decodeNFLOG(data []byte, seg *Segment, lay *frameHeaders) SkipReason {
	if len(data) < 4 {
		return Truncated
	}
	var ethType uint16
	switch data[0] {
	case 2:
		ethType = 0x0800
	case 10:
		ethType = 0x86dd
	default:
		return NotIP
	}
	seg.Point = uint32(binary.BigEndian.Uint16(data[2:4])) // log group
	for tlv := data[4:]; len(tlv) >= 4; {
		length, typ := binary.LittleEndian.Uint16(tlv[0:2]), binary.LittleEndian.Uint16(tlv[2:4])
		if typ > 0xff { // attribute types are small: the host was big-endian
			length, typ = binary.BigEndian.Uint16(tlv[0:2]), binary.BigEndian.Uint16(tlv[2:4])
		}
		if length < 4 {
			return Malformed
		}
		if typ == 9 { // NFULA_PAYLOAD; cut short when the snap length cut the record
			payload := tlv[4:min(int(length), len(tlv))]
			return decodeEther(ethType, payload, uint32(length-4), seg, lay, 0)
		}
		tlv = tlv[min((int(length)+3)&^3, len(tlv)):] // padded to 4 bytes
	}
	return Truncated
}

// decodeTunnelIPv4 decodes what an IPv4 packet (header h) carries when
// it is not TCP. A tunnel's packet too big for the path is fragmented
// outside the tunnel, and its first fragment holds the inner headers whole,
// with the inner packet's own length: it is decoded, as Wireshark does
// after reassembly, and only the other fragments are skipped.
func decodeTunnelIPv4(h *[20]byte, payload []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	frag := binary.BigEndian.Uint16(h[6:8])
	if frag&0x1fff != 0 { // a later fragment: part of a tunnel's packet only for the protocols that are tunnels alone
		if p := h[9]; p == 4 || p == 41 || p == 47 {
			return Fragment
		}
		return NotTCP
	}
	r := decodeInIP(h[9], payload, wireLen, seg, lay, depth)
	if frag&0x2000 != 0 && r != Decoded && r != NotTCP {
		return Fragment // the inner headers run past the fragment
	}
	return r
}

// decodeInIP decodes what an IP packet carries when it is not TCP: a
// tunnel of IP or Ethernet over IP, GRE or UDP. payload is the IP payload,
// on the wire wireLen bytes long.
func decodeInIP(proto uint8, payload []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if depth >= maxEncap || (proto != 4 && proto != 41 && proto != 47 && proto != 17) {
		return NotTCP
	}
	depth++
	p := payload
	skip := func(n int) {
		p = p[n:]
		wireLen -= min(wireLen, uint32(n))
	}
	switch proto {
	case 4:
		seg.Point = mixPoint(seg.Point, 4)
		return decodeIPv4(p, wireLen, seg, lay, depth)
	case 41:
		seg.Point = mixPoint(seg.Point, 41)
		return decodeIPv6(p, wireLen, seg, lay, depth)
	case 47:
		return decodeGRE(p, wireLen, seg, lay, depth)
	}
	// UDP
	if len(p) < 8 {
		return Truncated
	}
	sport, dport := binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4])
	port := func(n uint16) bool { return sport == n || dport == n }
	switch {
	case port(4789) || port(8472): // VXLAN: flags (I set: a network id follows), network id
		if len(p) < 16 {
			return Truncated
		}
		if p[8]&0x08 == 0 {
			return NotTCP
		}
		seg.Point = mixPoint(seg.Point, binary.BigEndian.Uint32(p[12:16]))
		skip(16)
		return decodeEthernet(p, wireLen, seg, lay, depth)
	case port(4790): // VXLAN-GPE: flags with the version, next protocol (read whatever its flag says, as tcpdump and Wireshark read it), network id
		if len(p) < 16 {
			return Truncated
		}
		if p[8]&0x30 != 0 { // not version 0
			return NotTCP
		}
		ethType := nextProtocolType(p[11])
		seg.Point = mixPoint(seg.Point, binary.BigEndian.Uint32(p[12:16]))
		skip(16)
		return decodeEther(ethType, p, wireLen, seg, lay, depth)
	case port(1701): // L2TP: a remote-access VPN's PPP sessions
		return decodeL2TP(p[8:], wireLen-min(wireLen, 8), seg, lay, depth)
	case port(5247): // CAPWAP data: a wireless access point's clients' frames
		return decodeCAPWAP(p[8:], wireLen-min(wireLen, 8), seg, lay, depth)
	case port(3544): // Teredo: IPv6 over UDP, through NATs
		return decodeTeredo(p[8:], wireLen-min(wireLen, 8), seg, lay, depth)
	case port(2152): // GTP-U, a mobile network's user plane: IP after the header and its extensions
		return decodeGTP(p[8:], wireLen-min(wireLen, 8), seg, lay, depth)
	case port(6081): // Geneve: version and options' length, flags, protocol, network id, options
		if len(p) < 16 {
			return Truncated
		}
		if p[8]>>6 != 0 {
			return NotTCP
		}
		n := 16 + int(p[8]&0x3f)*4
		if len(p) < n {
			return Truncated
		}
		ethType := binary.BigEndian.Uint16(p[10:12])
		seg.Point = mixPoint(seg.Point, binary.BigEndian.Uint32(p[12:16]))
		skip(n)
		return decodeEther(ethType, p, wireLen, seg, lay, depth)
	}
	return NotTCP
}

// decodeL2TP decodes an L2TP version 2 data message (RFC 2661): flags, the
// length, tunnel and session, sequence numbers and padding when the flags
// say so, then a PPP frame. p is the UDP payload. Control messages and
// L2TPv3, whose header's length the packets do not give, are not TCP.
func decodeL2TP(p []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(p) < 2 {
		return Truncated
	}
	flags, n := binary.BigEndian.Uint16(p[0:2]), 2
	if flags&0x8000 != 0 || flags&0x000f != 2 { // a control message, or not version 2
		return NotTCP
	}
	if flags&0x4000 != 0 { // length
		n += 2
	}
	if len(p) < n+4 {
		return Truncated
	}
	id := binary.BigEndian.Uint32(p[n : n+4]) // tunnel and session
	n += 4
	if flags&0x0800 != 0 { // Ns and Nr
		n += 4
	}
	if flags&0x0200 != 0 { // the offset size, then as many bytes of padding
		if len(p) < n+2 {
			return Truncated
		}
		n += 2 + int(binary.BigEndian.Uint16(p[n:n+2]))
	}
	if len(p) < n {
		return Truncated
	}
	seg.Point = mixPoint(seg.Point, id)
	return decodePPP(p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
}

// decodeGTP decodes a GTP-U (version 1) message carrying a user's IP
// packet (a G-PDU).
func decodeGTP(p []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(p) < 8 {
		return Truncated
	}
	if p[0]>>4 != 0x3 || p[1] != 0xff { // version 1, GTP (not GTP'), G-PDU
		return NotTCP
	}
	teid := binary.BigEndian.Uint32(p[4:8])
	n := 8
	if p[0]&0x07 != 0 { // sequence number, N-PDU number, next extension type
		if len(p) < 12 {
			return Truncated
		}
		n = 12
		for next := p[11]; p[0]&0x04 != 0 && next != 0; { // extension headers, each 4n bytes
			if len(p) < n+1 {
				return Truncated
			}
			size := int(p[n]) * 4
			if size == 0 {
				return Malformed
			}
			if len(p) < n+size {
				return Truncated
			}
			next, n = p[n+size-1], n+size
		}
	}
	if len(p) < n+1 {
		return Truncated
	}
	seg.Point = mixPoint(seg.Point, teid)
	switch p[n] >> 4 {
	case 4:
		return decodeIPv4(p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
	case 6:
		return decodeIPv6(p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
	}
	return NotIP
}

// decodeGRE decodes a GRE packet (version 0; version 1 is PPTP's, which
// carries PPP) and the ERSPAN mirror sessions it may carry.
func decodeGRE(p []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(p) < 4 {
		return Truncated
	}
	flags, ethType := binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4])
	pptp := flags&7 == 1 && ethType == 0x880b       // version 1: PPTP's enhanced GRE (RFC 2637), carrying PPP
	if flags&0x4000 != 0 || flags&7 != 0 && !pptp { // routing present, or another version
		return NotTCP
	}
	n, id := 4, uint32(47) // id: the key and session, for Point
	if flags&0x8000 != 0 { // checksum
		n += 4
	}
	if flags&0x2000 != 0 { // key
		if len(p) < n+4 {
			return Truncated
		}
		key := binary.BigEndian.Uint32(p[n : n+4])
		if pptp {
			if key>>16 == 0 { // the payload's length: an acknowledgement alone
				return NotTCP
			}
			key &= 0xffff // the call
		}
		id ^= key
		n += 4
	}
	seq := flags&0x1000 != 0
	if seq {
		n += 4
	}
	if pptp {
		if !seq { // no payload: an acknowledgement alone
			return NotTCP
		}
		if flags&0x0080 != 0 { // acknowledgement number
			n += 4
		}
		if len(p) < n {
			return Truncated
		}
		seg.Point = mixPoint(seg.Point, id)
		return decodePPP(p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
	}
	switch ethType {
	case 0x88be: // ERSPAN: type II has a sequence number and an 8-byte header, type I neither
		if seq {
			if len(p) < n+8 {
				return Truncated
			}
			id ^= uint32(binary.BigEndian.Uint16(p[n+2:n+4])) & 0x3ff << 16 // session
			n += 8
		}
		ethType = 0x6558
	case 0x22eb: // ERSPAN type III: 12 bytes, and 8 more when its last bit says so
		if len(p) < n+12 {
			return Truncated
		}
		id ^= uint32(binary.BigEndian.Uint16(p[n+2:n+4])) & 0x3ff << 16
		if p[n+11]&1 != 0 {
			n += 8
		}
		n += 12
		ethType = 0x6558
	}
	if len(p) < n {
		return Truncated
	}
	seg.Point = mixPoint(seg.Point, id)
	return decodeEther(ethType, p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
}

// mixPoint folds a tunnel's or session's identity into a capture point:
// its network id, key or session, not its addresses, so that a capture
// with its addresses mapped (MapAddrs) decodes to the same points.
func mixPoint(point, id uint32) uint32 {
	return (point^id)*0x9e3779b1 + 0x7f4a7c15
}

func ipVersionType(b byte) uint16 {
	switch b >> 4 {
	case 4:
		return 0x0800
	case 6:
		return 0x86dd
	}
	return 0
}

// nullFamilyType maps a BSD address family, written in the capturing host's
// byte order, to an EtherType.
func nullFamilyType(b []byte) uint16 {
	family := binary.LittleEndian.Uint32(b)
	if family > 0xffff {
		family = binary.BigEndian.Uint32(b)
	}
	switch family {
	case 2:
		return 0x0800
	case 10, 24, 28, 30: // Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		return 0x86dd
	}
	return 0
}

func decodeIPv4(b []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(b) < 20 {
		return Truncated
	}
	h := (*[20]byte)(b) // the fixed header: no bounds checks below
	if h[0]>>4 != 4 {
		return Malformed
	}
	ihl := int(h[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(h[2:4]))
	if total == 0 { // TSO/GSO: length left to the link layer
		total = int(wireLen)
	}
	if ihl < 20 || total < ihl {
		return Malformed
	}
	if len(b) < ihl {
		return Truncated
	}
	if lay != nil {
		lay.addIP(b)
	}
	if h[9] != 6 {
		return decodeTunnelIPv4(h, b[ihl:], uint32(total-ihl), seg, lay, depth)
	}
	if frag := binary.BigEndian.Uint16(h[6:8]); frag&0x3fff != 0 {
		return Fragment
	}
	seg.TTL = h[8]
	seg.IPID = binary.BigEndian.Uint16(h[4:6])
	tcp := b[ihl:]
	if r := decodeTCP(tcp, total-ihl, seg); r != Decoded {
		return r
	}
	if lay != nil {
		lay.tcp = lay.at(tcp)
	}
	// decodeTCP has checked that the ports are there.
	seg.setIPv4(binary.BigEndian.Uint32(h[12:16]), binary.BigEndian.Uint32(h[16:20]), binary.BigEndian.Uint16(tcp[0:2]), binary.BigEndian.Uint16(tcp[2:4]))
	return Decoded
}

func decodeIPv6(b []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(b) < 40 {
		return Truncated
	}
	if b[0]>>4 != 6 {
		return Malformed
	}
	payload := int(binary.BigEndian.Uint16(b[4:6]))
	if payload == 0 && wireLen > 40 { // jumbogram or offload
		payload = int(wireLen) - 40
	}
	next := b[6]
	seg.TTL = b[7]
	seg.IPID = 0
	if lay != nil {
		lay.addIP(b)
	}
	h := b
	b = b[40:]
	for range 8 { // bounded walk over extension headers
		switch next {
		case 6:
			r := decodeTCP(b, payload, seg)
			if r == Decoded { // the addresses only for a segment
				seg.setIPv6((*[16]byte)(h[8:24]), (*[16]byte)(h[24:40]), binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]))
				if lay != nil {
					lay.tcp = lay.at(b)
				}
			}
			return r
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return Truncated
			}
			n := (int(b[1]) + 1) * 8
			if n > len(b) {
				return Truncated
			}
			next, b, payload = b[0], b[n:], payload-n
		case 51: // authentication header
			if len(b) < 8 {
				return Truncated
			}
			n := (int(b[1]) + 2) * 4
			if n > len(b) {
				return Truncated
			}
			next, b, payload = b[0], b[n:], payload-n
		case 44:
			return Fragment
		default:
			if payload < 0 {
				return Malformed
			}
			return decodeInIP(next, b, uint32(payload), seg, lay, depth)
		}
	}
	return Malformed
}

// decodeTCP fills seg from the TCP header; the caller sets the endpoints.
// It needs the header through the window: the checksum and urgent pointer
// are not used, and a snap length of 54 bytes (tcpdump -s 54) cuts them
// off behind a VLAN tag or IPv4 options, as Wireshark still reads the
// segment.
func decodeTCP(b []byte, ipPayload int, seg *Segment) SkipReason {
	if len(b) < 16 {
		return Truncated
	}
	h := (*[16]byte)(b) // the fixed header through the window: no bounds checks below
	hlen := int(h[12]>>4) * 4
	if hlen < 20 || ipPayload < hlen {
		return Malformed
	}
	seg.Seq = binary.BigEndian.Uint32(h[4:8])
	seg.Ack = binary.BigEndian.Uint32(h[8:12])
	seg.Flags = h[13]
	seg.Window = binary.BigEndian.Uint16(h[14:16])
	seg.PayloadLen = uint32(ipPayload - hlen)
	seg.WScale = -1
	seg.DSACK = false
	if hlen == 32 && len(b) >= 32 {
		if o := (*[32]byte)(b); binary.BigEndian.Uint32(o[20:24]) == 0x0101080a {
			// NOP, NOP, timestamps: the options of most segments
			// of a connection that uses timestamps.
			seg.HasTS = true
			seg.TSVal = binary.BigEndian.Uint32(o[24:28])
			seg.TSEcr = binary.BigEndian.Uint32(o[28:32])
			return Decoded
		}
	}
	seg.HasTS = false
	seg.TSVal, seg.TSEcr = 0, 0
	opts := b[min(20, len(b)):min(hlen, len(b))]
	for len(opts) > 0 {
		kind := opts[0]
		if kind == 0 {
			break
		}
		if kind == 1 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			break
		}
		switch {
		case kind == 3 && opts[1] == 3:
			seg.WScale = int8(min(opts[2], 14))
		case kind == 5 && opts[1] >= 10:
			seg.DSACK = int32(binary.BigEndian.Uint32(opts[2:6])-seg.Ack) < 0
		case kind == 8 && opts[1] == 10:
			seg.HasTS = true
			seg.TSVal = binary.BigEndian.Uint32(opts[2:6])
			seg.TSEcr = binary.BigEndian.Uint32(opts[6:10])
		}
		opts = opts[opts[1]:]
	}
	return Decoded
}

// Offsets locates the headers of a frame that [Decode] turns into a
// segment: ip is the offset of the IP header in data and payload the offset
// of the TCP payload, that is the end of the TCP header (at most len(data),
// when the snap length cut the header short). In a tunnel, ip is the inner
// IP header's. ok is false, and the offsets 0, when Decode would not return
// Decoded. Like Decode, Offsets never allocates and never panics.
func Offsets(linkType uint16, data []byte, wireLen uint32) (ip, payload int, ok bool) {
	lay, ok := headers(linkType, data, wireLen)
	if !ok {
		return 0, 0, false
	}
	hlen := int(data[lay.tcp+12]>>4) * 4 // Decode has checked the TCP header's fixed part
	return lay.ips[lay.n-1], min(lay.tcp+hlen, len(data)), true
}

// headers decodes the frame and returns where its headers are.
func headers(linkType uint16, data []byte, wireLen uint32) (frameHeaders, bool) {
	var seg Segment
	lay := frameHeaders{frame: data}
	if decodeFrame(linkType, data, wireLen, &seg, &lay) != Decoded || lay.n == 0 {
		return frameHeaders{}, false
	}
	return lay, true
}
