package pcapio

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
)

// Endpoint is an address and port in a comparable form that holds no
// pointers.
type Endpoint struct {
	Addr [16]byte // IPv4 in its IPv4-mapped IPv6 form
	Port uint16
	Is4  bool
}

// endpointOf returns the Endpoint of ap.
func endpointOf(ap netip.AddrPort) Endpoint {
	a := ap.Addr()
	return Endpoint{Addr: a.As16(), Port: ap.Port(), Is4: a.Is4()}
}

// AddrPort returns the address and port e stands for.
func (e Endpoint) AddrPort() netip.AddrPort {
	a := netip.AddrFrom16(e.Addr)
	if e.Is4 {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, e.Port)
}

// less orders endpoints by address bytes, then port, IPv6 before IPv4.
func (e *Endpoint) less(o *Endpoint) bool {
	a0, b0 := binary.BigEndian.Uint64(e.Addr[:8]), binary.BigEndian.Uint64(o.Addr[:8])
	if a0 != b0 {
		return a0 < b0
	}
	a1, b1 := binary.BigEndian.Uint64(e.Addr[8:]), binary.BigEndian.Uint64(o.Addr[8:])
	if a1 != b1 {
		return a1 < b1
	}
	if e.Port != o.Port {
		return e.Port < o.Port
	}
	return !e.Is4 && o.Is4
}

// FlowKey names a TCP connection whichever way a segment travels: its two
// endpoints, the lower one first.
type FlowKey struct {
	Lo, Hi Endpoint
}

// Equal reports whether k and o name the same connection: what k == o
// says, field by field and inlined, without a call to the generated
// comparison of the whole struct.
func (k *FlowKey) Equal(o *FlowKey) bool {
	return k.Lo.Addr == o.Lo.Addr && k.Hi.Addr == o.Hi.Addr && k.Lo.Port == o.Lo.Port && k.Hi.Port == o.Hi.Port &&
		k.Lo.Is4 == o.Lo.Is4 && k.Hi.Is4 == o.Hi.Is4
}

// hashSeed makes flow hashes differ from run to run, so that a capture
// cannot be built to make them collide.
var hashSeed = [4]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64()}

// hash mixes the key into one word.
func (k *FlowKey) hash() uint64 {
	be := binary.BigEndian
	if k.Lo.Is4 && k.Hi.Is4 {
		return hash4(be.Uint32(k.Lo.Addr[12:]), be.Uint32(k.Hi.Addr[12:]), k.Lo.Port, k.Hi.Port)
	}
	ports := uint64(k.Lo.Port)<<16 | uint64(k.Hi.Port)
	if k.Lo.Is4 {
		ports |= 1 << 32
	}
	if k.Hi.Is4 {
		ports |= 1 << 33
	}
	return hashWords(be.Uint64(k.Lo.Addr[:8]), be.Uint64(k.Lo.Addr[8:]), be.Uint64(k.Hi.Addr[:8]), be.Uint64(k.Hi.Addr[8:]), ports)
}

// hash4 is the hash of an IPv4 key, lower address and port first: one
// multiplication where an IPv6 key takes three. The high half is folded
// into the low one, which the flow table keeps: for about one seed in 40
// the low half alone gave 65,536 keys that differ little (consecutive
// clients and ports) 5 to 15 shared values, where chance gives one.
func hash4(lo, hi uint32, loPort, hiPort uint16) uint64 {
	h := mix(uint64(lo)<<32|uint64(hi)^hashSeed[0], uint64(loPort)<<16|uint64(hiPort)^hashSeed[1])
	return h ^ h>>32
}

// hashWords is the hash of a key whose addresses read as the big-endian
// words lo0 lo1 and hi0 hi1, with ports and families folded into ports.
func hashWords(lo0, lo1, hi0, hi1, ports uint64) uint64 {
	h := mix(lo0^hashSeed[0], lo1^hashSeed[1]) ^ mix(hi0^hashSeed[2], hi1^hashSeed[3])
	return mix(h^ports, hashSeed[0]^hashSeed[3])
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b^0x9e3779b97f4a7c15)
	return hi ^ lo
}

// Src returns the sender's address and port.
func (s *Segment) Src() netip.AddrPort {
	if s.SrcIsLo {
		return s.Flow.Lo.AddrPort()
	}
	return s.Flow.Hi.AddrPort()
}

// Dst returns the receiver's address and port.
func (s *Segment) Dst() netip.AddrPort {
	if s.SrcIsLo {
		return s.Flow.Hi.AddrPort()
	}
	return s.Flow.Lo.AddrPort()
}

// SetAddrs sets the sender and receiver: Flow, SrcIsLo and Hash.
func (s *Segment) SetAddrs(src, dst netip.AddrPort) {
	a, b := endpointOf(src), endpointOf(dst)
	s.setEndpoints(&a, &b)
}

func (s *Segment) setEndpoints(src, dst *Endpoint) {
	s.SrcIsLo = !dst.less(src)
	if s.SrcIsLo {
		s.Flow.Lo, s.Flow.Hi = *src, *dst
	} else {
		s.Flow.Lo, s.Flow.Hi = *dst, *src
	}
	s.Hash = s.Flow.hash()
}

// v4Mapped is the IPv4-mapped IPv6 address ::ffff:0.0.0.0.
var v4Mapped = [16]byte{10: 0xff, 11: 0xff}

// setIPv4 is setEndpoints for IPv4 addresses given as numbers: it gives the
// same key and hash, with less copying.
func (s *Segment) setIPv4(src, dst uint32, sport, dport uint16) {
	s.SrcIsLo = uint64(src)<<16|uint64(sport) <= uint64(dst)<<16|uint64(dport)
	if !s.SrcIsLo {
		src, dst, sport, dport = dst, src, dport, sport
	}
	k := &s.Flow
	k.Lo.Addr, k.Hi.Addr = v4Mapped, v4Mapped
	binary.BigEndian.PutUint32(k.Lo.Addr[12:], src)
	binary.BigEndian.PutUint32(k.Hi.Addr[12:], dst)
	k.Lo.Port, k.Hi.Port, k.Lo.Is4, k.Hi.Is4 = sport, dport, true, true
	s.Hash = hash4(src, dst, sport, dport)
}

// setIPv6 is setEndpoints for the IPv6 addresses of a header, src and
// dst: it gives the same key and hash, without building the endpoints
// first.
func (s *Segment) setIPv6(src, dst *[16]byte, sport, dport uint16) {
	be := binary.BigEndian
	s0, s1, d0, d1 := be.Uint64(src[:8]), be.Uint64(src[8:]), be.Uint64(dst[:8]), be.Uint64(dst[8:])
	s.SrcIsLo = s0 < d0 || s0 == d0 && (s1 < d1 || s1 == d1 && sport <= dport)
	if !s.SrcIsLo {
		src, dst, sport, dport = dst, src, dport, sport
		s0, s1, d0, d1 = d0, d1, s0, s1
	}
	k := &s.Flow
	k.Lo.Addr, k.Hi.Addr = *src, *dst
	k.Lo.Port, k.Hi.Port, k.Lo.Is4, k.Hi.Is4 = sport, dport, false, false
	s.Hash = hashWords(s0, s1, d0, d1, uint64(sport)<<16|uint64(dport))
}
