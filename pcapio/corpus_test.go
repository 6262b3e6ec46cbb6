package pcapio

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// corpusDir holds real captures from public repositories, described by
// MANIFEST.tsv with counts from tshark and capinfos.
const corpusDir = "../../shared/pcaps/corpus"

// corpusException explains why pcapio's count in one MANIFEST.tsv column
// differs for one file, and pins pcapio's count.
type corpusException struct {
	file   string
	column string // "packets" or "tcp_packets"
	got    uint64 // what pcapio counts
	why    string
}

const (
	tsharkLink   = "tshark does not know this link type and counts no packets"
	tsharkVer    = "tshark rejects the unusual version field; pcapio ignores it and reads the packet"
	icmpQuotes   = "tshark counts the TCP headers quoted inside ICMP errors"
	notDecodable = "link type pcapio does not decode"
)

var corpusExceptions = []corpusException{
	{"gopacket__be__test901.pcapng", "packets", 3, "tshark stops at the second section, version 2.0; pcapio does not check section versions"},
	{"gopacket__le__test901.pcapng", "packets", 3, "tshark stops at the second section, version 2.0; pcapio does not check section versions"},
	{"libpcap__pcap-invalid-version-1.pcap", "packets", 1, tsharkVer},
	{"libpcap__pcapng-invalid-vers-1.pcapng", "packets", 1, tsharkVer},
	{"libpcap__filter__brcm-tag-stp.pcap", "packets", 4, tsharkLink + " (281, Broadcom tag)"},
	{"tcpdump__brcm-tag-prepend.pcap", "packets", 15, tsharkLink + " (282)"},
	{"tcpdump__dsa-high-vid.pcap", "packets", 4, tsharkLink + " (284, DSA tag)"},
	{"tcpdump__edsa-high-vid.pcap", "packets", 4, tsharkLink + " (285, EDSA tag)"},
	{"tcpdump__hoobr_juniper3.pcap", "packets", 1, tsharkLink + " (132)"},
	{"tcpdump__juniper_es_oobr.pcap", "packets", 1, tsharkLink + " (132)"},
	{"tcpdump__juniper_monitor_invalid_cookie_length.pcap", "packets", 1, tsharkLink + " (164)"},
	{"tcpdump__kday6.pcap", "packets", 1, tsharkLink + " (182)"},
	{"tcpdump__vtp_asan.pcap", "packets", 5, tsharkLink + " (182)"},
	{"tcpdump__vtp_asan-2.pcap", "packets", 1, tsharkLink + " (182)"},
	{"tcpdump__vtp_asan-3.pcap", "packets", 1, tsharkLink + " (182)"},

	{"suricata-verify__defrag__bug-6887-defrag-ppp-ipv4-tcp-syn__frag-ppp-ip-tcp-syn.pcap", "tcp_packets", 0, "the TCP is in IP fragments, which tshark reassembles"},
	{"suricata-verify__defrag__bug-6887-defrag-ppp-ipv6-tcp__frag-ppp-ipv6-tcp.pcap", "tcp_packets", 0, "the TCP is in IPv6 fragments, which tshark reassembles"},

	{"arkime__ospf.pcap", "tcp_packets", 31, icmpQuotes + " (17 ICMPv6)"},
	{"nDPI__gnutella.pcap", "tcp_packets", 2149, icmpQuotes + " (4)"},
	{"nDPI__instagram.pcap", "tcp_packets", 828, icmpQuotes + " (5)"},
	{"nDPI__fuzz-2006-09-29-28586.pcap", "tcp_packets", 114, "fuzzed IP headers (bad version, length, IHL) that tshark still labels TCP"},
	{"suricata-verify__transform-base64-7296__input.pcap", "tcp_packets", 57, "2 segments claim a 60-byte TCP header in a 32-byte IP payload (malformed)"},
	{"tcpdump__tcp_header_heapoverflow.pcap", "tcp_packets", 0, "the only segment has 12 bytes of TCP header captured (truncated)"},
}

// globFiles returns the files matching pattern and fails when there are
// none: a test over no files proves nothing.
func globFiles(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

// readManifest reads a tab-separated file with a header line into one map
// of column to value per row, keyed by the "file" column.
func readManifest(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("%s: no header line", path)
	}
	header := strings.Split(sc.Text(), "\t")
	for _, col := range []string{"file", "packets", "tcp_packets", "file_format", "link_type", "note"} {
		if !slices.Contains(header, col) {
			t.Fatalf("%s: no %q column", path, col)
		}
	}
	rows := map[string]map[string]string{}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		row := map[string]string{}
		for i, col := range header {
			if i < len(fields) {
				row[col] = fields[i]
			}
		}
		rows[row["file"]] = row
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

var linkTypeRE = regexp.MustCompile(`LINKTYPE (\d+)`)

func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("no corpus of real captures at %s", corpusDir)
	}
	manifest := readManifest(t, filepath.Join(corpusDir, "MANIFEST.tsv"))
	exceptions := map[[2]string]corpusException{}
	for _, e := range corpusExceptions {
		exceptions[[2]string{e.file, e.column}] = e
	}
	used := map[[2]string]bool{}

	for _, path := range globFiles(t, filepath.Join(corpusDir, "*")) {
		name := filepath.Base(path)
		if name == "MANIFEST.tsv" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			row, ok := manifest[name]
			if !ok {
				t.Fatal("not in MANIFEST.tsv")
			}
			format := row["file_format"]
			// The manifest names a zstd-compressed file's format "zstd
			// zstd-compressed" alone: the one there holds a pcapng capture
			// (its note says so), as tshark reads it.
			isCapture := strings.HasPrefix(format, "pcap ") || strings.HasPrefix(format, "pcapng ") || strings.HasPrefix(format, "pcap-modified") ||
				strings.HasPrefix(format, "zstd ")
			s, err := Open(path)
			if !isCapture {
				if err == nil {
					s.Close()
					t.Fatalf("Open succeeded on a %s file", format)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("Open error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var seg Segment
			for n := 0; s.Next(&seg); n++ {
				if n > 1e7 {
					t.Fatal("Next does not stop")
				}
			}
			st := s.Stats()
			note := row["note"]
			damaged := strings.Contains(note, "cut short") || strings.Contains(note, "corrupt")
			if d := s.Files()[0].Damage; damaged != (d != "") {
				t.Errorf("Damage = %q; the manifest note says %q", d, note)
			}

			check := func(column string, got uint64) {
				t.Helper()
				want, err := strconv.ParseUint(row[column], 10, 64)
				if err != nil {
					return // no count in the manifest
				}
				key := [2]string{name, column}
				e, explained := exceptions[key]
				used[key] = true
				switch {
				case got == want && explained:
					t.Errorf("%s = %d as in the manifest; remove the exception %q", column, got, e.why)
				case got != want && !explained:
					t.Errorf("%s = %d, manifest says %d: unexplained (note: %q)", column, got, want, note)
				case explained && got != e.got:
					t.Errorf("%s = %d, the exception (%s) says pcapio counts %d", column, got, e.why, e.got)
				}
			}
			if !damaged {
				check("packets", st.Packets)
			}
			check("tcp_packets", st.TCP())

			// Where tshark read the file, it noted timestamps going backwards.
			if !strings.Contains(note, "tshark error") {
				noted := strings.Contains(note, "timestamps not in chronological order")
				if noted != (st.Backwards > 0) {
					t.Errorf("Backwards = %d; the manifest note says %q", st.Backwards, note)
				}
			}
			// Every link type seen is one the manifest names.
			var named []uint16
			for _, m := range linkTypeRE.FindAllStringSubmatch(row["link_type"], -1) {
				n, _ := strconv.Atoi(m[1])
				named = append(named, uint16(n))
			}
			for _, l := range st.Links {
				// The zstd-compressed file's row names its link types
				// without their numbers: TestCorpusZstd checks it.
				if len(named) > 0 && !slices.Contains(named, l.LinkType) {
					t.Errorf("link type %d seen; the manifest names %q", l.LinkType, row["link_type"])
				}
			}
		})
	}
	for _, e := range corpusExceptions {
		if !used[[2]string{e.file, e.column}] {
			t.Errorf("exception for %s %s is for no file read", e.file, e.column)
		}
	}
}

// TestCorpusZstd reads the corpus's zstd-compressed capture, whose
// contents are those of another corpus file (zstd -dc gives the same
// bytes), and checks that it reads as that file does: the same segments,
// counts and link types.
func TestCorpusZstd(t *testing.T) {
	const compressed, plain = "PcapPlusPlus__file_heuristics__pcapng-example.pcapng.zst", "PcapPlusPlus__pcapng-example.pcapng"
	if _, err := os.Stat(filepath.Join(corpusDir, compressed)); err != nil {
		t.Skipf("no corpus of real captures at %s", corpusDir)
	}
	read := func(name string) ([]Segment, Stats, FileInfo) {
		s, err := Open(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var segs []Segment
		var seg Segment
		for s.Next(&seg) {
			seg.Hash = 0 // differs from run to run, not from file to file
			segs = append(segs, seg)
		}
		return segs, s.Stats(), s.Files()[0]
	}
	zsegs, zst, zf := read(compressed)
	segs, st, f := read(plain)
	if len(segs) == 0 || zf.Compression != "zstd" || f.Compression != "" || zf.Format != f.Format || zf.Packets != f.Packets {
		t.Fatalf("%d segments; files %+v and %+v", len(segs), zf, f)
	}
	if diff := cmp.Diff(segs, zsegs); diff != "" {
		t.Errorf("segments differ (-%s +%s):\n%s", plain, compressed, diff)
	}
	if diff := cmp.Diff(st, zst); diff != "" {
		t.Errorf("Stats differ (-%s +%s):\n%s", plain, compressed, diff)
	}
}

// TestRecordsInPlace checks that the readers' in-place paths, which take a
// record lying whole in the buffer without the general path's checks, read
// every corpus capture as the general path does: through a reader that
// returns one byte at a time, nothing beyond what a read asks for is
// buffered, so the general path reads every record.
func TestRecordsInPlace(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("no corpus of real captures at %s", corpusDir)
	}
	type frame struct {
		seg Segment
		raw Raw
	}
	read := func(s *Source) (frames []frame) {
		var seg Segment
		for s.Next(&seg) {
			raw, _ := s.Raw()
			raw.Data = slices.Clone(raw.Data)
			frames = append(frames, frame{seg, raw})
		}
		return frames
	}
	both := 0
	for _, path := range globFiles(t, filepath.Join(corpusDir, "*")) {
		whole, err := Open(path)
		if err != nil {
			continue // not a capture
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		trickled, err := NewReader(path, iotest.OneByteReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("%s: opened whole, but one byte at a time: %v", path, err)
		}
		got, want := read(whole), read(trickled)
		if len(got) != len(want) {
			t.Errorf("%s: %d segments read in place, %d by the general path", path, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			g, w := &got[i], &want[i]
			if g.seg == w.seg && g.raw.Nanos == w.raw.Nanos && g.raw.LinkType == w.raw.LinkType && g.raw.Interface == w.raw.Interface &&
				g.raw.WireLen == w.raw.WireLen && bytes.Equal(g.raw.Data, w.raw.Data) {
				continue
			}
			if diff := cmp.Diff(want[i], got[i], cmp.AllowUnexported(frame{})); diff != "" {
				t.Errorf("%s: segment %d read in place differs (-general +in place):\n%s", path, i, diff)
				break
			}
		}
		if diff := cmp.Diff(trickled.Stats(), whole.Stats()); diff != "" {
			t.Errorf("%s: stats differ (-general +in place):\n%s", path, diff)
		}
		if diff := cmp.Diff(trickled.Files(), whole.Files()); diff != "" {
			t.Errorf("%s: file info differs (-general +in place):\n%s", path, diff)
		}
		whole.Close()
		trickled.Close()
		both++
	}
	if both < 200 {
		t.Errorf("read %d corpus captures both ways, want at least 200", both)
	}
}
