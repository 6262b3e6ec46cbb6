package pcapio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
)

// WriteSnaplen is the snap length a Writer puts in its file headers; longer
// frames are cut to it.
const WriteSnaplen = 262144

// Writer writes frames as a capture file. For one interface it writes
// classic pcap (microsecond timestamps, little-endian), the format every
// tool reads; for several, pcapng with nanosecond timestamps. A Writer
// buffers its output: call Flush when done. It is not safe for concurrent
// use.
type Writer struct {
	bw    *bufio.Writer
	links []uint16 // link type of each interface
	ng    bool
	buf   []byte
}

// NewWriter starts a capture file on w with one interface per entry of
// links, which gives its link type; frames name their interface by index
// (Raw.Interface). It fails when links is empty; errors writing to w are
// returned by WritePacket and Flush.
func NewWriter(w io.Writer, links ...uint16) (*Writer, error) {
	return newWriter(w, len(links) > 1, links)
}

// NewPcapngWriter is NewWriter writing pcapng even for one interface, for
// nanosecond timestamps.
func NewPcapngWriter(w io.Writer, links ...uint16) (*Writer, error) {
	return newWriter(w, true, links)
}

func newWriter(w io.Writer, ng bool, links []uint16) (*Writer, error) {
	if len(links) == 0 {
		return nil, errors.New("write capture: no interface")
	}
	wr := &Writer{bw: bufio.NewWriter(w), links: slices.Clone(links), ng: ng}
	le := binary.LittleEndian
	if !wr.ng {
		h := le.AppendUint32(nil, 0xa1b2c3d4)
		h = le.AppendUint16(h, 2)
		h = le.AppendUint16(h, 4)
		h = le.AppendUint64(h, 0) // time zone and accuracy
		h = le.AppendUint32(h, WriteSnaplen)
		h = le.AppendUint32(h, uint32(links[0]))
		wr.bw.Write(h)
		return wr, nil
	}
	shb := le.AppendUint32(nil, ngByteOrderMagic)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0)) // section length unknown
	wr.block(ngSectionHeader, shb)
	for _, l := range links {
		idb := le.AppendUint16(nil, l)
		idb = le.AppendUint16(idb, 0)
		idb = le.AppendUint32(idb, WriteSnaplen)
		idb = append(idb, ngOptionTsresol, 0, 1, 0, 9, 0, 0, 0) // if_tsresol: nanoseconds
		idb = append(idb, 0, 0, 0, 0)                           // opt_endofopt
		wr.block(ngInterfaceDesc, idb)
	}
	return wr, nil
}

// WritePacket writes one frame on interface p.Interface, whose link type
// must be p.LinkType. Data longer than WriteSnaplen is cut to it; the
// recorded length on the wire is the larger of WireLen and len(Data). In
// classic pcap the time is truncated to the microsecond.
func (w *Writer) WritePacket(p Raw) error {
	iface := int(p.Interface)
	if iface >= len(w.links) || w.links[iface] != p.LinkType {
		return fmt.Errorf("write capture: no interface %d of link type %d", p.Interface, p.LinkType)
	}
	data := p.Data[:min(len(p.Data), WriteSnaplen)]
	wire := max(p.WireLen, uint32(len(p.Data)))
	le := binary.LittleEndian
	if !w.ng {
		sec, frac := p.Nanos/1e9, p.Nanos%1e9
		if frac < 0 {
			sec, frac = sec-1, frac+1e9
		}
		h := le.AppendUint32(w.buf[:0], uint32(sec))
		h = le.AppendUint32(h, uint32(frac/1e3))
		h = le.AppendUint32(h, uint32(len(data)))
		h = le.AppendUint32(h, wire)
		w.buf = h
		w.bw.Write(h)
		_, err := w.bw.Write(data)
		return err
	}
	ts := uint64(p.Nanos)
	b := le.AppendUint32(w.buf[:0], uint32(iface))
	b = le.AppendUint32(b, uint32(ts>>32))
	b = le.AppendUint32(b, uint32(ts))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, wire)
	b = append(b, data...)
	b = append(b, make([]byte, (4-len(data)%4)%4)...)
	w.buf = b
	return w.block(ngEnhancedPacket, b)
}

// Flush writes any buffered data to the underlying writer and returns the
// first error met while writing.
func (w *Writer) Flush() error { return w.bw.Flush() }

// block writes a pcapng block around body, whose length is a multiple of 4.
func (w *Writer) block(typ uint32, body []byte) error {
	var h [8]byte
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint32(h[4:], uint32(12+len(body)))
	w.bw.Write(h[:])
	w.bw.Write(body)
	_, err := w.bw.Write(h[4:8])
	return err
}

// MapAddrs replaces, in place, the IP source and destination addresses of
// a frame that [Decode] turns into a segment by f's stand-ins, and reports
// whether it found them; in a tunnel, those of every IP header, outer and
// inner. f must keep the family: an IPv4 address for an IPv4 one, any IPv6
// form for an IPv6 one. Checksums are not updated, and nothing else
// (link-layer addresses, IP options, tunnel ids, payload) is changed.
func MapAddrs(linkType uint16, data []byte, wireLen uint32, f func(netip.Addr) netip.Addr) bool {
	lay, ok := headers(linkType, data, wireLen)
	if !ok {
		return false
	}
	for _, ip := range lay.ips[:lay.n] {
		h := data[ip:]
		if h[0]>>4 == 4 {
			for _, b := range [][]byte{h[12:16], h[16:20]} {
				a := f(netip.AddrFrom4([4]byte(b))).As4()
				copy(b, a[:])
			}
			continue
		}
		for _, b := range [][]byte{h[8:24], h[24:40]} {
			a := f(netip.AddrFrom16([16]byte(b))).As16()
			copy(b, a[:])
		}
	}
	return true
}
