package analyze_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// traceFile analyses the capture at path with cfg, whose TraceFlows or
// TraceAll say what to trace, and returns the result and the packets
// traced, by flow; an error when path is no capture.
func traceFile(path string, cfg analyze.Config) (*analyze.Result, map[int][]analyze.Packet, error) {
	src, err := pcapio.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	packets := map[int][]analyze.Packet{}
	cfg.Trace = func(i int, p analyze.Packet) { packets[i] = append(packets[i], p) }
	a := analyze.New(cfg)
	var seg pcapio.Segment
	for src.Next(&seg) {
		a.Add(&seg)
	}
	return a.Finish(time.Time{}), packets, nil
}

// TestTraceAll checks that TraceAll traces every flow, as naming each in
// TraceFlows does, and that an empty TraceFlows traces none.
func TestTraceAll(t *testing.T) {
	for _, name := range []string{"port-reuse.pcap", "vlan.pcap", "two-linktypes.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "pcaps", name)
			res, none, err := traceFile(path, analyze.Config{TraceFlows: map[int]bool{}})
			if err != nil {
				t.Fatal(err)
			}
			if len(none) != 0 {
				t.Errorf("an empty TraceFlows traced %d flows", len(none))
			}
			every := map[int]bool{}
			for i := range res.Stats.Flows {
				every[i] = true
			}
			_, named, _ := traceFile(path, analyze.Config{TraceFlows: every})
			_, all, _ := traceFile(path, analyze.Config{TraceAll: true})
			if len(all) != res.Stats.Flows || len(all) < 2 {
				t.Errorf("TraceAll traced %d flows of %d", len(all), res.Stats.Flows)
			}
			if diff := cmp.Diff(named, all); diff != "" {
				t.Errorf("TraceAll differs from naming every flow (-named +all):\n%s", diff)
			}
		})
	}
}

// TestTraceOnly traces every flow of the shipped captures and of the
// corpus twice, at --idle 1s, which makes many gaps long, and with
// TraceOnly: the packets, their kinds and their flows' numbers are the
// same, and TraceOnly keeps no flow, even with KeepAll.
func TestTraceOnly(t *testing.T) {
	var files []string
	for _, glob := range []string{"../testdata/pcaps/*.pcap*", "../testdata/pcaps/lab/*.pcap", wiresharkCorpus + "/*"} {
		matched, _ := filepath.Glob(glob)
		files = append(files, matched...)
	}
	traced := 0
	for _, path := range files {
		_, want, err := traceFile(path, analyze.Config{Idle: time.Second, KeepAll: true, TraceAll: true})
		if err != nil {
			continue // the corpus holds files that are no captures
		}
		only, got, _ := traceFile(path, analyze.Config{Idle: time.Second, KeepAll: true, TraceAll: true, TraceOnly: true})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: traced otherwise with TraceOnly (-without +with):\n%s", path, diff)
		}
		if n := only.Flows.Len(); n != 0 {
			t.Errorf("%s: TraceOnly kept %d flows", path, n)
		}
		traced += len(want)
	}
	if traced < 1000 {
		t.Errorf("only %d flows traced", traced)
	}
	t.Logf("%d files, %d flows traced", len(files), traced)
}
