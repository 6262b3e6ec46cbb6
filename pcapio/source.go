package pcapio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// FileInfo describes one capture file of a Source.
type FileInfo struct {
	Name   string // path as given; "-" for standard input
	Format string // e.g. "pcap (microsecond, little-endian)", "pcapng"
	// Compression is "gzip" or "zstd" for a compressed file, whose
	// layer is removed as it is read; empty otherwise.
	Compression string
	Packets     uint64 // packets read from it
	First       int64  // capture time of its first packet, Unix nanoseconds; 0 when empty
	Last        int64  // capture time of its last packet
	Damage      string // where and why reading stopped early; empty when the file was read to its end
}

// LinkCount is the number of packets seen with one link type.
type LinkCount struct {
	LinkType uint16
	Packets  uint64
}

// ClockLeap is the silence between two packets of a capture beyond which
// the clock, not the network, is the likely cause: a capture quiet for
// thirty days on end is rarer than a timestamp error.
const ClockLeap = 30 * 24 * time.Hour

// Stats counts what a Source has read. All counts are packets.
type Stats struct {
	Packets   uint64                 // every record read, TCP or not
	Skipped   [numSkipReasons]uint64 // indexed by SkipReason; Skipped[Decoded] is the TCP segment count
	Links     []LinkCount            // per link type, in order of first appearance
	Backwards uint64                 // packets whose timestamp is earlier than the previous packet's
	Leaps     uint64                 // packets more than ClockLeap after the previous packet: the clock jumped
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
	read    atomic.Int64 // bytes read from the files, for Progress
	size    int64        // their total size; -1 when one is unknown
	files   []*sourceFile
	waiting mergeQueue // the files with a pending packet, the next one first
	stats   Stats
	prev    int64
	advance *sourceFile // file whose pending packet was handed out last
	infos   []FileInfo
	left    *leftovers // the buffers files read to their end left for the next ones
}

type sourceFile struct {
	index  int    // in the list given to Open
	parked bool   // closed again once its first packet was seen, until the merge reaches it
	frames uint64 // packets read ahead so far, for Segment.Frame
	closer io.Closer
	info   *FileInfo
	br     *byteReader // nil once the file has ended
	rr     recordReader
	pool   *chunkPool
	cur    *batch      // batch holding the pending packet
	pos    int         // index of the pending packet in cur
	ok     bool        // cur.entries[pos] is the pending packet
	queue  chan *batch // batches read ahead; nil until the goroutine starts
	spare  chan *batch // consumed batches, for reuse
	shared *sharedFile // the file, when Next may read ahead in it (sharedFile); set before the goroutine starts
}

// Open opens the named capture files; "-" reads standard input. The format
// is recognised by its magic number, never by the file name, and a gzip or
// zstd layer is removed first. It fails, with the file name in the
// message, when a file cannot be opened or is not a pcap or pcapng
// capture.
func Open(paths ...string) (*Source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no capture files given")
	}
	s := &Source{infos: make([]FileInfo, len(paths)), left: newLeftovers()}
	for i, path := range paths {
		// Of several files, each is only looked at (its first packet
		// read) and closed again until the merge reaches it, so that
		// rotated files are open one or two at a time, not all at once.
		f, size, err := s.openFile(path, &s.infos[i], i, len(paths) > 1)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if size < 0 || s.size < 0 {
			s.size = -1
		} else {
			s.size += size
		}
		s.files = append(s.files, f)
		if !f.parked {
			s.fill(f)
		}
	}
	s.queueFiles()
	return s, nil
}

// NewReader reads a capture from r, named name in messages.
func NewReader(name string, r io.Reader) (*Source, error) {
	s := &Source{infos: make([]FileInfo, 1), size: -1}
	s.infos[0].Name = name
	f, err := openStream(&countingReader{r: r, n: &s.read}, &s.infos[0], 0, false, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.files = append(s.files, f)
	s.fill(f)
	s.queueFiles()
	return s, nil
}

// queueFiles puts the files that have a pending packet in the merge's
// queue.
func (s *Source) queueFiles() {
	for _, f := range s.files {
		if f.ok {
			s.waiting = append(s.waiting, f)
		}
	}
	s.waiting.init()
}

// openFile opens one file. With park, it reads the file's first packet
// only and parks the file: it closes it and keeps the packet's time, for
// the merge to open it again when it comes to that time; a file that ends
// there, or that is not a regular file (a pipe cannot be read twice), is
// not parked. It returns the file's size, or -1 when unknown.
func (s *Source) openFile(path string, info *FileInfo, index int, park bool) (*sourceFile, int64, error) {
	info.Name = path
	var rc io.ReadCloser = os.Stdin
	size := int64(-1)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, 0, err
		}
		st, err := f.Stat()
		if err == nil && st.IsDir() {
			f.Close()
			return nil, 0, errors.New("is a directory")
		}
		if err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		rc = f
	}
	park = park && size >= 0 // a pipe cannot be read again
	counter := &countingReader{r: rc, n: &s.read, c: rc}
	if f, ok := rc.(*os.File); ok && size >= 0 {
		counter.at = f
	}
	sf, err := openStream(counter, info, index, park, s.left)
	if err != nil {
		rc.Close()
		return nil, 0, err
	}
	if park && sf.cur.err == nil {
		sf.park()
		s.read.Add(-counter.own) // read again when the file is
	}
	return sf, size, nil
}

// park closes f, whose first batch holds its first packet and more is to
// come, and keeps only that packet's time, pending for the merge.
func (f *sourceFile) park() {
	f.shut()
	first := entry{pkt: packet{nanos: f.cur.entries[0].pkt.nanos}}
	f.pool.put(f.br.buf) // the packet read into it is no longer needed
	f.parked, f.cur, f.pos, f.ok = true, &batch{entries: []entry{first}}, 0, true
	f.br, f.rr, f.pool = nil, nil, nil
}

// shut closes f's file, if open, and stops its goroutines.
func (f *sourceFile) shut() error {
	if f.closer == nil {
		return nil
	}
	close(f.pool.done)
	err := f.closer.Close()
	f.closer = nil
	return err
}

// unpark opens a parked file again, to be read from its first packet on.
func (s *Source) unpark(f *sourceFile) {
	nf, _, err := s.openFile(f.info.Name, f.info, f.index, false)
	if err != nil {
		f.parked, f.ok = false, false
		f.info.Damage = "could not be opened again: " + err.Error()
		return
	}
	*f = *nf
	s.fill(f)
}

// openStream recognises the format of rc and reads its first batch, of
// one packet only when it is to be parked. left, when not nil, holds the
// buffers of files read to their end, which rc's file reads into before
// it makes its own.
func openStream(rc io.ReadCloser, info *FileInfo, index int, park bool, left *leftovers) (*sourceFile, error) {
	pool := newChunkPool(left)
	r := &byteReader{src: rc, pool: pool}
	magic := r.peek(4)
	var plain io.Reader // the decompressed stream of a compressed file
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		gz, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
		if err != nil {
			return nil, fmt.Errorf("damaged gzip header: %w", err)
		}
		info.Compression, plain = "gzip", gz
	case isZstd(magic):
		var h zstd.Header
		if h.Decode(r.peek(zstd.HeaderMaxSize)) == nil {
			window := h.WindowSize
			if h.SingleSegment { // the whole frame is the window
				window = h.FrameContentSize
			}
			if window > zstdMaxWindow {
				return nil, zstdTooLarge(fmt.Sprintf("its zstd frame needs a window of %d MiB", window>>20))
			}
		}
		// The limits hold for every frame: a frame in one segment is
		// held whole, and its size is checked against the memory limit,
		// which in a stream bounds nothing else.
		zr, err := zstd.NewReader(bufio.NewReaderSize(r, 64<<10), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
		info.Compression, plain = "zstd", zstdErrors{zr}
	}
	if plain != nil { // decompressed on a goroutine of its own
		r = &byteReader{src: newReadAhead(plain, firstChunkSize, pool.done), pool: pool}
		magic = r.peek(4)
	}
	if len(magic) < 4 && r.err != nil && r.err != io.EOF { // not too short: unreadable
		where := "before any of its data"
		if len(magic) > 0 {
			where = "within its first 4 bytes of data"
		}
		switch c := info.Compression; {
		case c != "" && errors.Is(r.err, io.ErrUnexpectedEOF):
			return nil, errors.New(c + " stream cut short " + where)
		case c != "":
			return nil, fmt.Errorf("damaged %s stream, %s: %w", c, where, r.err)
		}
		return nil, r.err
	}
	if len(magic) == 0 {
		return nil, errors.New("empty file")
	}
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
		return nil, errors.New(unknownFormat(r.peek(textPeek)))
	}
	info.Format = rr.format()
	f := &sourceFile{index: index, closer: rc, br: r, rr: rr, pool: pool, info: info, cur: new(batch), pos: -1}
	limit := 1 // to be parked
	if !park {
		f.cur, limit = f.newBatch(), batchLen
	}
	f.produce(f.cur, limit, false)
	return f, nil
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

// zstdErrors names the zstd layer in the errors of r, which are not
// prefixed as gzip's are, but for the ends of the stream; and says what a
// frame too large to hold (the decoder's memory limit) means to the user.
type zstdErrors struct{ r io.Reader }

func (z zstdErrors) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	switch {
	case err == nil || err == io.EOF || err == io.ErrUnexpectedEOF:
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		err = zstdTooLarge("zstd: a frame needs a larger window")
	default:
		err = fmt.Errorf("zstd: %w", err)
	}
	return n, err
}

// zstdTooLarge is the error for a zstd stream that needs more memory than
// is read here (zstdMaxWindow); what says why.
func zstdTooLarge(what string) error {
	return fmt.Errorf("%s, more than the %d MiB read here (zstd --long and --ultra write such files); decompress it first (zstd -d)", what, zstdMaxWindow>>20)
}

// zstdMagic starts a zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// isZstd reports whether a file that starts with magic is zstd: a frame,
// or a skippable frame (magic 0x184D2A50 to 0x184D2A5F), which pzstd
// writes first.
func isZstd(magic []byte) bool {
	return bytes.Equal(magic, zstdMagic) || len(magic) == 4 && magic[0]&0xf0 == 0x50 && bytes.Equal(magic[1:], []byte{0x2a, 0x4d, 0x18})
}

// zstdMaxWindow is the largest zstd window read: the decoder keeps that
// much of the stream. zstd's levels 1 to 19 use windows of at most 8 MiB;
// --long (128 MiB by default) and --ultra go beyond, and such a file is
// refused, to be decompressed first, rather than let a file's header say
// how much memory a run takes.
const zstdMaxWindow = 32 << 20

// unknownFormat names the format of a file that is not pcap or pcapng, when
// it is a common one, with what to do about it.
func unknownFormat(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		return "lz4-compressed; decompress it first (lz4 -d)"
	case bytes.HasPrefix(head, []byte("BZh")):
		return "bzip2-compressed; decompress it first (bunzip2)"
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz-compressed; decompress it first (unxz)"
	case bytes.HasPrefix(head, []byte("snoop\x00\x00\x00")):
		return "a Solaris snoop file, not pcap or pcapng; convert it with editcap -F pcap"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive; extract the capture first"
	case bytes.HasPrefix(head, []byte("GMBU")), bytes.HasPrefix(head, []byte("RTSS")):
		return "a Microsoft Network Monitor capture, not pcap or pcapng; convert it with editcap -F pcapng (from Wireshark)"
	case len(head) >= 0x4c && (binary.LittleEndian.Uint32(head[0x48:]) == 0xc0010002 || binary.LittleEndian.Uint32(head[0x48:]) == 0xc0020002):
		// An event trace's first buffer header, 0x48 bytes, then the
		// marker of its log file header event (32- or 64-bit).
		return "a Windows event trace (ETL), as pktmon and netsh trace write; convert it to pcapng with pktmon etl2pcap FILE --out FILE.pcapng (pktmon's) or etl2pcapng (netsh trace's)"
	}
	if what, ok := textFormat(head); ok {
		return what
	}
	return "not a pcap or pcapng file"
}

// textPeek is how much of a file unknownFormat looks at.
const textPeek = 512

// textFormat names what a file that starts with head is when it is text:
// what users send for a capture by mistake (tcpdump's or tshark's printed
// output, an export of dissected packets, a browser's HTTP log), with how
// to get the capture itself.
func textFormat(head []byte) (string, bool) {
	cut := len(head) == textPeek // the file goes on: its last character may be cut
	if len(head) >= 2 && (head[0] == 0xff && head[1] == 0xfe || head[0] == 0xfe && head[1] == 0xff) {
		// UTF-16, as Windows PowerShell 5 writes what is redirected to a
		// file; a character cut at the end becomes U+FFFD
		var order binary.ByteOrder = binary.LittleEndian
		if head[0] == 0xfe {
			order = binary.BigEndian
		}
		units := make([]uint16, 0, len(head)/2)
		for i := 2; i+1 < len(head); i += 2 {
			units = append(units, order.Uint16(head[i:]))
		}
		head, cut = []byte(string(utf16.Decode(units))), false
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	text := head
	if cut {
		for i := range min(utf8.UTFMax-1, len(text)) {
			if r := text[len(text)-1-i]; utf8.RuneStart(r) {
				text = text[:len(text)-1-i]
				break
			}
		}
	}
	if len(text) == 0 || !utf8.Valid(text) || bytes.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\t' && r != '\r' && r != '\n' }) {
		return "", false
	}
	first := head
	for len(first) > 0 && (first[0] == '\n' || first[0] == '\r') {
		first = first[1:]
	}
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	line := string(first)
	match := func(pattern string) bool { return regexp.MustCompile(pattern).MatchString(line) }
	json := bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("{")) || bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("["))
	switch {
	case json && bytes.Contains(head, []byte(`"log"`)) && (bytes.Contains(head, []byte(`"creator"`)) || bytes.Contains(head, []byte(`"entries"`))):
		return "a browser's network log (HAR), which holds HTTP requests, not packets; capture the packets with tcpdump -w FILE.pcap or Wireshark", true
	case json && (bytes.Contains(head, []byte(`"_source"`)) || bytes.Contains(head, []byte(`"_index"`))) ||
		bytes.Contains(head, []byte("<pdml")) || bytes.Contains(head, []byte("<psml")):
		return "packets dissected by Wireshark or tshark (a JSON or XML export), not a capture; save the packets themselves with tshark -w FILE.pcapng, or File > Save As in Wireshark", true
	case strings.HasPrefix(line, "tcpdump: ") || strings.HasPrefix(line, "reading from file ") ||
		match(`^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d\.\d{6,9} `) || match(`^\d{9,10}\.\d{6,9} `) || match(`^IP6? \S+ > \S+: `):
		return "tcpdump's printed output, not a capture; write the packets to a file with tcpdump -w FILE.pcap", true
	case strings.HasPrefix(line, "No.") || strings.HasPrefix(line, `"No.",`) || match(`^\s*\d+\s+-?\d+\.\d+\s+\S+ (→|->) `):
		return "a packet list printed by Wireshark or tshark, not a capture; save the packets themselves with File > Save As in Wireshark, or tshark -w FILE.pcapng", true
	case match(`^(0x)?0000:?\s+[0-9a-fA-F]{2}`):
		return "a hex dump, not a capture; text2pcap (from Wireshark) turns one into a capture", true
	}
	return "a text file, not a pcap or pcapng capture", true
}

// fill moves f to its next packet.
func (s *Source) fill(f *sourceFile) {
	f.pos++
	for f.pos >= len(f.cur.entries) {
		if !f.nextBatch() {
			f.ok = false
			return
		}
	}
	f.ok = true
	nanos := f.cur.entries[f.pos].pkt.nanos
	f.info.Packets++
	if f.info.Packets == 1 { // not First == 0: a capture may start at the epoch
		f.info.First = nanos
	}
	f.info.Last = nanos
}

// share lets Next do the reading goroutine's next read of f's file while
// it waits for a batch (sharedFile): when f is a regular file, read from
// here on by position, and its goroutine spins.
func (f *sourceFile) share() {
	c, ok := f.br.src.(*countingReader)
	if !ok || c.at == nil || !f.spins() {
		return
	}
	f.shared = &sharedFile{file: c.at, pos: c.own}
	c.r, f.br.shared = f.shared, f.shared
}

// nanos is the capture time of f's pending packet.
func (f *sourceFile) nanos() int64 { return f.cur.entries[f.pos].pkt.nanos }

// nextBatch releases the consumed batch and waits for the next one,
// starting the reading goroutine when it is not running yet. At the end of
// the file it records any damage, lets go of the buffers and returns false.
func (f *sourceFile) nextBatch() bool {
	err := f.cur.err
	start := err == nil && f.queue == nil && runtime.GOMAXPROCS(0) > 1
	if start {
		f.queue, f.spare = make(chan *batch, queueLen), make(chan *batch, queueLen+2)
	}
	f.release(f.cur) // from here on, the goroutine may reuse it
	if err == nil && f.queue == nil {
		f.produce(f.cur, batchLen, false) // one core: nothing to overlap with, so read in place
		f.pos = 0
		return true
	}
	if start {
		f.share()
		go f.run(f.queue, f.spare)
	}
	if err == nil {
		if b, ok := f.spinRecv(); ok {
			f.cur, f.pos = b, 0
			return true
		}
		select {
		case f.cur = <-f.queue:
			f.pos = 0
			return true
		case <-f.pool.done:
			err = errClosed
		}
	}
	if err != io.EOF && err != errClosed {
		msg := err.Error()
		if errors.Is(err, errDamaged) {
			msg = msg[len(errDamaged.Error())+2:]
		}
		f.info.Damage = msg
	}
	// The goroutine, if any, has sent its last batch and returned: the
	// file is closed now and lets go of its buffers, so that rotated
	// files do not all hold theirs to the end.
	if f.closer != nil {
		f.shut()             // also stops a compressed file's goroutine, if damage came first
		f.pool.put(f.br.buf) // no batch holds packets of it any more
		f.pool.leave()
		f.leaveBatches()
	}
	f.cur, f.br, f.rr, f.pool, f.queue, f.spare = &batch{err: err}, nil, nil, nil, nil, nil
	return false
}

// Next fills seg with the next TCP segment in time order and reports whether
// there was one. Packets that are not TCP segments are counted in Stats and
// passed over.
func (s *Source) Next(seg *Segment) bool {
	for {
		f := s.pending()
		if f == nil {
			return false
		}
		s.advance = f
		e := &f.cur.entries[f.pos]
		s.count(e)
		if e.reason == Decoded {
			*seg = f.cur.segs[e.seg]
			return true
		}
	}
}

// pending moves past the packet handed out last and returns the file
// whose pending packet comes next: the earliest, and of equal times the
// first file's. It opens a parked file when the merge reaches it. It
// returns nil at the end.
func (s *Source) pending() *sourceFile {
	for {
		if s.advance != nil { // the first in the queue
			s.fill(s.advance)
			s.advance = nil
			s.waiting.settle()
		}
		if len(s.waiting) == 0 {
			return nil
		}
		f := s.waiting[0]
		if !f.parked {
			return f
		}
		s.unpark(f) // the same first packet, or none when it fails
		s.waiting.settle()
	}
}

// mergeQueue holds the files that have a pending packet as a binary
// min-heap by that packet's time, then by the file's index: the merge
// finds the next packet of hundreds of rotated files in a few steps
// rather than by looking at every file for every packet.
type mergeQueue []*sourceFile

// before orders the files of q[i] and q[j] by their pending packets.
func (q mergeQueue) before(i, j int) bool {
	a, b := q[i].nanos(), q[j].nanos()
	return a < b || a == b && q[i].index < q[j].index
}

// init puts q in heap order.
func (q mergeQueue) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

// down moves q[i] down the heap to its place.
func (q mergeQueue) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(q) {
			return
		}
		if c+1 < len(q) && q.before(c+1, c) {
			c++
		}
		if !q.before(c, i) {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}

// othersFirst is the time of the earliest pending packet of the files
// other than the first in q: one of the first's two children in the heap
// holds it.
func (q mergeQueue) othersFirst() int64 {
	first := q[1].nanos()
	if len(q) > 2 {
		first = min(first, q[2].nanos())
	}
	return first
}

// settle puts the first file, whose pending packet has changed, in its
// place, or takes it out of the queue when it has none left. A packet
// earlier than the one before it keeps the file first.
func (q *mergeQueue) settle() {
	h := *q
	if !h[0].ok {
		n := len(h) - 1
		h[0], h[n] = h[n], nil
		h = h[:n]
		*q = h
	}
	h.down(0)
}

// count adds a packet handed out to the stats.
func (s *Source) count(e *entry) {
	p := &e.pkt
	st := &s.stats
	st.Packets++
	if st.Packets == 1 || p.nanos < st.First {
		st.First = p.nanos
	}
	if st.Packets == 1 || p.nanos > st.Last {
		st.Last = p.nanos
	}
	if st.Packets > 1 {
		s.countStep(p.nanos)
	}
	s.prev = p.nanos
	st.Links = addLink(st.Links, p.link, 1)
	st.Skipped[e.reason]++
}

// countStep counts a packet at nanos that follows the one handed out last.
func (s *Source) countStep(nanos int64) {
	if nanos < s.prev {
		s.stats.Backwards++
	} else if nanos-s.prev > int64(ClockLeap) {
		s.stats.Leaps++
	}
}

// countBatch adds a whole batch handed out to the stats, as count would
// packet by packet.
func (s *Source) countBatch(b *batch) {
	t, st := &b.tally, &s.stats
	if st.Packets == 0 {
		st.First, st.Last = t.min, t.max
	} else {
		st.First, st.Last = min(st.First, t.min), max(st.Last, t.max)
		s.countStep(t.first)
	}
	st.Packets += uint64(len(b.entries))
	st.Backwards += t.backwards
	st.Leaps += t.leaps
	s.prev = t.last
	for r, n := range t.skipped {
		st.Skipped[r] += n
	}
	for _, l := range t.links {
		st.Links = addLink(st.Links, l.LinkType, l.Packets)
	}
}

// NextBatch returns the next TCP segments in time order, as Next would
// hand them out one by one, and nothing at the end. The segments are valid
// until the next call of Next or NextBatch. It hands them out as they were
// decoded ahead, without copying them: the rest of a batch, or of several
// files, the run of it that comes before the other files' pending packets.
func (s *Source) NextBatch() []Segment {
	for {
		f := s.pending()
		if f == nil {
			return nil
		}
		// f's packets come next while they are earlier than the
		// pending packets of the files before it and no later than
		// those of the files after it: the whole batch when even its
		// latest packet is earlier than every other file's pending
		// one (as with rotated files, which follow each other in
		// time), else the run up to the first packet that is not.
		b := f.cur
		end := len(b.entries)
		if len(s.waiting) > 1 && b.tally.max >= s.waiting.othersFirst() {
			// The other files with a packet pending are the rest
			// of the merge's queue, f being its first.
			before, after := int64(math.MaxInt64), int64(math.MaxInt64)
			for _, c := range s.waiting[1:] {
				if c.index < f.index {
					before = min(before, c.nanos())
				} else {
					after = min(after, c.nanos())
				}
			}
			end = f.pos + 1 // the pending packet is f's earliest
			for end < len(b.entries) && b.entries[end].pkt.nanos < before && b.entries[end].pkt.nanos <= after {
				end++
			}
		}
		// Hand out the run: the pending packet, whose file counts
		// were taken when fill moved to it, and the ones after it,
		// whose counts are taken here.
		first, last := -1, -1
		if f.pos == 0 && end == len(b.entries) {
			s.countBatch(b)
			first, last = 0, len(b.segs)-1
		} else {
			for i := f.pos; i < end; i++ {
				e := &b.entries[i]
				s.count(e)
				if e.reason == Decoded {
					if first < 0 {
						first = int(e.seg)
					}
					last = int(e.seg)
				}
			}
		}
		if rest := uint64(end - 1 - f.pos); rest > 0 {
			f.info.Packets += rest
			f.info.Last = b.entries[end-1].pkt.nanos
		}
		f.pos = end - 1
		s.advance = f
		if last >= 0 {
			return b.segs[first : last+1 : last+1] // an append must not reach the rest of the batch
		}
	}
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

// Close closes every file and stops reading ahead. It is safe to call more
// than once.
func (s *Source) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.shut())
	}
	return errors.Join(errs...)
}

// Progress returns the bytes read from the capture files so far and their
// total size, or -1 for the total when a size is unknown (standard input, a
// pipe). A compressed file counts its compressed bytes. Reading runs a
// little ahead of Next. Progress, unlike the other methods, is safe to call
// while another goroutine calls Next.
func (s *Source) Progress() (read, total int64) { return s.read.Load(), s.size }

// countingReader counts the bytes read from r in n; c closes it.
type countingReader struct {
	r   io.Reader
	n   *atomic.Int64
	c   io.Closer
	own int64       // the bytes read through this reader
	at  io.ReaderAt // r, when it is a regular file, which can be read by position
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	r.own += int64(n)
	return n, err
}

func (r *countingReader) Close() error {
	if r.c == nil {
		return nil
	}
	return r.c.Close()
}

// Raw is a captured frame as a file holds it.
type Raw struct {
	Nanos     int64  // capture time, Unix nanoseconds
	LinkType  uint16 // LINKTYPE_ value of the frame
	Interface uint32 // pcapng interface it was captured on; 0 in classic pcap
	Data      []byte // the captured bytes
	WireLen   uint32 // the frame's length on the wire; at least len(Data) when read by a Source
}

// Raw returns the frame behind the segment most recently returned by Next
// (after NextBatch: the last packet of the batch, TCP or not), and false
// when there is none (before the first call, and once Next has returned
// false). Data aliases the Source's read buffer: it is valid until
// the next call to Next and must not be modified.
func (s *Source) Raw() (Raw, bool) {
	if s.advance == nil {
		return Raw{}, false
	}
	p := &s.advance.cur.entries[s.advance.pos].pkt
	return Raw{Nanos: p.nanos, LinkType: p.link, Interface: p.iface, Data: p.data, WireLen: p.wireLen}, true
}
