package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestVantage(t *testing.T) {
	lab := filepath.Join(repoRoot, "testdata/pcaps/lab")
	tests := []struct {
		scenario  string
		matchedBy string
		vanished  []string // kinds of the packets that vanished
		forged    []string // kinds of the packets forged between the points
	}{
		{"requests-nokeepalive", "4-tuple", []string{"data"}, []string{"rst"}},
		{"nat-requests-nokeepalive", "initial sequence numbers", []string{"data"}, []string{"rst"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"analyze", "--idle", "5s", "--vantage", "--format", "json",
				filepath.Join(lab, tt.scenario+".client.pcap"), filepath.Join(lab, tt.scenario+".server.pcap")}
			if err := run(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			var doc struct {
				Schema      string `json:"schema"`
				Points      []any  `json:"vantage_points"`
				Connections []struct {
					MatchedBy     string `json:"matched_by"`
					NearClient    string `json:"near_client"`
					Discrepancies []struct {
						Kind     string `json:"kind"`
						Vanished bool   `json:"vanished"`
						Forged   bool   `json:"forged"`
						SeenAt   string `json:"seen_at"`
					} `json:"discrepancies"`
				} `json:"connections"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Schema != "hangdiag.vantage/v1" || len(doc.Points) != 2 || len(doc.Connections) != 1 {
				t.Fatalf("schema %q, %d points, %d connections", doc.Schema, len(doc.Points), len(doc.Connections))
			}
			c := doc.Connections[0]
			if c.MatchedBy != tt.matchedBy || !strings.HasSuffix(c.NearClient, ".client.pcap") {
				t.Errorf("matched by %q, near client %q", c.MatchedBy, c.NearClient)
			}
			var vanished, forged []string
			for _, d := range c.Discrepancies {
				if !strings.HasSuffix(d.SeenAt, ".server.pcap") {
					t.Errorf("discrepancy seen at %s, want the server capture", d.SeenAt)
				}
				if d.Vanished {
					vanished = append(vanished, d.Kind)
				}
				if d.Forged {
					forged = append(forged, d.Kind)
				}
			}
			if strings.Join(vanished, ",") != strings.Join(tt.vanished, ",") || strings.Join(forged, ",") != strings.Join(tt.forged, ",") {
				t.Errorf("vanished %v, forged %v; want %v and %v", vanished, forged, tt.vanished, tt.forged)
			}
		})
	}
}

func TestVantageUsage(t *testing.T) {
	one := filepath.Join(repoRoot, "testdata/pcaps/clean.pcap")
	for name, args := range map[string][]string{
		"one capture":  {"analyze", "--vantage", one},
		"three":        {"analyze", "--vantage", one, one, one},
		"no such form": {"analyze", "--vantage", "--format", "csv", one, one},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if status := exitStatus(err, &bytes.Buffer{}); status != exitUsage {
			t.Errorf("%s: status %d (%v), want %d", name, status, err, exitUsage)
		}
	}
}
