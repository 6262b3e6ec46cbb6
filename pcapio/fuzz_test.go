package pcapio

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func FuzzDecode(f *testing.F) {
	for _, tt := range decodeTests {
		f.Add(tt.link, tt.frame)
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		wireLen := uint32(len(data))
		seg := Segment{Nanos: 1, File: 2, Frame: 3}
		r := Decode(link, data, wireLen, &seg)
		if r >= numSkipReasons {
			t.Fatalf("Decode returned %d", r)
		}
		if r != Decoded {
			return
		}
		if seg.Nanos != 1 || seg.File != 2 || seg.Frame != 3 {
			t.Errorf("Decode changed the reader's fields: %+v", seg)
		}
		// The payload length comes from the IP header: at most 64 KB, or the
		// wire length when the header says 0.
		if seg.PayloadLen > max(65535, wireLen) {
			t.Errorf("PayloadLen = %d for a %d-byte frame", seg.PayloadLen, wireLen)
		}
		if !seg.Src().IsValid() || !seg.Dst().IsValid() || seg.Src().Addr().Is4() != seg.Dst().Addr().Is4() {
			t.Errorf("addresses %v > %v", seg.Src(), seg.Dst())
		}
		if seg.Src().Addr().Is6() && seg.IPID != 0 {
			t.Errorf("IPv6 segment has IPID %d", seg.IPID)
		}
		if seg.WScale < -1 || seg.WScale > 14 {
			t.Errorf("WScale = %d", seg.WScale)
		}
		if !seg.HasTS && (seg.TSVal != 0 || seg.TSEcr != 0) {
			t.Errorf("timestamps %d/%d without HasTS", seg.TSVal, seg.TSEcr)
		}
		// Cutting the frame shorter, as a snap length does, may lose the
		// segment but never changes where it is in the sequence space.
		if len(data) > 512 {
			return
		}
		for n := range len(data) {
			var cut Segment
			if Decode(link, data[:n], wireLen, &cut) != Decoded {
				continue
			}
			if cut.Flow != seg.Flow || cut.SrcIsLo != seg.SrcIsLo || cut.Seq != seg.Seq || cut.Ack != seg.Ack || cut.PayloadLen != seg.PayloadLen || cut.Flags != seg.Flags {
				t.Fatalf("frame cut to %d bytes decodes differently:\n%+v\n%+v", n, cut, seg)
			}
		}
	})
}

// fuzzSeedLimit bounds the size of the corpus files used as seeds.
const fuzzSeedLimit = 20 << 10

// maxReadAlloc bounds what reading one input may allocate: the read chunks
// in flight (one per queued batch, plus those of the batch being read, the
// batch being consumed and the current one), the decompressing goroutine's
// four chunks, and one record or block of at most maxRecord. A zstd
// input may add its window (zstdMaxWindow at most) and two blocks.
const maxReadAlloc = (queueLen+3)*readBufferSize + 4*aheadSize + maxRecord + 4<<20

// readBounds returns what reading data may allocate, and how many
// segments it may yield: every packet takes at least 12 bytes of the
// input, which gzip multiplies by about a thousand at most, zstd by some
// 130,000 (a match of 128 KiB in a byte or so).
func readBounds(data []byte) (alloc, segments uint64) {
	if len(data) >= 4 && isZstd(data[:4]) {
		return maxReadAlloc + zstdMaxWindow + 1<<20, uint64(len(data)) * 140_000
	}
	return maxReadAlloc, uint64(len(data)) * 1100
}

func FuzzReader(f *testing.F) {
	for _, path := range globFiles(f, "testdata/pcaps/*.pcap*") {
		addSeedFile(f, path)
	}
	if _, err := os.Stat(corpusDir); err == nil {
		paths, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
		for _, path := range paths {
			if st, err := os.Stat(path); err == nil && st.Size() <= fuzzSeedLimit && filepath.Base(path) != "MANIFEST.tsv" {
				addSeedFile(f, path)
			}
		}
	}
	le, be := binary.LittleEndian, binary.BigEndian
	f.Add(pcapFile(be, magicNano, LinkRaw, pcapRec{sec: base, frac: 1, data: seqPacket(1)}))
	f.Add(pcapFile(le, magicModified, LinkEthernet, pcapRec{sec: base, data: seqFrame(1)}))
	w := newNg(le).idb(LinkEthernet, (&ngFile{order: le}).opt(ngOptionTsresol, []byte{0x80 | 20})).epb(0, 1, seqFrame(1)).spb(seqFrame(2))
	f.Add(w.section(be).idb(LinkRaw).block(0xbad, nil).obsolete(0, 2, seqPacket(3)).b)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add(zstdRawFrame(17, pcapFile(le, magicMicro, LinkRaw, pcapRec{sec: base, data: seqPacket(1)})))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		maxAlloc, maxSegments := readBounds(data)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := NewReader("fuzz", bytes.NewReader(data))
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line naming the input", msg)
			}
			return
		}
		defer s.Close()
		var seg Segment
		var segments, sum uint64
		for s.Next(&seg) {
			if segments++; segments > maxSegments {
				t.Fatalf("Next does not stop after %d segments", segments)
			}
			sum = foldSegment(sum, &seg)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxAlloc {
			t.Errorf("reading %d bytes allocated %d bytes", len(data), n)
		}
		st := s.Stats()
		var skipped, linked uint64
		for _, n := range st.Skipped {
			skipped += n
		}
		for _, l := range st.Links {
			linked += l.Packets
		}
		if st.TCP() != segments || skipped != st.Packets || linked != st.Packets {
			t.Errorf("Stats do not add up: %d segments, %+v", segments, st)
		}
		if fi := s.Files()[0]; fi.Packets != st.Packets || strings.Contains(fi.Damage, "\n") {
			t.Errorf("Files()[0] = %+v; Stats().Packets = %d", fi, st.Packets)
		}

		// NextBatch hands out the same segments, with the same counts.
		b, err := NewReader("fuzz", bytes.NewReader(data))
		if err != nil {
			t.Fatalf("second reading: %v", err)
		}
		defer b.Close()
		var bsum uint64
		for batch := b.NextBatch(); len(batch) > 0; batch = b.NextBatch() {
			for i := range batch {
				bsum = foldSegment(bsum, &batch[i])
			}
		}
		if bsum != sum || !reflect.DeepEqual(b.Stats(), st) || !reflect.DeepEqual(b.Files(), s.Files()) {
			t.Errorf("NextBatch reads otherwise than Next: stats %+v, files %+v; Next: %+v, %+v", b.Stats(), b.Files(), st, s.Files())
		}

		// Read one byte at a time, nothing is buffered beyond what a read
		// asks for, and no record is taken in place: the general path
		// reads the same.
		g, err := NewReader("fuzz", iotest.OneByteReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("reading one byte at a time: %v", err)
		}
		defer g.Close()
		var gsum uint64
		for g.Next(&seg) {
			gsum = foldSegment(gsum, &seg)
		}
		if gsum != sum || !reflect.DeepEqual(g.Stats(), st) || !reflect.DeepEqual(g.Files(), s.Files()) {
			t.Errorf("read one byte at a time, otherwise than in place: stats %+v, files %+v; in place: %+v, %+v", g.Stats(), g.Files(), st, s.Files())
		}
	})
}

// foldSegment folds every field of a segment into a running checksum (the
// flow key through its hash), so that two readings can be compared
// without keeping their segments.
func foldSegment(sum uint64, s *Segment) uint64 {
	b2u := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	flags := b2u(s.SrcIsLo) | b2u(s.DSACK)<<1 | b2u(s.HasTS)<<2 | uint64(uint8(s.WScale))<<8
	for _, v := range []uint64{uint64(s.Nanos), s.Hash, uint64(s.Seq)<<32 | uint64(s.Ack), uint64(s.PayloadLen)<<32 | uint64(s.Window)<<16 | uint64(s.Flags)<<8 | uint64(s.TTL),
		s.Frame, uint64(s.File), uint64(s.Point)<<32 | uint64(s.TSVal), uint64(s.IPID)<<32 | uint64(s.TSEcr), flags} {
		sum = (sum ^ v) * 0x100000001b3
	}
	return sum
}

func addSeedFile(f *testing.F, path string) {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}
