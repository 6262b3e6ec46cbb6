package report

import (
	"bufio"
	"encoding/json"
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
	return writeInOrder(bufio.NewWriter(w), r.Result.Flows, r.newJSONLLines)
}

// newJSONLLines returns an encoder of flows as the lines of their
// findings, through a json.Encoder of its own.
func (r *Report) newJSONLLines() flowEncoder {
	var out appendWriter
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep "&&" in filters readable to grep
	return func(dst []byte, fl *analyze.Flow) ([]byte, error) {
		out.b = dst
		if len(fl.Findings) == 0 {
			return dst, nil
		}
		jf := r.jsonFlow(fl)
		for _, f := range jf.Findings {
			if err := enc.Encode(jsonlFinding{jf.Client, jf.Server, jf.Index, jf.WiresharkFilter, f}); err != nil {
				return out.b, err
			}
		}
		return out.b, nil
	}
}
