package anon

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
)

var testKey = []byte("hangdiag test key")

// reference maps a the slow way, straight from the package documentation.
func reference(key []byte, a netip.Addr) netip.Addr {
	in := a.AsSlice()
	family := byte(6)
	if a.Is4() {
		family = 4
	}
	out := make([]byte, len(in))
	for i := range len(in) * 8 {
		prefix := make([]byte, len(in))
		for j := range i {
			prefix[j/8] |= in[j/8] & (0x80 >> (j % 8))
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(append([]byte{family, byte(i)}, prefix...))
		flip := mac.Sum(nil)[0] >> 7
		bit := in[i/8] >> (7 - i%8) & 1
		out[i/8] |= (bit ^ flip) << (7 - i%8)
	}
	r, _ := netip.AddrFromSlice(out)
	return r
}

func randomAddr(r *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	var b [4]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(b)
}

// commonBits is the length of the longest common prefix of a and b.
func commonBits(a, b netip.Addr) int {
	x, y := a.AsSlice(), b.AsSlice()
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			return i*8 + bits.LeadingZeros8(d)
		}
	}
	return len(x) * 8
}

func TestScheme(t *testing.T) {
	m := New(testKey)
	addrs := []string{"192.0.2.10", "198.51.100.20", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::", "fe80::1"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		addrs = append(addrs, randomAddr(r, false).String(), randomAddr(r, true).String())
	}
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		if got, want := m.Addr(a), reference(testKey, a); got != want {
			t.Errorf("Addr(%v) = %v, want %v", a, got, want)
		}
	}
}

func TestConsistent(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::1")}
	m, again, other := New(testKey), New(testKey), New([]byte("another key"))
	for _, a := range addrs {
		first := m.Addr(a)
		if second := m.Addr(a); second != first {
			t.Errorf("%v maps to %v, then to %v", a, first, second)
		}
		if b := again.Addr(a); b != first {
			t.Errorf("%v maps to %v and, under the same key, to %v", a, first, b)
		}
		if o := other.Addr(a); o == first {
			t.Errorf("%v maps to %v under two keys", a, o)
		}
		if first == a {
			t.Errorf("%v maps to itself", a)
		}
	}
}

func TestPrefixPreserved(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		bits int // common prefix length of a and b
	}{
		{"same address", "192.0.2.10", "192.0.2.10", 32},
		{"neighbours", "192.0.2.10", "192.0.2.11", 31},
		{"one /24", "192.0.2.10", "192.0.2.200", 24},
		{"first bit differs", "10.0.0.1", "192.0.2.1", 0},
		{"one /17", "198.51.100.20", "198.51.36.20", 17},
		{"IPv6 /64", "2001:db8:0:1::1", "2001:db8:0:1:ffff::1", 64},
		{"IPv6 /32", "2001:db8::1", "2001:db8:8000::1", 32},
		{"IPv6 neighbours", "2001:db8::1", "2001:db8::", 127},
	}
	m := New(testKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := netip.MustParseAddr(tt.a), netip.MustParseAddr(tt.b)
			if n := commonBits(a, b); n != tt.bits {
				t.Fatalf("test case: %v and %v share %d bits, not %d", a, b, n, tt.bits)
			}
			ma, mb := m.Addr(a), m.Addr(b)
			if n := commonBits(ma, mb); n != tt.bits {
				t.Errorf("%v → %v and %v → %v share %d bits, want %d", a, ma, b, mb, n, tt.bits)
			}
		})
	}
	// Random pairs with a shared prefix of every length.
	r := rand.New(rand.NewPCG(3, 4))
	for _, v6 := range []bool{false, true} {
		a := randomAddr(r, v6)
		for n := range a.BitLen() {
			b := randomAddr(r, v6)
			p, _ := a.Prefix(n)
			bb, ab := b.AsSlice(), a.AsSlice()
			// b takes a's first n bits, and the opposite of a's bit n.
			for i := range n {
				bb[i/8] = bb[i/8]&^(0x80>>(i%8)) | ab[i/8]&(0x80>>(i%8))
			}
			bb[n/8] = bb[n/8]&^(0x80>>(n%8)) | ^ab[n/8]&(0x80>>(n%8))
			b, _ = netip.AddrFromSlice(bb)
			if !p.Contains(b) || commonBits(a, b) != n {
				t.Fatalf("test case: %v and %v share %d bits, not %d", a, b, commonBits(a, b), n)
			}
			if got := commonBits(m.Addr(a), m.Addr(b)); got != n {
				t.Errorf("%v and %v share %d bits; their stand-ins %v and %v share %d", a, b, n, m.Addr(a), m.Addr(b), got)
			}
		}
	}
}

func TestFamilies(t *testing.T) {
	m := New(testKey)
	v4 := netip.MustParseAddr("192.0.2.10")
	tests := []struct {
		name string
		in   netip.Addr
		want func(out netip.Addr) bool
	}{
		{"IPv4 stays IPv4", v4, netip.Addr.Is4},
		{"IPv6 stays IPv6", netip.MustParseAddr("2001:db8::1"), func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }},
		{"IPv4-mapped maps as IPv4", netip.AddrFrom16(v4.As16()), func(a netip.Addr) bool { return a.Is4In6() && a.Unmap() == m.Addr(v4) }},
		{"zone kept", netip.MustParseAddr("fe80::1%eth0"), func(a netip.Addr) bool {
			return a.Zone() == "eth0" && a.WithZone("") == m.Addr(netip.MustParseAddr("fe80::1"))
		}},
		{"zero address", netip.Addr{}, func(a netip.Addr) bool { return a == netip.Addr{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := m.Addr(tt.in); !tt.want(out) {
				t.Errorf("Addr(%v) = %v", tt.in, out)
			}
		})
	}
	// The families are separate mappings: 0.0.0.0 and :: are both all
	// zeros, and their stand-ins' first 32 bits differ.
	z4, z6 := m.Addr(netip.IPv4Unspecified()).As4(), m.Addr(netip.IPv6Unspecified()).As16()
	if [4]byte(z6[:4]) == z4 {
		t.Errorf("0.0.0.0 and :: map to the same first 32 bits %x", z4)
	}
}

func TestAddrPort(t *testing.T) {
	m := New(testKey)
	for _, s := range []string{"192.0.2.10:51234", "[2001:db8::1]:443"} {
		ap := netip.MustParseAddrPort(s)
		got := m.AddrPort(ap)
		if got.Port() != ap.Port() || got.Addr() != m.Addr(ap.Addr()) {
			t.Errorf("AddrPort(%v) = %v", ap, got)
		}
	}
}

func BenchmarkAddr(b *testing.B) {
	for _, v6 := range []bool{false, true} {
		name := "IPv4"
		if v6 {
			name = "IPv6"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			r := rand.New(rand.NewPCG(5, 6))
			for b.Loop() {
				New(testKey).Addr(randomAddr(r, v6))
			}
		})
	}
}
