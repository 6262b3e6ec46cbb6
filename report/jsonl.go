package report

import (
	"bufio"
	"bytes"
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
	bw := bufio.NewWriter(w)
	err := inOrder(r.Result.Flows, r.jsonlLines, func(_ int, lines []byte) error {
		_, err := bw.Write(lines)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// jsonlLines appends the lines of a flow's findings to dst.
func (r *Report) jsonlLines(dst []byte, fl *analyze.Flow) ([]byte, error) {
	if len(fl.Findings) == 0 {
		return dst, nil
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // keep "&&" in filters readable to grep
	jf := r.jsonFlow(fl)
	for _, f := range jf.Findings {
		if err := enc.Encode(jsonlFinding{jf.Client, jf.Server, jf.Index, jf.WiresharkFilter, f}); err != nil {
			return buf.Bytes(), err
		}
	}
	return buf.Bytes(), nil
}
