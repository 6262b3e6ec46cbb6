package capgen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTshark reads each scenario's capture with tshark, when it is
// installed, as an independent check: checksums verify, nothing is
// malformed, and tshark's keepalive count is the one the scenario states
// (Wireshark also counts Linux zero-window probes, and misses probes it
// cannot place). The counts are those of Wireshark 4.0.
func TestTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark)")
	}
	dir := t.TempDir()
	for _, sc := range scenarios {
		c := sc.build()
		f := c.files[0]
		if len(c.files) > 1 {
			// Rotated files, read as one capture.
			f.name = strings.TrimSuffix(f.name, ".pcap") + "-merged.pcap"
			f.recs = nil
			for _, g := range c.files {
				f.recs = append(f.recs, g.recs...)
			}
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			b, err := f.bytes()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, f.name)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tshark, "-n", "-r", path,
				"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
				"-T", "fields", "-E", "occurrence=f",
				"-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.checksum.status",
				"-e", "ip.checksum.status", "-e", "_ws.malformed", "-e", "tcp.analysis.keep_alive")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark: %v: %s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(lines) != len(f.recs) {
				t.Errorf("tshark reads %d packets, want %d", len(lines), len(f.recs))
			}
			keepalives := 0
			for _, l := range lines {
				// number, port, TCP checksum, IPv4 checksum, malformed, keepalive
				c := strings.Split(l, "\t")
				if len(c) != 6 || c[1] == "" || c[2] != "1" || (c[3] != "1" && c[3] != "") || c[4] != "" {
					t.Errorf("tshark: not a well-formed TCP segment with valid checksums: %q", l)
					continue
				}
				if c[5] != "" {
					keepalives++
				}
			}
			if keepalives != sc.wireshark {
				t.Errorf("tshark flags %d keepalives, want %d", keepalives, sc.wireshark)
			}
		})
	}
}
