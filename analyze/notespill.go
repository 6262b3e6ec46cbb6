package analyze

import (
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// A flow silent past the threshold again and again lists up to MaxListed
// findings of a kind: the first MaxListed-1 and the latest. Once made, the
// first ones of each kind never change, and a capture of many such flows
// would hold them all in memory until the flows end. With a spill file
// (Config.Spill), they move to it as soon as nothing can change them
// (seal), and come back when the flow is exported: in memory a flow keeps
// the offset of its latest one there, each naming the one before. What
// can change stays: the latest finding of a kind, which a later one
// replaces; the finding of a flow's latest gap, whose outcome is not yet
// known and which a later gap may take off the list; a finding live mode
// has not alerted; and a reset's, whose evidence holds text. Findings
// move in the order they were made, so that a flow's list is the ones
// moved, then the ones kept.
//
// Measured: 50,000 pooled connections analysed with --idle 30s, each
// silent past the threshold forty times in the hour, peaked at 92 MB with
// every finding in memory and at 65 to 66 MB with 350,000 of them moved
// (20,000: 49.6 → 37 MB), reports the same byte for byte. Reading them
// back, one read a finding, takes Finish 0.26 s longer (0.52 s): a flow's
// findings lie apart in the file, each written when it settled.

// noteSpill is the file findings move to, and the records not yet
// written to it.
type noteSpill struct {
	open   func() (SpillFile, error) // makes the file; nil keeps findings in memory
	file   SpillFile
	size   int64  // bytes written to the file
	buf    []byte // records from offset size on, not yet written
	failed bool   // the file could not be made or written: records stay in buf
	rec    []byte // scratch for reading a record back
	err    error  // the first error reading a record back
	moved  int    // records added
}

// noteFlushSize is how many bytes of records are written at once.
var noteFlushSize = 64 << 10

// Record layout: the offset of the flow's previous record plus one (0 for
// none), then the finding's fields, then its more evidence when flagged.
const (
	recBase   = 8 + 16 + 2*refBytes + 4 + 4 + 1
	recMore   = 4 + refBytes + 2*keepBytes
	recMax    = recBase + recMore
	refBytes  = 8 + 8 + 4 + 2
	keepBytes = 8 + 8 + 4 + 1
)

// usable reports whether findings can move out: there is a file, or
// there may be one.
func (s *noteSpill) usable() bool { return s.open != nil && !s.failed }

// add appends the record of fd, whose flow's previous record is at
// prev-1, and returns its offset plus one.
func (s *noteSpill) add(fd *findingNote, prev int64) int64 {
	off := s.size + int64(len(s.buf))
	s.buf = appendNote(s.buf, fd, prev)
	s.moved++
	if len(s.buf) >= noteFlushSize && !s.failed {
		s.flush()
	}
	return off + 1
}

// flush writes buf to the end of the file, making it first. When the file
// cannot be made or written, the records stay in buf from then on.
func (s *noteSpill) flush() {
	if s.file == nil {
		f, err := s.open()
		if err != nil || f == nil {
			s.failed = true
			return
		}
		s.file = f
	}
	if _, err := s.file.WriteAt(s.buf, s.size); err != nil {
		s.failed = true
		return
	}
	s.size += int64(len(s.buf))
	s.buf = s.buf[:0]
}

// get reads back the record at ref-1 into fd and more, and returns the
// reference of the flow's record before it; fd.more is set to more when
// the record has more evidence. ok is false when the record cannot be
// read.
func (s *noteSpill) get(ref int64, fd *findingNote, more *findingMore) (prev int64, ok bool) {
	off := ref - 1
	var b []byte
	switch {
	case off < 0 || off >= s.size+int64(len(s.buf)):
		s.fail(errors.New("damaged finding record"))
		return 0, false
	case off >= s.size:
		b = s.buf[off-s.size:]
	default:
		s.rec = slices.Grow(s.rec[:0], recMax)[:min(int64(recMax), s.size-off)]
		if n, err := s.file.ReadAt(s.rec, off); n < len(s.rec) {
			s.fail(cmp.Or(err, io.ErrUnexpectedEOF))
			return 0, false
		}
		b = s.rec
	}
	if prev, ok = readNote(b, fd, more); !ok {
		s.fail(errors.New("damaged finding record"))
	}
	return prev, ok
}

func (s *noteSpill) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// close closes the file, if any; the records in it are not read again.
func (s *noteSpill) close() {
	if s.file != nil {
		s.file.Close()
	}
	s.file, s.buf, s.size = nil, nil, 0
}

// appendNote appends fd's record to b.
func appendNote(b []byte, fd *findingNote, prev int64) []byte {
	le := binary.LittleEndian
	b = le.AppendUint64(b, uint64(prev))
	b = le.AppendUint64(b, uint64(fd.at))
	b = le.AppendUint64(b, uint64(fd.gap))
	b = appendRef(b, fd.start)
	b = appendRef(b, fd.end)
	b = le.AppendUint32(b, uint32(fd.probes))
	b = append(b, fd.kind, byte(fd.severity), byte(fd.waiting), fd.listedGap)
	if fd.more == nil {
		return append(b, 0)
	}
	m := fd.more
	flags := byte(1)
	if m.keepalive {
		flags |= 2
	}
	b = append(b, flags)
	b = le.AppendUint32(b, uint32(m.retrans))
	b = appendRef(b, m.last)
	for _, k := range m.sides {
		b = le.AppendUint64(b, uint64(k.idle))
		b = le.AppendUint64(b, uint64(k.interval))
		b = le.AppendUint32(b, uint32(k.count))
		b = append(b, boolByte(k.gaveUp))
	}
	return b
}

func appendRef(b []byte, r packetRef) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(r.nanos))
	b = binary.LittleEndian.AppendUint64(b, r.place)
	b = binary.LittleEndian.AppendUint32(b, r.len)
	return append(b, byte(r.side), byte(r.kind))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// readNote reads the record at the start of b into fd and more, and
// returns the flow's previous reference; ok is false when b is too short
// or names a kind, outcome or flag that does not exist.
func readNote(b []byte, fd *findingNote, more *findingMore) (prev int64, ok bool) {
	if len(b) < recBase {
		return 0, false
	}
	le := binary.LittleEndian
	prev = int64(le.Uint64(b))
	*fd = findingNote{at: int64(le.Uint64(b[8:])), gap: int64(le.Uint64(b[16:]))}
	fd.start, fd.end = readRef(b[24:]), readRef(b[24+refBytes:])
	p := 24 + 2*refBytes
	fd.probes = int32(le.Uint32(b[p:]))
	fd.kind, fd.severity, fd.waiting, fd.listedGap = b[p+4], Severity(b[p+5]), int8(b[p+6]), b[p+7]
	flags := b[p+8]
	if int(fd.kind) >= len(noteKinds) || int(fd.listedGap) > len(outcomes) || flags > 3 {
		return 0, false
	}
	if flags == 0 {
		return prev, true
	}
	if len(b) < recMax {
		return 0, false
	}
	p = recBase
	*more = findingMore{retrans: int32(le.Uint32(b[p:])), last: readRef(b[p+4:]), keepalive: flags&2 != 0}
	p += 4 + refBytes
	for i := range more.sides {
		more.sides[i] = keepNote{idle: int64(le.Uint64(b[p:])), interval: int64(le.Uint64(b[p+8:])), count: int32(le.Uint32(b[p+16:])), gaveUp: b[p+20] != 0}
		p += keepBytes
	}
	fd.more = more
	return prev, true
}

func readRef(b []byte) packetRef {
	le := binary.LittleEndian
	return packetRef{nanos: int64(le.Uint64(b)), place: le.Uint64(b[8:]), len: le.Uint32(b[16:]), side: Side(b[20]), kind: segKind(b[21])}
}
