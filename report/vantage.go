package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
)

// VantageReport is the analysis of two captures of the same traffic taken
// at two points, with the connections they share compared packet by packet.
type VantageReport struct {
	Points      [2]*Report // one report per vantage point; Files name the captures
	Comparisons []analyze.Comparison
}

// Discrepancies counts the packets reported as vanished or forged.
func (v *VantageReport) Discrepancies() int {
	n := 0
	for _, c := range v.Comparisons {
		n += len(c.Discrepancies)
	}
	return n
}

// VantageFormats maps each format a VantageReport can be written in to its
// renderer.
var VantageFormats = map[string]func(io.Writer, *VantageReport) error{
	"table": VantageTable,
	"json":  VantageJSON,
}

// VantageFormatNames lists VantageFormats in a stable order.
func VantageFormatNames() []string {
	var names []string
	for n := range VantageFormats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// VantageTable writes each vantage point's report, then what happened
// between the two points.
func VantageTable(w io.Writer, v *VantageReport) error {
	ew := &errWriter{w: w}
	for i, p := range v.Points {
		fmt.Fprintf(ew, "=== Vantage point %d: %s\n\n", i+1, pointName(p))
		if err := Table(ew, p); err != nil {
			return err
		}
		fmt.Fprintln(ew)
	}
	fmt.Fprintf(ew, "=== Between the two vantage points\n\n")
	if len(v.Comparisons) == 0 {
		wrapTo(ew, textWidth, "", "No connection with findings was seen at both vantage points (connections are matched by 4-tuple, or by initial sequence numbers when a NAT rewrote the addresses; the handshake must be in both captures for that).")
		return ew.err
	}
	for _, c := range v.Comparisons {
		f0, f1 := v.flow(0, c.Pair.Index[0]), v.flow(1, c.Pair.Index[1])
		wrapTo(ew, textWidth, "", fmt.Sprintf("%s → %s at %s is %s → %s at %s (matched by %s; %s is nearer the client: %s).",
			f0.Client, f0.Server, pointName(v.Points[0]), f1.Client, f1.Server, pointName(v.Points[1]),
			c.Pair.MatchedBy, pointName(v.Points[c.Near[analyze.Client]]), c.NearBy))
		if len(c.Discrepancies) == 0 {
			wrapTo(ew, textWidth, "  ", "Every packet seen at one point was seen at the other.")
		}
		for _, d := range c.Discrepancies {
			wrapTo(ew, textWidth, "  - ", d.Message)
		}
		fmt.Fprintln(ew)
	}
	return ew.err
}

// flow finds a flow of a vantage point by index; the zero Flow when the
// point's report does not list it (the command keeps every compared flow).
func (v *VantageReport) flow(point, index int) analyze.Flow {
	f, _ := v.Points[point].Result.Flows.Find(index)
	return f
}

func pointName(r *Report) string {
	if len(r.Files) == 1 {
		return r.Files[0].Name
	}
	name := ""
	for i, f := range r.Files {
		if i > 0 {
			name += ","
		}
		name += f.Name
	}
	return name
}

type jsonVantage struct {
	Schema      string           `json:"schema"`
	Points      []jsonReport     `json:"vantage_points"`
	Connections []jsonConnection `json:"connections"`
}

type jsonConnection struct {
	Flows         [2]jsonPointFlow  `json:"flows"`
	MatchedBy     string            `json:"matched_by"`
	NearClient    string            `json:"near_client"`
	NearBy        string            `json:"near_by"`
	Discrepancies []jsonDiscrepancy `json:"discrepancies"`
}

type jsonPointFlow struct {
	Point  string `json:"vantage_point"`
	Index  int    `json:"index"`
	Client string `json:"client"`
	Server string `json:"server"`
}

type jsonDiscrepancy struct {
	SeenAt   string    `json:"seen_at"`
	Frame    uint64    `json:"frame"`
	Time     time.Time `json:"time"`
	Side     string    `json:"side"`
	Kind     string    `json:"kind"`
	Bytes    uint32    `json:"bytes"`
	Vanished bool      `json:"vanished"`
	Forged   bool      `json:"forged"`
	Copies   int       `json:"copies"`
	Last     time.Time `json:"last"`
	Message  string    `json:"message"`
}

// VantageSchema names the JSON layout of a VantageReport: each vantage
// point's report in the hangdiag.report/v1 layout, and the connections.
const VantageSchema = "hangdiag.vantage/v1"

// VantageJSON writes the report as JSON, schema hangdiag.vantage/v1.
func VantageJSON(w io.Writer, v *VantageReport) error {
	out := jsonVantage{Schema: VantageSchema, Connections: []jsonConnection{}}
	for _, p := range v.Points {
		out.Points = append(out.Points, p.jsonValue())
	}
	for _, c := range v.Comparisons {
		jc := jsonConnection{MatchedBy: c.Pair.MatchedBy, NearClient: pointName(v.Points[c.Near[analyze.Client]]), NearBy: c.NearBy,
			Discrepancies: []jsonDiscrepancy{}}
		for i := range 2 {
			f := v.flow(i, c.Pair.Index[i])
			jc.Flows[i] = jsonPointFlow{pointName(v.Points[i]), c.Pair.Index[i], f.Client.String(), f.Server.String()}
		}
		for _, d := range c.Discrepancies {
			jc.Discrepancies = append(jc.Discrepancies, jsonDiscrepancy{
				SeenAt: pointName(v.Points[d.SeenAt]), Frame: d.Packet.Frame, Time: d.Packet.Time, Side: d.Packet.Side.String(),
				Kind: string(d.Packet.Kind), Bytes: d.Packet.Len, Vanished: d.Vanished, Forged: d.Injected, Copies: d.Count,
				Last: d.Last, Message: d.Message,
			})
		}
		out.Connections = append(out.Connections, jc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
