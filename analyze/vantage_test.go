package analyze_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// analyzeFile runs an analysis over one capture; with trace set, it
// collects the packets of the flows named.
func analyzeFile(t *testing.T, path string, idle time.Duration, trace map[int]bool) (*analyze.Result, map[int][]analyze.Packet) {
	t.Helper()
	src, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	packets := map[int][]analyze.Packet{}
	cfg := analyze.Config{KeepAll: true, Idle: idle}
	if trace != nil {
		cfg.TraceFlows = trace
		cfg.Trace = func(i int, p analyze.Packet) { packets[i] = append(packets[i], p) }
	}
	a := analyze.New(cfg)
	var seg pcapio.Segment
	for src.Next(&seg) {
		a.Add(&seg)
	}
	return a.Finish(time.Time{}), packets
}

func TestCompareVantages(t *testing.T) {
	lab := filepath.Join("..", "testdata", "pcaps", "lab")
	tests := []struct {
		scenario string
		want     []string // substrings of the discrepancy messages, in order
	}{
		// The client's FIN at 12 s and the RST it met come after the
		// server capture's last packet, so they cannot be judged.
		{"requests-nokeepalive", []string{
			"The server sent 140 bytes of data", "the client never received it",
			"A RST carrying the client's address reached the server", "0.102 ms after the server's 140 bytes", "the client never sent it",
		}},
		{"requests-keepalive", nil},
		// Through NAT: the client talks to 203.0.113.10:80, the server
		// sees 198.51.100.1:200xx; the ISNs tie the two together.
		{"nat-requests-nokeepalive", []string{
			"The server sent 140 bytes of data", "the client never received it",
			"A RST carrying the client's address reached the server", "the client never sent it",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			files := [2]string{filepath.Join(lab, tt.scenario+".client.pcap"), filepath.Join(lab, tt.scenario+".server.pcap")}
			var results [2]*analyze.Result
			for i, f := range files {
				results[i], _ = analyzeFile(t, f, 5*time.Second, nil)
			}
			pairs := analyze.MatchFlows(results[0], results[1])
			if len(pairs) != 1 {
				t.Fatalf("matched %d flows, want 1", len(pairs))
			}
			wantBy := "4-tuple"
			if strings.HasPrefix(tt.scenario, "nat-") {
				wantBy = "initial sequence numbers"
			}
			if pairs[0].MatchedBy != wantBy {
				t.Errorf("matched by %s, want %s", pairs[0].MatchedBy, wantBy)
			}
			var v [2]analyze.Vantage
			for i, f := range files {
				r, packets := analyzeFile(t, f, 5*time.Second, map[int]bool{pairs[0].Index[i]: true})
				v[i] = analyze.Vantage{Name: filepath.Base(f), Packets: packets[pairs[0].Index[i]], CaptureEnd: r.CaptureEnd}
			}
			c := analyze.Compare(pairs[0], v)
			if c.Near != [2]int{0, 1} {
				t.Errorf("near = %v (%s), want the client capture nearer the client", c.Near, c.NearBy)
			}
			var msgs []string
			for _, d := range c.Discrepancies {
				msgs = append(msgs, d.Message)
			}
			all := strings.Join(msgs, "\n")
			rest := all
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("discrepancies lack %q (in order):\n%s", w, all)
				}
				rest = rest[i+len(w):]
			}
			if tt.want == nil && len(msgs) > 0 {
				t.Errorf("discrepancies in a healthy flow:\n%s", all)
			}
		})
	}
}

// TestMatchFlowsPrefersTuples: the router sees the NATed connection twice,
// once per side, with the same ISNs; each other capture pairs with the flow
// of its own addresses, and no flow is paired twice.
func TestMatchFlowsPrefersTuples(t *testing.T) {
	lab := filepath.Join("..", "testdata", "pcaps", "lab")
	router, _ := analyzeFile(t, filepath.Join(lab, "nat-requests-nokeepalive.router.pcap"), 5*time.Second, nil)
	for _, end := range []string{"client", "server"} {
		other, _ := analyzeFile(t, filepath.Join(lab, "nat-requests-nokeepalive."+end+".pcap"), 5*time.Second, nil)
		pairs := analyze.MatchFlows(other, router)
		if len(pairs) != 1 || pairs[0].MatchedBy != "4-tuple" {
			t.Errorf("%s vs router: pairs %+v, want one by 4-tuple", end, pairs)
		}
		pairs = analyze.MatchFlows(router, other)
		if len(pairs) != 1 || pairs[0].MatchedBy != "4-tuple" {
			t.Errorf("router vs %s: pairs %+v, want one by 4-tuple", end, pairs)
		}
	}
}

// TestCompareNamesHandshake checks how discrepancies name handshake
// packets: a SYN-ACK is one, and "the server's" takes no article.
func TestCompareNamesHandshake(t *testing.T) {
	at := func(ms int) time.Time { return time.Date(2024, 3, 1, 12, 0, 0, ms*int(time.Millisecond), time.UTC) }
	pkt := func(ms int, side analyze.Side, kind analyze.PacketKind, flags, ttl uint8, frame uint64) analyze.Packet {
		return analyze.Packet{PacketRef: analyze.PacketRef{Frame: frame, Time: at(ms), Side: side, Kind: kind, What: string(kind)}, Flags: flags, TTL: ttl}
	}
	near := []analyze.Packet{ // at the client
		pkt(0, analyze.Client, analyze.PacketSyn, pcapio.SYN, 64, 1),
		pkt(10, analyze.Server, analyze.PacketSyn, pcapio.SYN|pcapio.ACK, 60, 2),
	}
	far := []analyze.Packet{ // at the server, where a RST followed its SYN-ACK
		pkt(5, analyze.Client, analyze.PacketSyn, pcapio.SYN, 63, 1),
		pkt(6, analyze.Server, analyze.PacketSyn, pcapio.SYN|pcapio.ACK, 61, 2),
		pkt(7, analyze.Client, analyze.PacketRst, pcapio.RST, 63, 3),
	}
	c := analyze.Compare(analyze.FlowPair{}, [2]analyze.Vantage{{Name: "client.pcap", Packets: near, CaptureEnd: at(1000)}, {Name: "server.pcap", Packets: far, CaptureEnd: at(1000)}})
	if len(c.Discrepancies) != 1 {
		t.Fatalf("%d discrepancies, want the RST", len(c.Discrepancies))
	}
	if msg := c.Discrepancies[0].Message; !strings.Contains(msg, "1.0 ms after the server's SYN-ACK;") {
		t.Errorf("message does not name the SYN-ACK the RST followed: %s", msg)
	}
}
