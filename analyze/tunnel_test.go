package analyze_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// TestTunnelCopiesCountOnce analyses a capture that holds each packet of
// testdata's mirror session twice, as a host that terminates the tunnel
// sees it: in VXLAN on the wire, then unwrapped 10 µs later. The copies
// are the same packet: the flow has the mirror's 7 packets, the other 7
// are counted as duplicates, and the findings are those of the mirror
// alone.
func TestTunnelCopiesCountOnce(t *testing.T) {
	const outer = 14 + 20 + 8 + 8 // Ethernet, IPv4, UDP, VXLAN
	copiesCountOnce(t, func(r pcapio.Raw) []pcapio.Raw {
		inner := r
		inner.Nanos += int64(10 * time.Microsecond)
		inner.Data, inner.WireLen = r.Data[outer:], r.WireLen-outer
		return []pcapio.Raw{r, inner}
	})
}

// TestServiceChainCopiesCountOnce does the same with the mirror's packets
// captured at two hops of a service function chain, in NSH with the
// service index lowered at the second, and with IPv4 IDs of 0 (as Linux
// sends with DF set): no header but the service index tells the two
// copies apart from a packet sent twice.
func TestServiceChainCopiesCountOnce(t *testing.T) {
	const outer = 14 + 20 + 8 + 8
	eth := func(ethType uint16, payload []byte) []byte {
		return append(append(make([]byte, 12), byte(ethType>>8), byte(ethType)), payload...)
	}
	hop := func(r pcapio.Raw, index byte, inner []byte) pcapio.Raw {
		nsh := []byte{0x0f, 0xc2, 0x02, 0x03, 0, 0, 0x2a, index} // version 0, 2 words, type 2, Ethernet next; path 42
		r.Data = eth(0x894f, append(nsh, inner...))
		r.WireLen = uint32(len(r.Data))
		return r
	}
	copiesCountOnce(t, func(r pcapio.Raw) []pcapio.Raw {
		inner := bytes.Clone(r.Data[outer:])
		inner[14+4], inner[14+5] = 0, 0 // the IPv4 ID
		second := hop(r, 254, inner)
		second.Nanos += int64(10 * time.Microsecond)
		return []pcapio.Raw{hop(r, 255, inner), second}
	})
}

// copiesCountOnce analyses testdata's mirror session with each packet
// turned by copies into two, and checks that the flow and its findings
// are the mirror's, and that the second copy of each of its 7 packets is
// counted as a duplicate.
func copiesCountOnce(t *testing.T, copies func(pcapio.Raw) []pcapio.Raw) {
	t.Helper()
	path := filepath.Join("..", "testdata", "pcaps", "vxlan-mirror.pcap")
	src, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := pcapio.NewWriter(&buf, pcapio.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	var seg pcapio.Segment
	for src.Next(&seg) {
		r, _ := src.Raw()
		for _, p := range copies(r) {
			if err := w.WritePacket(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	src.Close()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	both, err := pcapio.NewReader("both", &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	a := analyze.New(analyze.Config{Idle: 350 * time.Second})
	for both.Next(&seg) {
		a.Add(&seg)
	}
	r := a.Finish(time.Time{})
	mirror, _ := analyzeFile(t, path, 350*time.Second, nil)
	if r.Stats.Duplicates != 7 || r.Flows.Len() != 1 {
		t.Fatalf("%d duplicates, %d flows flagged; want 7 and 1", r.Stats.Duplicates, r.Flows.Len())
	}
	f, want := r.Flows.At(0), mirror.Flows.At(0)
	if f.Packets != want.Packets || len(f.Findings) != len(want.Findings) {
		t.Fatalf("%d packets and %d findings; the mirror alone has %d and %d", f.Packets, len(f.Findings), want.Packets, len(want.Findings))
	}
	for i := range f.Findings {
		if f.Findings[i].Kind != want.Findings[i].Kind || f.Findings[i].Gap != want.Findings[i].Gap {
			t.Errorf("finding %d: %s after %v; the mirror alone: %s after %v", i, f.Findings[i].Kind, f.Findings[i].Gap, want.Findings[i].Kind, want.Findings[i].Gap)
		}
	}
}
