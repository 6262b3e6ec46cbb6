package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/hangdiag/hangdiag/analyze"
)

// render runs one renderer over r.
func render(t *testing.T, format string, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Formats[format](&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// externalRef matches anything a browser would fetch from elsewhere.
var externalRef = regexp.MustCompile(`(?i)(\b(src|href|xlink:href|action|poster|srcset)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import|<script|<link|<iframe|<object|<embed)`)

func TestHTMLSelfContained(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.cfg, tc.files...)
			page := render(t, "html", r)
			if m := externalRef.FindString(page); m != "" {
				t.Errorf("the page loads or runs something: %q", m)
			}
			if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "</html>") {
				t.Error("not a complete HTML document")
			}
			if r.FlaggedFlows() > 0 && strings.Count(page, "<svg viewBox=\"0 0 1160") != r.FlaggedFlows() {
				t.Errorf("want one timeline per flagged flow (%d)", r.FlaggedFlows())
			}
		})
	}
}

func TestHTMLEscapes(t *testing.T) {
	r := build(t, analyze.Config{}, "long-request-nokeepalive.pcap")
	r.Files[0].Name = `<script>alert("x")</script>.pcap`
	page := render(t, "html", r)
	if strings.Contains(page, "<script>") {
		t.Error("a file name reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Error("the file name is missing")
	}
	md := render(t, "markdown", r)
	if !strings.Contains(md, "`<script>alert(\"x\")</script>.pcap`") {
		t.Errorf("markdown should show the file name in a code span:\n%s", md)
	}
}

func TestTableWidth(t *testing.T) {
	for _, tc := range goldenCases {
		for _, width := range []int{80, 100} {
			r := build(t, tc.cfg, tc.files...)
			r.Width = width
			for i, line := range strings.Split(render(t, "table", r), "\n") {
				if w := twwidth.Width(line); w > width {
					t.Errorf("%s at width %d: line %d is %d wide: %s", tc.name, width, i+1, w, line)
				}
			}
		}
	}
}

func TestTableColor(t *testing.T) {
	r := build(t, analyze.Config{}, "long-request-nokeepalive.pcap")
	if out := render(t, "table", r); strings.Contains(out, "\x1b[") {
		t.Error("escape codes without Color")
	}
	r.Color = true
	out := render(t, "table", r)
	for _, want := range []string{ansiRed + "error", ansiYellow + "warning", ansiReset} {
		if !strings.Contains(out, want) {
			t.Errorf("with Color, the table lacks %q", want)
		}
	}
	// Colour does not change the layout.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out, "")
	r.Color = false
	if diff := cmp.Diff(render(t, "table", r), plain); diff != "" {
		t.Errorf("coloured table differs from the plain one beyond colour (-plain +coloured):\n%s", diff)
	}
}

func TestCSV(t *testing.T) {
	r := build(t, analyze.Config{KeepAll: true}, "long-request-keepalive-7200s.pcap")
	rows, err := csv.NewReader(strings.NewReader(render(t, "csv", r))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+r.Result.Flows.Len() {
		t.Fatalf("%d rows, want a header and %d flows", len(rows), r.Result.Flows.Len())
	}
	if diff := cmp.Diff(csvHeader, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	col := func(name string) int {
		for i, h := range rows[0] {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	if got := rows[1][col("findings")]; got != "silent-past-timeout;hung-at-capture-end" {
		t.Errorf("findings = %q", got)
	}
	if got := rows[1][col("max_gap_seconds")]; got != "999.90923" {
		t.Errorf("max_gap_seconds = %q", got)
	}
}

func TestJSONL(t *testing.T) {
	r := build(t, analyze.Config{}, "rotated-1.pcap", "rotated-2.pcap")
	sc := bufio.NewScanner(strings.NewReader(render(t, "jsonl", r)))
	n := 0
	for sc.Scan() {
		n++
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		requireKeys(t, "finding line", doc, "client", "server", "index", "wireshark_filter",
			"kind", "severity", "at", "gap_seconds", "message", "evidence")
	}
	if want := len(r.sortedFindings(0).rows); n != want {
		t.Errorf("%d lines, want one per finding (%d)", n, want)
	}
}

func TestFlowAdvice(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		cfg       analyze.Config
		keepalive bool
		side      analyze.Side
		interval  time.Duration
		stacks    string
		middlebox string
	}{
		{"nlb", "long-request-nokeepalive.pcap", analyze.Config{Middlebox: preset("aws-nlb")}, true, analyze.Client, time.Minute,
			"Linux, Python requests, Go, Java, Node.js, .NET, curl", "documented idle timeout 350 s"},
		{"no preset, short timeout", "long-request-nokeepalive.pcap", analyze.Config{Idle: 50 * time.Second}, true, analyze.Client, 25 * time.Second,
			"Linux, Python requests, Go, Java, Node.js, .NET, curl", ""},
		{"alb counts only payload", "closed-after-idle.pcap", analyze.Config{Middlebox: preset("aws-alb")}, false, analyze.Client, 30 * time.Second, "", "documented idle timeout 60 s"},
		{"closed by a proxy", "closed-after-idle.pcap", analyze.Config{}, false, analyze.Client, time.Minute, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, tt.cfg, tt.file)
			first := r.Result.Flows.At(0)
			fl := &first
			a := flowAdvice(r.Result, fl)
			if a.Keepalive != tt.keepalive || a.Side != tt.side || a.Interval != tt.interval {
				t.Errorf("advice = keepalive %v, side %v, interval %v; want %v, %v, %v", a.Keepalive, a.Side, a.Interval, tt.keepalive, tt.side, tt.interval)
			}
			if got := stackNames(a.Snippets()); got != tt.stacks {
				t.Errorf("stacks = %q, want %q", got, tt.stacks)
			}
			if !strings.Contains(a.Middlebox, tt.middlebox) || (tt.middlebox == "") != (a.Middlebox == "") {
				t.Errorf("middlebox = %q, want it to say %q", a.Middlebox, tt.middlebox)
			}
			if !tt.keepalive && !strings.Contains(a.Short, "keepalive probes do not") {
				t.Errorf("short fix %q does not say keepalives will not help", a.Short)
			}
		})
	}
}

func TestKeepaliveSnippets(t *testing.T) {
	secs := map[analyze.Side][]string{
		analyze.Client: {"tcp_keepalive_time = 42", "TCP_KEEPIDLE, 42)", "Idle:     42 * time.Second", "TCP_KEEPIDLE, 42);", "setKeepAlive(true, 42000)", "TcpKeepAliveTime, 42);", "--keepalive-time 42"},
		analyze.Server: {"tcp_keepalive_time = 42", "TCP_KEEPIDLE, 42)", "net.ListenConfig", "ServerSocket.accept()", `server.on("connection"`, "Accept()"},
	}
	for side, wants := range secs {
		sn := keepaliveSnippets(side, 42*time.Second)
		if len(sn) != len(wants) {
			t.Fatalf("%v: %d snippets (%s), want %d", side, len(sn), stackNames(sn), len(wants))
		}
		for i, want := range wants {
			if !strings.Contains(sn[i].Code, want) {
				t.Errorf("%v %s snippet lacks %q:\n%s", side, sn[i].Stack, want, sn[i].Code)
			}
		}
	}
}

func TestNewAxis(t *testing.T) {
	ms := int64(time.Millisecond)
	s := int64(time.Second)
	tests := []struct {
		name   string
		pts    []int64
		th     time.Duration
		breaks int
	}{
		{"one long silence", []int64{0, 20 * ms, 60 * ms, 960 * s, 960*s + ms/2}, 350 * time.Second, 1},
		{"regular keepalives stay to scale", func() []int64 {
			var p []int64
			for i := int64(0); i < 16; i++ {
				p = append(p, i*60*s, i*60*s+ms)
			}
			return p
		}(), 50 * time.Second, 0},
		{"a single time", []int64{5 * s}, 350 * time.Second, 0},
		{"short flow", []int64{0, ms, 2 * ms, 3 * ms}, 350 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ax := newAxis(tt.pts, tt.th)
			n := 0
			for _, seg := range ax.segs {
				if seg.broken {
					n++
				}
			}
			if n != tt.breaks {
				t.Errorf("%d breaks, want %d", n, tt.breaks)
			}
			prev := -1.0
			for _, p := range tt.pts {
				x := ax.x(timeOf(p))
				if x < plotL || x > plotR || x < prev {
					t.Errorf("time %d at x %.1f, after %.1f: not increasing within the plot", p, x, prev)
				}
				if len(tt.pts) > 1 && x == prev {
					t.Errorf("times drawn on top of each other at x %.1f", x)
				}
				prev = x
			}
		})
	}
}

func TestTimelineWithoutTrace(t *testing.T) {
	r := build(t, analyze.Config{}, "long-request-nokeepalive.pcap")
	first := r.Result.Flows.At(0)
	tl := r.timeline(&first)
	if tl.Full {
		t.Error("Full without Timelines")
	}
	var got []string
	for _, e := range tl.Events {
		got = append(got, string(e.Kind)+" "+e.words())
	}
	want := []string{" first packet of the flow", "ack ACK", "data 1200 bytes of data", "rst RST"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if rst := tl.Events[len(tl.Events)-1]; rst.Reset == nil || rst.Reset.Verdict != "middlebox" {
		t.Error("the RST lacks the findings' verdict")
	}
}

func TestTimelineWithTrace(t *testing.T) {
	r := buildTraced(t, analyze.Config{}, "sll2.pcap")
	first := r.Result.Flows.At(0)
	fl := &first
	tl := r.timeline(fl)
	if !tl.Full {
		t.Fatal("not Full with Timelines")
	}
	if uint64(len(tl.Events)) != fl.Packets {
		t.Errorf("%d events, want the flow's %d packets (duplicates left out)", len(tl.Events), fl.Packets)
	}
	md := render(t, "markdown", r)
	if !strings.Contains(md, "SYN-ACK") || strings.Contains(md, "only the packets the findings name") {
		t.Errorf("markdown timeline does not tell every packet:\n%s", md)
	}
}

// TestHowToOnce checks that Markdown and HTML show how to turn keepalives
// on in the first flagged flow's section that needs it, and that the next
// section needing the same points back to it instead of repeating it;
// and that a flow whose findings keepalives would not help neither shows
// it nor takes its place.
func TestHowToOnce(t *testing.T) {
	r := build(t, analyze.Config{}, "vlan.pcap")
	if r.FlaggedFlows() != 2 {
		t.Fatalf("%d flagged flows, want 2", r.FlaggedFlows())
	}
	for _, tc := range []struct{ format, shown, pointer string }{
		{"markdown", "<summary>How to enable TCP keepalive on the client, every 60 s:", "**How to enable TCP keepalive on the client, every 60 s**: as under flow 0."},
		{"html", "<summary>How to enable TCP keepalive on the client, every 60 s</summary>", `as under <a href="#flow-0">flow 0</a>.`},
	} {
		out := render(t, tc.format, r)
		if n := strings.Count(out, tc.shown); n != 1 {
			t.Errorf("%s: the how-to is shown %d times, want once", tc.format, n)
		}
		if n := strings.Count(out, "socket.setKeepAlive(true);"); n != 1 {
			t.Errorf("%s: the Java snippet is there %d times, want once", tc.format, n)
		}
		if i, j := strings.Index(out, tc.shown), strings.Index(out, tc.pointer); j < 0 || j < i {
			t.Errorf("%s: no pointer back to the how-to after it (shown at %d, pointer at %d)", tc.format, i, j)
		}
	}

	// A flow that keepalives would not save comes first: it must not
	// take the how-to's place.
	r = build(t, analyze.Config{}, "closed-after-idle.pcap", "vlan.pcap")
	if first := r.Result.Flows.At(0); len(first.Findings) == 0 || flowAdvice(r.Result, &first).Keepalive {
		t.Fatal("the first flow is not one keepalives would not save")
	}
	out := render(t, "markdown", r)
	shown, pointer := strings.Index(out, "<summary>How to enable TCP keepalive"), strings.Index(out, "as under flow 1.")
	if flow1, flow2 := strings.Index(out, "### Flow 1:"), strings.Index(out, "### Flow 2:"); shown < flow1 || shown > flow2 || pointer < flow2 {
		t.Errorf("the how-to is not under flow 1 with flow 2 pointing to it (flow 1 at %d, how-to at %d, flow 2 at %d, pointer at %d)", flow1, shown, flow2, pointer)
	}
}
