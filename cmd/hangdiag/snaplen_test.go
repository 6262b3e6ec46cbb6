package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hangdiag/hangdiag/pcapio"
)

// cutSnaplen is the snap length TestSnaplenCut cuts captures to: enough
// for Ethernet, a VLAN tag, IPv6 and the longest TCP header (14 + 4 + 40 +
// 60 bytes), as `tcpdump -s 128` would take them.
const cutSnaplen = 128

// TestSnaplenCut checks that a capture cut to a short snap length, as
// captures of busy hosts are taken, gives the same flows, gaps and
// findings as the whole capture: the analysis reads lengths from the IP
// headers, never from the bytes captured. It runs over the shipped
// captures and the shared corpus's classic pcap files whose headers fit in
// cutSnaplen bytes.
func TestSnaplenCut(t *testing.T) {
	shipped, _ := filepath.Glob(pcaps("*.pcap"))
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*.pcap"))
	compared := 0
	for i, path := range append(shipped, corpus...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cut, ok := cutPcap(data, cutSnaplen)
		if !ok {
			if i < len(shipped) {
				t.Errorf("%s: not a classic pcap whose headers fit in %d bytes", path, cutSnaplen)
			}
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			cutPath := filepath.Join(t.TempDir(), "cut.pcap")
			if err := os.WriteFile(cutPath, cut, 0o644); err != nil {
				t.Fatal(err)
			}
			whole, ok := flowsReport(t, path)
			if !ok {
				return
			}
			short, ok := flowsReport(t, cutPath)
			if !ok {
				t.Fatal("the cut capture is refused, the whole one is not")
			}
			short = strings.ReplaceAll(short, jsonString(t, cutPath), jsonString(t, path)) // the packets' file names aside
			if diff := cmp.Diff(whole, short); diff != "" {
				t.Errorf("cut to %d bytes a packet, the flows differ (-whole +cut):\n%s", cutSnaplen, diff)
			}
			compared++
		})
	}
	t.Logf("%d captures compared whole and cut", compared)
	if compared == 0 {
		t.Error("no capture compared")
	}
}

// flowsReport runs analyze --all on path and returns the JSON report's
// summary and flows, and false when the command refuses the file.
func flowsReport(t *testing.T, path string) (string, bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--format", "json", "--all", path}, &stdout, &stderr); err != nil {
		return "", false
	}
	var doc struct {
		Summary json.RawMessage `json:"summary"`
		Flows   json.RawMessage `json:"flows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	return string(doc.Summary) + "\n" + string(doc.Flows), true
}

// cutPcap returns a classic pcap file cut to snap bytes a packet, as a
// capture taken with that snap length would hold it, and false when data
// is not a classic pcap file read to its end, or the headers of some TCP
// segment do not fit in snap bytes (the decoder reads the whole packet and
// not the cut one: a long radiotap or NFLOG header, a tunnel).
func cutPcap(data []byte, snap int) ([]byte, bool) {
	if len(data) < 24 {
		return nil, false
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, false
	}
	link := uint16(order.Uint32(data[20:]))
	var seg pcapio.Segment
	out := append([]byte(nil), data[:24]...)
	order.PutUint32(out[16:], uint32(min(int(order.Uint32(data[16:])), snap)))
	for rest := data[24:]; len(rest) > 0; {
		if len(rest) < 16 {
			return nil, false
		}
		caplen := int(order.Uint32(rest[8:]))
		if caplen > len(rest)-16 {
			return nil, false
		}
		keep := min(caplen, snap)
		frame, wire := rest[16:16+caplen], order.Uint32(rest[12:])
		if pcapio.Decode(link, frame, wire, &seg) == pcapio.Decoded && pcapio.Decode(link, frame[:keep], wire, &seg) != pcapio.Decoded {
			return nil, false
		}
		out = append(out, rest[:16+keep]...)
		order.PutUint32(out[len(out)-keep-8:], uint32(keep)) // the record's captured length
		rest = rest[16+caplen:]
	}
	return out, true
}
