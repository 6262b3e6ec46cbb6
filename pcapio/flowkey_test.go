package pcapio

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestFlowKey checks that both directions of a connection share one key
// and hash, that the sender is named right, and that the IPv4 and IPv6
// fast paths agree with the general one, over random addresses and ports
// that are often equal.
func TestFlowKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() (uint32, uint16) { return 0xc0000200 | rng.Uint32N(4), uint16(rng.IntN(3)) + 79 }
	for range 2000 {
		a, ap := pick()
		b, bp := pick()
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), ap)
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)}), bp)
		var there, back, fast Segment
		there.SetAddrs(src, dst)
		back.SetAddrs(dst, src)
		fast.setIPv4(a, b, ap, bp)
		if there.Flow != back.Flow || there.Hash != back.Hash {
			t.Fatalf("%v > %v and back have keys %v, %v", src, dst, there.Flow, back.Flow)
		}
		if src != dst && there.SrcIsLo == back.SrcIsLo {
			t.Fatalf("%v > %v: both directions say SrcIsLo %v", src, dst, there.SrcIsLo)
		}
		if there.Src() != src || there.Dst() != dst || back.Src() != dst {
			t.Fatalf("%v > %v reads back as %v > %v", src, dst, there.Src(), there.Dst())
		}
		if fast.Flow != there.Flow || fast.Hash != there.Hash || fast.SrcIsLo != there.SrcIsLo {
			t.Fatalf("%v > %v: IPv4 path gives %+v, general path %+v", src, dst, fast, there)
		}
	}
	// The IPv6 path, over addresses that share their first or all 8-byte
	// words, IPv4-mapped ones among them, and ports that are often equal.
	words := []uint64{0x20010db800000000, 0x20010db800000001, 0xffff, 0xffffc0000201, 0xffffc0000202, 1<<63 + 5}
	for range 4000 {
		var a, b [16]byte
		binary.BigEndian.PutUint64(a[:8], words[rng.IntN(2)])
		binary.BigEndian.PutUint64(a[8:], words[2+rng.IntN(4)])
		binary.BigEndian.PutUint64(b[:8], words[rng.IntN(2)])
		binary.BigEndian.PutUint64(b[8:], words[2+rng.IntN(4)])
		ap, bp := uint16(rng.IntN(3))+79, uint16(rng.IntN(3))+79
		src, dst := Endpoint{Addr: a, Port: ap}, Endpoint{Addr: b, Port: bp}
		var general, fast Segment
		general.setEndpoints(&src, &dst)
		fast.setIPv6(&a, &b, ap, bp)
		if fast.Flow != general.Flow || fast.Hash != general.Hash || fast.SrcIsLo != general.SrcIsLo {
			t.Fatalf("%v > %v: IPv6 path gives %+v, general path %+v", src, dst, fast, general)
		}
	}
	var v4, v6 Segment
	v4.SetAddrs(netip.MustParseAddrPort("192.0.2.1:80"), netip.MustParseAddrPort("192.0.2.2:80"))
	v6.SetAddrs(netip.MustParseAddrPort("[::ffff:192.0.2.1]:80"), netip.MustParseAddrPort("[::ffff:192.0.2.2]:80"))
	if v4.Flow == v6.Flow {
		t.Error("an IPv4 flow and its IPv4-mapped IPv6 twin share a key")
	}
	if got := v6.Src().String(); got != "[::ffff:192.0.2.1]:80" {
		t.Errorf("IPv4-mapped IPv6 source reads back as %s", got)
	}
}

// TestFlowKeyEqual checks Equal against == on keys that differ from a base
// key in one field, or in none.
func TestFlowKeyEqual(t *testing.T) {
	var s Segment
	s.SetAddrs(netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:443"))
	base := s.Flow
	changes := []func(k *FlowKey){
		func(k *FlowKey) {},
		func(k *FlowKey) { k.Lo.Addr[0]++ },
		func(k *FlowKey) { k.Lo.Addr[15]++ },
		func(k *FlowKey) { k.Hi.Addr[3]++ },
		func(k *FlowKey) { k.Hi.Addr[9]++ },
		func(k *FlowKey) { k.Lo.Port++ },
		func(k *FlowKey) { k.Hi.Port++ },
		func(k *FlowKey) { k.Lo.Is4 = true },
		func(k *FlowKey) { k.Hi.Is4 = true },
	}
	for i, change := range changes {
		k := base
		change(&k)
		if k.Equal(&base) != (k == base) || base.Equal(&k) != (k == base) {
			t.Errorf("change %d: Equal says %v, == says %v", i, k.Equal(&base), k == base)
		}
	}
}

// TestFlowHashSpread checks that the hashes of many IPv4 and IPv6 flows
// that differ little (consecutive clients, ports, one server) spread
// evenly over the low bits a flow table indexes by, and over the 32 bits
// it keeps beside each flow.
func TestFlowHashSpread(t *testing.T) {
	const flows, buckets = 1 << 16, 1 << 10
	for _, family := range []string{"IPv4", "IPv6"} {
		var load [buckets]int
		tags := map[uint32]bool{}
		for i := range flows {
			var s Segment
			cli := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i >> 4)})
			srv := netip.MustParseAddr("192.0.2.1")
			if family == "IPv6" {
				cli = netip.AddrFrom16([16]byte{0: 0xfd, 14: byte(i >> 8), 15: byte(i >> 4)})
				srv = netip.MustParseAddr("2001:db8::1")
			}
			s.SetAddrs(netip.AddrPortFrom(cli, 40000+uint16(i&15)), netip.AddrPortFrom(srv, 443))
			load[s.Hash%buckets]++
			tags[uint32(s.Hash)] = true
		}
		if most := slices.Max(load[:]); most > 3*flows/buckets {
			t.Errorf("%s: a bucket of %d holds %d of %d hashes, more than 3 times its share", family, buckets, most, flows)
		}
		if len(tags) < flows-4 {
			t.Errorf("%s: %d flows share %d values of the hash's low 32 bits", family, flows, len(tags))
		}
	}
}
