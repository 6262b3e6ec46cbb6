package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/internal/anon"
	"github.com/hangdiag/hangdiag/internal/capgen"
	"github.com/hangdiag/hangdiag/internal/expect"
	"github.com/hangdiag/hangdiag/pcapio"
	"github.com/hangdiag/hangdiag/report"
)

func pcaps(name string) string { return filepath.Join(repoRoot, "testdata/pcaps", name) }

// copyCapture copies the shipped capture name into dir, for a test that
// checks a failed run leaves its input as it was; it returns the copy's
// path and bytes.
func copyCapture(t *testing.T, dir, name string) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(pcaps(name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// writeCapture writes the file dir/name with write and returns its path.
func writeCapture(t *testing.T, dir, name string, write func(io.Writer) error) string {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// configOf builds the analysis configuration for manifest arguments such
// as "--idle 5s".
func configOf(t *testing.T, args []string) analyze.Config {
	t.Helper()
	o := analyzeOptions{maxFlows: analyze.DefaultMaxFlows}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.StringVar(&o.idle, "idle", "", "")
	fs.StringVar(&o.middlebox, "middlebox", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("manifest arguments %q: %v", args, err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// analyzeWith runs the analysis as the command does, with evidence options e.
func analyzeWith(t *testing.T, e evidenceOptions, files []string, cfg analyze.Config, end time.Time, format string) *report.Report {
	t.Helper()
	rep, err := e.analyze(context.Background(), files, cfg, end, format, io.Discard)
	if err != nil {
		t.Fatalf("analyze %v: %v", files, err)
	}
	return rep
}

// capture is what the tests read back from an evidence file.
type capture struct {
	format string
	links  []uint16
	raws   []pcapio.Raw
	segs   []pcapio.Segment
}

func readCapture(t *testing.T, path string) capture {
	t.Helper()
	src, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var c capture
	var seg pcapio.Segment
	for src.Next(&seg) {
		r, _ := src.Raw()
		r.Data = bytes.Clone(r.Data)
		c.raws = append(c.raws, r)
		c.segs = append(c.segs, seg)
	}
	st := src.Stats()
	if st.Packets != uint64(len(c.segs)) {
		t.Errorf("%s: %d packets, of which %d TCP segments", path, st.Packets, len(c.segs))
	}
	if d := src.Files()[0].Damage; d != "" {
		t.Errorf("%s: damaged: %s", path, d)
	}
	c.format = src.Files()[0].Format
	for _, l := range st.Links {
		c.links = append(c.links, l.LinkType)
	}
	return c
}

// flowSummary is what must survive the trip through an evidence file.
type flowSummary struct {
	Client, Server string
	Packets        uint64
	Kinds          []analyze.Kind
	FindingGaps    []time.Duration
	Gaps           []analyze.Gap
}

func flaggedFlows(r *analyze.Result) []flowSummary {
	var out []flowSummary
	for _, f := range r.Flows.All() {
		if len(f.Findings) == 0 {
			continue
		}
		s := flowSummary{Client: f.Client.String(), Server: f.Server.String(), Packets: f.Packets, Gaps: f.Gaps}
		for _, fd := range f.Findings {
			s.Kinds = append(s.Kinds, fd.Kind)
			s.FindingGaps = append(s.FindingGaps, fd.Gap)
		}
		out = append(out, s)
	}
	return out
}

// sameFlows compares flow summaries; times may differ by the microsecond
// that a classic pcap file rounds off.
func sameFlows(want, got []flowSummary) string {
	near := cmp.Comparer(func(a, b time.Duration) bool { return math.Abs(float64(a-b)) <= float64(2*time.Microsecond) })
	nearTime := cmp.Comparer(func(a, b time.Time) bool { return math.Abs(float64(a.Sub(b))) <= float64(2*time.Microsecond) })
	return cmp.Diff(want, got, near, nearTime)
}

// captureEnd is the end time to analyse an evidence file with: the
// original capture's, as the command's note advises.
func captureEnd(r *analyze.Result) time.Time { return r.CaptureEnd }

// TestEvidenceReanalysis writes the evidence of every capture in both
// manifests and analyses it again: the same flagged flows, findings and
// gaps, only their packets, and no payload.
func TestEvidenceReanalysis(t *testing.T) {
	var rows []expect.Row
	for _, m := range []string{"testdata/pcaps/EXPECT.tsv", "testdata/pcaps/lab/EXPECT.tsv"} {
		r, err := expect.Read(filepath.Join(repoRoot, m))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	if len(rows) < 20 {
		t.Fatalf("only %d manifest rows", len(rows))
	}
	for _, row := range rows {
		t.Run(row.Name(), func(t *testing.T) {
			cfg := configOf(t, row.Args)
			ev := filepath.Join(t.TempDir(), "evidence.pcap")
			orig := analyzeWith(t, evidenceOptions{path: ev}, row.Files, cfg, time.Time{}, "markdown")
			want := flaggedFlows(orig.Result)
			if len(want) != row.FlaggedFlows {
				t.Fatalf("%d flagged flows, the manifest says %d", len(want), row.FlaggedFlows)
			}

			c := readCapture(t, ev)
			tuples := make(map[[2]netip.AddrPort]bool)
			timelined := 0
			for _, f := range orig.Result.Flows.All() {
				if len(f.Findings) > 0 {
					tuples[[2]netip.AddrPort{f.Client, f.Server}] = true
					tuples[[2]netip.AddrPort{f.Server, f.Client}] = true
					timelined += len(orig.Timelines.Packets(f.Index))
				}
			}
			if len(c.segs) != timelined {
				t.Errorf("evidence holds %d packets; the flagged flows have %d", len(c.segs), timelined)
			}
			for i, seg := range c.segs {
				if !tuples[[2]netip.AddrPort{seg.Src(), seg.Dst()}] {
					t.Errorf("packet %d (%v → %v) is not of a flagged flow", i+1, seg.Src(), seg.Dst())
				}
				r := c.raws[i]
				if _, payload, _ := pcapio.Offsets(r.LinkType, r.Data, r.WireLen); len(r.Data) != payload {
					t.Errorf("packet %d keeps %d bytes, headers are %d", i+1, len(r.Data), payload)
				}
			}
			wantFormat := "pcap (microsecond, little-endian)"
			if len(c.links) > 1 {
				wantFormat = "pcapng"
			}
			if c.format != wantFormat {
				t.Errorf("evidence format %q with link types %v, want %q", c.format, c.links, wantFormat)
			}

			checkEvidence(t, ev, cfg, orig.Result)
		})
	}
}

// checkEvidence analyses the evidence file ev written for orig again, with
// cfg and orig's capture end: it must hold the flagged flows alone, with
// the same findings and gaps.
func checkEvidence(t *testing.T, ev string, cfg analyze.Config, orig *analyze.Result) {
	t.Helper()
	want := flaggedFlows(orig)
	again := analyzeWith(t, evidenceOptions{}, []string{ev}, configWithAll(cfg), captureEnd(orig), "table")
	if n := again.Result.Flows.Len(); n != len(want) {
		t.Errorf("evidence holds %d flows, want the %d flagged", n, len(want))
	}
	if diff := sameFlows(want, flaggedFlows(again.Result)); diff != "" {
		t.Errorf("evidence analyses differently (-original +evidence):\n%s", diff)
	}
}

// TestEvidenceReanalysisCorpus does what TestEvidenceReanalysis does for
// the corpus at --idle 1s, which flags flows in most captures: the
// evidence holds the flagged flows alone, with the same findings and
// gaps.
func TestEvidenceReanalysisCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s; it sits beside the repository as shared/pcaps/corpus", corpusDir)
	}
	cfg, checked := analyze.Config{Idle: time.Second}, 0
	for _, path := range files {
		ev := filepath.Join(t.TempDir(), "evidence.pcap")
		orig, err := (&evidenceOptions{path: ev}).analyze(context.Background(), []string{path}, cfg, time.Time{}, "json", io.Discard)
		if err != nil {
			continue // not a capture, or one hangdiag refuses: TestCorpus checks how
		}
		if len(flaggedFlows(orig.Result)) == 0 {
			continue
		}
		checked++
		t.Run(filepath.Base(path), func(t *testing.T) { checkEvidence(t, ev, cfg, orig.Result) })
	}
	if checked < 50 {
		t.Errorf("only %d corpus captures with flagged flows", checked)
	}
}

func configWithAll(cfg analyze.Config) analyze.Config {
	cfg.KeepAll = true
	return cfg
}

// TestEvidenceLinkTypes merges captures of three link types: the evidence
// is pcapng with one interface per link type, and analyses the same.
func TestEvidenceLinkTypes(t *testing.T) {
	files := []string{pcaps("closed-after-idle.pcap"), pcaps("sll2.pcap"), pcaps("ipv6.pcap")}
	ev := filepath.Join(t.TempDir(), "evidence.pcapng")
	orig := analyzeWith(t, evidenceOptions{path: ev}, files, analyze.Config{}, time.Time{}, "json")
	c := readCapture(t, ev)
	if want := []uint16{pcapio.LinkNull, pcapio.LinkSLL2, pcapio.LinkEthernet}; c.format != "pcapng" || !slices.Equal(c.links, want) {
		t.Errorf("evidence is %s with link types %v, want pcapng with %v", c.format, c.links, want)
	}
	again := analyzeWith(t, evidenceOptions{}, []string{ev}, analyze.Config{}, captureEnd(orig.Result), "json")
	if diff := sameFlows(flaggedFlows(orig.Result), flaggedFlows(again.Result)); diff != "" {
		t.Errorf("evidence analyses differently (-original +evidence):\n%s", diff)
	}
	if again.Result.Flows.Len() != 3 {
		t.Errorf("%d flows, want 3", again.Result.Flows.Len())
	}
}

// TestEvidencePayload compares the evidence of a capture whose packets all
// belong to its one flagged flow with the capture itself.
func TestEvidencePayload(t *testing.T) {
	in := pcaps("long-request-nokeepalive.pcap")
	original := readCapture(t, in)
	tests := []struct {
		name string
		keep bool
	}{
		{"headers only", false},
		{"keep payload", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := filepath.Join(t.TempDir(), "evidence.pcap")
			analyzeWith(t, evidenceOptions{path: ev, keepPayload: tt.keep}, []string{in}, analyze.Config{}, time.Time{}, "json")
			c := readCapture(t, ev)
			if len(c.raws) != len(original.raws) {
				t.Fatalf("%d packets, want %d", len(c.raws), len(original.raws))
			}
			cut := 0
			for i, r := range c.raws {
				o := original.raws[i]
				_, payload, _ := pcapio.Offsets(o.LinkType, o.Data, o.WireLen)
				want := o.Data
				if !tt.keep {
					want = o.Data[:payload]
				}
				if len(want) < len(o.Data) {
					cut++
				}
				if !bytes.Equal(r.Data, want) || r.WireLen != o.WireLen || r.Nanos != o.Nanos || r.LinkType != o.LinkType {
					t.Errorf("packet %d: %d of %d bytes at %d, want %d of %d at %d", i+1, len(r.Data), r.WireLen, r.Nanos, len(want), o.WireLen, o.Nanos)
				}
				if c.segs[i] != original.segs[i] {
					t.Errorf("packet %d decodes as %+v, want %+v", i+1, c.segs[i], original.segs[i])
				}
			}
			if !tt.keep && cut == 0 {
				t.Error("no packet carried payload to cut; the test proves nothing")
			}
		})
	}
}

// addrPattern matches the text of a in a longer text, not as part of a
// longer address or number.
func addrPattern(a netip.Addr) *regexp.Regexp {
	s := regexp.QuoteMeta(a.String())
	if a.Is4() {
		return regexp.MustCompile(`(^|[^0-9.])` + s + `($|[^0-9]|\.[^0-9])`)
	}
	return regexp.MustCompile(`(?i)(^|[^0-9a-f:])` + s + `($|[^0-9a-f:]|:[^0-9a-f])`)
}

// addrsOf lists the addresses of every flow of r.
func addrsOf(r *analyze.Result) []netip.Addr {
	var as []netip.Addr
	for _, f := range r.Flows.All() {
		for _, a := range []netip.Addr{f.Client.Addr(), f.Server.Addr()} {
			if !slices.Contains(as, a) {
				as = append(as, a)
			}
		}
	}
	return as
}

// TestAnonymizeReports renders every report format of anonymized analyses
// and looks for the original addresses, in their short and, for IPv6,
// their full form.
func TestAnonymizeReports(t *testing.T) {
	captures := []struct {
		files []string
		args  []string
	}{
		{[]string{pcaps("long-request-nokeepalive.pcap")}, nil},
		{[]string{pcaps("ipv6.pcap")}, nil},
		{[]string{pcaps("vlan.pcap")}, nil},
		{[]string{pcaps("clean.pcap")}, nil}, // with --all: flows without findings
		{[]string{pcaps("rotated-1.pcap"), pcaps("rotated-2.pcap")}, nil},
		{[]string{pcaps("lab/requests-nokeepalive.router.pcap")}, []string{"--idle", "5s"}},
	}
	names := report.FormatNames()
	if !slices.Contains(names, "table") || !slices.Contains(names, "json") {
		t.Fatalf("formats %v lack table or json", names)
	}
	for _, c := range captures {
		for _, format := range names {
			t.Run(filepath.Base(c.files[0])+"/"+format, func(t *testing.T) {
				cfg := configWithAll(configOf(t, c.args))
				plain := analyzeWith(t, evidenceOptions{}, c.files, cfg, time.Time{}, format)
				originals := addrsOf(plain.Result)
				if len(originals) == 0 {
					t.Fatal("no flows: the test proves nothing")
				}
				rep := analyzeWith(t, evidenceOptions{key: "test key"}, c.files, cfg, time.Time{}, format)
				var out bytes.Buffer
				if err := report.Formats[format](&out, rep); err != nil {
					t.Fatal(err)
				}
				for _, a := range originals {
					if loc := addrPattern(a).FindStringIndex(out.String()); loc != nil {
						t.Errorf("%s survives: %q", a, out.String()[max(loc[0]-60, 0):min(loc[1]+60, out.Len())])
					}
					if a.Is6() && strings.Contains(out.String(), a.StringExpanded()) {
						t.Errorf("%s survives as %s", a, a.StringExpanded())
					}
				}
				if format == "table" || format == "json" {
					for _, a := range addrsOf(rep.Result) {
						if !strings.Contains(out.String(), a.String()) {
							t.Errorf("stand-in %s is not in the report", a)
						}
					}
				}
			})
		}
	}
}

// TestAnonymizeResult checks the rewriting of a result's text on a flow
// whose addresses are prefixes of one another.
func TestAnonymizeResult(t *testing.T) {
	client, server := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.10:80")
	msg := "Flow 192.0.2.1:40000 → 192.0.2.10:80: 192.0.2.10 answered 192.0.2.1."
	r := &analyze.Result{Flows: analyze.FlowsOf(analyze.Flow{
		Client: client, Server: server,
		Findings: []analyze.Finding{{
			Message: msg, Fix: "Ask 192.0.2.10.",
			Evidence: analyze.Evidence{Reset: &analyze.ResetInfo{Reasons: []string{"unlike 192.0.2.1's"}}},
		}},
	})}
	m := anon.New([]byte("k"))
	anonymizeResult(r, m)
	c, s := m.AddrPort(client), m.AddrPort(server)
	f := r.Flows.At(0)
	if f.Client != c || f.Server != s {
		t.Errorf("flow %v → %v, want %v → %v", f.Client, f.Server, c, s)
	}
	fd := f.Findings[0]
	got := []string{fd.Message, fd.Fix, fd.Evidence.Reset.Reasons[0]}
	want := []string{
		fmt.Sprintf("Flow %v → %v: %v answered %v.", c, s, s.Addr(), c.Addr()),
		fmt.Sprintf("Ask %v.", s.Addr()),
		fmt.Sprintf("unlike %v's", c.Addr()),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
}

// TestAnonymizeEvidence checks that the evidence carries the same stand-ins
// as the report, and no original address.
func TestAnonymizeEvidence(t *testing.T) {
	for _, name := range []string{"long-request-nokeepalive.pcap", "ipv6.pcap", "vlan.pcap", "sll2.pcap"} {
		t.Run(name, func(t *testing.T) {
			files := []string{pcaps(name)}
			plain := analyzeWith(t, evidenceOptions{}, files, analyze.Config{}, time.Time{}, "json")
			ev := filepath.Join(t.TempDir(), "evidence.pcap")
			rep := analyzeWith(t, evidenceOptions{path: ev, key: "test key"}, files, analyze.Config{}, time.Time{}, "json")
			c := readCapture(t, ev)
			originals := addrsOf(plain.Result)
			for i, seg := range c.segs {
				if slices.Contains(originals, seg.Src().Addr()) || slices.Contains(originals, seg.Dst().Addr()) {
					t.Errorf("packet %d keeps an original address: %v → %v", i+1, seg.Src(), seg.Dst())
				}
			}
			again := analyzeWith(t, evidenceOptions{}, []string{ev}, analyze.Config{}, captureEnd(plain.Result), "json")
			if diff := sameFlows(flaggedFlows(rep.Result), flaggedFlows(again.Result)); diff != "" {
				t.Errorf("anonymized evidence and report disagree (-report +evidence):\n%s", diff)
			}
		})
	}
}

func TestAnonymizeKey(t *testing.T) {
	files := []string{pcaps("long-request-nokeepalive.pcap")}
	client := func(e evidenceOptions) netip.AddrPort {
		return analyzeWith(t, e, files, analyze.Config{}, time.Time{}, "json").Result.Flows.At(0).Client
	}
	orig := client(evidenceOptions{})
	tests := []struct {
		name string
		a, b evidenceOptions
		same bool
	}{
		{"same key, same stand-ins", evidenceOptions{key: "k1"}, evidenceOptions{key: "k1"}, true},
		{"other key, other stand-ins", evidenceOptions{key: "k1"}, evidenceOptions{key: "k2"}, false},
		{"random key per run", evidenceOptions{anonymize: true}, evidenceOptions{anonymize: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := client(tt.a), client(tt.b)
			if a == orig || b == orig {
				t.Errorf("not anonymized: %v, %v", a, b)
			}
			if (a == b) != tt.same || a.Port() != orig.Port() {
				t.Errorf("clients %v and %v (original %v)", a, b, orig)
			}
		})
	}
}

func TestTimelines(t *testing.T) {
	files := []string{pcaps("vlan.pcap")}
	tests := []struct {
		name  string
		e     evidenceOptions
		fmt   string
		trace bool
	}{
		{"table", evidenceOptions{}, "table", false},
		{"json", evidenceOptions{}, "json", false},
		{"html", evidenceOptions{}, "html", true},
		{"markdown", evidenceOptions{}, "markdown", true},
		{"table with evidence", evidenceOptions{path: "evidence.pcap"}, "table", false},
		{"markdown with evidence", evidenceOptions{path: "evidence.pcap"}, "markdown", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.e.path != "" {
				tt.e.path = filepath.Join(t.TempDir(), tt.e.path)
			}
			rep := analyzeWith(t, tt.e, files, configWithAll(analyze.Config{}), time.Time{}, tt.fmt)
			if !tt.trace {
				if rep.Timelines != nil {
					t.Errorf("timelines traced for %s", tt.fmt)
				}
				return
			}
			if n := len(rep.Timelines.(*timelines).flows); n != 2 {
				t.Errorf("%d timelines, want 2", n)
			}
			for _, f := range rep.Result.Flows.All() {
				tl := rep.Timelines.Packets(f.Index)
				if ok := tl != nil; ok != (len(f.Findings) > 0) {
					t.Errorf("flow %d, %d findings: timeline %v", f.Index, len(f.Findings), ok)
				}
				if tl != nil && (uint64(len(tl)) != f.Packets || !tl[0].Time.Equal(f.First) || !tl[len(tl)-1].Time.Equal(f.Last)) {
					t.Errorf("flow %d: timeline of %d packets from %v to %v; the flow has %d from %v to %v",
						f.Index, len(tl), tl[0].Time, tl[len(tl)-1].Time, f.Packets, f.First, f.Last)
				}
			}
		})
	}
}

func TestNeedsTimelines(t *testing.T) {
	for format, want := range map[string]bool{"html": true, "markdown": true, "table": false, "json": false, "csv": false, "jsonl": false} {
		if needsTimelines(format) != want {
			t.Errorf("needsTimelines(%q) = %v", format, !want)
		}
	}
}

// TestTimelineKeepsNone checks that a timeline keeping no packet at
// either end counts every packet as left out.
func TestTimelineKeepsNone(t *testing.T) {
	tl := timeline{}
	for i := range 3 {
		tl.add(tracedPacket{frame: uint64(i + 1)})
	}
	if n := len(slices.Collect(tl.inOrder())); n != 0 || tl.dropped != 3 {
		t.Errorf("kept %d packets, left out %d; want none and 3", n, tl.dropped)
	}
}

func TestTimelineCap(t *testing.T) {
	for _, n := range []int{0, 1, maxTimeline / 2, maxTimeline, maxTimeline + 1, 3*maxTimeline + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			tl := timeline{half: maxTimeline / 2}
			for i := 1; i <= n; i++ {
				tl.add(tracedPacket{frame: uint64(i)})
			}
			var want []uint64
			for i := 1; i <= n; i++ {
				if i <= maxTimeline/2 || i > n-maxTimeline/2 {
					want = append(want, uint64(i))
				}
			}
			var got []uint64
			for p := range tl.inOrder() {
				got = append(got, p.frame)
			}
			if !slices.Equal(want, got) {
				t.Errorf("kept %d packets %v…, want %d %v…", len(got), got[:min(len(got), 5)], len(want), want[:min(len(want), 5)])
			}
			if tl.dropped != n-len(want) {
				t.Errorf("dropped %d, want %d", tl.dropped, n-len(want))
			}
		})
	}
}

// TestTracePassTimelined checks that the second pass keeps timelines for
// the flows asked for alone, at most keep packets each, while the
// evidence gets every packet of every flagged flow; and how timelineCap
// shares its budget.
func TestTracePassTimelined(t *testing.T) {
	files := []string{pcaps("vlan.pcap")}
	rep, err := analyzeFiles(context.Background(), files, analyze.Config{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	flagged := map[int]bool{}
	packets := map[int]uint64{}
	for _, f := range rep.Result.Flows.All() {
		if len(f.Findings) > 0 {
			flagged[f.Index], packets[f.Index] = true, f.Packets
		}
	}
	if len(flagged) != 2 {
		t.Fatalf("%d flagged flows, want 2", len(flagged))
	}
	first := slices.Sorted(maps.Keys(flagged))[0]
	ev, err := newEvidence(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	const keep = 4
	tls, err := tracePass(context.Background(), files, analyze.Config{}, flagged, map[int]bool{first: true}, keep, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(tls.flows) != 1 || len(tls.Packets(first)) != min(keep, int(packets[first])) {
		t.Errorf("timelines of %d flows, %d packets for flow %d; want flow %d alone, %d packets", len(tls.flows), len(tls.Packets(first)), first, first, min(keep, int(packets[first])))
	}
	var out bytes.Buffer
	if err := ev.writeTo(&out, 1); err != nil {
		t.Fatal(err)
	}
	src, err := pcapio.NewReader("evidence", &out)
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(0)
	var seg pcapio.Segment
	for src.Next(&seg) {
		n++
	}
	if want := packets[first] + packets[slices.Sorted(maps.Keys(flagged))[1]]; n != want {
		t.Errorf("evidence of %d packets, want %d, every packet of both flagged flows", n, want)
	}

	for n, want := range map[int]int{0: maxTimeline, 1: maxTimeline, timelineBudget / maxTimeline: maxTimeline, 100: timelineBudget / 100, timelineBudget / minTimeline * 10: minTimeline} {
		if got := timelineCap(n); got != want {
			t.Errorf("timelineCap(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestEvidenceStdin reads standard input twice through a temporary copy,
// names it "-" in the report and in errors, and removes the copy.
func TestEvidenceStdin(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string // empty for success
	}{
		{"capture", pcaps("gzip.pcap.gz"), ""},
		{"not a capture", filepath.Join(repoRoot, "go.mod"), "-: a text file, not a pcap or pcapng capture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			f, err := os.Open(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			old := os.Stdin
			os.Stdin = f
			defer func() { os.Stdin = old }()
			ev := filepath.Join(t.TempDir(), "evidence.pcap")
			e := evidenceOptions{path: ev}
			rep, err := e.analyze(context.Background(), []string{"-"}, analyze.Config{}, time.Time{}, "json", io.Discard)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if name := rep.Files[0].Name; name != "-" {
					t.Errorf("input named %q, want -", name)
				}
				if n := len(readCapture(t, ev).segs); n != 7 {
					t.Errorf("evidence holds %d packets, want 7", n)
				}
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestEvidenceErrors(t *testing.T) {
	dir := t.TempDir()
	capture, data := copyCapture(t, dir, "long-request-nokeepalive.pcap")
	ev := filepath.Join(dir, "evidence.pcap")
	tests := []struct {
		name       string
		args       []string
		cancel     bool
		wantStderr string // a substring of the one error line
	}{
		{"no such directory", []string{"--write-flagged", filepath.Join(dir, "no/such/dir/e.pcap"), capture}, false, "no such file or directory"},
		{"a directory", []string{"--write-flagged", dir, capture}, false, "is a directory"},
		{"the input itself", []string{"--write-flagged", capture, capture}, false, "would overwrite a capture being read"},
		{"missing input", []string{"--write-flagged", ev, filepath.Join(dir, "missing.pcap")}, false, "missing.pcap: no such file or directory"},
		{"input not a capture", []string{"--write-flagged", ev, filepath.Join(repoRoot, "go.mod")}, false, "a text file, not a pcap or pcapng capture"},
		{"interrupted", []string{"--write-flagged", ev, capture}, true, "interrupted before the report was written"},
		{"payload without evidence", []string{"--keep-payload", capture}, false, "--keep-payload needs --write-flagged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			var stdout, stderr, line bytes.Buffer
			err := run(ctx, append([]string{"analyze"}, tt.args...), &stdout, &stderr)
			want := exitUsage
			if tt.cancel {
				want = exitInterrupted
			}
			if status := exitStatus(err, &line); status != want {
				t.Errorf("status %d, want %d (err %v)", status, want, err)
			}
			if !strings.Contains(line.String(), tt.wantStderr) || strings.Count(line.String(), "\n") != 1 {
				t.Errorf("error line %q, want one line with %q", line.String(), tt.wantStderr)
			}
			if _, err := os.Stat(ev); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("evidence file left behind: %v", err)
			}
			if got, _ := os.ReadFile(capture); !bytes.Equal(got, data) {
				t.Error("the input capture was changed")
			}
		})
	}
}

// TestWriteFlaggedCommand runs the command end to end: the report goes to
// stdout, the evidence to its file, and the evidence analyses the same.
func TestWriteFlaggedCommand(t *testing.T) {
	in := pcaps("long-request-keepalive-7200s.pcap")
	ev := filepath.Join(t.TempDir(), "evidence.pcap")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--format", "json", "--write-flagged", ev, "--anonymize", in}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	first, err := expect.Summarize(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// The capture ran on past the flagged flow's last packet; the command
	// says so and gives the --capture-end to use.
	m := regexp.MustCompile(`--capture-end (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no --capture-end advice on stderr: %q", stderr.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"analyze", "--format", "json", "--capture-end", m[1], ev}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	second, err := expect.Summarize(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("evidence analyses differently (-capture +evidence):\n%s", diff)
	}
}

// TestEvidenceInterfaces captures every IPv6 packet on two interfaces of
// one link type, as on a bridge: the copies differ only in the interface,
// which tells a copy from a retransmission. The evidence keeps the two
// interfaces apart, so it analyses the same.
func TestEvidenceInterfaces(t *testing.T) {
	var recs []capgen.Record
	for _, r := range readCapture(t, pcaps("ipv6.pcap")).raws {
		at := time.Unix(0, r.Nanos)
		recs = append(recs, capgen.Record{Time: at, Interface: 0, Data: r.Data},
			capgen.Record{Time: at.Add(10 * time.Microsecond), Interface: 1, Data: r.Data})
	}
	ifaces := []capgen.Interface{{Name: "br0-a", LinkType: capgen.LinkEthernet, TSResol: 9}, {Name: "br0-b", LinkType: capgen.LinkEthernet, TSResol: 9}}
	dir := t.TempDir()
	in := writeCapture(t, dir, "bridge.pcapng", func(w io.Writer) error { return capgen.WritePcapng(w, ifaces, recs) })
	ev := filepath.Join(dir, "evidence")
	orig := analyzeWith(t, evidenceOptions{path: ev}, []string{in}, analyze.Config{}, time.Time{}, "json")
	if orig.Result.Stats.Duplicates != 7 || len(flaggedFlows(orig.Result)) != 1 {
		t.Fatalf("test capture: %d copies, %d flagged flows; want 7 and 1", orig.Result.Stats.Duplicates, len(flaggedFlows(orig.Result)))
	}
	c := readCapture(t, ev)
	if c.format != "pcapng" || len(c.segs) != 14 {
		t.Errorf("evidence is %s with %d packets, want pcapng with 14", c.format, len(c.segs))
	}
	again := analyzeWith(t, evidenceOptions{}, []string{ev}, analyze.Config{}, captureEnd(orig.Result), "json")
	if diff := sameFlows(flaggedFlows(orig.Result), flaggedFlows(again.Result)); diff != "" {
		t.Errorf("evidence analyses differently (-original +evidence):\n%s", diff)
	}
	if again.Result.Stats.Duplicates != 7 {
		t.Errorf("evidence: %d copies, want 7", again.Result.Stats.Duplicates)
	}
}

// TestTimelinesKeepPackets traces every flow of shipped captures into
// lists of analyze.Packet values and into timelines at once: the packets
// the timelines give back are the same, field for field.
func TestTimelinesKeepPackets(t *testing.T) {
	for _, name := range []string{"vlan.pcap", "sll2.pcap", "ipv6.pcap", "port-reuse.pcap", "zero-window.pcap", "two-linktypes.pcapng", "keepalive-too-slow.pcap"} {
		t.Run(name, func(t *testing.T) {
			files := []string{pcaps(name)}
			rep, err := analyzeFiles(context.Background(), files, analyze.Config{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			traced := map[int]bool{}
			for i := range rep.Result.Stats.Flows {
				traced[i] = true
			}
			tr := newTracer(traced, 2*maxTimeline, nil)
			tls := tr.tls
			want := map[int][]analyze.Packet{}
			cfg := analyze.Config{TraceFlows: traced, Trace: func(i int, p analyze.Packet) {
				want[i] = append(want[i], p)
				tr.add(i, &p)
			}}
			if _, err := analyzeFiles(context.Background(), files, cfg, time.Time{}); err != nil {
				t.Fatal(err)
			}
			for i := range traced {
				if diff := cmp.Diff(want[i], tls.Packets(i)); diff != "" || len(want[i]) == 0 {
					t.Errorf("flow %d, %d packets traced (-traced +timeline):\n%s", i, len(want[i]), diff)
				}
			}
			if got := tls.Packets(-1); got != nil {
				t.Errorf("%d packets for a flow not traced", len(got))
			}
		})
	}
}

// TestNoteShortened checks the notes on shortened timelines: one line
// for each of the first few, by flow, then one for the rest, with the
// packets left out by all; nothing when none was shortened.
func TestNoteShortened(t *testing.T) {
	timelines := map[int]*timeline{}
	for i, n := range []int{5, 30, 3, 40, 50, 60, 4} { // flows 0 to 6, at most 10 packets each
		tl := &timeline{half: 5}
		for range n {
			tl.add(tracedPacket{})
		}
		timelines[i] = tl
	}
	var b bytes.Buffer
	noteShortened(&b, timelines)
	want := "hangdiag: note: timeline of flow 1 shortened to its first 5 and last 5 packets; 20 packets in between left out\n" +
		"hangdiag: note: timeline of flow 3 shortened to its first 5 and last 5 packets; 30 packets in between left out\n" +
		"hangdiag: note: timeline of flow 4 shortened to its first 5 and last 5 packets; 40 packets in between left out\n" +
		"hangdiag: note: 1 more timeline was shortened as well; the 4 shortened timelines left out 140 packets in all\n"
	if b.String() != want {
		t.Errorf("notes:\n%swant:\n%s", b.String(), want)
	}
	b.Reset()
	noteShortened(&b, map[int]*timeline{0: timelines[0], 2: timelines[2]})
	if b.Len() != 0 {
		t.Errorf("notes for timelines not shortened: %q", b.String())
	}
}

// TestSubsetPass checks the second pass over the traced flows'
// connections alone against the full one, over the shipped captures as
// their manifests analyse them and over the corpus at --idle 1s, which
// flags many flows: where it takes its timelines and evidence, they are
// the full pass's, packet for packet and byte for byte. It must take them
// for every shipped capture; what it turns down on the corpus, the full
// pass traces (TestSubsetPassFallsBack).
func TestSubsetPass(t *testing.T) {
	type job struct {
		name  string
		files []string
		cfg   analyze.Config
		must  bool // the pass must take its timelines
	}
	var jobs []job
	for _, m := range []string{"testdata/pcaps/EXPECT.tsv", "testdata/pcaps/lab/EXPECT.tsv"} {
		rows, err := expect.Read(filepath.Join(repoRoot, m))
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			jobs = append(jobs, job{row.Name(), row.Files, configOf(t, row.Args), true})
		}
	}
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	for _, path := range corpus {
		if filepath.Base(path) != "MANIFEST.tsv" {
			jobs = append(jobs, job{"corpus/" + filepath.Base(path), []string{path}, analyze.Config{Idle: time.Second}, false})
		}
	}
	taken, turned, compared := 0, 0, 0
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			ctx := context.Background()
			rep, err := analyzeFiles(ctx, j.files, j.cfg, time.Time{})
			if err != nil {
				t.Skipf("not analysed: %v", err) // the corpus holds files that are no captures
			}
			flagged := map[int]bool{}
			for k := range rep.Result.Flows.FindingKeys() {
				flagged[k.Index] = true
			}
			if len(flagged) == 0 {
				return
			}
			timelined := rep.ListedFlows()
			keep := timelineCap(len(timelined))
			var evs [2]*evidence
			for i := range evs {
				if evs[i], err = newEvidence(true, nil); err != nil {
					t.Fatal(err)
				}
				defer evs[i].close()
			}
			subset, ok, err := subsetPass(ctx, j.files, j.cfg, rep.Result, flagged, timelined, keep, evs[0])
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				turned++
				if j.must {
					t.Fatal("turned down")
				}
				return
			}
			taken++
			full, err := tracePass(ctx, j.files, j.cfg, flagged, timelined, keep, evs[1])
			if err != nil {
				t.Fatal(err)
			}
			for i := range timelined {
				compared++
				if diff := cmp.Diff(full.Packets(i), subset.Packets(i)); diff != "" || subset.Packets(i) == nil {
					t.Errorf("flow %d (-full pass +subset pass):\n%s", i, diff)
				}
			}
			var written [2]bytes.Buffer
			for i, ev := range evs {
				if err := ev.writeTo(&written[i], pcapio.LinkEthernet); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(written[0].Bytes(), written[1].Bytes()) || written[0].Len() <= 24 {
				t.Errorf("evidence of %d bytes, the full pass's %d, not the same", written[0].Len(), written[1].Len())
			}
		})
	}
	t.Logf("taken for %d captures, turned down for %d; %d timelines compared", taken, turned, compared)
}

// TestSubsetPassFallsBack builds a capture whose connection the subset pass
// would cut into flows otherwise than the full analysis: a flagged flow
// closes, 5,000 packets of another connection follow, among which the
// full analysis parts with the closed flow (its sweep comes every 4,096
// packets), and then a late ACK of the closed flow's connection makes a
// flow of its own. Analysing that connection's packets alone, no sweep
// comes, and the ACK joins the closed flow. The pass must see that the
// flow is not the report's and turn it down, leaving no evidence behind;
// the command then traces it in a full pass. Traced alone, the late ACK's
// flow, which the pass never makes, is turned down too, as is a flow the
// report does not hold.
func TestSubsetPassFallsBack(t *testing.T) {
	c := capgen.New(capgen.Config{Client: netip.MustParseAddrPort("192.0.2.1:40000"), Server: netip.MustParseAddrPort("198.51.100.1:80")})
	s := time.Second
	c.Handshake(0, s/100, s/50)
	c.Send(capgen.Client, s, 100)
	c.Ack(capgen.Server, s+s/20)
	c.Send(capgen.Server, 400*s, 1200)
	c.Ack(capgen.Client, 400*s+s/100)
	c.Fin(capgen.Client, 402*s)
	c.Fin(capgen.Server, 402*s+s/1000)
	c.Ack(capgen.Client, 402*s+s/500)
	c.Ack(capgen.Client, 445*s) // late, a flow of its own after the sweep
	other := capgen.New(capgen.Config{Client: netip.MustParseAddrPort("192.0.2.2:40001"), Server: netip.MustParseAddrPort("198.51.100.1:80")})
	other.Handshake(433*s, 433*s+s/100, 433*s+s/50)
	for i := range 5000 {
		other.Send(capgen.Client+capgen.Dir(i%2), 434*s+time.Duration(i)*time.Millisecond, 10)
	}
	link := capgen.Link{Type: capgen.LinkEthernet}
	recs := capgen.Merge(link.Records(0, c.Packets()), link.Records(0, other.Packets()))
	path := writeCapture(t, t.TempDir(), "late-ack.pcap", func(w io.Writer) error { return capgen.WritePcap(w, capgen.LinkEthernet, recs, nil) })

	files, ctx := []string{path}, context.Background()
	rep, err := analyzeFiles(ctx, files, analyze.Config{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	timelined := rep.ListedFlows()
	flagged, ok := rep.Result.Flows.Find(0)
	if !ok || len(flagged.Findings) == 0 || len(timelined) != 1 || !timelined[0] || rep.Result.Stats.Flows != 3 {
		t.Fatalf("flow 0 not the one flagged flow of three: %d flows, listed %v", rep.Result.Stats.Flows, timelined)
	}
	ev, err := newEvidence(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	if _, ok, err := subsetPass(ctx, files, analyze.Config{}, rep.Result, timelined, timelined, 100, ev); ok || err != nil {
		t.Fatalf("taken (error %v), though the pass cut the connection otherwise", err)
	}
	var left bytes.Buffer
	if err := ev.writeTo(&left, pcapio.LinkEthernet); err != nil || left.Len() != 24 {
		t.Errorf("the evidence turned down left a capture of %d bytes (error %v), want its header alone", left.Len(), err)
	}
	// The late ACK's own flow, traced alone, is not found at all: its
	// packet went to the closed flow, which is not traced.
	all, err := analyzeFiles(ctx, files, analyze.Config{KeepAll: true}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := subsetPass(ctx, files, analyze.Config{}, all.Result, map[int]bool{2: true}, nil, 100, nil); ok || err != nil {
		t.Errorf("the late ACK's flow taken (error %v), though the pass never made it", err)
	}
	if _, ok, err := subsetPass(ctx, files, analyze.Config{}, rep.Result, map[int]bool{2: true}, nil, 100, nil); ok || err != nil {
		t.Errorf("a flow the report does not hold taken (error %v)", err)
	}
	path2 := filepath.Join(t.TempDir(), "evidence.pcap")
	drawn := analyzeWith(t, evidenceOptions{path: path2}, files, analyze.Config{}, time.Time{}, "markdown")
	got := drawn.Timelines.Packets(0)
	if uint64(len(got)) != flagged.Packets || len(got) == 0 || !got[len(got)-1].Time.Equal(flagged.Last) {
		t.Errorf("timeline of %d packets; the flow has %d, last at %v", len(got), flagged.Packets, flagged.Last)
	}
	if n := len(readCapture(t, path2).segs); uint64(n) != flagged.Packets {
		t.Errorf("evidence of %d packets; the flow has %d", n, flagged.Packets)
	}
}
