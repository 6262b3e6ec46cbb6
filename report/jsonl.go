package report

import (
	"bufio"
	"encoding/json"
	"io"
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
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep "&&" in filters readable to grep
	for _, fl := range r.Result.Flows.All() {
		jf := r.jsonFlow(fl)
		for _, f := range jf.Findings {
			if err := enc.Encode(jsonlFinding{jf.Client, jf.Server, jf.Index, jf.WiresharkFilter, f}); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
