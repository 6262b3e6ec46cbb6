package main

import (
	"context"
	"io"
	"math"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/report"
)

// runVantage analyses two captures of the same traffic taken at two points
// (say the client and the server), matches their connections, and reports
// per packet where each was seen and where it vanished. Each argument is
// one vantage point: a capture, or rotated captures joined by commas.
func runVantage(ctx context.Context, args []string, cfg analyze.Config, end time.Time, o *analyzeOptions, stdout io.Writer, stderr io.Writer) error {
	if len(args) != 2 {
		return usagef("--vantage takes two captures of the same traffic, one per vantage point (rotated files of one point joined by commas); got %d", len(args))
	}
	render, ok := report.VantageFormats[o.format]
	if !ok {
		return usagef("--vantage writes the formats %s, not %q", strings.Join(report.VantageFormatNames(), ", "), o.format)
	}
	keepAll := cfg.KeepAll
	cfg.KeepAll = true // every flow, for matching
	var points [2]*report.Report
	var paths [2][]string
	for i, arg := range args {
		paths[i] = strings.Split(arg, ",")
		rep, err := analyzeFiles(ctx, paths[i], cfg, end)
		if err != nil {
			return err
		}
		points[i] = rep
	}
	var chosen []analyze.FlowPair
	for _, p := range analyze.MatchFlows(points[0].Result, points[1].Result) {
		if keepAll || hasFindings(points[0].Result, p.Index[0]) || hasFindings(points[1].Result, p.Index[1]) {
			chosen = append(chosen, p)
		}
	}
	// Each point's packets of the chosen connections, every one of them:
	// a comparison of lists cut short at each end would take the packets
	// one point's list keeps and the other's leaves out for discrepancies.
	// They are kept in 40 bytes each, and made into packets for one
	// connection at a time.
	var traces [2]*timelines
	for i := range points {
		traced := map[int]bool{}
		for _, p := range chosen {
			traced[p.Index[i]] = true
		}
		var err error
		if traces[i], err = secondPass(ctx, paths[i], cfg, points[i].Result, traced, traced, math.MaxInt, nil, stderr); err != nil {
			return err
		}
	}
	vr := &report.VantageReport{Points: points}
	for _, p := range chosen {
		var v [2]analyze.Vantage
		for i := range v {
			v[i] = analyze.Vantage{Name: args[i], Packets: traces[i].Packets(p.Index[i]), CaptureEnd: points[i].Result.CaptureEnd}
		}
		vr.Comparisons = append(vr.Comparisons, analyze.Compare(p, v))
	}
	if !keepAll {
		for i, rep := range points {
			compared := map[int]bool{}
			for _, p := range chosen {
				compared[p.Index[i]] = true
			}
			rep.Result.Flows = rep.Result.Flows.Filter(func(f *analyze.Flow) bool {
				return len(f.Findings) > 0 || compared[f.Index]
			})
		}
	}
	defer points[0].Result.Flows.Close()
	defer points[1].Result.Flows.Close()
	err := writeReport(o.output, stdout, func(w io.Writer) error { return render(w, vr) })
	if err == nil {
		err = readBack(points[0].Result, points[1].Result)
	}
	if err == nil && o.exitCode && vr.Discrepancies() > 0 {
		return errFindings
	}
	return err
}

func hasFindings(r *analyze.Result, index int) bool {
	f, ok := r.Flows.WithoutText().Find(index)
	return ok && len(f.Findings) > 0
}
