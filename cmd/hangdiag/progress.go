package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// The progress bar appears once reading has taken progressDelay, so that
// short runs print nothing, and is redrawn every progressEvery (tests
// shorten it).
const progressDelay = time.Second

var progressEvery = 250 * time.Millisecond

// progressKey is the context key for the terminal that progress is drawn
// on.
type progressKey struct{}

// progressTerm is a terminal of cols columns, to draw on once reading has
// taken delay; label names the pass that reads ("pass 2"), when it is not
// the first.
type progressTerm struct {
	w     io.Writer
	cols  int
	delay time.Duration
	label string
}

// withProgress returns a copy of ctx under which reading captures draws a
// progress bar on w, a terminal cols columns wide.
func withProgress(ctx context.Context, w io.Writer, cols int) context.Context {
	return context.WithValue(ctx, progressKey{}, progressTerm{w: w, cols: cols, delay: progressDelay})
}

// progressLabel returns a copy of ctx whose progress bar, if it draws
// one, is labelled label: "hangdiag: pass 2 [====   ]".
func progressLabel(ctx context.Context, label string) context.Context {
	t, ok := ctx.Value(progressKey{}).(progressTerm)
	if !ok {
		return ctx
	}
	t.label = label
	return context.WithValue(ctx, progressKey{}, t)
}

// startProgress draws the progress of reading src, when ctx carries a
// terminal, until the function it returns is called; that clears the line.
func startProgress(ctx context.Context, src *pcapio.Source) (stop func()) {
	t, ok := ctx.Value(progressKey{}).(progressTerm)
	if !ok {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		drawn := false
		for {
			select {
			case <-done:
				if drawn {
					fmt.Fprint(t.w, "\r\033[K")
				}
				return
			case now := <-tick.C:
				if el := now.Sub(start); el >= t.delay {
					read, total := src.Progress()
					fmt.Fprint(t.w, "\r"+progressLine(t.label, read, total, el, t.cols))
					drawn = true
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// progressLine is one line of progress, at most cols-1 wide: the label
// if any, a bar, the bytes read of total, the rate and the time left, or
// only the bytes and the rate when total is unknown (-1).
func progressLine(label string, read, total int64, elapsed time.Duration, cols int) string {
	rate := float64(read) / max(elapsed.Seconds(), 1e-3)
	head := "hangdiag: "
	if label != "" {
		head += label + " "
	}
	var line string
	if total <= 0 {
		line = fmt.Sprintf("%sread %s  %s/s", head, byteSize(float64(read)), byteSize(rate))
	} else {
		read = min(read, total)
		left := "-"
		if rate > 0 {
			left = shortDuration(time.Duration(float64(total-read) / rate * float64(time.Second)))
		}
		pct := int(100 * read / total)
		text := fmt.Sprintf(" %3d%%  %7s of %s  %7s/s  %6s left", pct, byteSize(float64(read)), byteSize(float64(total)), byteSize(rate), left)
		bar := ""
		if w := min(cols-1-len(head+"[]")-len(text), 40); w >= 10 {
			n := int(int64(w) * read / total)
			bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", w-n) + "]"
		}
		line = head + bar + text
	}
	if cols > 1 && len(line) > cols-1 {
		line = line[:cols-1]
	}
	return line
}

// byteSize formats n bytes in decimal units: "812 B", "4.2 MB", "1.1 GB".
func byteSize(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 999.5 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 || n >= 99.95 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// shortDuration formats d to the second: "7s", "2m05s", "1h02m".
func shortDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}
