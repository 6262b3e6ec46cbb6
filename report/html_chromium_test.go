package report

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// chromiumCases are the golden cases whose HTML is opened in Chromium.
var chromiumCases = []string{"long-request-nokeepalive", "lab-drop-nokeepalive-server-traced", "keepalive-too-slow-traced"}

// TestHTMLChromium opens HTML reports in headless Chromium: the page must
// render without a console message, and a screenshot is taken. With
// -update the screenshots are kept in testdata/screenshots for review.
func TestHTMLChromium(t *testing.T) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium is not on PATH (apt-get install chromium)")
	}
	for _, tc := range goldenCases {
		if !slices.Contains(chromiumCases, tc.name) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.cfg, tc.files...)
			if tc.traced {
				r = buildTraced(t, tc.cfg, tc.files...)
			}
			dir := t.TempDir()
			page := filepath.Join(dir, tc.name+".html")
			var buf bytes.Buffer
			if err := HTML(&buf, r); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			shot := filepath.Join(dir, tc.name+".png")
			stderr := runChromium(t, bin, dir, "--screenshot="+shot, "--window-size=1280,2000",
				"--enable-logging=stderr", "--v=0", "file://"+page)
			if lines := consoleLines(stderr); len(lines) > 0 {
				t.Errorf("console output while rendering %s:\n%s", page, strings.Join(lines, "\n"))
			}
			img := checkPNG(t, shot)
			if *update {
				keepScreenshot(t, img, filepath.Join("testdata", "screenshots", tc.name+".png"))
			}
		})
	}
}

// runChromium runs headless Chromium with its own profile in dir and
// returns what it wrote to standard error.
func runChromium(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Host names resolve to nothing: the page must not need the network.
	args = append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--user-data-dir=" + filepath.Join(dir, "profile")}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	return stderr.String()
}

// consoleLines picks the lines of Chromium's log that report a console
// message or an uncaught error. The page has no script, so any is a fault:
// a resource that failed to load, a blocked request, a script error.
func consoleLines(log string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, l)
		}
	}
	return out
}

func TestConsoleLines(t *testing.T) {
	log := `[1:1:1125/151708.1:ERROR:dbus/bus.cc:405] Failed to connect to the bus
[1:1:1125/151708.4:INFO:CONSOLE:1] "boom", source: file:///tmp/bad.html (1)
[1:1:1125/151708.5:INFO:CONSOLE:1] "Uncaught ReferenceError: f is not defined", source: file:///tmp/bad.html (1)
`
	if got := consoleLines(log); len(got) != 2 {
		t.Errorf("consoleLines found %d lines, want the 2 console messages: %q", len(got), got)
	}
}

// checkPNG asserts that the file is a PNG image of nonzero size.
func checkPNG(t *testing.T, name string) image.Image {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
		t.Fatalf("screenshot %s is empty", name)
	}
	return img
}

// keepScreenshot saves img without the blank rows below the page, in 256
// colours, for review.
func keepScreenshot(t *testing.T, img image.Image, name string) {
	t.Helper()
	b := img.Bounds()
	bottom := b.Min.Y + 1
	for y := b.Max.Y - 1; y > b.Min.Y; y-- {
		if !blankRow(img, y) {
			bottom = min(y+24, b.Max.Y)
			break
		}
	}
	if s, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		img = s.SubImage(image.Rect(b.Min.X, b.Min.Y, b.Max.X, bottom))
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, paletted(img)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func blankRow(img image.Image, y int) bool {
	b := img.Bounds()
	r0, g0, b0, _ := img.At(b.Min.X, y).RGBA()
	for x := b.Min.X; x < b.Max.X; x++ {
		if r, g, bl, _ := img.At(x, y).RGBA(); r != r0 || g != g0 || bl != b0 {
			return false
		}
	}
	return true
}

// paletted reduces a screenshot to its 256 most common colours, a third
// of the file size with no visible change: a rendered page has a few flat
// colours and their antialiased edges. Colours are counted in bins of 16
// levels per channel, each bin standing for its most common colour.
func paletted(img image.Image) *image.Paletted {
	type bin struct{ r, g, b uint8 }
	bins := map[bin]map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			k := bin{c.R >> 4, c.G >> 4, c.B >> 4}
			if bins[k] == nil {
				bins[k] = map[color.RGBA]int{}
			}
			bins[k][c]++
		}
	}
	type entry struct {
		c color.RGBA
		n int
	}
	var entries []entry
	for _, cs := range bins {
		var best entry
		n := 0
		for c, k := range cs {
			n += k
			if k > best.n || k == best.n && less(c, best.c) {
				best = entry{c, k}
			}
		}
		entries = append(entries, entry{best.c, n})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if a.n != b.n {
			return b.n - a.n
		}
		if less(a.c, b.c) {
			return -1
		}
		return 1
	})
	var pal color.Palette
	for i := 0; i < len(entries) && i < 256; i++ {
		pal = append(pal, entries[i].c)
	}
	p := image.NewPaletted(b, pal)
	draw.Draw(p, b, img, b.Min, draw.Src)
	return p
}

func less(a, b color.RGBA) bool {
	return a.R < b.R || a.R == b.R && (a.G < b.G || a.G == b.G && (a.B < b.B || a.B == b.B && a.A < b.A))
}
