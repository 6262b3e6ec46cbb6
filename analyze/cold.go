package analyze

import (
	"encoding/binary"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// A table of many flows keeps those idle for a while frozen: encoded in
// a fixed entry of 158 bytes (182 for IPv6) rather than held in a
// 376-byte record, and made a record again when their next packet comes.
// A capture of a million connections left open after their handshakes
// holds all of them at once: in records they take 376 MB; frozen, all but
// 65,536 of them, about 175 MB.
//
// A frozen flow keeps its place in the index, its slot naming the entry
// instead of a record, so a look-up finds it in the same probe sequence.
// Flows are frozen only when the table would take a new chunk of records,
// for a new flow or for frozen ones made records again (roomToThaw): up
// to a chunk's worth of idle flows give theirs up instead (freezeIdle),
// so the records in use stay about as many as the flows active at once.
var (
	// coldFrom is how many flows a table holds before it freezes any:
	// smaller tables never do. At 65,536 the records fit the chunks a
	// table maps one by one (plainChunks), and a table of a million
	// flows peaks 6 to 12 MB lower than at 131,072, in the same time.
	coldFrom = 1 << 16
	// coldIdle and coldIdleMin bound how long a flow must have been idle
	// to be frozen. A table starts at coldIdle and halves the time when a
	// pass over its records finds few flows idle that long, down to
	// coldIdleMin, so that a million flows that all began within a few
	// seconds freeze as well as a million spread over minutes; it doubles
	// the time again when many frozen flows come back to life between two
	// passes. At a tenth of a second, a million lone SYNs within 3.3 s
	// (a SYN flood) peak at 209 MB, at 282 MB with a minimum of a second,
	// when the flows of the last second could not freeze; the benchmark's
	// captures of a million flows take as long or less, and as much
	// memory or less (bench/NOTES.md). Both are far longer than
	// duplicateWindow, so that the last segments a record keeps to spot
	// copies can never match again and are not kept.
	coldIdle    = int64(30 * time.Second)
	coldIdleMin = int64(100 * time.Millisecond)
)

// coldBit marks a slot's id as naming a frozen flow's entry.
const coldBit = 1 << 31

// coldStore holds frozen flows, each in an entry of a fixed size: one
// size for IPv4 keys, one for IPv6. An entry thawed is used again by the
// next flow frozen, so the store holds as many entries as flows were
// frozen at once at most, however long the capture.
type coldStore struct {
	classes [2]coldClass // IPv4 keys, IPv6 keys
	base    int64        // the time the flows' first packets are written relative to
	hasBase bool
	idle    int64 // how long a flow must have been idle to be frozen
	thawed  int   // flows thawed since the last freezeIdle: frozen too soon
	skip    int   // freezeIdle passes still to skip
	backoff int   // passes skipped after the last that froze nothing
	refs    slab[coldRefs]
}

// coldRefs holds the side-table refs of a frozen flow with keepalive
// timing: those of its notes and of each side's keepState. The entry's
// 4 bytes for the notes' ref then name this instead, negated, so that
// entries need no room for refs most flows do not have.
type coldRefs struct {
	notes int32
	keep  [2]int32
}

// coldClass is the entries of one size, in chunks of coldChunkBytes.
type coldClass struct {
	chunks [][]byte
	free   []uint32 // entries thawed, to use again
	made   uint32   // entries used so far, free ones among them
}

// coldChunkBytes is the size of a chunk of entries: a huge page.
const coldChunkBytes = hugePage

// coldClassBit in an entry's name says which class it is of, the bits
// below it which entry.
const coldClassBit = 1 << 30

// coldEntrySize is the size of the entries of a class: the fixed part,
// and two endpoints of 4 or 16 bytes and a port.
func coldEntrySize(class int) int { return coldBody + 2*(2+4+12*class) }

// coldPerChunk is how many entries of a class a chunk holds.
func coldPerChunk(class int) int { return coldChunkBytes / coldEntrySize(class) }

// coldClassOf returns the class of f's entry: 0 for an IPv4 key, 1 else.
func coldClassOf(f *flow) int {
	if isMapped(&f.key.Lo) && isMapped(&f.key.Hi) {
		return 0
	}
	return 1
}

// put stores the encoding of f, which must be freezable, and returns its
// name. A new chunk is mapped in mem, as the table's are, or with mem nil
// taken from the Go heap.
func (c *coldStore) put(f *flow, mem *mappings) uint32 {
	class := coldClassOf(f)
	k := &c.classes[class]
	var n uint32
	if m := len(k.free); m > 0 {
		n, k.free = k.free[m-1], k.free[:m-1]
	} else {
		n = k.made
		k.made++
		if int(n)/coldPerChunk(class) == len(k.chunks) {
			k.chunks = append(k.chunks, newColdChunk(mem))
		}
	}
	ref := uint32(class)*coldClassBit | n
	encodeCold(c.get(ref), f, c.base, &c.refs)
	return ref
}

// newColdChunk returns a zeroed chunk, in a huge page of mem when it
// can be, populated ahead of use (mapAhead).
func newColdChunk(mem *mappings) []byte {
	if mem != nil {
		if b := mem.mapAhead(); b != nil {
			return b
		}
	}
	return make([]byte, coldChunkBytes)
}

// len returns how many flows are frozen.
func (c *coldStore) len() int {
	n := 0
	for k := range c.classes {
		n += int(c.classes[k].made) - len(c.classes[k].free)
	}
	return n
}

// room reports whether a name can be given to one more entry.
func (c *coldStore) room() bool {
	return c.classes[0].made < coldClassBit-1 && c.classes[1].made < coldClassBit-1
}

// get returns the entry named ref.
func (c *coldStore) get(ref uint32) []byte {
	class, n := int(ref/coldClassBit), int(ref%coldClassBit)
	size, per := coldEntrySize(class), coldPerChunk(class)
	at := n % per * size
	return c.classes[class].chunks[n/per][at : at+size : at+size]
}

// drop frees the entry named ref.
func (c *coldStore) drop(ref uint32) {
	c.get(ref)[coldFlags] &^= coldLive
	k := &c.classes[ref/coldClassBit]
	k.free = append(k.free, ref%coldClassBit)
}

// drain yields the entries in use, in the order of memory, and lets go
// of each chunk once its entries have been yielded: unmapped from mem
// when it was mapped there, else left to the garbage collector. The
// store must not be used afterwards.
func (c *coldStore) drain(mem *mappings, yield func([]byte) bool) {
	for class := range c.classes {
		k, size := &c.classes[class], coldEntrySize(class)
		for i, chunk := range k.chunks {
			for at := 0; at+size <= len(chunk); at += size {
				if e := chunk[at : at+size]; e[coldFlags]&coldLive != 0 && !yield(e) {
					return
				}
			}
			k.chunks[i] = nil
			if mem != nil {
				mem.unmap(chunk)
			}
		}
	}
}

// freeze stores f's encoding and gives its record up, or returns false
// when the store is full. The slot that names f must then be made to name
// the entry: s is the slot's new content. A *flow found before may now be
// stale: freezing counts as a removal.
func (t *flowTable) freeze(f *flow) (s uint64, ok bool) {
	if !t.cold.room() {
		return 0, false
	}
	s = uint64(f.hash)<<32 | coldBit | uint64(t.cold.put(f, t.mem))
	t.free = append(t.free, f.id)
	f.id = 0
	t.removals++
	return s, true
}

// rename makes the slot that holds old hold new, which has the same hash.
func (t *flowTable) rename(old, new uint64) { t.slots[t.slotOf(old)] = new }

// thaw makes the frozen flow of slot i a record again, in place in the
// index, and returns it.
func (t *flowTable) thaw(i int) *flow {
	s := t.slots[i]
	ref := uint32(s) &^ coldBit
	id := t.newID()
	f := t.at(id)
	decodeCold(t.cold.get(ref), f, t.cold.base, &t.cold.refs)
	f.hash, f.id = uint32(s>>32), id
	t.slots[i] = s&^(1<<32-1) | uint64(id)
	t.cold.drop(ref)
	t.cold.thawed++
	return f
}

// coldKeyIs reports whether the frozen flow named ref has the key.
func (t *flowTable) coldKeyIs(ref uint32, key *pcapio.FlowKey) bool {
	var k pcapio.FlowKey
	b := t.cold.get(ref)
	flags := b[coldFlags]
	short := flags&coldMappedLo != 0 && flags&coldMappedHi != 0
	i := getEndpoint(b, coldBody, &k.Lo, flags&coldIs4Lo != 0, short)
	getEndpoint(b, i, &k.Hi, flags&coldIs4Hi != 0, short)
	return k.Equal(key)
}

// thawAll makes every frozen flow a record again.
func (t *flowTable) thawAll() {
	for i := range t.frozenSlots {
		t.thaw(i)
	}
}

// frozenSlots yields the place and content of the slots of the frozen
// flows, stopping once it has found as many as the store holds. The loop
// may thaw the flow of the slot it is given, and nothing else.
func (t *flowTable) frozenSlots(yield func(int, uint64) bool) {
	left := t.cold.len()
	for i := 0; left > 0 && i < len(t.slots); i++ {
		if s := t.slots[i]; s != 0 && uint32(s)&coldBit != 0 {
			left--
			if !yield(i, s) {
				return
			}
		}
	}
}

// frozenOrder returns the time of the last packet and the index of the
// frozen flow of slot s.
func (t *flowTable) frozenOrder(s uint64) (last int64, index uint32) {
	o := (*[coldBody]byte)(t.cold.get(uint32(s) &^ coldBit))
	_, last = coldSpan(o, t.cold.base)
	return last, uint32(get32(o, 0))
}

// takeFrozen takes the frozen flow of slot s out of the table and decodes
// it into f, which has no place in the table.
func (t *flowTable) takeFrozen(s uint64, f *flow) {
	ref := uint32(s) &^ coldBit
	decodeCold(t.cold.get(ref), f, t.cold.base, &t.cold.refs)
	t.cold.drop(ref)
	t.removeSlot(s)
}

// drainFrozen yields every frozen flow, decoded into the same record in
// turn, without thawing it, in the order of the store's memory rather
// than of the index, so that the entries are read front to back; and it
// gives the store's memory back a chunk at a time as it goes, so that the
// encodings of a million idle flows are not held while the flows are
// finished and stored. The record has neither hash nor place. The loop
// must not change the table, and the table must not be used afterwards
// but to release it.
func (t *flowTable) drainFrozen(yield func(*flow) bool) {
	var f flow
	t.cold.drain(t.mem, func(enc []byte) bool {
		decodeCold(enc, &f, t.cold.base, &t.cold.refs)
		return yield(&f)
	})
}

// freezeIdle freezes up to a chunk's worth of flows idle for the table's
// idle time or more, going round the table's records, so that the record
// for a new flow comes from one of theirs rather than from a new chunk.
// It reads at most four chunks' worth, so that it comes round to the old
// records even while the table grows as fast as it goes; then it adapts
// the idle time (see coldIdle). Flows under a watch are active, and
// closed flows past half their linger leave the table soon: those stay.
func (a *Analyzer) freezeIdle(now int64) {
	t := &a.flows
	c := &t.cold
	if !c.hasBase {
		c.base, c.hasBase, c.idle = now, true, coldIdle
	}
	if c.skip > 0 { // the last passes found nothing to freeze
		c.skip--
		return
	}
	// Each flow is encoded as its record is read; the slots are renamed
	// after, in a loop of their own, whose short steps let their cache
	// misses overlap. (A slot read ahead in this loop, whose steps are
	// long, stalled each step on its miss: 7 to 17 % more time for the
	// million-flow captures.)
	const chunk = 1 << flowChunkShift
	renames := a.renames[:0]
	for read := 0; read < min(4*chunk, int(t.made)) && len(renames) < chunk; read++ {
		t.hand = t.hand%t.made + 1
		f := t.at(t.hand)
		if f.id == 0 || now-f.last < c.idle || f.state != Open && now-f.last > closedLinger/2 || !freezable(f, c.base) {
			continue
		}
		old := uint64(f.hash)<<32 | uint64(f.id)
		s, ok := t.freeze(f)
		if !ok {
			break
		}
		renames = append(renames, [2]uint64{old, s})
	}
	for _, r := range renames {
		t.rename(r[0], r[1])
	}
	a.renames = renames
	switch {
	case c.thawed > chunk/2:
		c.idle = min(c.idle*2, coldIdle)
	case len(renames) < chunk/4:
		c.idle = max(c.idle/2, coldIdleMin)
	}
	c.thawed = 0
	// A table whose flows cannot be frozen (gaps under watch, first
	// segments that may prove keepalive probes) would read four chunks'
	// worth of records for nothing at every new chunk: after a pass at
	// the shortest idle time that froze nothing, the next pass is
	// skipped, after a second such pass the next 3, then 7, then 15.
	switch {
	case len(renames) > 0:
		c.backoff = 0
	case c.idle == coldIdleMin:
		c.backoff = min(2*c.backoff+1, 15)
		c.skip = c.backoff
	}
}

// A frozen flow's encoding is a fixed part of coldBody bytes, each field
// at a fixed place and in fewer bytes than the record gives it, followed
// by its key: 12 bytes for IPv4, 36 for IPv6 (see coldEntrySize). Times
// are relative to the flow's first packet, and its first to the store's
// base. Only a flow whose values fit is frozen (freezable); the others
// keep their records. That is almost every idle flow: one whose packets,
// bytes and gaps fit, with no gap under watch.
const coldBody = coldDirs + 2*coldSide

// The widths of the narrowed fields.
const (
	max16 = 1<<16 - 1
	max32 = 1<<32 - 1
	max48 = 1<<48 - 1
)

// freezable reports whether f's values fit its encoding. Side tables
// that are rare in idle flows (a gap under watch, a probe candidate,
// live alerts) are not encoded: a flow with one is not freezable. The
// refs of its keepalive timing and findings are kept (coldRefs).
func freezable(f *flow, base int64) bool {
	r := &f.lastRef
	ok := f.watch == 0 && f.alerts == 0 &&
		inRange(f.first-base, -1<<47, 1<<47-1) && inRange(f.last-f.first, 0, max48) &&
		inRange(r.nanos-f.first, 0, max48) && r.frame() <= max32 && r.file() <= 255 && r.len <= max16 &&
		inRange(f.maxGap, 0, max48) && inRange(int64(f.maxSurvived), 0, max48) &&
		timeFits(f.maxGapAt, f.first) && timeFits(f.synAt, f.first) && f.notes >= 0
	for s := range f.dirs {
		d := &f.dirs[s]
		ok = ok && d.candidate == 0 && d.bytes <= max32 &&
			d.ipidNonZero <= max16 && d.segs <= max16 && d.segsTS <= max16 && d.packets <= max16 &&
			d.retrans <= max16 && d.resets <= max16 &&
			inRange(int64(d.probes), 0, 255) && inRange(int64(d.probeAcks), 0, 255) && inRange(int64(d.zeroWinProbes), 0, 255)
	}
	return ok
}

func inRange(v, lo, hi int64) bool { return lo <= v && v <= hi }

// timeFits reports whether t, a time of a flow that began at first or 0
// for none, fits 6 bytes as putTime writes it.
func timeFits(t, first int64) bool { return t == 0 || inRange(t-first, 0, max48-1) }

// The places of a frozen flow's fields in its fixed part; each side's
// take coldSide bytes from coldDirs on.
const (
	coldFlags = 71 // the flow's flags, its key's, and whether the entry is in use
	coldDirs  = 72
	coldSide  = 37
)

// The bits of the byte at coldFlags that are not the flow's.
const (
	coldIs4Lo    = 1 << 3
	coldIs4Hi    = 1 << 4
	coldMappedLo = 1 << 5 // the address is IPv4-mapped
	coldMappedHi = 1 << 6
	coldLive     = 1 << 7 // the entry holds a frozen flow
)

// encodeCold writes the encoding of f, which must be freezable, to e, an
// entry of its class, and its refs to refs when it has keepalive timing.
// It leaves out the hash, which its slot holds, its place in the store,
// and the last segments kept to spot copies, which can no longer match.
func encodeCold(e []byte, f *flow, base int64, refs *slab[coldRefs]) {
	o := (*[coldBody]byte)(e)
	r := &f.lastRef
	put32(o, 0, uint64(f.index))
	put48(o, 4, uint64(f.first-base))
	put48(o, 10, uint64(f.last-f.first))
	put48(o, 16, uint64(r.nanos-f.first))
	put32(o, 22, r.frame())
	o[26] = byte(r.file())
	put16(o, 27, uint64(r.len))
	put48(o, 29, uint64(f.maxGap))
	put48(o, 35, uint64(f.maxSurvived))
	putTime(o, 41, f.maxGapAt, f.first)
	putTime(o, 47, f.synAt, f.first)
	put32(o, 53, uint64(f.synAckIn))
	put32(o, 57, uint64(f.hsAckIn))
	notes := f.notes
	if f.dirs[0].keep != 0 || f.dirs[1].keep != 0 {
		var ref int32
		*refs.at(&ref) = coldRefs{notes: f.notes, keep: [2]int32{f.dirs[0].keep, f.dirs[1].keep}}
		notes = -ref
	}
	put32(o, 61, uint64(uint32(notes)))
	o[65], o[66], o[67], o[68] = byte(f.state), byte(f.lastData), byte(f.prevSide), byte(f.prevKind)
	o[69], o[70] = byte(r.side), byte(r.kind)
	mappedLo, mappedHi := isMapped(&f.key.Lo), isMapped(&f.key.Hi)
	o[coldFlags] = bit(f.clientIsLo, 0) | bit(f.handshake, 1) | bit(f.evicted, 2) | bit(f.key.Lo.Is4, 3) |
		bit(f.key.Hi.Is4, 4) | bit(mappedLo, 5) | bit(mappedHi, 6) | coldLive
	for s := range f.dirs {
		d, at := &f.dirs[s], coldDirs+coldSide*s
		put32(o, at, d.bytes)
		put32(o, at+4, uint64(d.nextSeq))
		put32(o, at+8, uint64(d.lastAck))
		put32(o, at+12, uint64(d.isn))
		put16(o, at+16, uint64(d.ipidNonZero))
		put16(o, at+18, uint64(d.segs))
		put16(o, at+20, uint64(d.segsTS))
		put16(o, at+22, uint64(d.packets))
		put16(o, at+24, uint64(d.retrans))
		put16(o, at+26, uint64(d.resets))
		o[at+28], o[at+29], o[at+30] = byte(d.probes), byte(d.probeAcks), byte(d.zeroWinProbes)
		put16(o, at+31, uint64(d.window))
		put16(o, at+33, uint64(d.lastIPID))
		o[at+35] = d.ttl
		o[at+36] = bit(d.nextValid, 0) | bit(d.ackValid, 1) | bit(d.windowValid, 2) | bit(d.synSeen, 3) |
			bit(d.finSeen, 4) | bit(d.lastProbe, 5)
	}
	i := putEndpoint(e, coldBody, &f.key.Lo, mappedLo && mappedHi)
	putEndpoint(e, i, &f.key.Hi, mappedLo && mappedHi)
}

// decodeCold sets f from its encoding, all but its hash and place, and
// empties the segments it keeps to spot copies. It takes the flow's refs
// out of refs: an entry is decoded once.
func decodeCold(b []byte, f *flow, base int64, refs *slab[coldRefs]) {
	o := (*[coldBody]byte)(b)
	r := &f.lastRef
	f.id, f.hash, f.watch, f.alerts = 0, 0, 0, 0
	f.index = uint32(get32(o, 0))
	f.first, f.last = coldSpan(o, base)
	r.nanos = f.first + int64(get48(o, 16))
	r.place = get32(o, 22)<<fileBits | uint64(o[26])
	r.len = uint32(get16(o, 27))
	f.maxGap = int64(get48(o, 29))
	f.maxSurvived = time.Duration(get48(o, 35))
	f.maxGapAt = getTime(o, 41, f.first)
	f.synAt = getTime(o, 47, f.first)
	f.synAckIn = uint32(get32(o, 53))
	f.hsAckIn = uint32(get32(o, 57))
	f.notes = int32(get32(o, 61))
	f.state, f.lastData, f.prevSide, f.prevKind = State(o[65]), int8(o[66]), Side(o[67]), segKind(o[68])
	r.side, r.kind = Side(o[69]), segKind(o[70])
	flags := o[coldFlags]
	f.clientIsLo, f.handshake, f.evicted = flags&1 != 0, flags&2 != 0, flags&4 != 0
	for s := range f.dirs {
		d, at := &f.dirs[s], coldDirs+coldSide*s
		d.recent = [2]recentSeg{}
		d.keep, d.candidate = 0, 0
		d.bytes = get32(o, at)
		d.nextSeq = uint32(get32(o, at+4))
		d.lastAck = uint32(get32(o, at+8))
		d.isn = uint32(get32(o, at+12))
		d.ipidNonZero = uint32(get16(o, at+16))
		d.segs = uint32(get16(o, at+18))
		d.segsTS = uint32(get16(o, at+20))
		d.packets = uint32(get16(o, at+22))
		d.retrans = uint32(get16(o, at+24))
		d.resets = uint32(get16(o, at+26))
		d.probes, d.probeAcks, d.zeroWinProbes = int32(o[at+28]), int32(o[at+29]), int32(o[at+30])
		d.window = uint16(get16(o, at+31))
		d.lastIPID = uint16(get16(o, at+33))
		d.ttl = o[at+35]
		bits := o[at+36]
		d.nextValid, d.ackValid, d.windowValid = bits&1 != 0, bits&2 != 0, bits&4 != 0
		d.synSeen, d.finSeen, d.lastProbe = bits&8 != 0, bits&16 != 0, bits&32 != 0
	}
	if ref := -f.notes; ref > 0 {
		kept := refs.get(ref)
		refs.release(&ref)
		f.notes, f.dirs[0].keep, f.dirs[1].keep = kept.notes, kept.keep[0], kept.keep[1]
	}
	i := getEndpoint(b, coldBody, &f.key.Lo, flags&coldIs4Lo != 0, flags&coldMappedLo != 0 && flags&coldMappedHi != 0)
	getEndpoint(b, i, &f.key.Hi, flags&coldIs4Hi != 0, flags&coldMappedLo != 0 && flags&coldMappedHi != 0)
}

// coldSpan reads the times of a frozen flow's first and last packets.
func coldSpan(o *[coldBody]byte, base int64) (first, last int64) {
	first = base + int64(get48(o, 4))<<16>>16 // signed
	return first, first + int64(get48(o, 10))
}

func put16(o *[coldBody]byte, at int, v uint64) { binary.LittleEndian.PutUint16(o[at:], uint16(v)) }
func put32(o *[coldBody]byte, at int, v uint64) { binary.LittleEndian.PutUint32(o[at:], uint32(v)) }
func put48(o *[coldBody]byte, at int, v uint64) {
	binary.LittleEndian.PutUint32(o[at:], uint32(v))
	binary.LittleEndian.PutUint16(o[at+4:], uint16(v>>32))
}
func get16(o *[coldBody]byte, at int) uint64 { return uint64(binary.LittleEndian.Uint16(o[at:])) }
func get32(o *[coldBody]byte, at int) uint64 { return uint64(binary.LittleEndian.Uint32(o[at:])) }
func get48(o *[coldBody]byte, at int) uint64 {
	return uint64(binary.LittleEndian.Uint32(o[at:])) | uint64(binary.LittleEndian.Uint16(o[at+4:]))<<32
}

// putTime writes t, a time of a flow that began at first, or 0 for none,
// as 1 more than its distance from first, or 0.
func putTime(o *[coldBody]byte, at int, t, first int64) {
	if t == 0 {
		put48(o, at, 0)
		return
	}
	put48(o, at, uint64(t-first+1))
}

// getTime reads a time putTime wrote.
func getTime(o *[coldBody]byte, at int, first int64) int64 {
	if v := get48(o, at); v != 0 {
		return first + int64(v) - 1
	}
	return 0
}

// bit returns 1<<k when v holds, else 0.
func bit(v bool, k uint) byte {
	var b byte
	if v {
		b = 1
	}
	return b << k
}

// isMapped reports whether an endpoint's address is an IPv4-mapped one.
// A key of two is encoded with their last 4 bytes.
func isMapped(p *pcapio.Endpoint) bool { return [12]byte(p.Addr[:12]) == v4Prefix }

// putEndpoint writes an endpoint's address, in its last 4 bytes when
// short, and its port at b[i:] and returns where it ends.
func putEndpoint(b []byte, i int, p *pcapio.Endpoint, short bool) int {
	if short {
		i += copy(b[i:i+4], p.Addr[12:])
	} else {
		i += copy(b[i:i+16], p.Addr[:])
	}
	binary.LittleEndian.PutUint16(b[i:i+2], p.Port)
	return i + 2
}

// getEndpoint reads an endpoint putEndpoint wrote at b[i:] and returns
// where it ends.
func getEndpoint(b []byte, i int, p *pcapio.Endpoint, is4, short bool) int {
	if short {
		p.Addr = [16]byte{10: 0xff, 11: 0xff}
		i += copy(p.Addr[12:], b[i:i+4])
	} else {
		i += copy(p.Addr[:], b[i:i+16])
	}
	p.Port = binary.LittleEndian.Uint16(b[i : i+2])
	p.Is4 = is4
	return i + 2
}

// v4Prefix starts an IPv4-mapped IPv6 address.
var v4Prefix = [12]byte{10: 0xff, 11: 0xff}
