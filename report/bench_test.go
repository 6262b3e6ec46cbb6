package report

import (
	"io"
	"os"
	"testing"

	"github.com/hangdiag/hangdiag/analyze"
)

// BenchmarkFormats renders, in every format, the report of the capture
// HANGDIAG_BENCH_CAPTURE names, analysed once before the timing, as
// `hangdiag analyze` would (without the second pass that traces the
// packets of Markdown's and HTML's timelines, which then show the packets
// the findings name); bench/out/realistic-1GiB.pcap makes a report of 915
// flagged flows. Without the variable it is skipped.
func BenchmarkFormats(b *testing.B) {
	path := os.Getenv("HANGDIAG_BENCH_CAPTURE")
	if path == "" {
		b.Skip("HANGDIAG_BENCH_CAPTURE names no capture")
	}
	r, err := analyzeCaptures(analyze.Config{}, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d flows, %d flagged", r.Result.Flows.Len(), r.FlaggedFlows())
	for _, format := range FormatNames() {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if err := Formats[format](io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
