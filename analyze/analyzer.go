package analyze

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// DefaultMaxFlows bounds the flow table when Config.MaxFlows is 0.
const DefaultMaxFlows = 1 << 20

// duplicateWindow is how close in time two identical segments must be for
// the second to count as the same packet captured twice.
const duplicateWindow = int64(time.Millisecond)

// sweepEvery is how many segments pass between sweeps of long-closed flows.
const sweepEvery = 1 << 12

// closedLinger is how long a closed flow stays in the table after its last
// packet, for late ACKs and retransmitted FINs.
const closedLinger = int64(30 * time.Second)

// Config sets up an Analyzer. The zero value uses the defaults.
type Config struct {
	// Idle is the middlebox idle timeout under test; 0 means 350 s, or the
	// preset's timeout when Middlebox is set.
	Idle time.Duration
	// Middlebox is the preset under test; nil means a generic L4 middlebox
	// whose timer every packet resets.
	Middlebox *Middlebox
	// MaxFlows bounds the flows tracked at once; 0 means DefaultMaxFlows.
	// When the table is full, closed flows and then the longest-idle flows
	// are finished early and counted in Stats.Evicted.
	MaxFlows int
	// KeepAll keeps every flow in the Result, not only flows with findings.
	KeepAll bool
	// WarnAt is the share of the threshold at which Tick first warns about
	// a silent flow; 0 means DefaultWarnAt.
	WarnAt float64
	// Spill, when set, makes the files the flows kept for the Result move
	// to once they outgrow 64 KiB of memory (see Flows), and the findings
	// of flows still being analysed once nothing can change them; it is
	// called at most twice, once for each. Without it, or when it fails,
	// they stay in memory, which then grows with the number of flows kept
	// and the findings listed. The command gives an unlinked temporary
	// file.
	Spill func() (SpillFile, error)
	// Trace, when set, is called with every packet of the flows whose
	// Index is in TraceFlows, as classified; a traced packet's What is its
	// Kind. Reports use it in a second pass over a capture to draw the
	// timelines of flagged flows: flow indexes are the same in every pass
	// over the same segments. TraceAll traces every flow.
	Trace      func(flowIndex int, p Packet)
	TraceFlows map[int]bool
	TraceAll   bool
	// TraceOnly has the analysis classify packets for Trace and nothing
	// more: no gap counts as long, so no flow keeps notes, findings or
	// long gaps, and Finish's Result holds no flow. Packets are classified,
	// and flows told apart and numbered, as without it; a second pass over
	// a capture then takes the memory of its flows' state alone.
	TraceOnly bool
}

// Packet is one classified segment of a traced flow.
type Packet struct {
	PacketRef
	Len   uint32 // payload bytes
	Seq   uint32
	Ack   uint32
	TTL   uint8
	Flags uint8 // TCP flags as on the wire
}

// PacketKind says what a segment did to the connection.
type PacketKind string

// Packet kinds, as Trace reports them.
const (
	PacketAck             PacketKind = "ack"
	PacketData            PacketKind = "data"
	PacketRetransmission  PacketKind = "retransmission"
	PacketKeepalive       PacketKind = "keepalive"
	PacketKeepaliveAck    PacketKind = "keepalive-ack"
	PacketZeroWindowProbe PacketKind = "zero-window-probe"
	PacketSyn             PacketKind = "syn"
	PacketFin             PacketKind = "fin"
	PacketRst             PacketKind = "rst"
	PacketDuplicate       PacketKind = "duplicate"
)

// Analyzer rebuilds TCP flows from segments given in time order and
// diagnoses idle-timeout failures. It does no I/O but through
// Config.Spill and reads no clock. It is not safe for concurrent use.
type Analyzer struct {
	texts      // the threshold and middlebox under test, and the findings' text
	maxFlows   int
	keepAll    bool
	trace      func(int, Packet)
	traceFlows map[int]bool
	traceAll   bool
	flows      flowTable
	done       *flowStore // finished flows for the Result
	stats      Stats
	lastNanos  int64
	sinceSweep int
	nextIndex  int
	warnAt     float64
	notes      slab[flowNotes]      // gaps and findings of the flows that have them
	keeps      slab[keepState]      // keepalive timing of the sides that probe
	candidates slab[probeCandidate] // first segments that may prove keepalive probes
	alerts     slab[alertState]     // live mode: what Tick raised per flow
	watches    slab[gapWatch]       // gaps under watch
	closed     closedQueue          // flows in the order they closed, for sweep
	found      []*flow              // AddBatch's flows found ahead
	renames    [][2]uint64          // scratch for freezeIdle
	evictees   []evictee            // scratch for makeRoom
	thawed     flow                 // a frozen flow being finished
	ending     *endChunks           // while Finish judges flows at the capture's end, where their notes come from
	out        exportChunks         // where what is exported and dropped at once is carved from: a flow stored at once, an alert's finding
	spill      noteSpill            // where findings nothing can change wait for their flows' export
	backNotes  []findingNote        // scratch for the findings read back from spill
	backMore   []findingMore        // and their more evidence
	ticking    bool                 // Tick has been called: live mode
	pending    []Alert              // findings of flows finished between two Ticks
	survived   []time.Duration      // flows' longest survived gaps, those that can still count (see pruneSurvived)
	fatal      []fatalGap           // flows' shortest fatal gaps, those that can still count (see pruneFatal)
}

// New returns an Analyzer for cfg.
func New(cfg Config) *Analyzer {
	a := &Analyzer{
		done:       &flowStore{open: cfg.Spill},
		spill:      noteSpill{open: cfg.Spill},
		texts:      texts{threshold: int64(cfg.Idle), probesCount: true, middlebox: cfg.Middlebox},
		maxFlows:   cfg.MaxFlows,
		keepAll:    cfg.KeepAll,
		trace:      cfg.Trace,
		traceFlows: cfg.TraceFlows,
		traceAll:   cfg.TraceAll,
	}
	if mb := cfg.Middlebox; mb != nil {
		a.probesCount = mb.ProbesResetTimer
		if a.threshold == 0 {
			a.threshold = int64(mb.Idle)
		}
	}
	if a.threshold <= 0 {
		a.threshold = int64(350 * time.Second)
	}
	a.texts.prepare()
	t := a.texts
	a.done.texts = &t
	if cfg.TraceOnly {
		a.threshold, a.keepAll = math.MaxInt64, false
	}
	if a.maxFlows <= 0 {
		a.maxFlows = DefaultMaxFlows
	}
	a.warnAt = cfg.WarnAt
	if a.warnAt <= 0 || a.warnAt >= 1 {
		a.warnAt = DefaultWarnAt
	}
	// The flow table's mapped memory goes back at Finish, or when an
	// Analyzer dropped without it is collected.
	a.flows.mem = new(mappings)
	runtime.AddCleanup(a, (*mappings).release, a.flows.mem)
	return a
}

// closedRef names a flow in the closed queue: the low half of its key's
// hash, which leads to its slot in the table's index, and its index,
// which tells it from the other flows there. A flow may have moved since
// it closed, frozen or made a record again.
type closedRef struct {
	hash  uint32
	index uint32
	id    uint32 // its place when it closed: where it most likely still is
	last  int64  // the flow's last packet when it was queued
}

// closedFlow finds the flow r names: its record, or when it is frozen the
// content of its slot, or neither when it has left the table.
func (a *Analyzer) closedFlow(r closedRef) (*flow, uint64) {
	if f := a.flows.at(r.id); f.id == r.id && f.index == r.index {
		return f, 0
	}
	return a.flows.findIndex(r.hash, r.index)
}

// Add analyses one segment. Segments must come in capture order; a segment
// earlier than the previous one is treated as simultaneous with it.
func (a *Analyzer) Add(seg *pcapio.Segment) {
	a.roomToThaw(1)
	a.add(seg, a.flows.find(&seg.Flow, seg.Hash))
}

// AddBatch analyses segments in order, as Add does one by one, only faster
// for a table of many flows: it finds all their flows first, so that the
// processor fetches them from memory side by side rather than one after
// the other.
func (a *Analyzer) AddBatch(segs []pcapio.Segment) {
	t := &a.flows
	a.roomToThaw(len(segs))
	found := slices.Grow(a.found[:0], len(segs))[:len(segs)]
	t.touch(segs)
	for i := range segs {
		found[i] = t.find(&segs[i].Flow, segs[i].Hash)
	}
	// What was found holds until the table changes: a flow found may
	// since have left it, and a flow not found may since have come.
	removals, added := t.removals, t.added()
	for i := range segs {
		seg, f := &segs[i], found[i]
		if f != nil && t.removals != removals && (f.id == 0 || !f.key.Equal(&seg.Flow)) ||
			f == nil && t.added() != added {
			f = t.find(&seg.Flow, seg.Hash)
		}
		a.add(seg, f)
	}
	a.found = found
}

// roomToThaw freezes idle flows when finding n flows could take the
// table a new chunk: a thawed flow takes a record as a new flow does, and
// flows that wake now and then, as keepalive probes do, would otherwise
// grow the table to hold them all.
func (a *Analyzer) roomToThaw(n int) {
	t := &a.flows
	if t.cold.thawed > 0 && !a.ticking && t.room() < n {
		a.freezeIdle(a.lastNanos)
	}
}

// add analyses seg; f is its flow as the table holds it now, nil when the
// table has none.
//
// Time never goes back, but for each flow apart: a packet stamped earlier
// than its flow's last packet takes that packet's time, so that no gap is
// negative, while one stamped earlier than another flow's packets keeps
// its own. A single packet stamped far ahead (a damaged capture, or
// captures merged from clocks that disagree) then moves no other flow's
// times, and a flow's times are those Wireshark shows for its packets.
// now, the capture's latest time so far, drives the sweeps and the
// capture end.
//
// cmd/hangdiag/default.pgo names the hot calls by their line within the
// function: a change that moves the calls to f.add (and so their line)
// loses the inlining the profile gives them, about 20 instructions a
// packet (bench/instructions.sh), until the profile is made again.
func (a *Analyzer) add(seg *pcapio.Segment, f *flow) {
	now := seg.Nanos
	if now < a.lastNanos {
		now = a.lastNanos
	}
	a.lastNanos = now
	a.stats.Segments++

	if f != nil && f.startsNewFlow(seg) {
		a.finish(f, 0)
		a.flows.remove(f)
		f = nil
	}
	if f == nil {
		if a.flows.live >= a.maxFlows {
			a.makeRoom(now)
		}
		if a.flows.full() && a.flows.live >= coldFrom && !a.ticking {
			a.freezeIdle(now)
		}
		f = a.flows.add(&seg.Flow, seg.Hash)
		f.start(uint32(a.nextIndex), seg, seg.Nanos)
		a.nextIndex++
		a.stats.Flows++
		a.stats.MaxLive = max(a.stats.MaxLive, a.flows.live)
	}
	wasOpen := f.state == Open
	if f.add(a, seg, max(f.last, seg.Nanos)) == addedDuplicate {
		a.stats.Duplicates++
	}
	if wasOpen && f.state != Open {
		a.closed.push(closedRef{f.hash, f.index, f.id, f.last})
	}
	if a.sinceSweep++; a.sinceSweep >= sweepEvery {
		a.sinceSweep = 0
		a.sweep(now)
	}
}

// sweep finishes flows that closed long ago, so that memory follows the
// flows alive at once rather than the capture's length.
func (a *Analyzer) sweep(now int64) {
	a.touchDue(now)
	// The queue holds flows in the order they closed; a flow that has had
	// packets since goes to the back, so the front is always the oldest.
	for a.closed.len() > 0 {
		ref := a.closed.at(0)
		f, frozen := a.closedFlow(ref)
		var last int64
		switch {
		case f != nil:
			last = f.last
		case frozen != 0:
			last, _ = a.flows.frozenOrder(frozen)
		default: // finished already (port reuse, eviction)
			a.closed.pop()
			continue
		}
		if now-last <= closedLinger {
			if ref.last == last {
				break
			}
			ref.last = last
			a.closed.pop()
			a.closed.push(ref)
			continue
		}
		a.closed.pop()
		a.drop(f, frozen, false)
	}
}

// touchDue reads the records of the flows at the front of the closed queue
// that are due to leave, then their home slots in the table's index, so
// that the sweep's cache misses on them overlap instead of coming one
// after another.
func (a *Analyzer) touchDue(now int64) {
	q := &a.closed
	n := 0
	for n < q.len() && n < 512 && now-q.at(n).last > closedLinger {
		n++
	}
	t := &a.flows
	var sum uint64
	for i := range n {
		f := t.at(q.at(i).id)
		sum += uint64(f.hash) + uint64(f.last)
	}
	for i := range n {
		sum += t.slots[int(q.at(i).hash)&t.mask]
	}
	t.touched = sum
}

// drop finishes a flow, evicted or not, and takes it out of the table: f,
// or when f is nil the frozen flow of slot frozen.
func (a *Analyzer) drop(f *flow, frozen uint64, evicted bool) {
	if f == nil {
		f = &a.thawed
		a.flows.takeFrozen(frozen, f)
		f.evicted = evicted
		a.finish(f, 0)
		return
	}
	f.evicted = evicted
	a.finish(f, 0)
	a.flows.remove(f)
}

// makeRoom frees at least an eighth of the table: closed flows first, then
// the flows idle longest, which are counted as evicted.
func (a *Analyzer) makeRoom(now int64) {
	a.sweep(now + closedLinger + 1)
	target := a.maxFlows - max(a.maxFlows/8, 1)
	if a.flows.live <= target {
		return
	}
	// The longest idle go, frozen or not, the first to start first among
	// those idle as long: picked out of the table, then put in that
	// order, rather than the whole table sorted (a scan of millions of
	// ports fills the table again and again).
	// The list is kept for the next time the table fills: made anew each
	// time, the lists of two rounds were on the heap at once, the last as
	// garbage (three million lone SYNs peaked 30 MB higher).
	all := slices.Grow(a.evictees[:0], a.flows.live)
	for f := range a.flows.all() {
		all = append(all, evictee{last: f.last, index: f.index, f: f})
	}
	for _, s := range a.flows.frozenSlots {
		last, index := a.flows.frozenOrder(s)
		all = append(all, evictee{last: last, index: index, slot: s})
	}
	evict := leastEvictees(all, a.flows.live-target)
	slices.SortFunc(evict, evictee.compare)
	for _, c := range evict {
		a.drop(c.f, c.slot, true)
		a.stats.Evicted++
	}
	a.evictees = all[:0]
}

// evictee is a flow makeRoom may evict.
type evictee struct {
	last  int64
	index uint32
	f     *flow  // nil when frozen
	slot  uint64 // the slot of a frozen flow
}

// compare orders flows idle longest first, then by their start.
func (x evictee) compare(y evictee) int {
	return cmp.Or(cmp.Compare(x.last, y.last), cmp.Compare(x.index, y.index))
}

// leastEvictees moves to the front of es the k that come first in
// compare's order, in no particular order among themselves, and returns
// them: a selection, about linear in len(es), where sorting it all takes
// n log n. No two flows share an index, so which k they are does not
// depend on how es was ordered.
func leastEvictees(es []evictee, k int) []evictee {
	lo, hi := 0, len(es) // the k-th lies in es[lo:hi]
	for hi-lo > 1 {
		// Partition es[lo:hi] around the median of three (Lomuto).
		mid := lo + (hi-lo)/2
		if es[mid].compare(es[lo]) < 0 {
			es[mid], es[lo] = es[lo], es[mid]
		}
		if es[hi-1].compare(es[lo]) < 0 {
			es[hi-1], es[lo] = es[lo], es[hi-1]
		}
		if es[hi-1].compare(es[mid]) < 0 {
			es[hi-1], es[mid] = es[mid], es[hi-1]
		}
		es[mid], es[hi-1] = es[hi-1], es[mid]
		pivot, p := es[hi-1], lo
		for i := lo; i < hi-1; i++ {
			if es[i].compare(pivot) < 0 {
				es[i], es[p] = es[p], es[i]
				p++
			}
		}
		es[p], es[hi-1] = es[hi-1], es[p]
		switch {
		case p == k:
			return es[:k]
		case p < k:
			lo = p + 1
		default:
			hi = p
		}
	}
	return es[:k]
}

// Finish ends the analysis. end is the capture end: the time of the last
// packet of the whole capture, or a later time the caller knows (in live
// mode, now). Flows still open are judged against it. An end before the
// last packet, or one that int64 nanoseconds since 1970 cannot hold
// (before 1678 or after 2262), is taken as the last packet's time. The
// Analyzer must not be used afterwards.
func (a *Analyzer) Finish(end time.Time) *Result {
	endNanos := a.lastNanos
	if n := end.UnixNano(); n > a.lastNanos && time.Unix(0, n).Equal(end) { // n overflowed when not equal
		endNanos = n
	}
	// The table's memory goes back as the flows are finished, so that
	// the flows stored for the report do not come on top of it: the
	// records and the index once the flows with records are finished,
	// the frozen flows' store a chunk at a time. The flows are stored on
	// the other core meanwhile.
	a.done.startFeed()
	a.ending = new(endChunks)
	for f := range a.flows.all() {
		a.finish(f, endNanos)
	}
	a.flows.dropRecords()
	for f := range a.flows.drainFrozen {
		a.finish(f, endNanos)
	}
	a.done.stopFeed()
	if a.spill.err != nil && a.done.err == nil {
		a.done.err = a.spill.err // the flows whose findings could not be read back lack them
	}
	a.spill.close()
	a.ending = nil
	a.found, a.evictees = nil, nil
	a.flows.release() // nothing keeps the flow records alive
	r := &Result{
		Threshold:  time.Duration(a.threshold),
		Middlebox:  a.middlebox,
		CaptureEnd: time.Unix(0, endNanos).UTC(),
		Flows:      a.done.list(),
		Stats:      a.stats,
		Inference:  a.infer(),
	}
	return r
}

// finish closes the books on a flow. captureEnd is 0 when the flow leaves
// the table before the capture ends (port reuse, sweep, eviction).
func (a *Analyzer) finish(f *flow, captureEnd int64) {
	f.finishWatch(a, captureEnd)
	if captureEnd > 0 {
		f.judgeCaptureEnd(a, captureEnd)
	}
	a.noteInference(f)
	if a.ticking && a.notes.get(f.notes).unalerted > 0 && captureEnd == 0 {
		a.pending = a.newFindingAlerts(f, nanoTime(f.last), a.pending)
	}
	if a.hasFindings(f) || a.keepAll {
		// Put in a batch for the feed, the flow's export is carved from
		// the batch's chunks, reset once the batch is stored.
		into := a.done.exports(&a.out)
		fl := f.summary(a, captureEnd, into)
		if a.done.put(&fl) { // without the findings' text: decoding writes it
			into.reset() // stored at once: nothing refers to it any more
		}
	}
	a.notes.release(&f.notes)
	if a.ending != nil {
		a.ending.reset() // the notes judged at the end are exported and released
	}
	for s := range f.dirs {
		a.keeps.release(&f.dirs[s].keep)
		a.candidates.release(&f.dirs[s].candidate)
	}
	a.watches.release(&f.watch)
	a.alerts.release(&f.alerts)
}
