package report

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// Schema is the JSON report's schema name. Fields may be added within a
// schema version; none are renamed or removed.
const Schema = "hangdiag.report/v1"

type jsonReport struct {
	Schema        string         `json:"schema"`
	IdleThreshold float64        `json:"idle_threshold_seconds"`
	Middlebox     *jsonMiddlebox `json:"middlebox"`
	Capture       jsonCapture    `json:"capture"`
	Summary       jsonSummary    `json:"summary"`
	Flows         []jsonFlow     `json:"flows"`
	Inference     jsonInference  `json:"inference"`
}

type jsonMiddlebox struct {
	Name             string  `json:"name"`
	Title            string  `json:"title"`
	IdleSeconds      float64 `json:"idle_seconds"`
	ProbesResetTimer bool    `json:"probes_reset_timer"`
	Expiry           string  `json:"expiry"`
	Source           string  `json:"source"`
}

type jsonCapture struct {
	Files          []string          `json:"files"`        // the names, as the contract has them
	FileDetails    []jsonFile        `json:"file_details"` // the same files' formats, counts and damage
	FirstPacket    *time.Time        `json:"first_packet"`
	LastPacket     *time.Time        `json:"last_packet"`
	End            time.Time         `json:"end"`
	Packets        uint64            `json:"packets"`
	TCPPackets     uint64            `json:"tcp_packets"`
	LinkTypes      []string          `json:"link_types"`
	SkippedPackets uint64            `json:"skipped_packets"`
	Skipped        map[string]uint64 `json:"skipped"`
	Duplicates     uint64            `json:"duplicate_packets"`
	Warnings       []string          `json:"warnings"`
	Notes          []string          `json:"notes"`
}

type jsonFile struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Gzip   bool   `json:"gzip"`
	// Compression is "gzip" or "zstd" for a compressed file, absent
	// otherwise; Gzip says the first alone, as it did before zstd.
	Compression string `json:"compression,omitempty"`
	Packets     uint64 `json:"packets"`
	Damage      string `json:"damage,omitempty"`
}

type jsonSummary struct {
	Flows        int            `json:"flows"`
	FlaggedFlows int            `json:"flagged_flows"`
	Findings     map[string]int `json:"findings"`
	MaxLiveFlows int            `json:"max_live_flows"`
	EvictedFlows int            `json:"evicted_flows"`
	// Past each flow's analyze.MaxListed: the findings of each kind and
	// the long gaps its lists leave out, and the flows that leave some.
	FindingsNotListed map[string]int `json:"findings_not_listed,omitempty"`
	GapsNotListed     int            `json:"gaps_not_listed,omitempty"`
	CappedFlows       int            `json:"flows_with_some_not_listed,omitempty"`
}

type jsonFlow struct {
	Client          string                   `json:"client"`
	Server          string                   `json:"server"`
	Index           int                      `json:"index"`
	FirstSeen       time.Time                `json:"first_seen"`
	LastSeen        time.Time                `json:"last_seen"`
	HandshakeSeen   bool                     `json:"handshake_seen"`
	State           string                   `json:"state"`
	Packets         uint64                   `json:"packets"`
	Bytes           jsonSides[uint64]        `json:"bytes"`
	Retransmissions jsonSides[uint64]        `json:"retransmissions"`
	Resets          jsonSides[uint64]        `json:"resets"`
	MaxGap          float64                  `json:"max_gap_seconds"`
	IdleAtEnd       float64                  `json:"idle_at_end_seconds"`
	Keepalive       jsonSides[jsonKeepalive] `json:"keepalive"`
	Gaps            []jsonGap                `json:"gaps"`
	GapsNotListed   int                      `json:"gaps_not_listed,omitempty"`
	WiresharkFilter string                   `json:"wireshark_filter"`
	Evicted         bool                     `json:"evicted,omitempty"`
	Findings        []jsonFinding            `json:"findings"`
	// FindingsNotListed counts the findings of each kind past the
	// analyze.MaxListed a flow lists.
	FindingsNotListed map[string]int `json:"findings_not_listed,omitempty"`
}

type jsonSides[T any] struct {
	Client T `json:"client"`
	Server T `json:"server"`
}

type jsonKeepalive struct {
	Probes           int                    `json:"probes"`
	Acks             int                    `json:"acks"`
	Interval         *float64               `json:"interval_seconds"`
	MinInterval      *float64               `json:"min_interval_seconds"`
	MaxInterval      *float64               `json:"max_interval_seconds"`
	IdleBeforeFirst  *float64               `json:"idle_before_first_seconds"`
	ZeroWindowProbes int                    `json:"zero_window_probes"`
	Settings         *jsonKeepaliveSettings `json:"settings"`
}

// jsonKeepaliveSettings is what the probes say of TCP_KEEPIDLE,
// TCP_KEEPINTVL and TCP_KEEPCNT; null fields are unknown.
type jsonKeepaliveSettings struct {
	Idle     *float64 `json:"idle_seconds"`
	Interval *float64 `json:"interval_seconds"`
	Count    int      `json:"unanswered_in_a_row"`
	GaveUp   bool     `json:"gave_up"`
	Matches  []string `json:"matches"`
}

type jsonGap struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
	EndedBy string    `json:"ended_by"`
	Outcome string    `json:"outcome"`
}

type jsonFinding struct {
	Kind     string       `json:"kind"`
	Severity string       `json:"severity"`
	At       time.Time    `json:"at"`
	Gap      float64      `json:"gap_seconds"`
	Message  string       `json:"message"`
	Fix      string       `json:"fix,omitempty"`
	Evidence jsonEvidence `json:"evidence"`
}

type jsonEvidence struct {
	GapStart      *jsonPacket `json:"gap_start,omitempty"`
	GapEnd        *jsonPacket `json:"gap_end,omitempty"`
	EndedBy       string      `json:"ended_by"`
	Waiting       string      `json:"waiting,omitempty"`
	Reset         *jsonReset  `json:"reset,omitempty"`
	Retransmitted int         `json:"retransmissions,omitempty"`
	Unacked       *jsonPacket `json:"unacknowledged,omitempty"`
	Probes        int         `json:"keepalive_probes"`
}

type jsonPacket struct {
	File  string    `json:"file"`
	Frame uint64    `json:"frame"`
	Time  time.Time `json:"time"`
	Side  string    `json:"side"`
	Kind  string    `json:"kind"`
	What  string    `json:"what"`
}

type jsonReset struct {
	Packet      jsonPacket  `json:"packet"`
	ClaimedBy   string      `json:"claimed_by"`
	TriggeredBy *jsonPacket `json:"triggered_by"`
	After       *float64    `json:"after_seconds"`
	TTL         uint8       `json:"ttl"`
	UsualTTL    *uint8      `json:"usual_ttl"`
	HasTS       bool        `json:"has_timestamps"`
	TSInUse     bool        `json:"timestamps_in_use"`
	Verdict     string      `json:"verdict"`
	Reasons     []string    `json:"reasons"`
}

type jsonInference struct {
	Survived   *float64 `json:"timeout_survived_seconds"`
	SurvivedBy int      `json:"survived_flows"`
	Fatal      *float64 `json:"timeout_fatal_seconds"`
	FatalBy    int      `json:"fatal_flows"`
	Matches    []string `json:"matches"`
	Endings    []string `json:"endings"`  // how the fatal gaps ended: rst-next-packet, rst-both, silent-drop
	Conflict   string   `json:"conflict"` // how the evidence contradicts the threshold under test; "" when it does not
}

// JSON writes the report in the hangdiag.report/v1 schema, indented. It
// writes the flows one by one, through jsonOut, so that the document is
// never whole in memory; the bytes are those of encoding/json's Encoder
// with a two-space indent.
func JSON(w io.Writer, r *Report) error {
	doc := r.jsonHead()
	bw := newOutput(w)
	var buf []byte
	field := func(name string, v any, end string) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf = indent(buf[:0], b, "  ")
		bw.WriteString("  \"" + name + "\": ")
		bw.Write(buf)
		bw.WriteString(end)
		return nil
	}
	bw.WriteString("{\n")
	for _, f := range []struct {
		name string
		v    any
	}{{"schema", doc.Schema}, {"idle_threshold_seconds", doc.IdleThreshold}, {"middlebox", doc.Middlebox}, {"capture", doc.Capture}, {"summary", doc.Summary}} {
		if err := field(f.name, f.v, ",\n"); err != nil {
			return err
		}
	}
	if flows := r.Result.Flows; flows.Len() == 0 {
		bw.WriteString("  \"flows\": [],\n")
	} else {
		bw.WriteString("  \"flows\": [\n")
		flows = flows.WithoutText() // the text is written by jsonFlow, on every core
		encode := func(dst []byte, fl *analyze.Flow) ([]byte, error) {
			o := jsonOut{b: dst, prefix: "    ", indent: true, html: true}
			jf := r.jsonFlow(fl)
			jf.write(&o)
			return o.b, o.err
		}
		err := inOrder(flows, func() flowEncoder { return encode }, func(i int, text []byte) error {
			bw.WriteString("    ")
			bw.Write(text)
			if i < flows.Len()-1 {
				bw.WriteByte(',')
			}
			return bw.WriteByte('\n')
		})
		if err != nil {
			return err
		}
		bw.WriteString("  ],\n")
	}
	if err := field("inference", doc.Inference, "\n}\n"); err != nil {
		return err
	}
	return bw.Flush()
}

// endsValue marks the bytes that end a number or a literal in compact
// JSON.
var endsValue = [256]bool{',': true, ':': true, ']': true, '}': true}

// stringEnd returns the index just past the quote that closes the string
// whose text starts at src[i], or len(src) when none does: the first
// quote not escaped, that is not after an odd number of backslashes.
func stringEnd(src []byte, i int) int {
	for {
		k := bytes.IndexByte(src[i:], '"')
		if k < 0 {
			return len(src)
		}
		q := i + k
		escapes := 0
		for q-escapes > i && src[q-escapes-1] == '\\' {
			escapes++
		}
		if escapes%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// indent appends src, compact JSON as json.Marshal writes it, to dst
// indented as json.MarshalIndent(v, prefix, "  ") would: a line per
// element and member, empty objects and arrays kept as {} and [], a space
// after each colon. It does what json.Indent does, without checking the
// syntax again, several times faster.
func indent(dst, src []byte, prefix string) []byte {
	depth, open := 0, false
	newline := func() {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		dst = appendSpaces(dst, 2*depth)
	}
	for i := 0; i < len(src); {
		c := src[i]
		if open && c != '}' && c != ']' {
			open = false
			depth++
			newline()
		}
		switch c {
		case '{', '[':
			open = true // the line break waits: empty ones stay {} and []
			dst = append(dst, c)
			i++
		case ',':
			dst = append(dst, c)
			newline()
			i++
		case ':':
			dst = append(dst, ':', ' ')
			i++
		case '}', ']':
			if open {
				open = false
			} else {
				depth--
				newline()
			}
			dst = append(dst, c)
			i++
		case '"': // the whole string, escapes and all
			j := stringEnd(src, i+1)
			dst = append(dst, src[i:j]...)
			i = j
		default: // a number or a literal, up to the next punctuation
			j := i + 1
			for j < len(src) && !endsValue[src[j]] {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
		}
	}
	return dst
}

// spaces is indentation to copy from.
const spaces = "                                                                "

// jsonValue is the whole JSON document of the report.
func (r *Report) jsonValue() jsonReport {
	out := r.jsonHead()
	for _, fl := range r.Result.Flows.All() {
		out.Flows = append(out.Flows, r.jsonFlow(fl))
	}
	return out
}

// jsonHead is the JSON document of the report with its list of flows
// empty.
func (r *Report) jsonHead() jsonReport {
	res := r.Result
	out := jsonReport{
		Schema:        Schema,
		IdleThreshold: res.Threshold.Seconds(),
		Flows:         []jsonFlow{},
		Inference: jsonInference{
			Survived: optSeconds(res.Inference.Survived), SurvivedBy: res.Inference.SurvivedBy,
			Fatal: optSeconds(res.Inference.Fatal), FatalBy: res.Inference.FatalBy,
			Matches: nonNil(res.Inference.Matches), Endings: []string{}, Conflict: res.Inference.Conflict,
		},
	}
	for _, e := range res.Inference.Endings {
		out.Inference.Endings = append(out.Inference.Endings, string(e))
	}
	if mb := res.Middlebox; mb != nil {
		out.Middlebox = &jsonMiddlebox{mb.Name, mb.Title, mb.Idle.Seconds(), mb.ProbesResetTimer, string(mb.Expiry), mb.Source}
	}
	st := &r.Capture
	c := jsonCapture{
		Files: []string{}, FileDetails: []jsonFile{}, End: res.CaptureEnd, Packets: st.Packets, TCPPackets: st.TCP(),
		LinkTypes: []string{}, SkippedPackets: st.Packets - st.TCP(), Skipped: map[string]uint64{},
		Duplicates: res.Stats.Duplicates, Warnings: nonNil(r.Warnings()), Notes: nonNil(r.Notes()),
	}
	if st.Packets > 0 {
		first, last := time.Unix(0, st.First).UTC(), time.Unix(0, st.Last).UTC()
		c.FirstPacket, c.LastPacket = &first, &last
	}
	for _, f := range r.Files {
		c.Files = append(c.Files, f.Name)
		c.FileDetails = append(c.FileDetails, jsonFile{f.Name, f.Format, f.Compression == "gzip", f.Compression, f.Packets, f.Damage})
	}
	for _, l := range st.Links {
		c.LinkTypes = append(c.LinkTypes, pcapio.LinkName(l.LinkType))
	}
	for _, reason := range st.SkipReasons() {
		c.Skipped[reason.String()] = st.Skipped[reason]
	}
	out.Capture = c

	counts := res.Flows.Counts()
	out.Summary = jsonSummary{Flows: res.Stats.Flows, FlaggedFlows: counts.Flagged, Findings: kindCounts(counts.Findings),
		MaxLiveFlows: res.Stats.MaxLive, EvictedFlows: res.Stats.Evicted,
		FindingsNotListed: kindCounts(counts.FindingsNotListed), GapsNotListed: counts.GapsNotListed, CappedFlows: counts.Capped}
	return out
}

// jsonFlow is the JSON value of fl. It writes the findings' text when fl
// was decoded without it: JSON and JSON lines do so on every core.
func (r *Report) jsonFlow(fl *analyze.Flow) jsonFlow {
	for i := range fl.Findings {
		r.Result.Flows.FillText(fl, &fl.Findings[i])
	}
	out := jsonFlow{
		Client: fl.Client.String(), Server: fl.Server.String(), Index: fl.Index,
		FirstSeen: fl.First, LastSeen: fl.Last, HandshakeSeen: fl.HandshakeSeen, State: fl.State.String(),
		Packets:         fl.Packets,
		Bytes:           jsonSides[uint64]{fl.Bytes[analyze.Client], fl.Bytes[analyze.Server]},
		Retransmissions: jsonSides[uint64]{fl.Retransmitted[analyze.Client], fl.Retransmitted[analyze.Server]},
		Resets:          jsonSides[uint64]{fl.Resets[analyze.Client], fl.Resets[analyze.Server]},
		MaxGap:          fl.MaxGap.Seconds(), IdleAtEnd: fl.IdleAtEnd.Seconds(),
		Keepalive:       jsonSides[jsonKeepalive]{jsonKeepaliveOf(fl.Keepalive[analyze.Client]), jsonKeepaliveOf(fl.Keepalive[analyze.Server])},
		Gaps:            []jsonGap{},
		WiresharkFilter: WiresharkFilter(fl),
		Evicted:         fl.Evicted,
		Findings:        []jsonFinding{},
		GapsNotListed:   fl.GapsNotListed, FindingsNotListed: kindCounts(fl.FindingsNotListed),
	}
	for _, g := range fl.Gaps {
		out.Gaps = append(out.Gaps, jsonGap{g.Start, g.End, g.Duration.Seconds(), g.EndedBy, string(g.Outcome)})
	}
	for _, f := range fl.Findings {
		out.Findings = append(out.Findings, jsonFinding{
			Kind: string(f.Kind), Severity: f.Severity.String(), At: f.At, Gap: f.Gap.Seconds(),
			Message: f.Message, Fix: f.Fix, Evidence: r.jsonEvidence(&f.Evidence),
		})
	}
	return out
}

// kindCounts is counts by kind as JSON holds them: {} when none, which
// omitempty leaves out.
func kindCounts(counts map[analyze.Kind]int) map[string]int {
	out := make(map[string]int, len(counts))
	for k, n := range counts {
		out[string(k)] = n
	}
	return out
}

func jsonKeepaliveOf(k analyze.KeepaliveStats) jsonKeepalive {
	out := jsonKeepalive{Probes: k.Probes, Acks: k.Acks, ZeroWindowProbes: k.ZeroWindowProbes}
	if k.Probes > 1 {
		out.Interval = optSeconds(k.MeanInterval)
		out.MinInterval = optSeconds(k.MinInterval)
		out.MaxInterval = optSeconds(k.MaxInterval)
	}
	if k.Probes > 0 {
		out.IdleBeforeFirst = optSeconds(k.IdleBeforeFirst)
		st := k.Settings
		out.Settings = &jsonKeepaliveSettings{Idle: optSeconds(st.Idle), Interval: optSeconds(st.Interval),
			Count: st.Count, GaveUp: st.GaveUp, Matches: nonNil(st.Matches)}
	}
	return out
}

func (r *Report) jsonEvidence(e *analyze.Evidence) jsonEvidence {
	out := jsonEvidence{
		GapStart: r.jsonPacket(e.GapStart), GapEnd: r.jsonPacket(e.GapEnd), EndedBy: e.EndedBy, Waiting: e.Waiting,
		Retransmitted: e.Retransmitted, Unacked: r.jsonPacket(e.Unacked), Probes: e.Probes,
	}
	if ri := e.Reset; ri != nil {
		jr := &jsonReset{
			Packet: *r.jsonPacket(&ri.Packet), ClaimedBy: ri.ClaimedBy.String(), TriggeredBy: r.jsonPacket(ri.TriggeredBy),
			TTL: ri.TTL, HasTS: ri.HasTS, TSInUse: ri.TSInUse, Verdict: ri.Verdict, Reasons: nonNil(ri.Reasons),
		}
		if ri.TriggeredBy != nil {
			s := ri.After.Seconds()
			jr.After = &s
		}
		if ri.UsualTTL != 0 {
			u := ri.UsualTTL
			jr.UsualTTL = &u
		}
		out.Reset = jr
	}
	return out
}

func (r *Report) jsonPacket(p *analyze.PacketRef) *jsonPacket {
	if p == nil {
		return nil
	}
	name := ""
	if p.File < len(r.Files) {
		name = r.Files[p.File].Name
	}
	return &jsonPacket{File: name, Frame: p.Frame, Time: p.Time, Side: p.Side.String(), Kind: string(p.Kind), What: p.What}
}

func optSeconds(d time.Duration) *float64 {
	if d == 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
