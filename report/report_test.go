package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenCases are real captures from testdata, rendered in every format.
// Traced cases fill Report.Timelines with a second pass, as the command
// does; width is Report.Width.
var goldenCases = []struct {
	name   string
	files  []string
	cfg    analyze.Config
	traced bool
	width  int
}{
	{"long-request-nokeepalive", []string{"long-request-nokeepalive.pcap"}, analyze.Config{}, false, 0},
	{"keepalive-60s-all", []string{"long-request-keepalive-60s.pcap"}, analyze.Config{KeepAll: true}, false, 0},
	{"rotated", []string{"rotated-1.pcap", "rotated-2.pcap"}, analyze.Config{Middlebox: preset("aws-nlb")}, false, 0},
	{"lab-requests-nokeepalive-server", []string{"lab/requests-nokeepalive.server.pcap"}, analyze.Config{Idle: 5 * time.Second}, false, 0},
	{"keepalive-too-slow-traced", []string{"long-request-keepalive-60s.pcap"}, analyze.Config{Idle: 50 * time.Second}, true, 0},
	{"lab-drop-nokeepalive-server-traced", []string{"lab/drop-nokeepalive.server.pcap"}, analyze.Config{Idle: 5 * time.Second}, true, 0},
	{"lab-pool-reuse-client-traced", []string{"lab/requests-pool-reuse.client.pcap"}, analyze.Config{Idle: 5 * time.Second}, true, 0},
	{"closed-after-idle-alb", []string{"closed-after-idle.pcap"}, analyze.Config{Middlebox: preset("aws-alb")}, false, 0},
	{"hung-at-capture-end-all", []string{"long-request-keepalive-7200s.pcap"}, analyze.Config{KeepAll: true}, false, 0},
	{"ipv6-width80", []string{"ipv6.pcap"}, analyze.Config{}, true, 80},
	{"vlan-two-flows", []string{"vlan.pcap"}, analyze.Config{}, false, 0},
}

func preset(name string) *analyze.Middlebox {
	m, _ := analyze.LookupMiddlebox(name)
	return m
}

// buildTraced analyses capture files like build, then reads them again
// tracing every flagged flow into Report.Timelines.
func buildTraced(t *testing.T, cfg analyze.Config, files ...string) *Report {
	t.Helper()
	r := build(t, cfg, files...)
	cfg.TraceFlows = map[int]bool{}
	for _, fl := range r.Result.Flows.All() {
		if len(fl.Findings) > 0 {
			cfg.TraceFlows[fl.Index] = true
		}
	}
	traced := packetLists{}
	r.Timelines = traced
	cfg.Trace = func(i int, p analyze.Packet) { traced[i] = append(traced[i], p) }
	build(t, cfg, files...)
	return r
}

// packetLists is Timelines kept as lists of packets, by flow Index.
type packetLists map[int][]analyze.Packet

func (l packetLists) Packets(flow int) []analyze.Packet { return l[flow] }

// build analyses capture files from testdata/pcaps into a Report.
func build(t *testing.T, cfg analyze.Config, files ...string) *Report {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join("..", "testdata", "pcaps", f))
	}
	r, err := analyzeCaptures(cfg, paths...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// analyzeCaptures analyses capture files into a Report, reading them in
// batches as the command does.
func analyzeCaptures(cfg analyze.Config, paths ...string) (*Report, error) {
	src, err := pcapio.Open(paths...)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	a := analyze.New(cfg)
	for batch := src.NextBatch(); len(batch) > 0; batch = src.NextBatch() {
		a.AddBatch(batch)
	}
	st := src.Stats()
	return &Report{Files: src.Files(), Capture: st, Result: a.Finish(time.Unix(0, st.Last))}, nil
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		r := build(t, tc.cfg, tc.files...)
		if tc.traced {
			r = buildTraced(t, tc.cfg, tc.files...)
		}
		r.Width = tc.width
		for _, format := range FormatNames() {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Formats[format](&buf, r); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", tc.name+"."+format)
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./report -update)", err)
				}
				if diff := cmp.Diff(string(want), buf.String()); diff != "" {
					t.Errorf("%s differs (-want +got); if intended, run go test ./report -update:\n%s", golden, diff)
				}
			})
		}
	}
}

// TestJSONContract pins the field names DESIGN.md promises, and the type
// of each: they may gain siblings, never lose, rename or retype one.
// contractShape is DESIGN.md's example, its values standing for types:
// a string, a number, a boolean, an object with at least those keys, an
// array whose items are of its first item's type (an empty array, of any),
// and null for a number or null.
func TestJSONContract(t *testing.T) {
	const contractShape = `{
	  "schema": "hangdiag.report/v1",
	  "idle_threshold_seconds": 350,
	  "capture": {"files": ["a.pcap"], "first_packet": "RFC3339Nano", "last_packet": "...",
	              "packets": 0, "tcp_packets": 0, "link_types": ["EN10MB"], "skipped_packets": 0,
	              "warnings": []},
	  "flows": [{
	      "client": "10.0.0.1:51234", "server": "[2001:db8::1]:443", "index": 0,
	      "first_seen": "...", "last_seen": "...", "handshake_seen": true,
	      "state": "open|closed|reset", "packets": 0, "bytes": {"client": 0, "server": 0},
	      "max_gap_seconds": 0.0, "idle_at_end_seconds": 0.0,
	      "keepalive": {"client": {"probes": 0, "acks": 0, "interval_seconds": null},
	                    "server": {"probes": 0, "acks": 0, "interval_seconds": null}},
	      "findings": [{"kind": "reset-after-idle", "severity": "error|warning|info",
	                    "at": "...", "gap_seconds": 0.0, "message": "plain English", "evidence": {}}]
	  }],
	  "inference": {"timeout_survived_seconds": null, "timeout_fatal_seconds": null, "matches": []}
	}`
	var shape any
	if err := json.Unmarshal([]byte(contractShape), &shape); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"long-request-nokeepalive.pcap", "long-request-keepalive-60s.pcap"} {
		r := build(t, analyze.Config{KeepAll: true}, name)
		var buf bytes.Buffer
		if err := JSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc["schema"] != Schema {
			t.Errorf("schema = %v", doc["schema"])
		}
		if flows, _ := doc["flows"].([]any); len(flows) == 0 {
			t.Fatalf("%s: no flows", name)
		}
		matchShape(t, name, doc, shape)
		capture, _ := doc["capture"].(map[string]any)
		files, _ := capture["files"].([]any)
		if len(files) != 1 || !strings.HasSuffix(fmt.Sprint(files[0]), "/"+name) {
			t.Errorf("%s: capture.files = %v, want its name alone", name, files)
		}
	}
}

func requireKeys(t *testing.T, where string, v any, keys ...string) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", where, v)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q", where, k)
		}
	}
}

// matchShape reports where v is not of shape's type (see TestJSONContract).
func matchShape(t *testing.T, where string, v, shape any) {
	t.Helper()
	switch sh := shape.(type) {
	case nil:
		if _, ok := v.(float64); !ok && v != nil {
			t.Errorf("%s is %T, want a number or null", where, v)
		}
	case map[string]any:
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s is %T, want an object", where, v)
			return
		}
		for k, kshape := range sh {
			kv, ok := m[k]
			if !ok {
				t.Errorf("%s lacks %q", where, k)
				continue
			}
			matchShape(t, where+"."+k, kv, kshape)
		}
	case []any:
		a, ok := v.([]any)
		if !ok {
			t.Errorf("%s is %T, want an array", where, v)
			return
		}
		if len(sh) > 0 {
			for i, item := range a {
				matchShape(t, fmt.Sprintf("%s[%d]", where, i), item, sh[0])
			}
		}
	default:
		if fmt.Sprintf("%T", v) != fmt.Sprintf("%T", shape) {
			t.Errorf("%s is %T, want %T", where, v, shape)
		}
	}
}

func TestWrap(t *testing.T) {
	var buf bytes.Buffer
	wrapTo(&buf, textWidth, "  ", strings.Repeat("word ", 40))
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if len(line) > textWidth || !strings.HasPrefix(line, "  word") {
			t.Errorf("bad line %q", line)
		}
	}
}

// TestWiresharkFilter checks the display filter of flows of each address
// family, IPv4 mapped into IPv6 (which Wireshark shows as IPv4) and
// scoped IPv6 among them, at the ends of the port range.
func TestWiresharkFilter(t *testing.T) {
	for _, tc := range []struct{ client, server, want string }{
		{"192.0.2.1:54000", "198.51.100.2:443", "ip.addr==192.0.2.1 && tcp.port==54000 && ip.addr==198.51.100.2 && tcp.port==443"},
		{"[2001:db8::1]:0", "[2001:db8::2]:65535", "ipv6.addr==2001:db8::1 && tcp.port==0 && ipv6.addr==2001:db8::2 && tcp.port==65535"},
		{"[::ffff:192.0.2.1]:1", "[::ffff:192.0.2.2]:2", "ip.addr==::ffff:192.0.2.1 && tcp.port==1 && ip.addr==::ffff:192.0.2.2 && tcp.port==2"},
		{"[fe80::1%eth0]:80", "[fe80::2%eth0]:8080", "ipv6.addr==fe80::1%eth0 && tcp.port==80 && ipv6.addr==fe80::2%eth0 && tcp.port==8080"},
	} {
		f := analyze.Flow{Client: netip.MustParseAddrPort(tc.client), Server: netip.MustParseAddrPort(tc.server)}
		if got := WiresharkFilter(&f); got != tc.want {
			t.Errorf("%s → %s: %q, want %q", tc.client, tc.server, got, tc.want)
		}
	}
}

// TestNotListed checks the words for the gaps and findings a flow's lists
// leave out, in each of their forms.
func TestNotListed(t *testing.T) {
	slow, silent := analyze.KeepaliveTooSlow, analyze.SilentPastTimeout
	for _, tc := range []struct {
		gaps     int
		findings map[analyze.Kind]int
		want     string
	}{
		{0, nil, ""},
		{1, nil, "1 long gap"},
		{0, map[analyze.Kind]int{slow: 1}, "1 keepalive-too-slow finding"},
		{2, map[analyze.Kind]int{slow: 2}, "2 long gaps and 2 keepalive-too-slow findings"},
		{22, map[analyze.Kind]int{silent: 22, slow: 1}, "22 long gaps, 1 keepalive-too-slow and 22 silent-past-timeout findings"},
	} {
		if got := notListed(tc.gaps, tc.findings); got != tc.want {
			t.Errorf("notListed(%d, %v) = %q, want %q", tc.gaps, tc.findings, got, tc.want)
		}
	}
}

// TestNoTCPWireless checks that a capture with no TCP says why when its
// frames are 802.11: a protected network's data frames are encrypted.
func TestNoTCPWireless(t *testing.T) {
	for _, tt := range []struct {
		link uint16
		hint bool
	}{
		{pcapio.LinkRadiotap, true},
		{pcapio.LinkIEEE80211, true},
		{pcapio.LinkPPI, true},
		{pcapio.LinkEthernet, false},
	} {
		r := &Report{Capture: pcapio.Stats{Packets: 5, Links: []pcapio.LinkCount{{LinkType: tt.link, Packets: 5}}}}
		r.Capture.Skipped[pcapio.NotIP] = 5
		ws := strings.Join(r.Warnings(), "\n")
		if !strings.Contains(ws, "no TCP segment in 5 packets (5 not IP)") {
			t.Errorf("link %d: no word of the missing TCP:\n%s", tt.link, ws)
		}
		if got := strings.Contains(ws, "protected wireless network"); got != tt.hint {
			t.Errorf("link %d: wireless hint %v, want %v:\n%s", tt.link, got, tt.hint, ws)
		}
	}
}

// TestSpanAndEnd checks that the reports for people give the span from the
// first packet to the last with its own length, and the capture end apart
// when it came later (--capture-end, a live capture stopped after a quiet
// spell): the span once gave the first and last packets' times with the
// length up to the end.
func TestSpanAndEnd(t *testing.T) {
	const span = "2024-03-01 12:00:00.000 – 2024-03-01 12:16:00.020 UTC (960.021 s)"
	const end = "2024-03-01 12:30:00.000 UTC, 839.979 s after the last packet"
	for _, format := range []string{"table", "markdown", "html"} {
		for _, later := range []bool{false, true} {
			r := build(t, analyze.Config{}, "long-request-nokeepalive.pcap")
			if later {
				r.Result.CaptureEnd = time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
			}
			var buf bytes.Buffer
			if err := Formats[format](&buf, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if !strings.Contains(out, span) {
				t.Errorf("%s, end later %v: no span %q", format, later, span)
			}
			if strings.Contains(out, end) != later {
				t.Errorf("%s, end later %v: capture end given %v", format, later, !later)
			}
		}
	}
}
