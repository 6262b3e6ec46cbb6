package analyze

import (
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"iter"
	"maps"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"time"
)

// spillSize is how many bytes of encoded flows a Result keeps in memory
// before it moves them to the Config.Spill file. A flow with findings
// takes about 1.5 KB encoded, most of it the findings' text.
var spillSize = 64 << 10

// Flows is the list of flows a Result keeps, in order of first appearance
// (Flow.Index). A long capture can flag any number of flows, so they are
// kept encoded, in the file Config.Spill gives once they outgrow 64 KiB,
// and decoded one at a time by At and All: with a file, memory follows the
// flows alive at once, not the length of the capture. The zero value is an
// empty list. A Flows is not safe for concurrent use.
//
// A Flows and the copies made of it share their flows; Filter and Edit
// return new lists over the same flows.
type Flows struct {
	store  *flowStore
	order  []int32       // the store's records in this list, in list order
	edits  []func(*Flow) // applied to each flow as it is decoded, in order
	counts *Counts       // of the flows in order; shared by the copies of the list
	noText bool          // decode the findings without their messages and fixes
}

// Counts is what a list of flows holds of findings, counted as the list
// is made, so that a report's summary need not decode every flow.
type Counts struct {
	Flagged  int          // flows with at least one finding
	Findings map[Kind]int // findings of each kind
	// Past each flow's MaxListed: the findings of each kind and the long
	// gaps left out of the lists, and the flows that left some out.
	FindingsNotListed map[Kind]int
	GapsNotListed     int
	Capped            int
}

// count adds the findings of f.
func (c *Counts) count(f *Flow) {
	if len(f.Findings) == 0 {
		return
	}
	c.Flagged++
	if c.Findings == nil {
		c.Findings = map[Kind]int{}
	}
	for i := range f.Findings {
		c.Findings[f.Findings[i].Kind]++
	}
	if f.GapsNotListed == 0 && len(f.FindingsNotListed) == 0 {
		return
	}
	c.Capped++
	c.GapsNotListed += f.GapsNotListed
	if c.FindingsNotListed == nil {
		c.FindingsNotListed = map[Kind]int{}
	}
	for k, n := range f.FindingsNotListed {
		c.FindingsNotListed[k] += n
	}
}

// FlowsOf returns a list of the given flows, in order of Index as every
// list is. Indexes are below 2³², as the Analyzer's are.
func FlowsOf(flows ...Flow) Flows {
	s := &flowStore{}
	for i := range flows {
		s.add(&flows[i])
	}
	return s.list()
}

// Len returns the number of flows.
func (fs Flows) Len() int { return len(fs.order) }

// At returns flow i of the list. Each call decodes the flow afresh: the
// result is the caller's to keep or change.
func (fs Flows) At(i int) Flow {
	var f Flow
	fs.decode(i, &f, nil)
	return f
}

// All yields the flows in order, with their positions in the list. Each
// flow is decoded afresh, as by At. A pass reads the spill file in blocks,
// a few of which it keeps.
func (fs Flows) All() iter.Seq2[int, *Flow] {
	return fs.walk(len(fs.order), func(k int) int { return k })
}

// Some yields the flows at the given positions of the list, in the order
// given, with their positions, as All does: a pass over a few of the
// flows, in order, reads the spill file in blocks too.
func (fs Flows) Some(positions []int) iter.Seq2[int, *Flow] {
	return fs.walk(len(positions), func(k int) int { return positions[k] })
}

// walk yields the n flows at positions at(0) to at(n-1).
func (fs Flows) walk(n int, at func(k int) int) iter.Seq2[int, *Flow] {
	return func(yield func(int, *Flow) bool) {
		var blocks blockCache
		for k := range n {
			i := at(k)
			var f Flow
			fs.decode(i, &f, &blocks)
			if !yield(i, &f) {
				return
			}
		}
	}
}

// Find returns the flow whose Index is index, decoding only that one, and
// whether the list has it.
func (fs Flows) Find(index int) (Flow, bool) {
	i, found := slices.BinarySearchFunc(fs.order, index, func(rec int32, index int) int {
		return cmp.Compare(int(fs.store.recs[rec].index), index)
	})
	if !found {
		return Flow{}, false
	}
	return fs.At(i), true
}

// Filter returns the list of the flows keep returns true for.
func (fs Flows) Filter(keep func(*Flow) bool) Flows {
	out := Flows{store: fs.store, edits: fs.edits, counts: &Counts{}, noText: fs.noText}
	for i, rec := range fs.order {
		if f := fs.At(i); keep(&f) {
			out.order = append(out.order, rec)
			out.counts.count(&f)
		}
	}
	return out
}

// Counts returns the number of flows of the list with findings and of
// their findings of each kind, without decoding the flows. The map is the
// caller's.
func (fs Flows) Counts() Counts {
	c := Counts{Findings: map[Kind]int{}, FindingsNotListed: map[Kind]int{}}
	if fs.counts != nil {
		c.Flagged, c.GapsNotListed, c.Capped = fs.counts.Flagged, fs.counts.GapsNotListed, fs.counts.Capped
		maps.Copy(c.Findings, fs.counts.Findings)
		maps.Copy(c.FindingsNotListed, fs.counts.FindingsNotListed)
	}
	return c
}

// Edit returns the list with edit applied to every flow as it is decoded,
// after the edits given before. The edit must not add or remove findings
// or change their kinds, times, gaps or severities: the list's Counts and
// FindingKeys are those from before it.
func (fs Flows) Edit(edit func(*Flow)) Flows {
	fs.edits = append(slices.Clip(fs.edits), edit)
	return fs
}

// Err reports the first error met reading flows back from the spill
// file; flows that could not be read come out as zero Flows.
func (fs Flows) Err() error {
	if fs.store == nil {
		return nil
	}
	return fs.store.err
}

// Close closes the spill file, if any. The list and every copy and list
// made from it must not be used afterwards.
func (fs Flows) Close() error {
	if fs.store == nil || fs.store.file == nil {
		return nil
	}
	err := fs.store.file.Close()
	fs.store.file = nil
	return err
}

// FindingKey is what orders a finding of a list among the others, given
// without decoding its flow.
type FindingKey struct {
	Pos      int // the flow's position in the list
	N        int // the finding's position in the flow's Findings
	Index    int // the flow's Index
	Severity Severity
	At       time.Time
	Kind     Kind
	Gap      time.Duration
}

// FindingKeys yields the keys of the list's findings, flow after flow in
// list order, from memory: a report can choose which findings to show
// among a million without decoding a flow. Edits do not change them.
func (fs Flows) FindingKeys() iter.Seq[FindingKey] {
	return func(yield func(FindingKey) bool) {
		s := fs.store
		for pos, rec := range fs.order {
			start, end := s.key0[rec], s.nkeys
			if int(rec)+1 < len(s.key0) {
				end = s.key0[rec+1]
			}
			for i := start; i < end; i++ {
				k := &s.keys[i/keyChunk][i%keyChunk]
				var at time.Time
				if k.at != noTime {
					at = nanoTime(k.at)
				}
				if !yield(FindingKey{pos, int(i - start), int(s.recs[rec].index), k.severity, at, s.kinds[k.kind], time.Duration(k.gap)}) {
					return
				}
			}
		}
	}
}

// WithoutText returns the list with its flows decoded without their
// findings' messages and fixes, the costliest part of a flagged flow to
// decode, for a reader of the facts alone (a CSV row, a sort of the
// findings).
func (fs Flows) WithoutText() Flows {
	fs.noText = true
	return fs
}

// FillText writes the message and fix of fd, one of the findings of f,
// when it has none: what decoding with text writes, for a flow of the list
// decoded WithoutText whose reader needs some of its text after all (a
// report encoding flows on several cores writes it on each). It is safe to
// call from several goroutines at once.
func (fs Flows) FillText(f *Flow, fd *Finding) {
	if fs.store != nil && fs.store.texts != nil {
		fs.store.texts.fill(f, fd, new([]byte))
	}
}

// decode decodes flow i, reading the spill file through blocks when
// not nil.
func (fs Flows) decode(i int, f *Flow, blocks *blockCache) {
	s := fs.store
	s.decode(fs.order[i], f, blocks, !fs.noText)
	for _, edit := range fs.edits {
		edit(f)
	}
}

// SpillFile is where a Result's flows go once they outgrow memory; an
// *os.File is one.
type SpillFile interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
}

// flowStore holds encoded flows: in mem, then, once mem outgrows
// spillSize, in the spill file.
type flowStore struct {
	open   func() (SpillFile, error) // makes the spill file; nil keeps the flows in memory
	counts Counts                    // of every flow added
	mem    []byte                    // encoded flows not in the file
	file   SpillFile                 // the spill file; nil until the flows spill
	size   int64                     // bytes in the file
	recs   []flowRec                 // the flows, in the order they were added
	keys   []*[keyChunk]findingKey   // the findings' keys, record after record, in chunks that are not copied as they grow
	nkeys  uint32                    // keys stored
	key0   []uint32                  // where each record's keys start among them
	kinds  []Kind                    // the kinds the keys name, by number
	buf    []byte                    // scratch for encoding and reading back
	texts  *texts                    // writes the findings' text as flows are decoded; nil when they have it
	text   []byte                    // scratch for writing it
	err    error                     // the first error reading the file back
	// inMemory is set when there is no file or it could not be made or
	// written: the flows stay in mem from then on.
	inMemory bool
	feed     *storeFeed // while not nil, put hands flows to another goroutine
}

// storeFeed hands flows to a goroutine that stores them, in batches, so
// that encoding them takes the other core while the analysis finishes the
// flows left at the end of a capture: a capture of a million connections
// may leave hundreds of thousands of flagged flows to store at once.
type storeFeed struct {
	batch *feedBatch      // the flows put since the last batch went
	full  chan *feedBatch // batches to store, in order
	empty chan *feedBatch // batches stored, to fill again
	done  chan struct{}   // closed once the goroutine has stored every batch
}

// feedBatch is a batch of flows put, and once encoded their encodings:
// enc holds them one after another, ends where each ends. When put would
// have waited for the goroutine, it encodes the batch itself first; else
// the goroutine does.
type feedBatch struct {
	flows []Flow
	enc   []byte
	ends  []int
	out   exportChunks // where the flows' gaps, findings and packets come from; reset once they are stored
}

// encode encodes the batch's flows into enc, one after another.
func (b *feedBatch) encode() {
	for i := range b.flows {
		b.enc = encodeFlow(b.enc, &b.flows[i])
		b.ends = append(b.ends, len(b.enc))
	}
}

// feedBatchLen is how many flows a batch of a storeFeed holds.
const feedBatchLen = 256

// feedEncodeAll makes put encode every batch, as if it always had to
// wait (tests).
var feedEncodeAll = false

// flowRec locates one encoded flow: offsets below the store's size are in
// the file, the others in mem.
type flowRec struct {
	off   int64
	index uint32 // Flow.Index
	n     uint32
}

// findingKey is what a stored finding is ordered by, kept in memory
// beside the encoded flow: 24 bytes.
type findingKey struct {
	at, gap  int64  // nanoseconds; at is noTime for the zero time
	kind     uint32 // in the store's kinds
	severity Severity
}

// keyChunk is the number of keys in a chunk: 96 KiB.
const keyChunk = 4096

// noTime stands for the zero time in a findingKey.
const noTime = math.MinInt64

// put stores f: at once, or through the feed when one runs, which
// copies it. It reports whether f was stored at once, so that nothing
// refers to f's slices any more.
func (s *flowStore) put(f *Flow) (stored bool) {
	d := s.feed
	if d == nil {
		s.add(f)
		return true
	}
	b := d.batch
	b.flows = append(b.flows, *f)
	if len(b.flows) == feedBatchLen {
		if len(d.empty) == 0 || feedEncodeAll { // the goroutine is behind: work rather than wait
			b.encode()
		}
		d.full <- b
		d.batch = <-d.empty
	}
	return false
}

// exports returns where the next flow put should carve its exported
// slices from: the chunks of the feed's batch it goes in, or else own.
func (s *flowStore) exports(own *exportChunks) *exportChunks {
	if s.feed != nil {
		return &s.feed.batch.out
	}
	return own
}

// startFeed makes put store flows on a goroutine of its own, until
// stopFeed. With one core there is nothing to overlap, and put stores
// them at once.
func (s *flowStore) startFeed() {
	if runtime.GOMAXPROCS(0) < 2 || s.feed != nil {
		return
	}
	const batches = 3 // one filling, one storing, one waiting
	d := &storeFeed{full: make(chan *feedBatch, batches), empty: make(chan *feedBatch, batches), done: make(chan struct{})}
	for range batches - 1 {
		d.empty <- &feedBatch{flows: make([]Flow, 0, feedBatchLen)}
	}
	d.batch = &feedBatch{flows: make([]Flow, 0, feedBatchLen)}
	s.feed = d
	go func() {
		defer close(d.done)
		for b := range d.full {
			if len(b.ends) == 0 { // put did not encode it
				b.encode()
			}
			start := 0
			for i := range b.flows {
				s.addEncoded(&b.flows[i], b.enc[start:b.ends[i]])
				start = b.ends[i]
			}
			clear(b.flows) // drop the flows' slices for the collector
			b.out.reset()  // and give back what they were carved from
			b.flows, b.enc, b.ends = b.flows[:0], b.enc[:0], b.ends[:0]
			d.empty <- b
		}
	}()
}

// stopFeed stores what was put and waits until the goroutine has stored
// every flow; the store is the goroutine's until then.
func (s *flowStore) stopFeed() {
	d := s.feed
	if d == nil {
		return
	}
	if len(d.batch.flows) > 0 {
		d.full <- d.batch
	}
	close(d.full)
	<-d.done
	s.feed = nil
}

// add encodes f and appends it.
func (s *flowStore) add(f *Flow) {
	s.buf = encodeFlow(s.buf[:0], f)
	s.addEncoded(f, s.buf)
}

// addEncoded appends f, whose encoding is enc.
func (s *flowStore) addEncoded(f *Flow, enc []byte) {
	s.counts.count(f)
	s.key0 = append(s.key0, s.nkeys)
	for i := range f.Findings {
		fd := &f.Findings[i]
		at := int64(noTime)
		if !fd.At.IsZero() {
			at = fd.At.UnixNano()
		}
		kind := slices.Index(s.kinds, fd.Kind)
		if kind < 0 {
			kind = len(s.kinds)
			s.kinds = append(s.kinds, fd.Kind) // a handful: the Kinds, or any in a list made by FlowsOf
		}
		if s.nkeys%keyChunk == 0 {
			s.keys = append(s.keys, new([keyChunk]findingKey))
		}
		s.keys[s.nkeys/keyChunk][s.nkeys%keyChunk] = findingKey{at, int64(fd.Gap), uint32(kind), fd.Severity}
		s.nkeys++
	}
	s.recs = append(s.recs, flowRec{s.size + int64(len(s.mem)), uint32(f.Index), uint32(len(enc))})
	s.mem = append(s.mem, enc...)
	if len(s.mem) >= spillSize && !s.inMemory {
		s.spill()
	}
}

// spill moves mem to the end of the spill file, making it first. When
// there is no file, or it cannot be made or written, the flows stay in
// memory from then on.
func (s *flowStore) spill() {
	if s.file == nil {
		var err error
		if s.open == nil {
			s.inMemory = true
			return
		}
		if s.file, err = s.open(); err != nil || s.file == nil {
			s.file, s.inMemory = nil, true
			return
		}
	}
	if _, err := s.file.WriteAt(s.mem, s.size); err != nil {
		s.inMemory = true
		return
	}
	s.size += int64(len(s.mem))
	s.mem = s.mem[:0]
}

// list returns the list of every flow added, in order of Flow.Index.
func (s *flowStore) list() Flows {
	return Flows{store: s, order: s.sorted(), counts: &s.counts}
}

// sorted returns the records in the order of Flow.Index, those of equal
// index in the order they were added. An analysis numbers its flows from 0
// on, so their indices are few beside the records: they are placed by a
// count of the records of each index, in time linear in both, rather than
// sorted (a stable sort of 325,000 flows took a tenth of a second). Lists
// of far-flung indices (FlowsOf) are sorted.
func (s *flowStore) sorted() []int32 {
	order := make([]int32, len(s.recs))
	var top uint32
	for _, r := range s.recs {
		top = max(top, r.index)
	}
	if uint64(top) >= 8*uint64(len(s.recs))+1<<16 {
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(x, y int32) int { return cmp.Compare(s.recs[x].index, s.recs[y].index) })
		return order
	}
	next := make([]int32, int(top)+2) // then where the next record of each index goes
	for _, r := range s.recs {
		next[r.index+1]++
	}
	for i := 1; i < len(next); i++ {
		next[i] += next[i-1]
	}
	for i, r := range s.recs {
		order[next[r.index]] = int32(i)
		next[r.index]++
	}
	return order
}

// decode decodes record i into f, writing its findings' text when asked
// and the store has it to write.
func (s *flowStore) decode(i int32, f *Flow, blocks *blockCache, text bool) {
	rec := s.recs[i]
	var b []byte
	if rec.off >= s.size {
		b = s.mem[rec.off-s.size:][:rec.n]
	} else {
		var err error
		if b, err = s.read(rec, blocks); err != nil {
			if s.err == nil {
				s.err = err
			}
			*f = Flow{}
			return
		}
	}
	d := decoder{b: b}
	d.flow(f)
	if d.bad && s.err == nil {
		s.err = errors.New("damaged flow record")
	}
	if text && s.texts != nil {
		s.texts.write(f, &s.text)
	}
}

// read returns the bytes of a record in the spill file: from blocks,
// when not nil and one block holds the whole record, or else read alone.
func (s *flowStore) read(rec flowRec, blocks *blockCache) ([]byte, error) {
	if blocks != nil {
		if b, ok, err := blocks.get(s.file, s.size, rec.off, int(rec.n)); ok || err != nil {
			return b, err
		}
	}
	s.buf = slices.Grow(s.buf[:0], int(rec.n))[:rec.n]
	_, err := s.file.ReadAt(s.buf, rec.off)
	return s.buf, err
}

// A pass over a list reads the spill file in blocks of spillBlock bytes
// and keeps the spillBlocks it used last. Flows finish, and are written,
// in another order than the list's, but a pass finds them in a few parts
// of the file at a time: over the million-flow benchmark capture (92 MB
// spilled), 5,600 reads of a block rather than a million of one flow, in
// 4 MiB.
const (
	spillBlock  = 64 << 10
	spillBlocks = 64
)

// blockCache holds blocks of the spill file, the least recently used
// making room for the next.
type blockCache struct {
	blocks []cachedBlock
	clock  uint64 // counts the look-ups
}

type cachedBlock struct {
	start int64  // offset in the file, a multiple of spillBlock
	data  []byte // the block's bytes; shorter at the end of the file
	used  uint64 // the clock at the block's last use
}

// get returns the n bytes at off in file, of size bytes, valid until the
// next call, and true; or false when they do not lie in one block.
func (c *blockCache) get(file SpillFile, size, off int64, n int) ([]byte, bool, error) {
	start := off &^ (spillBlock - 1)
	if off+int64(n) > start+spillBlock {
		return nil, false, nil
	}
	c.clock++
	var victim *cachedBlock
	for i := range c.blocks {
		b := &c.blocks[i]
		if b.start == start {
			b.used = c.clock
			return b.data[off-start:][:n], true, nil
		}
		if victim == nil || b.used < victim.used {
			victim = b
		}
	}
	if len(c.blocks) < spillBlocks {
		c.blocks = append(c.blocks, cachedBlock{data: make([]byte, spillBlock)})
		victim = &c.blocks[len(c.blocks)-1]
	}
	data := victim.data[:cap(victim.data)][:min(spillBlock, size-start)]
	if _, err := file.ReadAt(data, start); err != nil {
		victim.start, victim.used = -1, 0 // holds nothing
		return nil, false, err
	}
	victim.start, victim.data, victim.used = start, data, c.clock
	return data[off-start:][:n], true, nil
}

// The encoding: unsigned and signed varints, strings and lists with their
// length first, times as differences from the flow's first packet.

func encodeFlow(b []byte, f *Flow) []byte {
	e := encoder{b: b}
	e.int(int64(f.Index))
	e.addr(f.Client)
	e.addr(f.Server)
	e.time(f.First)
	if !f.First.IsZero() {
		e.base = f.First.UnixNano()
	}
	e.time(f.Last)
	e.bools(f.HandshakeSeen, f.Evicted, f.SYNSeen[0], f.SYNSeen[1])
	e.uint(uint64(f.State))
	e.uint(f.Packets)
	for s := range 2 {
		e.uint(f.Bytes[s])
		e.uint(f.Retransmitted[s])
		e.uint(f.Resets[s])
		e.uint(uint64(f.ISN[s]))
		k := &f.Keepalive[s]
		e.int(int64(k.Probes))
		e.int(int64(k.Acks))
		e.int(int64(k.ZeroWindowProbes))
		e.int(int64(k.IdleBeforeFirst))
		e.int(int64(k.MinInterval))
		e.int(int64(k.MaxInterval))
		e.int(int64(k.MeanInterval))
		e.settings(&k.Settings)
	}
	e.int(int64(f.MaxGap))
	e.time(f.MaxGapAt)
	e.int(int64(f.IdleAtEnd))
	e.uint(uint64(len(f.Gaps)))
	for i := range f.Gaps {
		g := &f.Gaps[i]
		e.time(g.Start)
		e.time(g.End)
		e.int(int64(g.Duration))
		e.str(g.EndedBy)
		e.str(string(g.Outcome))
	}
	e.uint(uint64(len(f.Findings)))
	for i := range f.Findings {
		fd := &f.Findings[i]
		e.str(string(fd.Kind))
		e.uint(uint64(fd.Severity))
		e.time(fd.At)
		e.int(int64(fd.Gap))
		e.str(fd.Message)
		e.str(fd.Fix)
		ev := &fd.Evidence
		e.ref(ev.GapStart)
		e.ref(ev.GapEnd)
		e.str(ev.EndedBy)
		e.str(ev.Waiting)
		e.int(int64(ev.Retransmitted))
		e.ref(ev.Unacked)
		e.ref(ev.Last)
		e.int(int64(ev.Probes))
		e.bool(ev.Keepalive != nil)
		if ev.Keepalive != nil {
			e.settings(&ev.Keepalive[0])
			e.settings(&ev.Keepalive[1])
		}
		r := ev.Reset
		e.bool(r != nil)
		if r != nil {
			e.ref(&r.Packet)
			e.uint(uint64(r.ClaimedBy))
			e.ref(r.TriggeredBy)
			e.int(int64(r.After))
			e.uint(uint64(r.TTL))
			e.uint(uint64(r.UsualTTL))
			e.bools(r.HasTS, r.TSInUse, false, false)
			e.str(r.Verdict)
			e.strs(r.Reasons)
		}
	}
	e.uint(uint64(f.GapsNotListed))
	e.uint(uint64(len(f.FindingsNotListed)))
	if len(f.FindingsNotListed) > 0 {
		var room [len(noteKinds)]Kind // the kinds a flow has: sorted without making a slice
		for _, k := range sortedKinds(f.FindingsNotListed, room[:0]) {
			e.str(string(k))
			e.uint(uint64(f.FindingsNotListed[k]))
		}
	}
	return e.b
}

// sortedKinds appends m's kinds to into, in order.
func sortedKinds(m map[Kind]int, into []Kind) []Kind {
	for k := range m {
		into = append(into, k)
	}
	slices.Sort(into)
	return into
}

type encoder struct {
	b    []byte
	base int64 // the nanoseconds times are written relative to
}

func (e *encoder) uint(v uint64) {
	if v < 0x80 { // most of a flow's numbers: zeros, counts, flags
		e.b = append(e.b, byte(v))
		return
	}
	e.b = binary.AppendUvarint(e.b, v)
}
func (e *encoder) int(v int64) { e.uint(zigzag(v)) } // the bytes of binary.AppendVarint

func (e *encoder) bool(v bool) {
	e.bools(v, false, false, false)
}

func (e *encoder) bools(a, b, c, d bool) {
	e.b = append(e.b, bit(a, 0)|bit(b, 1)|bit(c, 2)|bit(d, 3))
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) strs(ss []string) {
	e.bool(ss != nil)
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// time writes 0 for the zero time, else 1 + the zigzag difference from
// base.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.uint(0)
		return
	}
	e.uint(1 + zigzag(t.UnixNano()-e.base))
}

// zigzag maps signed numbers to unsigned ones small when the number is
// near 0: 0, -1, 1, -2, ... to 0, 1, 2, 3, ...
func zigzag(v int64) uint64 { return uint64(v<<1 ^ v>>63) }

// unzigzag undoes zigzag.
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func (e *encoder) addr(ap netip.AddrPort) {
	a := ap.Addr()
	e.uint(uint64(a.BitLen()/8 + len(a.Zone()) + 2)) // the length AppendBinary writes
	e.b, _ = ap.AppendBinary(e.b)
}

func (e *encoder) ref(p *PacketRef) {
	e.bool(p != nil)
	if p != nil {
		e.int(int64(p.File))
		e.uint(p.Frame)
		e.time(p.Time)
		e.uint(uint64(p.Side))
		e.str(string(p.Kind))
		e.str(p.What)
	}
}

func (e *encoder) settings(k *KeepaliveSettings) {
	e.int(int64(k.Idle))
	e.int(int64(k.Interval))
	e.int(int64(k.Count))
	e.bool(k.GaveUp)
	e.strs(k.Matches)
}

// decoder reads what encodeFlow wrote. It never panics: past the end of
// its bytes or on a bad value it reads zeros and sets bad.
type decoder struct {
	b    []byte
	base int64
	bad  bool
}

func (d *decoder) flow(f *Flow) {
	*f = Flow{}
	f.Index = int(d.int())
	f.Client = d.addr()
	f.Server = d.addr()
	f.First = d.time()
	if !f.First.IsZero() {
		d.base = f.First.UnixNano()
	}
	f.Last = d.time()
	f.HandshakeSeen, f.Evicted, f.SYNSeen[0], f.SYNSeen[1] = d.bools()
	f.State = State(d.uint())
	f.Packets = d.uint()
	for s := range 2 {
		f.Bytes[s] = d.uint()
		f.Retransmitted[s] = d.uint()
		f.Resets[s] = d.uint()
		f.ISN[s] = uint32(d.uint())
		k := &f.Keepalive[s]
		k.Probes = int(d.int())
		k.Acks = int(d.int())
		k.ZeroWindowProbes = int(d.int())
		k.IdleBeforeFirst = time.Duration(d.int())
		k.MinInterval = time.Duration(d.int())
		k.MaxInterval = time.Duration(d.int())
		k.MeanInterval = time.Duration(d.int())
		d.settings(&k.Settings)
	}
	f.MaxGap = time.Duration(d.int())
	f.MaxGapAt = d.time()
	f.IdleAtEnd = time.Duration(d.int())
	if n := d.len(); n > 0 {
		f.Gaps = make([]Gap, n)
		for i := range f.Gaps {
			g := &f.Gaps[i]
			g.Start = d.time()
			g.End = d.time()
			g.Duration = time.Duration(d.int())
			g.EndedBy = d.str()
			g.Outcome = Outcome(d.str())
		}
	}
	if n := d.len(); n > 0 {
		f.Findings = make([]Finding, n)
		for i := range f.Findings {
			d.finding(&f.Findings[i])
		}
	}
	f.GapsNotListed = int(d.uint())
	if n := d.len(); n > 0 {
		f.FindingsNotListed = make(map[Kind]int, n)
		for range n {
			k := Kind(d.str())
			f.FindingsNotListed[k] = int(d.uint())
		}
	}
	if len(d.b) > 0 {
		d.bad = true
	}
}

func (d *decoder) finding(fd *Finding) {
	fd.Kind = Kind(d.str())
	fd.Severity = Severity(d.uint())
	fd.At = d.time()
	fd.Gap = time.Duration(d.int())
	fd.Message = d.str()
	fd.Fix = d.str()
	ev := &fd.Evidence
	ev.GapStart = d.ref()
	ev.GapEnd = d.ref()
	ev.EndedBy = d.str()
	ev.Waiting = d.str()
	ev.Retransmitted = int(d.int())
	ev.Unacked = d.ref()
	ev.Last = d.ref()
	ev.Probes = int(d.int())
	if d.bool() {
		ev.Keepalive = new([2]KeepaliveSettings)
		d.settings(&ev.Keepalive[0])
		d.settings(&ev.Keepalive[1])
	}
	if d.bool() {
		r := &ResetInfo{}
		if p := d.ref(); p != nil {
			r.Packet = *p
		}
		r.ClaimedBy = Side(d.uint())
		r.TriggeredBy = d.ref()
		r.After = time.Duration(d.int())
		r.TTL = uint8(d.uint())
		r.UsualTTL = uint8(d.uint())
		r.HasTS, r.TSInUse, _, _ = d.bools()
		r.Verdict = d.str()
		r.Reasons = d.strs()
		ev.Reset = r
	}
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 { return unzigzag(d.uint()) }

// len reads a length, which cannot be more than the bytes left.
func (d *decoder) len() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(n)
}

func (d *decoder) bool() bool {
	a, _, _, _ := d.bools()
	return a
}

func (d *decoder) bools() (a, b, c, e bool) {
	if len(d.b) == 0 {
		d.bad = true
		return
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v&1 != 0, v&2 != 0, v&4 != 0, v&8 != 0
}

func (d *decoder) str() string {
	n := d.len()
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strs() []string {
	isSet := d.bool()
	n := d.len()
	if !isSet {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

func (d *decoder) time() time.Time {
	v := d.uint()
	if v == 0 {
		return time.Time{}
	}
	return nanoTime(d.base + unzigzag(v-1))
}

func (d *decoder) addr() netip.AddrPort {
	n := d.len()
	var ap netip.AddrPort
	if err := ap.UnmarshalBinary(d.b[:n]); err != nil {
		d.bad = true
	}
	d.b = d.b[n:]
	return ap
}

func (d *decoder) ref() *PacketRef {
	if !d.bool() {
		return nil
	}
	p := &PacketRef{}
	p.File = int(d.int())
	p.Frame = d.uint()
	p.Time = d.time()
	p.Side = Side(d.uint())
	p.Kind = PacketKind(d.str())
	p.What = d.str()
	return p
}

func (d *decoder) settings(k *KeepaliveSettings) {
	k.Idle = time.Duration(d.int())
	k.Interval = time.Duration(d.int())
	k.Count = int(d.int())
	k.GaveUp = d.bool()
	k.Matches = d.strs()
}
