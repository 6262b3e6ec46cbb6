package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hangdiag/hangdiag/pcapio"
)

// TestWalkCounts walks every classic pcap shipped in testdata/pcaps, in
// both byte orders, and pcapio's handshake.pcap, whose snap length of 96
// bytes cut a packet, each given at once and a few bytes a read, in a
// buffer of 1 MiB and in one of 2 KiB that holds a frame or two at a time:
// as many packets as pcapio reads.
func TestWalkCounts(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/pcaps/*.pcap")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped pcap: %v", err)
	}
	for _, path := range append(paths, "../../pcapio/testdata/pcaps/handshake.pcap") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := pcapioPackets(t, path)
			for _, size := range [][2]int{{bufSize, readSize}, {2048, 300}} {
				for _, r := range []io.Reader{bytes.NewReader(data), &dribble{data: data}} {
					got, _, err := walk(r, size[0], size[1])
					if err != nil {
						t.Fatalf("buffer %d: %v", size[0], err)
					}
					if got != want {
						t.Errorf("buffer %d (%T): walked %d packets, pcapio read %d", size[0], r, got, want)
					}
				}
			}
		})
	}
}

// pcapioPackets returns the records pcapio reads from the capture.
func pcapioPackets(t *testing.T, path string) uint64 {
	src, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for batch := src.NextBatch(); len(batch) > 0; batch = src.NextBatch() {
	}
	if d := src.Files()[0].Damage; d != "" {
		t.Fatalf("pcapio stopped early: %s", d)
	}
	return src.Stats().Packets
}

// dribble hands out its data seven bytes a read.
type dribble struct{ data []byte }

func (d *dribble) Read(p []byte) (int, error) {
	if len(d.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], d.data)
	d.data = d.data[n:]
	return n, nil
}

func TestWalkErrors(t *testing.T) {
	cut, err := os.ReadFile("../../pcapio/testdata/pcaps/cut.pcap") // its last record cut short
	if err != nil {
		t.Fatal(err)
	}
	ng, err := os.ReadFile("../../testdata/pcaps/two-linktypes.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no pcap file header"},
		{"pcapng", ng, "not a classic pcap file"},
		{"cut inside a record", cut, "the file ends inside record"},
	} {
		_, _, err := walk(bytes.NewReader(tc.data), bufSize, readSize)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}
