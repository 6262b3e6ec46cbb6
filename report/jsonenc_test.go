package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/analyze"
)

// corpusDir holds the shared corpus of public captures, beside the
// repository.
const corpusDir = "../../shared/pcaps/corpus"

// oddStrings are strings every escape of encoding/json's applies to.
var oddStrings = []string{
	"", `plain`, `a "quoted" \ back\slash`, "<tag> & more", "\x00\x01\x1f\x7f", "\b\f\n\r\t",
	"\u2028 and \u2029", "invalid \xff\xfe UTF-8 \xe2\x82", "→ wide 東京 and 😀", "ends in \\", "\xed\xa0\x80 surrogate",
}

// encodingJSON is what encoding/json writes for v: indented with prefix,
// or compact, escaping HTML or not.
func encodingJSON(t *testing.T, v any, indent bool, html bool) ([]byte, error) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if indent {
		enc.SetIndent("    ", "  ")
	}
	err := enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// jsonOutOf is what jsonOut writes for v, a *jsonFlow or a
// *jsonlFinding.
func jsonOutOf(v any, indent bool, html bool) ([]byte, error) {
	o := jsonOut{indent: indent, html: html}
	if indent {
		o.prefix = "    "
	}
	switch v := v.(type) {
	case *jsonFlow:
		v.write(&o)
	case *jsonlFinding:
		v.write(&o)
	}
	return o.b, o.err
}

// reportFlows returns the JSON values of every flow of the reports of
// captures, analysed with every flow kept and a short threshold, so that
// most of them carry findings.
func reportFlows(t *testing.T, paths ...string) []jsonFlow {
	t.Helper()
	var flows []jsonFlow
	for _, path := range paths {
		r, err := analyzeCaptures(analyze.Config{Idle: time.Second, KeepAll: true}, path)
		if err != nil {
			continue // not a capture: the corpus holds some
		}
		for _, fl := range r.Result.Flows.All() {
			flows = append(flows, r.jsonFlow(fl))
		}
	}
	return flows
}

// TestJSONEncoder checks that jsonOut writes, byte for byte, what
// encoding/json writes for the same value, indented and compact, with and
// without HTML escapes: for every flow of the shipped captures and of the
// public corpus, and for flows made to carry odd strings and numbers,
// null and empty lists and every optional member; and that both refuse
// the same values.
func TestJSONEncoder(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap*"))
	lab, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.pcap"))
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	if len(corpus) == 0 {
		t.Logf("no corpus at %s: checking the shipped captures only", corpusDir)
	}
	flows := reportFlows(t, append(append(paths, lab...), corpus...)...)
	findings := 0
	for _, f := range flows {
		findings += len(f.Findings)
	}
	if len(flows) < 10 || findings < 10 {
		t.Fatalf("%d flows with %d findings to check, want more", len(flows), findings)
	}
	t.Logf("%d flows, %d findings", len(flows), findings)

	// Odd values, each member of a flow made from a real one.
	var base jsonFlow // one with a reset among its findings' evidence
	for _, f := range flows {
		for _, fd := range f.Findings {
			if fd.Evidence.Reset != nil && base.Findings == nil {
				base = f
			}
		}
	}
	if base.Findings == nil {
		t.Fatal("no finding with a reset in its evidence")
	}
	for i, s := range oddStrings {
		f := base
		f.Client, f.State, f.WiresharkFilter = s, s, s
		f.Gaps = []jsonGap{{Start: time.Unix(int64(i), 1).UTC(), End: time.Unix(0, 0).In(time.FixedZone("x", 3600)), Seconds: 1e-7, EndedBy: s, Outcome: s}}
		f.MaxGap, f.IdleAtEnd = []float64{0, 1e21, 123456789.125, -0.5e-6, 1e-6, 5e-324}[i%6], math.MaxFloat64
		f.Evicted = i%2 == 0
		f.GapsNotListed, f.FindingsNotListed = i, nil // 0 and none are left out
		if i%2 == 1 {
			f.FindingsNotListed = map[string]int{"silent-past-timeout": i, "keepalive-too-slow": 1, "blackholed-after-idle": 1 << 40}
		}
		f.Findings = append([]jsonFinding(nil), f.Findings...)
		for k := range f.Findings {
			fd := &f.Findings[k]
			fd.Message, fd.Fix = s, s
			ev := &fd.Evidence
			ev.Waiting, ev.Retransmitted = s, i
			ev.GapStart = &jsonPacket{File: s, What: s, Frame: math.MaxUint64}
			if ev.Reset != nil {
				r := *ev.Reset
				r.Reasons, r.Verdict = append([]string{s}, oddStrings...), s
				ev.Reset = &r
			}
		}
		settings := &jsonKeepaliveSettings{Matches: []string{s}}
		if i%2 == 0 {
			settings.Matches = nil
		}
		f.Keepalive.Client.Settings = settings
		flows = append(flows, f)
	}
	empty := base
	empty.Gaps, empty.Findings = nil, nil
	flows = append(flows, empty)

	for i := range flows {
		v := &flows[i]
		values := []any{v}
		for k := range v.Findings {
			values = append(values, &jsonlFinding{v.Client, v.Server, v.Index, v.WiresharkFilter, v.Findings[k]})
		}
		for _, value := range values {
			for _, indent := range []bool{true, false} {
				for _, html := range []bool{true, false} {
					want, err := encodingJSON(t, value, indent, html)
					if err != nil {
						t.Fatal(err)
					}
					got, err := jsonOutOf(value, indent, html)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(string(want), string(got)); diff != "" {
						t.Fatalf("flow %d (indent %v, html %v): jsonOut differs from encoding/json (-encoding/json +jsonOut):\n%s", i, indent, html, diff)
					}
				}
			}
		}
	}

	// Values JSON cannot hold.
	far := base
	far.FirstSeen = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	nan := base
	nan.MaxGap = math.NaN()
	for name, v := range map[string]*jsonFlow{"year 10000": &far, "NaN": &nan} {
		if _, err := encodingJSON(t, v, true, true); err == nil {
			t.Fatalf("%s: encoding/json wrote it", name)
		}
		if _, err := jsonOutOf(v, true, true); err == nil {
			t.Errorf("%s: jsonOut wrote it without an error", name)
		}
	}
}

// FuzzJSONString checks jsonOut's strings against encoding/json's, with
// HTML escaped and not.
func FuzzJSONString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			want, err := encodingJSON(t, s, false, html)
			if err != nil {
				t.Fatal(err)
			}
			o := jsonOut{html: html}
			o.str(s)
			if !bytes.Equal(o.b, want) {
				t.Fatalf("%q (html %v): jsonOut wrote %s, encoding/json %s", s, html, o.b, want)
			}
		}
	})
}

// TestAppendUTC checks the JSON reports' writing of UTC times against
// AppendFormat with time.RFC3339Nano: at the ends of the years it takes,
// of days and of the fraction's lengths, and at random times.
func TestAppendUTC(t *testing.T) {
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 1, time.UTC),
		time.Date(2024, 3, 1, 9, 5, 7, 100000000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 1709294400_123456000).UTC(),
		time.Date(1900, 2, 28, 23, 59, 59, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	const year0, year10000 = -62167219200, 253402300800 // seconds since 1970
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		times = append(times, time.Unix(year0+r.Int64N(year10000-year0), r.Int64N(1e9)).UTC())
	}
	for _, tm := range times {
		want := tm.AppendFormat(nil, time.RFC3339Nano)
		if got := appendUTC(nil, tm); !bytes.Equal(got, want) {
			t.Fatalf("appendUTC(%v) = %s, want %s", tm, got, want)
		}
	}
}
