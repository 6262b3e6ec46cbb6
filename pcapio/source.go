package pcapio

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// readBufferSize is the buffered reader's size: large enough that nearly
// every record is handed out without a copy.
const readBufferSize = 1 << 20

// FileInfo describes one capture file of a Source.
type FileInfo struct {
	Name    string // path as given; "-" for standard input
	Format  string // e.g. "pcap (microsecond, little-endian)", "pcapng"
	Gzip    bool   // the file was gzip-compressed
	Packets uint64 // packets read from it
	First   int64  // capture time of its first packet, Unix nanoseconds; 0 when empty
	Last    int64  // capture time of its last packet
	Damage  string // where and why reading stopped early; empty when the file was read to its end
}

// LinkCount is the number of packets seen with one link type.
type LinkCount struct {
	LinkType uint16
	Packets  uint64
}

// Stats counts what a Source has read. All counts are packets.
type Stats struct {
	Packets   uint64                 // every record read, TCP or not
	Skipped   [numSkipReasons]uint64 // indexed by SkipReason; Skipped[Decoded] is the TCP segment count
	Links     []LinkCount            // per link type, in order of first appearance
	Backwards uint64                 // packets whose timestamp is earlier than the previous packet's
	First     int64                  // earliest capture time, Unix nanoseconds; 0 when none
	Last      int64                  // latest capture time
}

// TCP returns the number of TCP segments decoded.
func (s *Stats) TCP() uint64 { return s.Skipped[Decoded] }

// SkipReasons lists the reasons with a non-zero count, in a fixed order.
func (s *Stats) SkipReasons() []SkipReason {
	var rs []SkipReason
	for r := NotIP; r < numSkipReasons; r++ {
		if s.Skipped[r] > 0 {
			rs = append(rs, r)
		}
	}
	return rs
}

// Source reads one or more capture files as a single stream of TCP segments
// in time order. Several files (rotated captures) are merged by timestamp,
// so a flow that spans files is one flow. A Source is not safe for
// concurrent use.
type Source struct {
	files   []*sourceFile
	stats   Stats
	prev    int64
	advance *sourceFile // file whose pending packet was handed out last
	infos   []FileInfo
}

type sourceFile struct {
	index   int
	closer  io.Closer
	rr      recordReader
	pending packet
	ok      bool // pending holds a packet
	info    *FileInfo
}

// Open opens the named capture files; "-" reads standard input. The format
// is recognised by its magic number, never by the file name, and a gzip
// layer is removed first. It fails, with the file name in the message, when
// a file cannot be opened or is not a pcap or pcapng capture.
func Open(paths ...string) (*Source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no capture files given")
	}
	s := &Source{infos: make([]FileInfo, len(paths))}
	for i, path := range paths {
		f, err := openFile(path, &s.infos[i])
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		f.index = i
		s.files = append(s.files, f)
		s.fill(f)
	}
	return s, nil
}

// NewReader reads a capture from r, named name in messages.
func NewReader(name string, r io.Reader) (*Source, error) {
	s := &Source{infos: make([]FileInfo, 1)}
	s.infos[0].Name = name
	f, err := openStream(io.NopCloser(r), &s.infos[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.files = append(s.files, f)
	s.fill(f)
	return s, nil
}

func openFile(path string, info *FileInfo) (*sourceFile, error) {
	info.Name = path
	var rc io.ReadCloser = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, err
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			return nil, errors.New("is a directory")
		}
		rc = f
	}
	sf, err := openStream(rc, info)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return sf, nil
}

func openStream(rc io.ReadCloser, info *FileInfo) (*sourceFile, error) {
	br := bufio.NewReaderSize(rc, readBufferSize)
	magic, _ := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("damaged gzip header: %w", err)
		}
		info.Gzip = true
		br = bufio.NewReaderSize(gz, readBufferSize)
		magic, _ = br.Peek(4)
	}
	if len(magic) == 0 {
		return nil, errors.New("empty file")
	}
	r := &byteReader{br: br}
	var rr recordReader
	switch {
	case isPcapMagic(magic):
		pr, err := newPcapReader(r)
		if err != nil {
			return nil, err
		}
		rr = pr
	case bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}):
		rr = newPcapngReader(r)
	default:
		return nil, errors.New(unknownFormat(br))
	}
	info.Format = rr.format()
	return &sourceFile{closer: rc, rr: rr, info: info}, nil
}

func isPcapMagic(m []byte) bool {
	if len(m) < 4 {
		return false
	}
	for _, want := range [][]byte{
		{0xa1, 0xb2, 0xc3, 0xd4}, {0xa1, 0xb2, 0x3c, 0x4d}, {0xa1, 0xb2, 0xcd, 0x34},
	} {
		if bytes.Equal(m, want) || bytes.Equal(m, []byte{want[3], want[2], want[1], want[0]}) {
			return true
		}
	}
	return false
}

// unknownFormat names the format of a file that is not pcap or pcapng, when
// it is a common one, with what to do about it.
func unknownFormat(br *bufio.Reader) string {
	head, _ := br.Peek(8)
	switch {
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd-compressed; decompress it first (zstd -d)"
	case bytes.HasPrefix(head, []byte("BZh")):
		return "bzip2-compressed; decompress it first (bunzip2)"
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz-compressed; decompress it first (unxz)"
	case bytes.HasPrefix(head, []byte("snoop\x00\x00\x00")):
		return "a Solaris snoop file, not pcap or pcapng; convert it with editcap -F pcap"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive; extract the capture first"
	}
	return "not a pcap or pcapng file"
}

// fill reads the next packet of f into f.pending.
func (s *Source) fill(f *sourceFile) {
	err := f.rr.next(&f.pending)
	f.ok = err == nil
	if err == nil {
		f.info.Packets++
		if f.info.Packets == 1 { // not First == 0: a capture may start at the epoch
			f.info.First = f.pending.nanos
		}
		f.info.Last = f.pending.nanos
		return
	}
	if err != io.EOF {
		msg := err.Error()
		if errors.Is(err, errDamaged) {
			msg = msg[len(errDamaged.Error())+2:]
		}
		f.info.Damage = msg
	}
}

// Next fills seg with the next TCP segment in time order and reports whether
// there was one. Packets that are not TCP segments are counted in Stats and
// passed over.
func (s *Source) Next(seg *Segment) bool {
	for {
		if s.advance != nil {
			s.fill(s.advance)
			s.advance = nil
		}
		var f *sourceFile
		for _, c := range s.files {
			if c.ok && (f == nil || c.pending.nanos < f.pending.nanos) {
				f = c
			}
		}
		if f == nil {
			return false
		}
		s.advance = f
		p := &f.pending
		st := &s.stats
		st.Packets++
		if st.Packets == 1 || p.nanos < st.First {
			st.First = p.nanos
		}
		if st.Packets == 1 || p.nanos > st.Last {
			st.Last = p.nanos
		}
		if st.Packets > 1 && p.nanos < s.prev {
			st.Backwards++
		}
		s.prev = p.nanos
		s.countLink(p.link)
		reason := Decode(p.link, p.data, p.wireLen, seg)
		st.Skipped[reason]++
		if reason == Decoded {
			seg.Nanos = p.nanos
			seg.File = f.index
			seg.Point ^= p.iface << 24
			seg.Frame = f.info.Packets
			return true
		}
	}
}

func (s *Source) countLink(link uint16) {
	for i := range s.stats.Links {
		if s.stats.Links[i].LinkType == link {
			s.stats.Links[i].Packets++
			return
		}
	}
	s.stats.Links = append(s.stats.Links, LinkCount{LinkType: link, Packets: 1})
}

// Stats returns the counts so far. The Links slice is a copy.
func (s *Source) Stats() Stats {
	st := s.stats
	st.Links = slices.Clone(st.Links)
	return st
}

// Files describes each file given to Open, in that order; counts and damage
// are as far as reading has gone.
func (s *Source) Files() []FileInfo { return slices.Clone(s.infos) }

// Close closes every file. It is safe to call more than once.
func (s *Source) Close() error {
	var errs []error
	for _, f := range s.files {
		if f.closer != nil {
			errs = append(errs, f.closer.Close())
			f.closer = nil
		}
	}
	return errors.Join(errs...)
}

// Raw is a captured frame as a file holds it.
type Raw struct {
	Nanos    int64  // capture time, Unix nanoseconds
	LinkType uint16 // LINKTYPE_ value of the frame
	Data     []byte // the captured bytes
	WireLen  uint32 // the frame's length on the wire; at least len(Data) when read by a Source
}

// Raw returns the frame behind the segment most recently returned by Next,
// and false when there is none (before the first call, and once Next has
// returned false). Data aliases the Source's read buffer: it is valid until
// the next call to Next and must not be modified.
func (s *Source) Raw() (Raw, bool) {
	if s.advance == nil {
		return Raw{}, false
	}
	p := &s.advance.pending
	return Raw{Nanos: p.nanos, LinkType: p.link, Data: p.data, WireLen: p.wireLen}, true
}
