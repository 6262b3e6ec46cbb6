package pcapio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// maxRecord bounds the bytes one record or block may claim. Larger claims
// are damage, not an allocation: a corrupt length must not exhaust memory.
const maxRecord = 16 << 20

// errDamaged wraps every damage error so that callers can tell damage from a
// clean end of file.
var errDamaged = errors.New("damaged")

// packet is one record as read from a file; data aliases the reader's buffer
// and is valid until the next read.
type packet struct {
	nanos   int64
	link    uint16
	data    []byte
	wireLen uint32
	iface   uint32 // pcapng interface; 0 in classic pcap
}

// recordReader yields the packets of one capture format.
type recordReader interface {
	next(p *packet) error // io.EOF at a clean end; wraps errDamaged at damage
	format() string
}

// damage builds the error for a record that could not be read.
func damage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errDamaged, fmt.Sprintf(format, args...))
}

// truncated is the damage of a read that failed with err: the file cut
// short, or the stream's own error (a damaged gzip stream, a failed read),
// which it names.
func truncated(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return damage("truncated %s", what)
	}
	return damage("unreadable %s: %v", what, err)
}

// pcapReader reads classic pcap (and the modified pcap variant).
type pcapReader struct {
	r        *byteReader
	endian   // the file's byte order
	nanoRes  bool
	extra    int // extra record header bytes (modified pcap)
	link     uint16
	snaplen  uint32
	limit    uint32 // the most bytes a record may hold: past it, it is damage
	packetNo uint64
	desc     string
}

func newPcapReader(r *byteReader) (*pcapReader, error) {
	h, err := r.read(24)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, errors.New("truncated pcap file header")
	}
	if err != nil {
		return nil, fmt.Errorf("unreadable pcap file header: %w", err)
	}
	p := &pcapReader{r: r}
	magic := binary.LittleEndian.Uint32(h)
	switch magic {
	case 0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34:
	default:
		p.big = true
		magic = binary.BigEndian.Uint32(h)
	}
	p.nanoRes = magic == 0xa1b23c4d
	if magic == 0xa1b2cd34 {
		p.extra = 8
	}
	p.snaplen = p.u32(h[16:20])
	p.link = uint16(p.u32(h[20:24]) & 0xffff)
	p.limit = min(max(p.snaplen, 262144), maxRecord)
	res, end := "microsecond", "little-endian"
	if p.nanoRes {
		res = "nanosecond"
	}
	if p.big {
		end = "big-endian"
	}
	p.desc = fmt.Sprintf("pcap (%s, %s)", res, end)
	if p.extra > 0 {
		p.desc = "modified pcap (" + end + ")"
	}
	return p, nil
}

func (p *pcapReader) format() string { return p.desc }

// endian reads numbers in a file's byte order without the interface call
// a binary.ByteOrder costs, for what every packet reads.
type endian struct{ big bool }

func (e endian) u64(b []byte) uint64 {
	if e.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

func (e endian) u32(b []byte) uint32 {
	if e.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (e endian) u16(b []byte) uint16 {
	if e.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (p *pcapReader) next(pk *packet) error {
	// Most records lie whole in the bytes already buffered: take them
	// from the buffer at once, without the two reads' checks.
	r := p.r
	head := 16 + p.extra
	if b := r.buffered(); len(b) >= head {
		h := (*[16]byte)(b)
		if incl := p.u32(h[8:12]); incl <= p.limit && uint64(len(b)-head) >= uint64(incl) {
			p.packetNo++
			end := head + int(incl)
			p.fill(pk, p.u32(h[0:4]), p.u32(h[4:8]), incl, p.u32(h[12:16]), b[head:end:end])
			r.skip(end)
			return nil
		}
	}
	at := r.off
	h, err := r.read(head)
	if err == io.EOF {
		return io.EOF
	}
	p.packetNo++
	if err != nil {
		return truncated(err, "record header at byte %d (packet %d)", at, p.packetNo)
	}
	sec, frac, incl, orig := p.u32(h[0:4]), p.u32(h[4:8]), p.u32(h[8:12]), p.u32(h[12:16])
	if incl > p.limit {
		limit := fmt.Sprintf("the snap length %d", p.snaplen)
		if incl <= p.snaplen {
			limit = fmt.Sprintf("the %d-byte limit", maxRecord)
		}
		return damage("record at byte %d (packet %d) claims %d bytes, more than %s", at, p.packetNo, incl, limit)
	}
	data, err := r.read(int(incl))
	if err != nil {
		return truncated(err, "record at byte %d (packet %d)", at, p.packetNo)
	}
	p.fill(pk, sec, frac, incl, orig, data)
	return nil
}

// fill sets pk from a record's header fields and data.
func (p *pcapReader) fill(pk *packet, sec, frac, incl, orig uint32, data []byte) {
	if p.nanoRes {
		pk.nanos = int64(sec)*1e9 + int64(frac)
	} else {
		pk.nanos = int64(sec)*1e9 + int64(frac)*1e3
	}
	pk.link, pk.data, pk.wireLen = p.link, data, max(orig, incl)
}

// pcapngReader reads pcapng sections, interfaces and packet blocks.
type pcapngReader struct {
	r        *byteReader
	endian   // the current section's byte order
	ifaces   []ngInterface
	packetNo uint64
	lastTime int64
}

type ngInterface struct {
	link    uint16
	snaplen uint32
	tsresol uint8 // if_tsresol: high bit set means a power of two
	offset  int64 // if_tsoffset, seconds
	scale   int64 // nanoseconds a unit when tsresol is a power of ten up to 10^9 (nanos' common case), else 0
}

const (
	ngSectionHeader   = 0x0a0d0d0a
	ngInterfaceDesc   = 0x00000001
	ngObsoletePacket  = 0x00000002
	ngSimplePacket    = 0x00000003
	ngEnhancedPacket  = 0x00000006
	ngByteOrderMagic  = 0x1a2b3c4d
	ngMinBlockLength  = 12
	ngOptionTsresol   = 9
	ngOptionTsoffset  = 14
	ngDefaultTsresol  = 6
	ngSectionMinBytes = 28
)

func newPcapngReader(r *byteReader) *pcapngReader {
	return &pcapngReader{r: r}
}

func (p *pcapngReader) format() string { return "pcapng" }

func (p *pcapngReader) next(pk *packet) error {
	if p.nextInPlace(pk) {
		return nil
	}
	for {
		at := p.r.off
		h, err := p.r.read(8)
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return truncated(err, "block header at byte %d (after packet %d)", at, p.packetNo)
		}
		typ := p.u32(h[0:4]) // the section header's type reads the same in both orders
		if typ == ngSectionHeader {
			if err := p.readSection(at, h); err != nil {
				return err
			}
			continue
		}
		blen := p.u32(h[4:8])
		if blen < ngMinBlockLength || blen%4 != 0 || blen > maxRecord {
			return damage("block at byte %d (after packet %d) has invalid length %d", at, p.packetNo, blen)
		}
		body, err := p.r.read(int(blen) - 8)
		if err != nil {
			return truncated(err, "block at byte %d (after packet %d)", at, p.packetNo)
		}
		if p.u32(body[len(body)-4:]) != blen {
			return damage("block at byte %d (after packet %d) has mismatched trailing length", at, p.packetNo)
		}
		body = body[:len(body)-4]
		switch typ {
		case ngInterfaceDesc:
			if len(body) < 8 {
				return damage("short interface block at byte %d", at)
			}
			ifc := ngInterface{link: p.u16(body[0:2]), snaplen: p.u32(body[4:8]), tsresol: ngDefaultTsresol}
			p.readOptions(body[8:], &ifc)
			if v := ifc.tsresol; v <= 9 {
				ifc.scale = pow10[9-v]
			}
			p.ifaces = append(p.ifaces, ifc)
		case ngEnhancedPacket, ngObsoletePacket:
			p.packetNo++
			if len(body) < 20 {
				return damage("short packet block at byte %d (packet %d)", at, p.packetNo)
			}
			var id int
			if typ == ngEnhancedPacket {
				id = int(p.u32(body[0:4]))
			} else {
				id = int(p.u16(body[0:2]))
			}
			if id >= len(p.ifaces) {
				return damage("packet block at byte %d (packet %d) names interface %d, but the section has %d", at, p.packetNo, id, len(p.ifaces))
			}
			ts := uint64(p.u32(body[4:8]))<<32 | uint64(p.u32(body[8:12]))
			caplen := p.u32(body[12:16])
			orig := p.u32(body[16:20])
			if int64(caplen) > int64(len(body)-20) {
				return damage("packet block at byte %d (packet %d) claims %d bytes in a %d-byte block", at, p.packetNo, caplen, blen)
			}
			ifc := &p.ifaces[id]
			pk.nanos = ifc.nanos(ts)
			p.lastTime = pk.nanos
			pk.link, pk.data, pk.wireLen, pk.iface = ifc.link, body[20:20+caplen], max(orig, caplen), uint32(id)
			return nil
		case ngSimplePacket:
			p.packetNo++
			if len(body) < 4 || len(p.ifaces) == 0 {
				return damage("simple packet block at byte %d (packet %d) without an interface", at, p.packetNo)
			}
			orig := p.u32(body[0:4])
			caplen := min(orig, uint32(len(body)-4))
			if s := p.ifaces[0].snaplen; s != 0 {
				caplen = min(caplen, s)
			}
			pk.nanos = p.lastTime // simple packets carry no timestamp
			pk.link, pk.data, pk.wireLen, pk.iface = p.ifaces[0].link, body[4:4+caplen], orig, 0
			return nil
		}
		// Other blocks (statistics, name resolution, custom) are skipped.
	}
}

// nextInPlace takes an enhanced packet block that lies whole and sound in
// the bytes already buffered, as most do, from the buffer at once, without
// the two reads' checks, and reports whether it did. Any other block, and
// any damage, is left to the general path, which reads it the same way or
// says what is wrong.
func (p *pcapngReader) nextInPlace(pk *packet) bool {
	b := p.r.buffered()
	if len(b) < 32 {
		return false
	}
	h := (*[28]byte)(b) // block type and length, then the packet block's fields
	blen := p.u32(h[4:8])
	id := p.u32(h[8:12])
	caplen := p.u32(h[20:24])
	if p.u32(h[0:4]) != ngEnhancedPacket || blen < 32 || blen%4 != 0 || blen > maxRecord || int(blen) > len(b) ||
		uint64(id) >= uint64(len(p.ifaces)) || caplen > blen-32 || p.u32(b[blen-4:blen]) != blen {
		return false
	}
	p.packetNo++
	ifc := &p.ifaces[id]
	pk.nanos = ifc.nanos(uint64(p.u32(h[12:16]))<<32 | uint64(p.u32(h[16:20])))
	p.lastTime = pk.nanos
	pk.link, pk.data, pk.wireLen, pk.iface = ifc.link, b[28:28+caplen:28+caplen], max(p.u32(h[24:28]), caplen), id
	p.r.skip(int(blen))
	return true
}

// readSection reads a section header block whose first 8 bytes are h.
func (p *pcapngReader) readSection(at int64, h []byte) error {
	rawLen := binary.LittleEndian.Uint32(h[4:8])
	m, err := p.r.read(4)
	if err != nil {
		return truncated(err, "section header at byte %d", at)
	}
	switch binary.LittleEndian.Uint32(m) {
	case ngByteOrderMagic:
		p.big = false
	case 0x4d3c2b1a:
		p.big = true
	default:
		return damage("section header at byte %d has an unknown byte-order magic", at)
	}
	blen := rawLen
	if p.big {
		blen = bits.ReverseBytes32(rawLen)
	}
	if blen < ngSectionMinBytes || blen%4 != 0 || blen > maxRecord {
		return damage("section header at byte %d has invalid length %d", at, blen)
	}
	if _, err := p.r.read(int(blen) - 12); err != nil {
		return truncated(err, "section header at byte %d", at)
	}
	p.ifaces = p.ifaces[:0]
	return nil
}

func (p *pcapngReader) readOptions(b []byte, ifc *ngInterface) {
	for len(b) >= 4 {
		code := p.u16(b[0:2])
		n := int(p.u16(b[2:4]))
		if code == 0 || 4+n > len(b) {
			return
		}
		v := b[4 : 4+n]
		switch {
		case code == ngOptionTsresol && n == 1:
			ifc.tsresol = v[0]
		case code == ngOptionTsoffset && n == 8:
			ifc.offset = int64(p.u64(v))
		}
		b = b[4+(n+3)&^3:]
	}
}

// nanos converts a timestamp in the interface's units to Unix nanoseconds.
func (ifc *ngInterface) nanos(ts uint64) int64 {
	off := ifc.offset * 1e9
	if ifc.scale != 0 {
		return off + int64(ts)*ifc.scale
	}
	v := uint(ifc.tsresol & 0x7f)
	if ifc.tsresol&0x80 != 0 {
		if v > 63 {
			return off
		}
		sec := ts >> v
		frac := ts & (1<<v - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		return off + int64(sec)*1e9 + int64(hi<<(64-v)|lo>>v)
	}
	if v < 19 { // finer than nanoseconds (coarser is scale's)
		return off + int64(ts/uint64(pow10[v-9]))
	}
	return off
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}
