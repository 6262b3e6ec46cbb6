package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
)

// csvHeader names the CSV columns, one row per flow.
var csvHeader = []string{
	"index", "client", "server", "state", "first_seen", "last_seen", "packets",
	"bytes_client", "bytes_server", "max_gap_seconds", "idle_at_end_seconds",
	"keepalive_probes_client", "keepalive_acks_client", "keepalive_probes_server", "keepalive_acks_server",
	"keepidle_seconds_client", "keepintvl_seconds_client", "keepidle_seconds_server", "keepintvl_seconds_server",
	"findings", "wireshark_filter", "findings_not_listed",
}

// CSV writes one row per flow listed in the report (the flagged flows, or
// every flow with --all) for spreadsheets: its endpoints, state, times in
// RFC 3339 UTC, counts, gaps in seconds, keepalives per side, its finding
// kinds separated by ";", a Wireshark display filter, and the number of
// its findings past analyze.MaxListed a kind, counted but not listed.
func CSV(w io.Writer, r *Report) error {
	bw := newOutput(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	if cw.Flush(); cw.Error() != nil {
		return cw.Error()
	}
	return writeInOrder(bw, r.Result.Flows.WithoutText(), newCSVRows)
}

// newCSVRows returns an encoder of flows as CSV rows, one a flow, through
// a csv.Writer of its own.
func newCSVRows() flowEncoder {
	var out appendWriter
	cw := csv.NewWriter(&out)
	return func(dst []byte, fl *analyze.Flow) ([]byte, error) {
		var kinds []string
		for _, f := range fl.Findings {
			kinds = append(kinds, string(f.Kind))
		}
		notListed := 0
		for _, n := range fl.FindingsNotListed {
			notListed += n
		}
		c, s := fl.Keepalive[analyze.Client], fl.Keepalive[analyze.Server]
		row := []string{
			strconv.Itoa(fl.Index), fl.Client.String(), fl.Server.String(), fl.State.String(),
			fl.First.UTC().Format(time.RFC3339Nano), fl.Last.UTC().Format(time.RFC3339Nano),
			strconv.FormatUint(fl.Packets, 10),
			strconv.FormatUint(fl.Bytes[analyze.Client], 10), strconv.FormatUint(fl.Bytes[analyze.Server], 10),
			csvSeconds(fl.MaxGap), csvSeconds(fl.IdleAtEnd),
			strconv.Itoa(c.Probes), strconv.Itoa(c.Acks), strconv.Itoa(s.Probes), strconv.Itoa(s.Acks),
			csvOptSeconds(c.Settings.Idle), csvOptSeconds(c.Settings.Interval), csvOptSeconds(s.Settings.Idle), csvOptSeconds(s.Settings.Interval),
			strings.Join(kinds, ";"), WiresharkFilter(fl), strconv.Itoa(notListed),
		}
		out.b = dst
		cw.Write(row)
		cw.Flush()
		return out.b, cw.Error()
	}
}

// csvOptSeconds is csvSeconds, empty for an unknown (zero) duration.
func csvOptSeconds(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return csvSeconds(d)
}

// csvSeconds prints a duration as plain decimal seconds.
func csvSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
