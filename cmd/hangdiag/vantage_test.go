package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/internal/capgen"
	"github.com/hangdiag/hangdiag/pcapio"
)

func TestVantage(t *testing.T) {
	lab := filepath.Join(repoRoot, "testdata/pcaps/lab")
	tests := []struct {
		scenario  string
		matchedBy string
		vanished  []string // kinds of the packets that vanished
		forged    []string // kinds of the packets forged between the points
	}{
		{"requests-nokeepalive", "4-tuple", []string{"data"}, []string{"rst"}},
		{"nat-requests-nokeepalive", "initial sequence numbers", []string{"data"}, []string{"rst"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"analyze", "--idle", "5s", "--vantage", "--format", "json",
				filepath.Join(lab, tt.scenario+".client.pcap"), filepath.Join(lab, tt.scenario+".server.pcap")}
			if err := run(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			var doc struct {
				Schema      string `json:"schema"`
				Points      []any  `json:"vantage_points"`
				Connections []struct {
					MatchedBy     string `json:"matched_by"`
					NearClient    string `json:"near_client"`
					Discrepancies []struct {
						Kind     string `json:"kind"`
						Vanished bool   `json:"vanished"`
						Forged   bool   `json:"forged"`
						SeenAt   string `json:"seen_at"`
					} `json:"discrepancies"`
				} `json:"connections"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Schema != "hangdiag.vantage/v1" || len(doc.Points) != 2 || len(doc.Connections) != 1 {
				t.Fatalf("schema %q, %d points, %d connections", doc.Schema, len(doc.Points), len(doc.Connections))
			}
			c := doc.Connections[0]
			if c.MatchedBy != tt.matchedBy || !strings.HasSuffix(c.NearClient, ".client.pcap") {
				t.Errorf("matched by %q, near client %q", c.MatchedBy, c.NearClient)
			}
			var vanished, forged []string
			for _, d := range c.Discrepancies {
				if !strings.HasSuffix(d.SeenAt, ".server.pcap") {
					t.Errorf("discrepancy seen at %s, want the server capture", d.SeenAt)
				}
				if d.Vanished {
					vanished = append(vanished, d.Kind)
				}
				if d.Forged {
					forged = append(forged, d.Kind)
				}
			}
			if strings.Join(vanished, ",") != strings.Join(tt.vanished, ",") || strings.Join(forged, ",") != strings.Join(tt.forged, ",") {
				t.Errorf("vanished %v, forged %v; want %v and %v", vanished, forged, tt.vanished, tt.forged)
			}
		})
	}
}

func TestVantageUsage(t *testing.T) {
	one := filepath.Join(repoRoot, "testdata/pcaps/clean.pcap")
	for name, args := range map[string][]string{
		"one capture":  {"analyze", "--vantage", one},
		"three":        {"analyze", "--vantage", one, one, one},
		"no such form": {"analyze", "--vantage", "--format", "csv", one, one},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if status := exitStatus(err, &bytes.Buffer{}); status != exitUsage {
			t.Errorf("%s: status %d (%v), want %d", name, status, err, exitUsage)
		}
	}
}

// TestVantageLongFlow compares a connection of 12,000 data segments seen
// at two points, one of which never saw the 3,000th: that segment, and it
// alone, vanished.
func TestVantageLongFlow(t *testing.T) {
	c := capgen.New(capgen.Config{Client: netip.MustParseAddrPort("192.0.2.1:40000"), Server: netip.MustParseAddrPort("198.51.100.1:80")})
	c.Handshake(0, time.Millisecond, 2*time.Millisecond)
	for i := range 12000 {
		c.Send(capgen.Client, 3*time.Millisecond+time.Duration(i)*time.Millisecond, 100)
	}
	near := c.Packets()
	var far []capgen.Packet
	for i, p := range near {
		if i != 3+2999 { // the handshake's three, then the 3,000th segment
			far = append(far, capgen.Forward(p, 5*time.Millisecond))
		}
	}
	dir := t.TempDir()
	var paths []string
	for i, pkts := range [][]capgen.Packet{near, far} {
		recs := capgen.Link{Type: capgen.LinkEthernet}.Records(0, pkts)
		paths = append(paths, writeCapture(t, dir, []string{"client.pcap", "server.pcap"}[i], func(w io.Writer) error {
			return capgen.WritePcap(w, capgen.LinkEthernet, recs, nil)
		}))
	}
	conns, d := vantageDiscrepancies(t, paths[0], paths[1])
	if conns != 1 {
		t.Fatalf("%d connections, want 1", conns)
	}
	if len(d) != 1 || !strings.Contains(d[0], "vanished") {
		t.Errorf("%d discrepancies, want the one segment that vanished: %q", len(d), d)
	}
}

// vantageDiscrepancies compares two captures with --vantage --all and
// returns how many connections it compared and its discrepancies' messages.
func vantageDiscrepancies(t *testing.T, a, b string) (int, []string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--vantage", "--all", "--format", "json", a, b}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var doc struct {
		Connections []struct {
			Discrepancies []struct {
				Message string `json:"message"`
			} `json:"discrepancies"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, c := range doc.Connections {
		for _, d := range c.Discrepancies {
			found = append(found, d.Message)
		}
	}
	return len(doc.Connections), found
}

// TestVantageLongFlowCorpus does what TestVantageLongFlow does on a real
// capture: a telnet session of the corpus, whose longest connection holds
// more than 10,000 packets, against a copy of its TCP packets without
// that connection's 3,000th data segment. That segment, and it alone, is
// a discrepancy, named by its frame in the original.
func TestVantageLongFlowCorpus(t *testing.T) {
	orig := filepath.Join(corpusDir, "zeek__contentline__nvt-line-limit-crlf-heap-buffer-overflow.pcap.gz")
	src, err := pcapio.Open(orig)
	if err != nil {
		t.Skipf("no corpus capture beside the repository: %v", err)
	}
	var raws []pcapio.Raw
	var segs []pcapio.Segment
	count := map[pcapio.FlowKey]int{}
	var seg pcapio.Segment
	for src.Next(&seg) {
		r, _ := src.Raw()
		r.Data = bytes.Clone(r.Data)
		raws, segs = append(raws, r), append(segs, seg)
		count[seg.Flow]++
	}
	src.Close()
	longest := slices.MaxFunc(slices.Collect(maps.Keys(count)), func(a, b pcapio.FlowKey) int { return cmp.Compare(count[a], count[b]) })
	if count[longest] <= 10000 {
		t.Fatalf("its longest connection has %d packets; the test needs more than 10,000", count[longest])
	}
	drop, data := -1, 0
	for i := range segs {
		if segs[i].Flow == longest && segs[i].PayloadLen > 0 {
			if data++; data == 3000 {
				drop = i
				break
			}
		}
	}
	if drop < 0 {
		t.Fatal("the longest connection has fewer than 3,000 data segments")
	}
	copied := writeCapture(t, t.TempDir(), "copy.pcap", func(out io.Writer) error {
		w, err := pcapio.NewWriter(out, raws[0].LinkType)
		if err != nil {
			return err
		}
		for i, r := range raws {
			if i != drop {
				if err := w.WritePacket(r); err != nil {
					return err
				}
			}
		}
		return w.Flush()
	})
	_, found := vantageDiscrepancies(t, orig, copied)
	frame := fmt.Sprintf("frame %d)", segs[drop].Frame)
	if len(found) != 1 || !strings.Contains(found[0], frame) {
		t.Errorf("%d discrepancies, want the one segment left out (%s): %q", len(found), frame, found)
	}
}
