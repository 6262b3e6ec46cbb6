package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestCompressedCapture analyses a shipped capture compressed with zstd,
// as `zstd` writes it: the flows and findings are those of the file
// itself, the JSON report's file details say "zstd" (and not gzip), and
// the reports for people name the compression beside the format.
func TestCompressedCapture(t *testing.T) {
	plain := pcaps("long-request-nokeepalive.pcap")
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zst := filepath.Join(t.TempDir(), "capture.pcap.zst")
	if err := os.WriteFile(zst, enc.EncodeAll(data, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Capture struct {
			Files []struct {
				Format      string `json:"format"`
				Gzip        bool   `json:"gzip"`
				Compression string `json:"compression"`
			} `json:"file_details"`
		} `json:"capture"`
		Summary json.RawMessage   `json:"summary"`
		Flows   []json.RawMessage `json:"flows"`
	}
	analyse := func(path string, format string) (string, report) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"analyze", "--format", format, path}, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, stderr.String())
		}
		var r report
		if format == "json" {
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
		}
		return stdout.String(), r
	}
	_, want := analyse(plain, "json")
	_, got := analyse(zst, "json")
	if len(want.Flows) == 0 {
		t.Fatal("no flagged flow in the plain capture")
	}
	f := got.Capture.Files[0]
	if f.Compression != "zstd" || f.Gzip || f.Format != want.Capture.Files[0].Format || want.Capture.Files[0].Compression != "" {
		t.Errorf("file details %+v, plain file's %+v", f, want.Capture.Files[0])
	}
	if string(got.Summary) != string(want.Summary) || len(got.Flows) != len(want.Flows) {
		t.Fatalf("summary %s, %d flows; the plain file's %s, %d", got.Summary, len(got.Flows), want.Summary, len(want.Flows))
	}
	from, to := jsonString(t, plain), jsonString(t, zst)
	for i := range want.Flows { // the packets' file names aside
		w := strings.ReplaceAll(string(want.Flows[i]), from, to)
		if string(got.Flows[i]) != w {
			t.Errorf("flow %d differs:\n%s\nwant\n%s", i, got.Flows[i], w)
		}
	}
	for _, format := range []string{"table", "markdown", "html"} {
		out, _ := analyse(zst, format)
		if !strings.Contains(out, "("+f.Format+", zstd, 7 packets)") {
			t.Errorf("the %s report does not name the compression:\n%s", format, out)
		}
	}
}

// jsonString returns s as a JSON string.
func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
