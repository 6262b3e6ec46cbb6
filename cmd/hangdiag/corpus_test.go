package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corpusDir holds real captures from public projects, beside the repository.
const corpusDir = repoRoot + "/../shared/pcaps/corpus"

// TestCorpus runs the whole command over every capture of the shared corpus:
// odd link types, truncated and corrupt files, files that are no captures.
// Each must end in a report or in one error line, never a panic, within a
// time bound, and the report must say what it could not read.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(files) == 0 {
		t.Skipf("no corpus at %s; it sits beside the repository as shared/pcaps/corpus", corpusDir)
	}
	analysed, refused := 0, 0
	for _, path := range files {
		if filepath.Base(path) == "MANIFEST.tsv" {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"analyze", "--format", "json", "--all", path}, &stdout, &stderr)
			var line bytes.Buffer
			switch status := exitStatus(err, &line); status {
			case exitOK:
				analysed++
			case exitUsage:
				refused++
				if !strings.HasPrefix(line.String(), "hangdiag: "+path+": ") || strings.Count(line.String(), "\n") != 1 {
					t.Errorf("error is not one line naming the file: %q", line.String())
				}
				return
			default:
				t.Fatalf("exit status %d: %v", status, err)
			}
			var doc struct {
				Capture struct {
					Packets    uint64   `json:"packets"`
					TCPPackets uint64   `json:"tcp_packets"`
					Skipped    uint64   `json:"skipped_packets"`
					Warnings   []string `json:"warnings"`
					Files      []struct {
						Damage string `json:"damage"`
					} `json:"file_details"`
				} `json:"capture"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("report is not JSON: %v", err)
			}
			c := doc.Capture
			if c.TCPPackets+c.Skipped != c.Packets {
				t.Errorf("tcp %d + skipped %d != packets %d", c.TCPPackets, c.Skipped, c.Packets)
			}
			warnings := strings.Join(c.Warnings, "\n")
			if d := c.Files[0].Damage; d != "" && !strings.Contains(warnings, d+"; results cover") {
				t.Errorf("damage %q is not among the warnings:\n%s", d, warnings)
			}
			if c.Packets > 0 && c.TCPPackets == 0 && !strings.Contains(warnings, "no TCP segment in") {
				t.Errorf("%d packets and no TCP, without a word:\n%s", c.Packets, warnings)
			}
		})
	}
	t.Logf("%d captures analysed, %d refused with one line", analysed, refused)
	if analysed == 0 {
		t.Error("no corpus capture was analysed")
	}
}
