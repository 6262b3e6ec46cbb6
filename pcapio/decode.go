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
	LinkRaw      = 101
	LinkLoop     = 108
	LinkSLL      = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
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
func Decode(linkType uint16, data []byte, wireLen uint32, seg *Segment) SkipReason {
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
		return UnknownLink
	}
	for ethType == 0x8100 || ethType == 0x88a8 || ethType == 0x9100 {
		if len(data) < 4 {
			return Truncated
		}
		ethType = binary.BigEndian.Uint16(data[2:4])
		data = data[4:]
		wireLen -= min(wireLen, 4)
	}
	switch ethType {
	case 0x0800:
		return decodeIPv4(data, wireLen, seg)
	case 0x86dd:
		return decodeIPv6(data, wireLen, seg)
	}
	return NotIP
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

func decodeIPv4(b []byte, wireLen uint32, seg *Segment) SkipReason {
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
	if h[9] != 6 {
		return NotTCP
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
	// decodeTCP has checked that the ports are there.
	seg.setIPv4(binary.BigEndian.Uint32(h[12:16]), binary.BigEndian.Uint32(h[16:20]), binary.BigEndian.Uint16(tcp[0:2]), binary.BigEndian.Uint16(tcp[2:4]))
	return Decoded
}

func decodeIPv6(b []byte, wireLen uint32, seg *Segment) SkipReason {
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
	h := b
	b = b[40:]
	for range 8 { // bounded walk over extension headers
		switch next {
		case 6:
			r := decodeTCP(b, payload, seg)
			if r == Decoded { // the addresses only for a segment
				seg.setIPv6((*[16]byte)(h[8:24]), (*[16]byte)(h[24:40]), binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]))
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
			return NotTCP
		}
	}
	return Malformed
}

// decodeTCP fills seg from the TCP header; the caller sets the endpoints.
func decodeTCP(b []byte, ipPayload int, seg *Segment) SkipReason {
	if len(b) < 20 {
		return Truncated
	}
	h := (*[20]byte)(b) // the fixed header: no bounds checks below
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
	opts := b[20:min(hlen, len(b))]
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
// when the snap length cut the header short). ok is false, and the offsets
// 0, when Decode would not return Decoded. Like Decode, Offsets never
// allocates and never panics.
func Offsets(linkType uint16, data []byte, wireLen uint32) (ip, payload int, ok bool) {
	var seg Segment
	if Decode(linkType, data, wireLen, &seg) != Decoded {
		return 0, 0, false
	}
	// Decode has checked every length and field read below.
	var ethType uint16
	switch linkType {
	case LinkEthernet:
		ip, ethType = 14, binary.BigEndian.Uint16(data[12:14])
	case LinkSLL:
		ip, ethType = 16, binary.BigEndian.Uint16(data[14:16])
	case LinkSLL2:
		ip, ethType = 20, binary.BigEndian.Uint16(data[0:2])
	case LinkNull, LinkLoop:
		ip = 4
	}
	for ethType == 0x8100 || ethType == 0x88a8 || ethType == 0x9100 {
		ethType = binary.BigEndian.Uint16(data[ip+2 : ip+4])
		ip += 4
	}
	b := data[ip:]
	tcp := int(b[0]&0x0f) * 4
	if b[0]>>4 == 6 {
		tcp = 40
		for next := b[6]; next != 6; {
			h := b[tcp:]
			next, tcp = h[0], tcp+ipv6ExtLen(h, next)
		}
	}
	hlen := int(b[tcp+12]>>4) * 4
	return ip, min(ip+tcp+hlen, len(data)), true
}

// ipv6ExtLen is the length of the IPv6 extension header h of type typ.
func ipv6ExtLen(h []byte, typ uint8) int {
	if typ == 51 { // authentication header
		return (int(h[1]) + 2) * 4
	}
	return (int(h[1]) + 1) * 8
}
