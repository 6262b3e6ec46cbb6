package anon

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"net/netip"
)

// Mapper maps addresses to their stand-ins under one key. It remembers
// every address it has mapped. A Mapper is not safe for concurrent use.
type Mapper struct {
	mac   hash.Hash
	in    [2 + 16]byte // family, bit index, prefix
	sum   []byte
	cache map[netip.Addr]netip.Addr
}

// New returns a Mapper keyed by key. The key is copied; any length works,
// and 32 random bytes are plenty.
func New(key []byte) *Mapper {
	return &Mapper{mac: hmac.New(sha256.New, key), cache: make(map[netip.Addr]netip.Addr)}
}

// Addr returns the stand-in for a: an address of the same family, the
// same one every time a is given. The zero Addr maps to itself.
func (m *Mapper) Addr(a netip.Addr) netip.Addr {
	switch {
	case !a.IsValid():
		return a
	case a.Is4In6():
		return netip.AddrFrom16(m.Addr(a.Unmap()).As16()).WithZone(a.Zone())
	}
	zone := a.Zone()
	a = a.WithZone("")
	out, ok := m.cache[a]
	if !ok {
		if a.Is4() {
			b := a.As4()
			m.permute(4, b[:])
			out = netip.AddrFrom4(b)
		} else {
			b := a.As16()
			m.permute(6, b[:])
			out = netip.AddrFrom16(b)
		}
		m.cache[a] = out
	}
	return out.WithZone(zone)
}

// AddrPort returns ap with its address replaced by the stand-in; the port
// is kept.
func (m *Mapper) AddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(m.Addr(ap.Addr()), ap.Port())
}

// permute turns b, the bytes of an address of the given family, into its
// stand-in, one bit at a time from the most significant.
func (m *Mapper) permute(family byte, b []byte) {
	var orig [16]byte
	copy(orig[:], b)
	prefix := m.in[2 : 2+len(b)]
	clear(prefix)
	m.in[0] = family
	for i := range len(b) * 8 {
		bit := byte(0x80) >> (i % 8)
		m.in[1] = byte(i)
		m.mac.Reset()
		m.mac.Write(m.in[:2+len(b)])
		m.sum = m.mac.Sum(m.sum[:0])
		if m.sum[0]&0x80 != 0 {
			b[i/8] ^= bit
		}
		prefix[i/8] |= orig[i/8] & bit
	}
}
