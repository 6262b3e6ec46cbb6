package report

import (
	"io"

	"github.com/hangdiag/hangdiag/analyze"
)

// jsonlFinding is one line of the JSONL report: a finding with its flow's
// endpoints, index and display filter, the finding's fields as in the JSON
// report.
type jsonlFinding struct {
	Client          string `json:"client"`
	Server          string `json:"server"`
	Index           int    `json:"index"`
	WiresharkFilter string `json:"wireshark_filter"`
	jsonFinding
}

// JSONL writes one JSON object per finding, one per line, for log
// pipelines: the flow's client, server and index, then the finding's
// fields exactly as in the JSON report (kind, severity, at, gap_seconds,
// message, fix, evidence). Flows come in order of first appearance.
func JSONL(w io.Writer, r *Report) error {
	return writeInOrder(newOutput(w), r.Result.Flows.WithoutText(), r.newJSONLLines)
}

// newJSONLLines returns an encoder of flows as the lines of their
// findings, as a json.Encoder writes each jsonlFinding, without escaping
// HTML (to keep "&&" in filters readable to grep).
func (r *Report) newJSONLLines() flowEncoder {
	return func(dst []byte, fl *analyze.Flow) ([]byte, error) {
		if len(fl.Findings) == 0 {
			return dst, nil
		}
		jf := r.jsonFlow(fl)
		o := jsonOut{b: dst}
		for i := range jf.Findings {
			(&jsonlFinding{jf.Client, jf.Server, jf.Index, jf.WiresharkFilter, jf.Findings[i]}).write(&o)
			o.b = append(o.b, '\n')
		}
		return o.b, o.err
	}
}

func (f *jsonlFinding) write(o *jsonOut) {
	o.open('{')
	o.flowMembers(f.Client, f.Server, f.Index)
	o.key("wireshark_filter")
	o.str(f.WiresharkFilter)
	f.members(o)
	o.close('}')
}
