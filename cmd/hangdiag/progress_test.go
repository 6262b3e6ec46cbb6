package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name        string
		label       string
		read, total int64
		elapsed     time.Duration
		cols        int
		want        string
	}{
		{"half", "", 500e6, 1000e6, 2 * time.Second, 80,
			"hangdiag: [=========          ]  50%   500 MB of 1.0 GB   250 MB/s      2s left"},
		{"narrow terminal drops the bar", "", 250e6, 1e9, 5 * time.Second, 60,
			"hangdiag:   25%   250 MB of 1.0 GB  50.0 MB/s     15s left"},
		{"unknown total", "", 42e6, -1, 3 * time.Second, 80, "hangdiag: read 42.0 MB  14.0 MB/s"},
		{"read past the total", "", 1100, 1000, time.Second, 80,
			"hangdiag: [===================] 100%   1.0 kB of 1.0 kB   1.1 kB/s      0s left"},
		{"wide terminal caps the bar", "", 1e9, 100e9, 10 * time.Second, 200,
			"hangdiag: [                                        ]   1%   1.0 GB of 100 GB   100 MB/s  16m30s left"},
		{"tiny terminal truncates", "", 1e9, -1, time.Second, 20, "hangdiag: read 1.0 "},
		{"second pass, its bar shorter", "pass 2", 500e6, 1000e6, 2 * time.Second, 80,
			"hangdiag: pass 2 [======      ]  50%   500 MB of 1.0 GB   250 MB/s      2s left"},
		{"second pass, unknown total", "pass 2", 42e6, -1, 3 * time.Second, 80, "hangdiag: pass 2 read 42.0 MB  14.0 MB/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := progressLine(tt.label, tt.read, tt.total, tt.elapsed, tt.cols)
			if got != tt.want {
				t.Errorf("progressLine(%q, %d, %d, %s, %d) =\n%q\nwant\n%q", tt.label, tt.read, tt.total, tt.elapsed, tt.cols, got, tt.want)
			}
			if len(got) >= tt.cols {
				t.Errorf("line of %d characters on a %d-column terminal would wrap", len(got), tt.cols)
			}
		})
	}
}

func TestByteSizeAndDuration(t *testing.T) {
	for n, want := range map[float64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12345: "12.3 kB", 123456789: "123 MB", 1.5e9: "1.5 GB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%v) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 125 * time.Second: "2m05s", 3720 * time.Second: "1h02m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestProgressSilent checks that the bar is drawn only on a terminal that
// the context carries, and that stopping it clears the line.
func TestProgressSilent(t *testing.T) {
	src, err := pcapio.Open(filepath.Join(repoRoot, "testdata/pcaps/clean.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	startProgress(context.Background(), src)() // no terminal: nothing to draw on

	var term bytes.Buffer
	ctx := context.WithValue(context.Background(), progressKey{}, progressTerm{w: &term, cols: 80})
	stop := startProgress(ctx, src)
	time.Sleep(2 * progressEvery)
	stop()
	out := term.String()
	if !strings.HasPrefix(out, "\rhangdiag: [") || !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("terminal got %q, want a bar and a cleared line", out)
	}
}

// TestProgressLabel checks that progressLabel labels the bar a context
// draws, and leaves a context that draws none alone.
func TestProgressLabel(t *testing.T) {
	bare := context.Background()
	if progressLabel(bare, "pass 2") != bare {
		t.Error("a context without a terminal changed")
	}
	var term bytes.Buffer
	ctx := withProgress(bare, &term, 80)
	got, _ := progressLabel(ctx, "pass 2").Value(progressKey{}).(progressTerm)
	if got.label != "pass 2" || got.w != &term || got.cols != 80 {
		t.Errorf("labelled terminal %+v", got)
	}
	if first, _ := ctx.Value(progressKey{}).(progressTerm); first.label != "" {
		t.Errorf("the first pass's bar labelled %q", first.label)
	}
}

// TestProgressThenNotes draws the second pass's bar as often as it can
// while the pass shortens timelines, on the terminal the notes go to:
// each note comes on a line of its own, after the bar is cleared.
func TestProgressThenNotes(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Microsecond
	files := []string{filepath.Join(repoRoot, "testdata/pcaps/vlan.pcap")}
	rep, err := analyzeFiles(context.Background(), files, analyze.Config{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	listed := rep.ListedFlows()
	for try := 0; ; try++ {
		var term bytes.Buffer
		ctx := context.WithValue(context.Background(), progressKey{}, progressTerm{w: &term, cols: 80})
		if _, err := secondPass(ctx, files, analyze.Config{}, rep.Result, listed, listed, 4, nil, &term); err != nil {
			t.Fatal(err)
		}
		out := term.String()
		bar, note := strings.Index(out, "hangdiag: pass 2 "), strings.Index(out, "hangdiag: note: ")
		if note < 0 {
			t.Fatalf("no note of shortened timelines: %q", out)
		}
		if bar < 0 && try < 50 {
			continue // the pass ended before the bar was drawn
		}
		if bar < 0 {
			t.Fatal("the bar was never drawn")
		}
		if before := out[:note]; !strings.HasSuffix(before, "\r\033[K") {
			t.Errorf("a note follows a bar not cleared: …%q", out[max(0, note-100):min(len(out), note+60)])
		}
		return
	}
}
