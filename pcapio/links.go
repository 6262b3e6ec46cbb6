package pcapio

import "encoding/binary"

// Link types of wireless, InfiniBand, FDDI, ARCNET and Juniper captures,
// whose IP packets Decode finds as tcpdump and Wireshark do.
const (
	LinkFDDI         = 10  // FDDI, then 802.2 LLC and SNAP
	LinkIEEE80211    = 105 // 802.11 frames, as a monitor-mode capture without a radio header gives them
	LinkPrism        = 119 // 802.11 after a Prism monitor-mode header (or an AVS one)
	LinkRadiotap     = 127 // 802.11 after a radiotap header: Linux monitor mode, macOS, Npcap
	LinkARCNETLinux  = 129 // ARCNET with Linux's header
	LinkAVS          = 163 // 802.11 after an AVS monitor-mode header
	LinkJuniperEther = 178 // Ethernet after a Juniper router's capture header
	LinkPPI          = 192 // Per-Packet Information header, then the link type it names (802.11 mostly)
	LinkIPoIB        = 242 // IP over InfiniBand, after a 44-byte header
	LinkPKTAP        = 258 // Apple's PKTAP header (tcpdump -i pktap on macOS), then the link type it names
)

// decodeRareLink decodes the link types above. PPI and PKTAP name the
// link type of what follows, which is decoded in turn; neither may name
// itself or the other.
func decodeRareLink(linkType uint16, data []byte, wireLen uint32, seg *Segment, lay *frameHeaders) SkipReason {
	skip := func(n int) {
		data = data[n:]
		wireLen -= min(wireLen, uint32(n))
	}
	switch linkType {
	case LinkFDDI: // frame control, destination and source addresses; LLC frames only
		if len(data) < 13 {
			return Truncated
		}
		if fc := data[0] & 0xf8; fc != 0x50 && fc != 0xd0 { // asynchronous or synchronous LLC
			return NotIP
		}
		skip(13)
		return decodeSNAP(data, wireLen, seg, lay, 0)
	case LinkIEEE80211:
		return decode80211(data, wireLen, seg, lay, 0, false, false)
	case LinkRadiotap: // version, pad, length, present flags, then the fields they name
		if len(data) < 8 {
			return Truncated
		}
		n := int(binary.LittleEndian.Uint16(data[2:4]))
		if data[0] != 0 || n < 8 {
			return Malformed
		}
		if len(data) < n {
			return Truncated
		}
		flags := radiotapFlags(data[:n])
		skip(n)
		if flags&0x10 != 0 { // the frame ends with its FCS, past the IP packet's end (data stays a suffix of the frame, for Offsets)
			wireLen -= min(wireLen, 4)
		}
		return decode80211(data, wireLen, seg, lay, 0, flags&0x20 != 0, false)
	case LinkPrism, LinkAVS: // a header whose length is its second word
		if len(data) < 8 {
			return Truncated
		}
		n := binary.LittleEndian.Uint32(data[4:8]) // Prism's message length
		if linkType == LinkAVS || binary.BigEndian.Uint32(data[0:4])&0xfffff000 == 0x80211000 {
			n = binary.BigEndian.Uint32(data[4:8]) // an AVS header, which Prism captures may hold too
		}
		if n < 8 || n > 1<<16 {
			return Malformed
		}
		if uint64(len(data)) < uint64(n) {
			return Truncated
		}
		skip(int(n))
		return decode80211(data, wireLen, seg, lay, 0, false, false)
	case LinkPKTAP: // the header's length, its record type (1: a packet), the packet's link type
		if len(data) < 12 {
			return Truncated
		}
		n, typ, inner := binary.LittleEndian.Uint32(data[0:4]), binary.LittleEndian.Uint32(data[4:8]), binary.LittleEndian.Uint32(data[8:12])
		if typ != 1 {
			return NotIP
		}
		if n < 12 || inner == LinkPKTAP || inner == LinkPPI || inner > 0xffff {
			return Malformed
		}
		if uint64(len(data)) < uint64(n) {
			return Truncated
		}
		return decodeFrame(uint16(inner), data[n:], wireLen-min(wireLen, n), seg, lay)
	case LinkPPI: // version, flags, length, the link type of what follows
		if len(data) < 8 {
			return Truncated
		}
		n, inner := int(binary.LittleEndian.Uint16(data[2:4])), binary.LittleEndian.Uint32(data[4:8])
		if n < 8 || inner == LinkPPI || inner == LinkPKTAP || inner > 0xffff {
			return Malformed
		}
		if len(data) < n {
			return Truncated
		}
		skip(n)
		return decodeFrame(uint16(inner), data, wireLen, seg, lay)
	case LinkARCNETLinux:
		return decodeARCNET(data, wireLen, seg, lay)
	case LinkIPoIB: // 40 bytes of addresses, then the EtherType and 2 reserved bytes
		if len(data) < 44 {
			return Truncated
		}
		ethType := binary.BigEndian.Uint16(data[40:42])
		skip(44)
		return decodeEther(ethType, data, wireLen, seg, lay, 0)
	case LinkJuniperEther:
		return decodeJuniperEther(data, wireLen, seg, lay)
	}
	return UnknownLink
}

// radiotapFlags returns the Flags field of a radiotap header, or 0 when
// it has none. The field comes right after the present words and the
// 8-byte TSFT field, when there is one, which is aligned to 8 bytes.
func radiotapFlags(h []byte) uint8 {
	present := binary.LittleEndian.Uint32(h[4:8])
	off := 8
	for w := present; w&(1<<31) != 0; off += 4 { // more present words follow
		if len(h) < off+4 {
			return 0
		}
		w = binary.LittleEndian.Uint32(h[off : off+4])
	}
	if present&1 != 0 {
		off = (off+7)&^7 + 8
	}
	if present&2 == 0 || off >= len(h) {
		return 0
	}
	return h[off]
}

// decode80211 decodes an 802.11 data frame: its MAC header, then LLC and
// SNAP. Management, control, empty and encrypted frames carry no IP that
// can be read. pad says the header is padded to 4 bytes (radiotap's flag).
// maySwap says the frame control field may come byte-swapped, as Cisco's
// access points send it in CAPWAP: it is swapped back when only the
// swapped field is valid.
func decode80211(data []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int, pad, maySwap bool) SkipReason {
	if len(data) < 24 {
		return Truncated
	}
	fc, flags := data[0], data[1]
	if maySwap && fc&3 != 0 && flags&3 == 0 && (flags>>2)&3 == 2 { // version bits set, unlike the other byte's
		fc, flags = flags, fc
	}
	if fc&3 != 0 || (fc>>2)&3 != 2 || fc&0x40 != 0 { // version 0, a data frame, with data
		return NotIP
	}
	if flags&0x40 != 0 { // protected: encrypted
		return NotIP
	}
	// A fragment before the last: the first holds the headers, and is
	// decoded as Wireshark decodes it once reassembled. Some access points
	// number the fragments of whole frames; Wireshark takes a last fragment
	// seen alone for a whole frame, and so does this.
	fragment := flags&0x04 != 0
	if fragment && data[22]&0x0f != 0 {
		return Fragment
	}
	n := 24
	if flags&3 == 3 { // to and from the distribution system: a fourth address
		n += 6
	}
	qos, qosAt := fc&0x80 != 0, n
	if qos {
		n += 2
		if flags&0x80 != 0 { // HT control
			n += 4
		}
	}
	if pad {
		n = (n + 3) &^ 3
	}
	if len(data) < n {
		return Truncated
	}
	amsdu := qos && data[qosAt]&0x80 != 0            // an A-MSDU: subframes, of which the first is decoded
	seg.Point = mixPoint(seg.Point, uint32(flags&3)) // to or from the access point: two places on the way
	data, wireLen = data[n:], wireLen-min(wireLen, uint32(n))
	if amsdu {
		if len(data) < 14 {
			return Truncated
		}
		data, wireLen = data[14:], wireLen-min(wireLen, 14) // addresses and length
	}
	r := decodeSNAP(data, wireLen, seg, lay, depth)
	if fragment {
		return firstFragment(r)
	}
	return r
}

// decodeSNAP decodes an 802.2 LLC header with SNAP, which names the
// EtherType of what follows (RFC 1042, and 802.1H's bridge tunnel). Any
// other LLC (spanning tree, CDP, IPX) is not IP, however short; a SNAP
// header is cut only when the wire says the frame was longer, not when it
// was sent that short.
func decodeSNAP(data []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	snap := [6]byte{0xaa, 0xaa, 0x03} // DSAP, SSAP, control, then the organisation: 0, or 00-00-f8 for the bridge tunnel
	for i := range min(len(data), len(snap)) {
		if data[i] != snap[i] && (i != 5 || data[i] != 0xf8) {
			return NotIP
		}
	}
	if len(data) < 8 {
		if uint32(len(data)) < wireLen {
			return Truncated
		}
		return NotIP
	}
	return decodeEther(binary.BigEndian.Uint16(data[6:8]), data[8:], wireLen-min(wireLen, 8), seg, lay, depth)
}

// decodeARCNET decodes ARCNET with Linux's header, as tcpdump does:
// source, destination, offset and protocol, then for the protocols of RFC
// 1201 a split flag and a sequence number (and 4 bytes more for an
// exception packet); the protocols of RFC 1051 have none.
func decodeARCNET(data []byte, wireLen uint32, seg *Segment, lay *frameHeaders) SkipReason {
	if len(data) < 5 {
		return Truncated
	}
	var ethType uint16
	n := 8
	switch data[4] {
	case 0xf0: // IP, RFC 1051
		ethType, n = 0x0800, 5
	case 0xf1, 0x80: // ARP, RFC 1051; diagnostics
		return NotIP
	case 0xd4: // IP, RFC 1201
		ethType = 0x0800
	case 0xc4: // IPv6
		ethType = 0x86dd
	default:
		return NotIP
	}
	if n == 8 {
		if len(data) < n {
			return Truncated
		}
		if data[5] == 0xff { // an exception packet: the flag and sequence number come again
			n += 4
			if len(data) < n {
				return Truncated
			}
		}
		if data[n-3] != 0 { // split: a fragment of a larger packet
			return Fragment
		}
	}
	return decodeEther(ethType, data[n:], wireLen-min(wireLen, uint32(n)), seg, lay, 0)
}

// decodeJuniperEther decodes the header a Juniper router puts before an
// Ethernet frame it captures: "MGC", flags, and when the first flag bit is
// set, extensions with their length first. A frame whose layer 2 header
// was left out (a flag bit) starts with 4 bytes before the IP header.
func decodeJuniperEther(data []byte, wireLen uint32, seg *Segment, lay *frameHeaders) SkipReason {
	if len(data) < 4 {
		return Truncated
	}
	if data[0] != 'M' || data[1] != 'G' || data[2] != 'C' {
		return Malformed
	}
	flags, n := data[3], 4
	if flags&0x80 != 0 {
		if len(data) < 6 {
			return Truncated
		}
		n += 2 + int(binary.BigEndian.Uint16(data[4:6]))
	}
	if flags&0x02 != 0 { // no layer 2 header: a protocol (little-endian), then IP, told by its version as tcpdump does
		n += 4
		if len(data) < n+1 {
			return Truncated
		}
		return decodeEther(ipVersionType(data[n]), data[n:], wireLen-min(wireLen, uint32(n)), seg, lay, 0)
	}
	if len(data) < n {
		return Truncated
	}
	return decodeEthernet(data[n:], wireLen-min(wireLen, uint32(n)), seg, lay, 0)
}

// decodeCAPWAP decodes a CAPWAP data message (UDP port 5247): an access
// point's tunnel to its controller, carrying the frames of its wireless
// clients as 802.11 or as Ethernet (RFC 5415). p is the UDP payload.
func decodeCAPWAP(p []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	if len(p) < 8 {
		return Truncated
	}
	if p[0] != 0 { // version 0, and a CAPWAP header rather than a DTLS one
		return NotTCP
	}
	n := int(p[1]>>3) * 4                          // HLEN, in 4-byte words
	wbid, native := (p[2]>>1)&0x1f, p[2]&0x01 != 0 // the wireless binding (1: 802.11), and whether the frame is in its format
	fragment, offset := p[3]&0x80 != 0, binary.BigEndian.Uint16(p[6:8])>>3
	if n < 8 {
		return Malformed
	}
	if len(p) < n {
		return Truncated
	}
	if fragment && offset != 0 {
		return Fragment
	}
	seg.Point = mixPoint(seg.Point, 5247)
	p, wireLen = p[n:], wireLen-min(wireLen, uint32(n))
	var r SkipReason
	if native && wbid == 1 {
		r = decode80211(p, wireLen, seg, lay, depth, false, true)
	} else {
		r = decodeEthernet(p, wireLen, seg, lay, depth)
	}
	if fragment {
		return firstFragment(r)
	}
	return r
}

// firstFragment turns what a first fragment's inner headers decoded to
// into Fragment when they could not be read, running past the fragment:
// the packet was not reassembled. A segment, or a packet that is no TCP
// or no IP, is told as it is.
func firstFragment(r SkipReason) SkipReason {
	if r == Decoded || r == NotTCP || r == NotIP {
		return r
	}
	return Fragment
}

// decodeTeredo decodes a Teredo packet (RFC 4380, UDP port 3544): an IPv6
// packet, after an authentication header and an origin indication when
// they are there. p is the UDP payload.
func decodeTeredo(p []byte, wireLen uint32, seg *Segment, lay *frameHeaders, depth int) SkipReason {
	n := 0
	if len(p) >= 4 && p[0] == 0 && p[1] == 1 { // authentication: lengths, client id, value, nonce, confirmation
		n = 4 + int(p[2]) + int(p[3]) + 9
	}
	if len(p) >= n+2 && p[n] == 0 && p[n+1] == 0 { // origin indication: port and address
		n += 8
	}
	if len(p) < n+1 {
		return Truncated
	}
	if p[n]>>4 != 6 { // a Teredo control message, or not Teredo
		return NotTCP
	}
	seg.Point = mixPoint(seg.Point, 3544)
	return decodeIPv6(p[n:], wireLen-min(wireLen, uint32(n)), seg, lay, depth)
}
