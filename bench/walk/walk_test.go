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

// TestWalkCounts walks every classic pcap shipped in testdata/pcaps, whole
// and cut to 60 bytes a packet, given at once and a few bytes a read, in
// a buffer of 1 MiB and in one of 2 KiB that holds a frame or two at a
// time: as many packets as pcapio reads.
func TestWalkCounts(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/pcaps/*.pcap")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped pcap: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := pcapioPackets(t, path)
			cut := filepath.Join(t.TempDir(), "cut.pcap")
			if err := os.WriteFile(cut, cutTo60(t, data), 0o644); err != nil {
				t.Fatal(err)
			}
			if n := pcapioPackets(t, cut); n != want {
				t.Fatalf("pcapio read %d packets cut, %d whole", n, want)
			}
			for _, in := range []string{path, cut} {
				data, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				for _, size := range [][2]int{{bufSize, readSize}, {2048, 300}} {
					for _, r := range []io.Reader{bytes.NewReader(data), &dribble{data: data}} {
						got, _, err := walk(r, size[0], size[1])
						if err != nil {
							t.Fatalf("%s, buffer %d: %v", filepath.Base(in), size[0], err)
						}
						if got != want {
							t.Errorf("%s, buffer %d (%T): walked %d packets, pcapio read %d", filepath.Base(in), size[0], r, got, want)
						}
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

// cutTo60 returns the classic pcap data with every record cut to 60
// captured bytes, as tcpdump -s 60 writes.
func cutTo60(t *testing.T, data []byte) []byte {
	order := byteOrder(data[:4])
	if order == nil {
		t.Fatalf("not a classic pcap")
	}
	out := bytes.Clone(data[:24])
	for rest := data[24:]; len(rest) >= 16; {
		capLen := order.Uint32(rest[8:12])
		rec := bytes.Clone(rest[:16+capLen])
		if capLen > 60 {
			order.PutUint32(rec[8:12], 60)
			rec = rec[:16+60]
		}
		out = append(out, rec...)
		rest = rest[16+capLen:]
	}
	return out
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
	clean, err := os.ReadFile("../../testdata/pcaps/clean.pcap")
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
		{"cut inside a record", clean[:len(clean)-3], "the file ends inside record"},
	} {
		_, _, err := walk(bytes.NewReader(tc.data), bufSize, readSize)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}
