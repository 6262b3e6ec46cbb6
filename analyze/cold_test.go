package analyze

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/hangdiag/hangdiag/pcapio"
)

// recordFields returns every field of v that holds a number or a bool,
// exported or not, found by reflection, by its path.
func recordFields(v reflect.Value, path string, out map[string]reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			recordFields(reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), path+"."+v.Type().Field(i).Name, out)
		}
	case reflect.Array:
		for i := range v.Len() {
			recordFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		out[path] = v
	}
}

// coldTrials are the values TestColdRoundTrip sets each field to: both
// sides of every width a field may be narrowed to, and negative ones.
var coldTrials = []int64{0, 1, 2, 127, 128, 255, 256, 1<<15 - 1, 1 << 15, 1<<16 - 1, 1 << 16,
	1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<47 - 1, 1 << 47, 1<<48 - 2, 1<<48 - 1, 1 << 48,
	1<<63 - 1, -1, -2, -128, -1 << 15, -1 << 31, -1 << 47, -1<<47 - 1, -1 << 63}

// TestColdRoundTrip takes the records of real flows and sets each of
// their fields, found by reflection, in turn to values on both sides of
// every width the encoding narrows fields to, relative to the flow's
// first packet for its times: either freezable refuses the record or it
// decodes to the same but for what freezing leaves out (its place in the
// store, its hash, the segments kept to spot copies). It fails when a
// field is not encoded, or narrowed beyond what freezable checks; and
// when a field that should be kept could not hold any value but 0.
func TestColdRoundTrip(t *testing.T) {
	var records []flow
	for _, name := range []string{"long-request-nokeepalive.pcap", "ipv6.pcap", "clean.pcap", "vlan.pcap", "zero-window.pcap"} {
		a := New(Config{})
		for k, seg := range readSegments(t, filepath.Join("..", "testdata", "pcaps", name)) {
			a.Add(&seg)
			for f := range a.flows.all() {
				if k%2 == 0 && freezable(f, f.first) {
					records = append(records, *f) // as it was after the handshake, and later
				}
			}
		}
	}
	// Fields a frozen flow has no use for: its place, its hash, its last
	// segments; and the side tables freezable turns away.
	unused := regexp.MustCompile(`^\.(id|hash|dirs\[\d\]\.recent.*)$`)
	mustBeZero := regexp.MustCompile(`^\.(watch|alerts|dirs\[\d\]\.candidate)$`)
	kept := map[string]bool{}
	for i, rec := range records {
		base := rec.first + int64(i)*int64(time.Hour)
		fields := map[string]reflect.Value{}
		f := rec
		recordFields(reflect.ValueOf(&f).Elem(), "", fields)
		for path, v := range fields {
			if unused.MatchString(path) {
				continue
			}
			for _, x := range coldTrials {
				f = rec
				switch v.Kind() {
				case reflect.Bool:
					v.SetBool(x&1 != 0)
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					if path == ".first" || strings.HasSuffix(path, "At") || path == ".lastRef.nanos" || path == ".last" {
						x += rec.first // a time: the trial is its distance from the first packet
					}
					v.SetInt(x)
					if v.Int() != x {
						continue // not a value of the field's type
					}
				default:
					if x < 0 {
						continue
					}
					v.SetUint(uint64(x))
					if v.Uint() != uint64(x) {
						continue
					}
				}
				if !freezable(&f, base) {
					continue
				}
				var got flow
				var refs slab[coldRefs]
				e := make([]byte, coldEntrySize(coldClassOf(&f)))
				encodeCold(e, &f, base, &refs)
				decodeCold(e, &got, base, &refs)
				if len(refs.free) != len(refs.items) {
					t.Fatalf("%s = %d in record %d: %d refs stored, %d given back", path, x, i, len(refs.items), len(refs.free))
				}
				want := f
				want.id, want.hash = 0, 0
				for s := range want.dirs {
					want.dirs[s].recent = [2]recentSeg{}
				}
				if want != got {
					t.Fatalf("%s = %d in record %d:\nencoded %+v\ndecoded %+v", path, x, i, want, got)
				}
				if x != 0 && x != rec.first {
					kept[path] = true
				}
			}
		}
	}
	if len(records) < 6 {
		t.Fatalf("%d freezable records", len(records))
	}
	fields := map[string]reflect.Value{}
	recordFields(reflect.ValueOf(&flow{}).Elem(), "", fields)
	for path := range fields {
		if unused.MatchString(path) {
			continue
		}
		if must := mustBeZero.MatchString(path); kept[path] == must {
			t.Errorf("%s: a value other than 0 was kept: %v; want %v", path, kept[path], !must)
		}
	}
}

// TestColdAnalysis analyses many flows together, with flows frozen
// after 2 ms of silence (past the 1 ms within which a copy of a segment
// counts as one) in a table that freezes from its first flow on, and
// checks the result is the one of a table that never freezes: every
// flow, the counts and the timeout bracket, and the flows left in the
// table at the end (closed flows leave it frozen or not). The flows are
// those of the shipped and lab captures, 100 copies of each, with the
// table unbounded and bounded so that flows, frozen ones among them, are
// evicted; and those of the corpus of real captures, when there is one,
// two copies of each.
func TestColdAnalysis(t *testing.T) {
	shipped, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	lab, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.pcap"))
	if len(shipped) == 0 || len(lab) == 0 {
		t.Fatal("no captures in testdata/pcaps or testdata/pcaps/lab")
	}
	t.Run("shipped", func(t *testing.T) {
		compareCold(t, spreadSegments(t, append(shipped, lab...), 100), 0, 1200)
	})
	t.Run("corpus", func(t *testing.T) {
		corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
		if len(corpus) == 0 {
			t.Skip("no corpus of captures beside the repository")
		}
		compareCold(t, spreadSegments(t, corpus, 2), 0)
	})
}

// spreadSegments returns the segments of the captures at paths that open
// (not every corpus file is one), copies times, each copy of each capture
// under addresses of its own and begun a millisecond after the one
// before, sorted by time.
func spreadSegments(t *testing.T, paths []string, copies int) []pcapio.Segment {
	var segs []pcapio.Segment
	n := 0
	for c, path := range paths {
		src, err := pcapio.Open(path)
		if err != nil {
			continue
		}
		var capture []pcapio.Segment
		var seg pcapio.Segment
		for src.Next(&seg) {
			capture = append(capture, seg)
		}
		src.Close()
		if len(capture) == 0 {
			continue
		}
		first := capture[0].Nanos
		for k := range copies {
			shift := func(ap netip.AddrPort) netip.AddrPort {
				if !ap.Addr().Is4() {
					b := ap.Addr().As16()
					b[12], b[13] = byte(c), byte(k)
					return netip.AddrPortFrom(netip.AddrFrom16(b), ap.Port())
				}
				b := ap.Addr().As4()
				b[1], b[2] = b[1]^byte(c), b[2]^byte(k)
				return netip.AddrPortFrom(netip.AddrFrom4(b), ap.Port())
			}
			for _, seg := range capture {
				seg.SetAddrs(shift(seg.Src()), shift(seg.Dst()))
				seg.Nanos += int64(n)*int64(time.Millisecond) - first + int64(time.Hour)
				segs = append(segs, seg)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no capture opened")
	}
	slices.SortStableFunc(segs, func(x, y pcapio.Segment) int { return int(min(max(x.Nanos-y.Nanos, -1), 1)) })
	return segs
}

// compareCold analyses segs in a table that freezes from its first flow
// on and in one that never freezes, under each bound on the table (0:
// none), and reports where the two differ; and again with every flow
// still frozen after the last packet made a record again (thawAll, as
// live mode does) before the flows are finished.
func compareCold(t *testing.T, segs []pcapio.Segment, bounds ...int) {
	defer func(from int, idle, least int64) { coldFrom, coldIdle, coldIdleMin = from, idle, least }(coldFrom, coldIdle, coldIdleMin)
	// run returns the result, the most flows frozen at once, and the flows
	// in the table after the last packet, frozen or not; with thaw, the
	// flows frozen then are thawed before Finish. frozenKeepalive is the
	// most flows with keepalive timing frozen at once under one bound.
	frozenKeepalive := 0
	run := func(from int, idle int64, maxFlows int, thaw bool) (*Result, int, int) {
		coldFrom, coldIdle, coldIdleMin = from, idle, idle
		a := New(Config{KeepAll: true, Idle: 5 * time.Second, MaxFlows: maxFlows})
		mostFrozen := 0
		for batch := range slices.Chunk(segs, 64) {
			a.AddBatch(batch)
			mostFrozen = max(mostFrozen, a.flows.cold.len())
			refs := &a.flows.cold.refs
			frozenKeepalive = max(frozenKeepalive, len(refs.items)-len(refs.free))
		}
		live := a.flows.live
		if thaw {
			frozen := a.flows.cold.len()
			a.flows.thawAll()
			// Without a bound, flows are still frozen at the end; with one,
			// eviction may have taken them all.
			if maxFlows == 0 && frozen == 0 || a.flows.cold.len() != 0 || a.flows.live != live {
				t.Fatalf("thawAll: %d flows frozen before, %d after; %d flows in the table, %d before", frozen, a.flows.cold.len(), a.flows.live, live)
			}
		}
		return a.Finish(time.Time{}), mostFrozen, live
	}
	for _, maxFlows := range bounds {
		frozenKeepalive = 0
		want, _, wantLive := run(1<<62, 0, maxFlows, false)
		got, frozen, live := run(1, int64(2*time.Millisecond), maxFlows, false)
		if live != wantLive {
			t.Errorf("at most %d flows: %d flows in the table at the end, frozen or not; never frozen, %d", maxFlows, live, wantLive)
		}
		if frozen < 100 {
			t.Fatalf("at most %d flows frozen at once: freezing is hardly tested", frozen)
		}
		if frozenKeepalive < 100 {
			t.Fatalf("at most %d flows with keepalive timing frozen at once: freezing them is hardly tested", frozenKeepalive)
		}
		if want.Stats.Flows < 1000 {
			t.Fatalf("%d flows", want.Stats.Flows)
		}
		if maxFlows > 0 && want.Stats.Evicted < 100 {
			t.Fatalf("%d flows evicted from a table of %d: eviction is hardly tested", want.Stats.Evicted, maxFlows)
		}
		if diff := cmp.Diff(want.Stats, got.Stats); diff != "" {
			t.Errorf("at most %d flows: stats (-never frozen +frozen):\n%s", maxFlows, diff)
		}
		if diff := cmp.Diff(want.Inference, got.Inference); diff != "" {
			t.Errorf("at most %d flows: inference (-never frozen +frozen):\n%s", maxFlows, diff)
		}
		if diff := flowsDiff(want.Flows, got.Flows); diff != "" {
			t.Errorf("at most %d flows: flows (-never frozen +frozen):\n%s", maxFlows, diff)
		}
		thawed, _, _ := run(1, int64(2*time.Millisecond), maxFlows, true)
		if diff := cmp.Diff(want.Stats, thawed.Stats); diff != "" {
			t.Errorf("at most %d flows: stats (-never frozen +thawed at the end):\n%s", maxFlows, diff)
		}
		if diff := flowsDiff(want.Flows, thawed.Flows); diff != "" {
			t.Errorf("at most %d flows: flows (-never frozen +thawed at the end):\n%s", maxFlows, diff)
		}
		t.Logf("at most %d flows: %d flows, %d evicted, at most %d frozen at once, %d of them with keepalive timing", maxFlows, want.Stats.Flows, want.Stats.Evicted, frozen, frozenKeepalive)
	}
}

// BenchmarkCold encodes and decodes the record of a flow after its
// handshake, as a table of a million connections left open freezes it.
func BenchmarkCold(b *testing.B) {
	segs := readSegments(b, filepath.Join("..", "testdata", "pcaps", "long-request-nokeepalive.pcap"))
	a := New(Config{})
	for i := range 3 {
		a.Add(&segs[i])
	}
	f := a.flows.at(1)
	if !f.handshake {
		b.Fatal("no handshake in the first three segments")
	}
	base := f.first - int64(time.Minute)
	if !freezable(f, base) {
		b.Fatal("the flow is not freezable")
	}
	buf := make([]byte, coldEntrySize(coldClassOf(f)))
	var refs slab[coldRefs] // unused: the flow has no keepalive timing
	encodeCold(buf, f, base, &refs)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			encodeCold(buf, f, base, &refs)
		}
	})
	b.Run("decode", func(b *testing.B) {
		var g flow
		for b.Loop() {
			decodeCold(buf, &g, base, &refs)
		}
	})
	b.ReportMetric(float64(len(buf)), "bytes")
}

// TestColdBackoff fills a table with flows idle for an hour that cannot
// be frozen (each with a first segment that may prove a keepalive
// probe), and checks that freezeIdle, called as a growing table calls
// it, soon reads their records for nothing only now and then (64 passes
// without the backoff would read every pass's four chunks), and freezes
// again once flows can be.
func TestColdBackoff(t *testing.T) {
	a := New(Config{})
	start := int64(time.Hour)
	for i := range 5 << flowChunkShift { // more than a pass reads, so that the hand tells what it read
		var seg pcapio.Segment
		seg.SetAddrs(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000),
			netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, 1}), 443))
		f := a.flows.add(&seg.Flow, seg.Hash)
		f.start(uint32(i), &seg, start)
		f.dirs[Client].candidate = 1 // not freezable
	}
	now := start + int64(time.Hour)
	read := func(passes int) int {
		n := 0
		for range passes {
			hand := a.flows.hand
			a.freezeIdle(now)
			n += int(a.flows.hand-hand+a.flows.made) % int(a.flows.made)
		}
		return n
	}
	const passes = 64
	if n, all := read(passes), passes*4<<flowChunkShift; n == 0 || n > all/4 {
		t.Fatalf("%d passes over %d unfreezable flows read %d records: want some, and under a quarter of %d", passes, a.flows.made, n, all)
	}
	if a.flows.cold.len() != 0 {
		t.Fatalf("%d unfreezable flows frozen", a.flows.cold.len())
	}
	for id := uint32(1); id <= a.flows.made; id++ {
		a.flows.at(id).dirs[Client].candidate = 0
	}
	read(16)
	if a.flows.cold.len() == 0 {
		t.Fatalf("no flow frozen in 16 passes once they could be")
	}
}

// TestColdBurst runs 16,384 lone SYNs, one every 50 µs (0.8 s in all),
// through a table that freezes from 1,024 flows on, at the default idle
// times: a flood of flows that all began within a second must freeze as
// well, or its records take the memory of a flow each.
func TestColdBurst(t *testing.T) {
	defer func(from int) { coldFrom = from }(coldFrom)
	coldFrom = 1024
	const flows = 16384
	a := New(Config{})
	for i := range flows {
		c := newConv(fmt.Sprintf("10.0.%d.%d:40000", i>>8, i&255), "10.1.0.1:443", uint32(i))
		c.seg(Client, time.Duration(i)*50*time.Microsecond, pcapio.SYN, 1, 0)
		a.AddBatch(c.segs)
	}
	if frozen := a.flows.cold.len(); frozen < flows/2 {
		t.Errorf("%d of %d flows frozen after 0.8 s of lone SYNs; want most", frozen, flows)
	}
	if r := a.Finish(time.Time{}); r.Stats.Flows != flows {
		t.Errorf("%d flows, want %d", r.Stats.Flows, flows)
	}
}

// TestThawMakesRoom runs 8,192 connections that each send a keepalive
// probe every minute for ten minutes, begun over one minute, through a
// table that freezes from 1,024 flows on: a flow is idle past the 30 s a
// table freezes at for half of each minute, so that about half the flows
// are frozen at any time, and the thawed ones take the records of flows
// frozen in their place rather than new ones. Without that the records
// grow to hold every flow. Freezing changes nothing in the result, and
// no flow holds a watch once its gap is answered.
func TestThawMakesRoom(t *testing.T) {
	defer func(from int) { coldFrom = from }(coldFrom)
	const flows, rounds = 8192, 10
	var segs []pcapio.Segment
	for i := range flows {
		c := newConv(fmt.Sprintf("10.0.%d.%d:40000", i>>8, i&255), "10.1.0.1:443", uint32(i)<<8)
		at := time.Duration(i) * time.Minute / flows
		c.handshake(at).exchange(at+10*time.Millisecond, 100, 200, time.Millisecond)
		for r := 1; r <= rounds; r++ {
			c.probe(Client, at+time.Duration(r)*time.Minute).probeAck(Server, at+time.Duration(r)*time.Minute+time.Millisecond)
		}
		segs = append(segs, c.segs...)
	}
	slices.SortStableFunc(segs, func(x, y pcapio.Segment) int { return int(min(max(x.Nanos-y.Nanos, -1), 1)) })
	run := func(from int) (*Result, uint32) {
		coldFrom = from
		a := New(Config{KeepAll: true})
		for batch := range slices.Chunk(segs, 64) {
			a.AddBatch(batch)
		}
		made := a.flows.made // records are given back only as the flows are finished
		// Every flow's last packet answered its probe, which ended the
		// probe's watch: none is held.
		if held := len(a.watches.items) - len(a.watches.free); held != 0 {
			t.Errorf("%d watches held after every gap was answered (table freezing from %d flows on; %d: never)", held, from, 1<<62)
		}
		return a.Finish(time.Time{}), made
	}
	want, _ := run(1 << 62)
	got, records := run(1024)
	if records > flows*3/4 {
		t.Errorf("%d records for %d flows of which about half are idle at any time", records, flows)
	}
	for _, f := range listOf(got.Flows) {
		if k := f.Keepalive[Client]; k.Probes != rounds || k.MinInterval != time.Minute {
			t.Fatalf("flow %d: %d keepalive probes, at least %v apart; want %d, a minute apart", f.Index, k.Probes, k.MinInterval, rounds)
		}
	}
	if diff := flowsDiff(want.Flows, got.Flows); diff != "" {
		t.Errorf("flows (-never frozen +frozen):\n%s", diff)
	}
	t.Logf("%d flows in %d records", flows, records)
}

// TestFinishGivesBack freezes 60,000 flows left open after a SYN into
// several chunks of mapped memory, and checks that finishing them gives
// the table's memory back as it goes: the records and the index before
// the frozen flows are finished (dropRecords leaves the frozen flows'
// chunks alone), then each chunk of frozen flows once its flows are
// through, so that the flows stored for the report do not come on top of
// the table at its largest. Every flow is still finished, each once.
func TestFinishGivesBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the table maps memory outside the Go heap on Linux only")
	}
	defer func(from int, idle, least int64) { coldFrom, coldIdle, coldIdleMin = from, idle, least }(coldFrom, coldIdle, coldIdleMin)
	coldFrom, coldIdle, coldIdleMin = 1, int64(time.Millisecond), int64(time.Millisecond)
	a := New(Config{KeepAll: true})
	const n = 60_000
	batch := make([]pcapio.Segment, 0, 512)
	for i := range n {
		var seg pcapio.Segment
		seg.SetAddrs(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 40000),
			netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 3, 0, 1}), 443))
		seg.Nanos, seg.Flags, seg.Seq = int64(time.Hour)+int64(i)*int64(time.Millisecond), pcapio.SYN, uint32(i)
		if batch = append(batch, seg); len(batch) == cap(batch) || i == n-1 {
			a.AddBatch(batch)
			batch = batch[:0]
		}
	}
	t.Logf("%d of %d flows frozen in %d mappings", a.flows.cold.len(), n, len(a.flows.mem.maps))
	chunks := len(a.flows.cold.classes[0].chunks)
	if chunks < 3 || a.flows.cold.len() < n/2 {
		t.Fatalf("%d flows frozen in %d chunks: giving back is hardly tested", a.flows.cold.len(), chunks)
	}

	finished := 0
	for f := range a.flows.all() {
		a.finish(f, a.lastNanos)
		finished++
	}
	a.flows.dropRecords()
	if got := len(a.flows.mem.maps); got != chunks {
		t.Fatalf("after dropRecords: %d mappings, want the %d chunks of frozen flows", got, chunks)
	}
	perChunk := coldPerChunk(0)
	i := 0
	for f := range a.flows.drainFrozen {
		if want := chunks - i/perChunk; len(a.flows.mem.maps) != want {
			t.Fatalf("at frozen flow %d: %d mappings, want %d", i, len(a.flows.mem.maps), want)
		}
		a.finish(f, a.lastNanos)
		i++
	}
	if len(a.flows.mem.maps) != 0 {
		t.Errorf("after drainFrozen: %d mappings left", len(a.flows.mem.maps))
	}
	finished += i
	a.flows.release()
	if r := a.done.list(); finished != n || r.Len() != n {
		t.Errorf("%d flows finished, %d stored, want %d", finished, r.Len(), n)
	}
}

// TestFinishFeed checks that the flows Finish stores on a goroutine of
// their own, in batches, come out as those stored at once on one core,
// whether the goroutine encodes them or put does (as it does when the
// goroutine is behind):
// every flow, in the same order, with the same counts, for more flows than
// a few batches hold, frozen ones among them. It runs under the race
// detector in CI.
func TestFinishFeed(t *testing.T) {
	defer func(from int, idle, least int64) { coldFrom, coldIdle, coldIdleMin = from, idle, least }(coldFrom, coldIdle, coldIdleMin)
	coldFrom, coldIdle, coldIdleMin = 1, int64(2*time.Millisecond), int64(2*time.Millisecond)
	shipped, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	lab, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.pcap"))
	segs := spreadSegments(t, append(shipped, lab...), 100)
	run := func(procs int) (*Result, int) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		a := New(Config{KeepAll: true, Idle: 5 * time.Second})
		for batch := range slices.Chunk(segs, 512) {
			a.AddBatch(batch)
		}
		frozen := a.flows.cold.len()
		return a.Finish(time.Time{}), frozen
	}
	want, _ := run(1)
	for _, encodeAll := range []bool{false, true} {
		feedEncodeAll = encodeAll
		got, frozen := run(2)
		feedEncodeAll = false
		t.Logf("%d flows, %d of them frozen at the end", got.Flows.Len(), frozen)
		if n := got.Flows.Len(); n < 4*feedBatchLen || frozen < feedBatchLen {
			t.Fatalf("%d flows, %d of them frozen at the end: the feed is hardly tested", n, frozen)
		}
		if diff := flowsDiff(want.Flows, got.Flows); diff != "" {
			t.Errorf("put encoding every batch %v: flows (-stored at once +stored through the feed):\n%s", encodeAll, diff)
		}
		if diff := cmp.Diff(want.Flows.Counts(), got.Flows.Counts()); diff != "" {
			t.Errorf("put encoding every batch %v: counts (-stored at once +stored through the feed):\n%s", encodeAll, diff)
		}
	}
}
