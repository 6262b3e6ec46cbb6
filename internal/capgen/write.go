package capgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

const defaultSnaplen = 262144

// PcapConfig selects the variant of a classic pcap file. A nil *PcapConfig
// means little-endian, microsecond timestamps, snapshot length 262144.
type PcapConfig struct {
	// Nanosecond writes nanosecond timestamps (magic 0xa1b23c4d) instead of
	// microsecond ones.
	Nanosecond bool
	// BigEndian writes the file big-endian, as a big-endian host does.
	BigEndian bool
	// Snaplen is the snapshot length; longer frames are cut to it. Zero
	// means 262144.
	Snaplen uint32
}

// WritePcap writes recs as a classic pcap file (version 2.4) of link type lt.
// Timestamps are truncated to the file's resolution. Records' Interface is
// ignored. For little-endian files the output is the same as gopacket's
// pcapgo.Writer produces.
func WritePcap(w io.Writer, lt LinkType, recs []Record, cfg *PcapConfig) error {
	var c PcapConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Snaplen == 0 {
		c.Snaplen = defaultSnaplen
	}
	var order binary.ByteOrder = binary.LittleEndian
	if c.BigEndian {
		order = binary.BigEndian
	}
	magic, unit := uint32(0xa1b2c3d4), time.Microsecond
	if c.Nanosecond {
		magic, unit = 0xa1b23c4d, time.Nanosecond
	}
	bw := bufio.NewWriter(w)
	var h [24]byte
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], c.Snaplen)
	order.PutUint32(h[20:], uint32(lt))
	bw.Write(h[:])
	for _, r := range recs {
		data := r.Data
		if uint32(len(data)) > c.Snaplen {
			data = data[:c.Snaplen]
		}
		var ph [16]byte
		order.PutUint32(ph[0:], uint32(r.Time.Unix()))
		order.PutUint32(ph[4:], uint32(time.Duration(r.Time.Nanosecond())/unit))
		order.PutUint32(ph[8:], uint32(len(data)))
		order.PutUint32(ph[12:], uint32(len(r.Data)))
		bw.Write(ph[:])
		bw.Write(data)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

// An Interface describes one pcapng interface (Interface Description Block).
type Interface struct {
	// Name is the if_name option; empty leaves it out.
	Name string
	// LinkType is the interface's link type.
	LinkType LinkType
	// TSResol is the if_tsresol option: timestamps count units of
	// 10^-TSResol seconds, 6 for microseconds, 9 for nanoseconds. Zero
	// leaves the option out, which readers take as microseconds.
	TSResol uint8
	// Snaplen is the snapshot length; zero means no limit.
	Snaplen uint32
}

// Application is the shb_userappl option of the pcapng files WritePcapng
// writes.
const Application = "hangdiag capgen"

// pcapng block types and option codes.
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 0x00000001
	blockEPB = 0x00000006

	optEnd      = 0
	optShbAppl  = 4
	optIfName   = 2
	optIfTsresl = 9
)

// WritePcapng writes recs as a little-endian pcapng file with one section
// and the given interfaces, in order, so a record's Interface indexes
// ifaces. Timestamps are truncated to each interface's resolution. When
// every interface has TSResol 9 the output is the same as gopacket's
// pcapgo.NgWriter produces for those interfaces (with no OS option) and
// Application as the section's only option.
func WritePcapng(w io.Writer, ifaces []Interface, recs []Record) error {
	bw := bufio.NewWriter(w)
	le := binary.LittleEndian

	var opts []byte
	opts = appendOption(opts, optShbAppl, []byte(Application))
	opts = appendOption(opts, optEnd, nil)
	body := le.AppendUint32(nil, 0x1a2b3c4d)
	body = le.AppendUint16(body, 1)
	body = le.AppendUint16(body, 0)
	body = le.AppendUint64(body, 0xffffffffffffffff) // section length unknown
	writeBlock(bw, blockSHB, append(body, opts...))

	for _, ifc := range ifaces {
		if ifc.TSResol > 9 {
			return fmt.Errorf("write pcapng: interface %q: if_tsresol %d not supported", ifc.Name, ifc.TSResol)
		}
		body := le.AppendUint16(nil, uint16(ifc.LinkType))
		body = le.AppendUint16(body, 0)
		body = le.AppendUint32(body, ifc.Snaplen)
		var opts []byte
		if ifc.Name != "" {
			opts = appendOption(opts, optIfName, []byte(ifc.Name))
		}
		if ifc.TSResol != 0 {
			opts = appendOption(opts, optIfTsresl, []byte{ifc.TSResol})
		}
		if opts != nil {
			opts = appendOption(opts, optEnd, nil)
		}
		writeBlock(bw, blockIDB, append(body, opts...))
	}

	for _, r := range recs {
		if r.Interface < 0 || r.Interface >= len(ifaces) {
			return fmt.Errorf("write pcapng: record at %v: no interface %d", r.Time, r.Interface)
		}
		ifc := ifaces[r.Interface]
		resol := ifc.TSResol
		if resol == 0 {
			resol = 6
		}
		unit := int64(1)
		for range 9 - resol {
			unit *= 10
		}
		ts := uint64(r.Time.UnixNano() / unit)
		data := r.Data
		if ifc.Snaplen != 0 && uint32(len(data)) > ifc.Snaplen {
			data = data[:ifc.Snaplen]
		}
		body := le.AppendUint32(nil, uint32(r.Interface))
		body = le.AppendUint32(body, uint32(ts>>32))
		body = le.AppendUint32(body, uint32(ts))
		body = le.AppendUint32(body, uint32(len(data)))
		body = le.AppendUint32(body, uint32(len(r.Data)))
		body = append(body, data...)
		body = append(body, make([]byte, pad4(len(data)))...)
		writeBlock(bw, blockEPB, body)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	return nil
}

func pad4(n int) int { return (4 - n%4) % 4 }

// appendOption appends a pcapng option, padded to 4 bytes.
func appendOption(b []byte, code uint16, val []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, pad4(len(val)))...)
}

// writeBlock writes a pcapng block around body, which must be padded.
func writeBlock(w *bufio.Writer, typ uint32, body []byte) {
	n := uint32(12 + len(body))
	var h [8]byte
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint32(h[4:], n)
	w.Write(h[:])
	w.Write(body)
	w.Write(h[4:8])
}

// Gzip returns data compressed in gzip format, with no file name and no
// modification time, so the same data always gives the same bytes with the
// same Go release.
func Gzip(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
