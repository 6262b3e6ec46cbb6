package analyze

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var addrsEqual = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

// listOf decodes every flow of fs.
func listOf(fs Flows) []Flow {
	var list []Flow
	for _, f := range fs.All() {
		list = append(list, *f)
	}
	return list
}

// flowsDiff compares two lists of flows flow by flow and returns the
// differences of the first three flows that differ (-want +got), and the
// lengths when they differ; "" when the lists are the same. (One
// cmp.Diff of two long lists that differ in many flows ran for minutes.)
func flowsDiff(want, got Flows) string {
	w, g := listOf(want), listOf(got)
	var b strings.Builder
	if len(w) != len(g) {
		fmt.Fprintf(&b, "%d flows, want %d\n", len(g), len(w))
	}
	shown := 0
	for i := range min(len(w), len(g)) {
		if d := cmp.Diff(w[i], g[i], addrsEqual); d != "" {
			if shown++; shown > 3 {
				fmt.Fprintf(&b, "and more from flow %d on\n", i)
				break
			}
			fmt.Fprintf(&b, "flow %d:\n%s", i, d)
		}
	}
	return b.String()
}

// TestFlowsRoundTrip encodes flows whose every field, found by
// reflection, holds a random value (or, at random, its zero value) and
// checks they decode to the same. A field added to Flow and not encoded
// fails it.
func TestFlowsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var flows []Flow
	for i := range 300 {
		var f Flow
		fill(r, reflect.ValueOf(&f).Elem())
		f.Index = i // a list is in order of Index
		flows = append(flows, f)
	}
	flows = append(flows, Flow{Index: 300}) // zero times, no addresses
	// Keepalive stats all zero but for one field.
	var oneProbe, noMatches Flow
	oneProbe.Keepalive[0].Probes = 1
	noMatches.Keepalive[1].Settings.Matches = []string{} // empty, not nil
	flows = append(flows, oneProbe, noMatches)
	flows[301].Index, flows[302].Index = 301, 302
	zoned := netip.MustParseAddr("fe80::1").WithZone(strings.Repeat("z", 300))
	flows = append(flows, Flow{Index: 303, Client: netip.AddrPortFrom(zoned, 1)}) // a zone longer than a length byte
	fs := FlowsOf(flows...)
	if fs.Len() != len(flows) {
		t.Fatalf("Len = %d, want %d", fs.Len(), len(flows))
	}
	for i := range flows {
		if diff := cmp.Diff(flows[i], fs.At(i), addrsEqual); diff != "" {
			t.Fatalf("flow %d (-encoded +decoded):\n%s", i, diff)
		}
	}
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
}

// fill sets v to random values, recursing into structs, arrays, slices,
// maps and pointers; about one value in four is left zero (nil, empty).
func fill(r *rand.Rand, v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		if r.IntN(4) > 0 {
			v.Set(reflect.ValueOf(time.Unix(0, r.Int64N(1<<61)).UTC()))
		}
		return
	case reflect.TypeFor[netip.AddrPort]():
		var a netip.Addr
		switch r.IntN(3) {
		case 0:
			a = netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), 1})
		case 1:
			a = netip.AddrFrom16([16]byte{0xfd, 0, 15: byte(r.IntN(256))})
		}
		v.Set(reflect.ValueOf(netip.AddrPortFrom(a, uint16(r.IntN(65536)))))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(r, v.Index(i))
		}
	case reflect.Slice:
		if n := r.IntN(4); n > 0 {
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fill(r, v.Index(i))
			}
		}
	case reflect.Pointer:
		if r.IntN(4) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(r, v.Elem())
		}
	case reflect.Map:
		if n := r.IntN(4); n > 0 {
			m := reflect.MakeMapWithSize(v.Type(), n)
			for range n {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(r, k)
				fill(r, e)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.String:
		v.SetString(strings.Repeat("→x", r.IntN(5)))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		v.SetInt(int64(r.Uint64()) >> (64 - bits))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		v.SetUint(r.Uint64() >> (64 - bits))
	default:
		panic("fill: no case for " + v.Type().String())
	}
}

// TestFlowsSpill analyses captures with every flow kept, once with the
// flows in memory and once with them moved to a spill file after every
// flow, and checks both decode to the same list; then with a spill file
// that cannot be made, and with none.
func TestFlowsSpill(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	if len(paths) == 0 {
		t.Fatal("no captures in testdata/pcaps")
	}
	opened := 0
	tempFile := func() (SpillFile, error) {
		opened++
		return os.CreateTemp(t.TempDir(), "flows-*")
	}
	analyse := func(path string, spill func() (SpillFile, error)) *Result {
		a := New(Config{KeepAll: true, Idle: 5 * time.Second, Spill: spill})
		for _, seg := range readSegments(t, path) {
			a.Add(&seg)
		}
		return a.Finish(time.Time{})
	}
	defer func(n int) { spillSize = n }(spillSize)
	for _, path := range paths {
		inMemory := analyse(path, tempFile)
		spillSize = 1
		opened = 0
		spilled := analyse(path, tempFile)
		spillSize = 1 << 20
		if inMemory.Flows.store.file != nil || inMemory.Flows.Len() > 0 && (spilled.Flows.store.file == nil || opened != 1) {
			t.Fatalf("%s: file %v in memory; %v spilled, opened %d times", path, inMemory.Flows.store.file, spilled.Flows.store.file, opened)
		}
		if diff := flowsDiff(inMemory.Flows, spilled.Flows); diff != "" {
			t.Errorf("%s (-in memory +spilled):\n%s", filepath.Base(path), diff)
		}
		if err := spilled.Flows.Err(); err != nil {
			t.Error(err)
		}
		if err := spilled.Flows.Close(); err != nil {
			t.Error(err)
		}
	}
	// No file can be made, or none is given: the flows stay in memory,
	// and nothing is amiss.
	spillSize = 1
	want := listOf(analyse(paths[0], nil).Flows)
	failing := func() (SpillFile, error) { return nil, errors.New("no space") }
	for name, spill := range map[string]func() (SpillFile, error){"failing": failing, "none": nil} {
		r := analyse(paths[0], spill)
		if r.Flows.store.file != nil || !r.Flows.store.inMemory || r.Flows.Err() != nil {
			t.Errorf("%s spill file: file %v, in memory %v, error %v", name, r.Flows.store.file, r.Flows.store.inMemory, r.Flows.Err())
		}
		if diff := cmp.Diff(want, listOf(r.Flows), addrsEqual); diff != "" {
			t.Errorf("%s spill file (-want +got):\n%s", name, diff)
		}
	}
}

// countsOf counts the findings of fs by decoding every flow.
func countsOf(fs Flows) Counts {
	c := Counts{Findings: map[Kind]int{}, FindingsNotListed: map[Kind]int{}}
	for _, f := range fs.All() {
		if len(f.Findings) > 0 {
			c.Flagged++
		}
		for _, fd := range f.Findings {
			c.Findings[fd.Kind]++
		}
		if f.GapsNotListed > 0 || len(f.FindingsNotListed) > 0 {
			c.Capped++
		}
		c.GapsNotListed += f.GapsNotListed
		for k, n := range f.FindingsNotListed {
			c.FindingsNotListed[k] += n
		}
	}
	return c
}

// TestFlowsCounts checks the counts a list keeps of its findings against
// the flows themselves, decoded: a Result's list over every shipped
// capture, with and without the flows that have none, and lists filtered
// from it.
func TestFlowsCounts(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	if len(paths) == 0 {
		t.Fatal("no captures in testdata/pcaps")
	}
	flagged, capped := 0, 0
	for _, path := range paths {
		segs := readSegments(t, path)
		for _, keepAll := range []bool{false, true} {
			a := New(Config{KeepAll: keepAll, Idle: 5 * time.Second})
			for _, seg := range segs {
				a.Add(&seg)
			}
			all := a.Finish(time.Time{}).Flows
			lists := map[string]Flows{
				"result":        all,
				"odd indexes":   all.Filter(func(f *Flow) bool { return f.Index%2 == 1 }),
				"none":          all.Filter(func(*Flow) bool { return false }),
				"edited":        all.Edit(func(f *Flow) { f.Packets = 0 }),
				"reset flows":   all.Filter(func(f *Flow) bool { return f.State == Reset }),
				"list of lists": FlowsOf(listOf(all)...),
			}
			for name, fs := range lists {
				got, want := fs.Counts(), countsOf(fs)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s, keep all %v, %s (-decoded +counted):\n%s", filepath.Base(path), keepAll, name, diff)
				}
			}
			flagged += all.Counts().Flagged
			capped += all.Counts().Capped
		}
	}
	if flagged == 0 || capped == 0 {
		t.Fatalf("%d flagged flows, %d with findings not listed: the counts are not tested", flagged, capped)
	}
	if c := (Flows{}).Counts(); c.Flagged != 0 || c.Findings == nil || len(c.Findings) != 0 {
		t.Errorf("the empty list counts %+v", c)
	}
}

// TestFlowsOrder checks that a Result lists flows in order of first
// appearance although they finish in another order, that Find finds them
// by Index, and that Filter and Edit make new lists over the same flows.
func TestFlowsOrder(t *testing.T) {
	s := time.Second
	const cli2 = "192.0.2.11:40000"
	long := newConv(cli, srv, 1000).handshake(0).send(Client, s, 100).ack(Server, s+time.Millisecond)
	short := newConv(cli2, srv, 2000).handshake(2*s).fin(Client, 3*s).fin(Server, 3*s+time.Millisecond).
		ack(Client, 3*s+2*time.Millisecond)
	reuse := newConv(cli2, srv, 900000).handshake(5 * s) // the port again: the short flow finishes here
	r := run(Config{KeepAll: true}, 0, long, short, reuse)
	var index []int
	for i, f := range r.Flows.All() {
		if i != len(index) {
			t.Fatalf("position %d, want %d", i, len(index))
		}
		index = append(index, f.Index)
	}
	if diff := cmp.Diff([]int{0, 1, 2}, index); diff != "" {
		t.Fatalf("flow indexes (-want +got):\n%s", diff)
	}
	if r.Flows.store.recs[0].index != 1 {
		t.Fatalf("the closed flow did not finish first: records %v", r.Flows.store.recs)
	}
	open := r.Flows.Filter(func(f *Flow) bool { return f.State == Open })
	if open.Len() != 2 || open.At(0).Index != 0 || open.At(1).Index != 2 || r.Flows.Len() != 3 {
		t.Errorf("Filter kept %d flows, the first %d; the list has %d", open.Len(), open.At(0).Index, r.Flows.Len())
	}
	for _, tt := range []struct {
		list  Flows
		index int
		found bool
	}{{r.Flows, 0, true}, {r.Flows, 1, true}, {r.Flows, 2, true}, {r.Flows, 3, false}, {r.Flows, -1, false}, {open, 1, false}, {open, 2, true}} {
		if f, ok := tt.list.Find(tt.index); ok != tt.found || ok && f.Index != tt.index {
			t.Errorf("Find(%d) in a list of %d = flow %d, %v; want found %v", tt.index, tt.list.Len(), f.Index, ok, tt.found)
		}
	}
	given := FlowsOf(Flow{Index: 5}, Flow{Index: 2})
	if f, ok := given.Find(5); given.At(0).Index != 2 || !ok || f.Index != 5 {
		t.Errorf("FlowsOf(5, 2): first %d, Find(5) = %d, %v", given.At(0).Index, f.Index, ok)
	}
	edited := open.Edit(func(f *Flow) { f.Packets = 1234 }).Edit(func(f *Flow) { f.Packets++ })
	if got := edited.At(0).Packets; got != 1235 {
		t.Errorf("edited packets = %d, want 1235", got)
	}
	if got := open.At(0).Packets; got == 1235 {
		t.Error("Edit changed the list it was made from")
	}
	first := r.Flows.At(0)
	first.Findings = append(first.Findings, Finding{Kind: ResetAfterIdle})
	if len(r.Flows.At(0).Findings) == len(first.Findings) {
		t.Error("a change to a flow At returned shows in the list")
	}
}

// TestFlowsDamage checks that a damaged record gives an error, not a panic:
// one cut short, and one with a byte too many.
func TestFlowsDamage(t *testing.T) {
	fs := FlowsOf(Flow{Index: 7, Findings: []Finding{{Kind: SilentPastTimeout, Message: "m"}}})
	s := fs.store
	whole := len(s.mem)
	s.mem = append(s.mem, 0)
	for n := range whole + 2 {
		if n == whole {
			continue
		}
		s.err = nil
		s.recs[0].n = uint32(n)
		fs.At(0)
		if fs.Err() == nil {
			t.Errorf("a record of %d bytes out of %d decoded without error", n, whole)
		}
	}
}

// failingFile is a spill file whose writes or reads fail.
type failingFile struct {
	SpillFile
	failWrite, failRead bool
}

func (f failingFile) WriteAt(b []byte, off int64) (int, error) {
	if f.failWrite {
		return 0, errors.New("disk full")
	}
	return f.SpillFile.WriteAt(b, off)
}

func (f failingFile) ReadAt(b []byte, off int64) (int, error) {
	if f.failRead {
		return 0, errors.New("I/O error")
	}
	return f.SpillFile.ReadAt(b, off)
}

// TestFlowsSpillFails checks a spill file that cannot be written (the
// flows stay in memory, with no error) and one that cannot be read back
// (Err says so, and the flow comes out zero).
func TestFlowsSpillFails(t *testing.T) {
	defer func(n int) { spillSize = n }(spillSize)
	spillSize = 1
	flows := []Flow{{Index: 1, Packets: 3}, {Index: 2, Packets: 4}}
	for _, tt := range []struct {
		name                string
		failWrite, failRead bool
	}{{"write", true, false}, {"read", false, true}} {
		a := New(Config{Spill: func() (SpillFile, error) {
			f, err := os.CreateTemp(t.TempDir(), "flows-*")
			return failingFile{f, tt.failWrite, tt.failRead}, err
		}})
		for i := range flows {
			a.done.add(&flows[i])
		}
		got := a.Finish(time.Time{}).Flows
		switch {
		case tt.failWrite && (!got.store.inMemory || got.Err() != nil || got.At(1).Packets != 4):
			t.Errorf("failing writes: in memory %v, error %v, second flow %+v", got.store.inMemory, got.Err(), got.At(1))
		case tt.failRead && (got.At(0).Packets != 0 || got.Err() == nil):
			t.Errorf("failing reads: first flow %+v, error %v", got.At(0), got.Err())
		}
		got.Close()
	}
}

// FuzzFlowRecord decodes arbitrary bytes as a stored flow: never a panic,
// and a record read without damage encodes back to a record that decodes
// to the same flow.
func FuzzFlowRecord(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		var fl Flow
		fill(r, reflect.ValueOf(&fl).Elem())
		f.Add(encodeFlow(nil, &fl))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl Flow
		d := decoder{b: b}
		d.flow(&fl)
		if d.bad {
			return
		}
		var again Flow
		d = decoder{b: encodeFlow(nil, &fl)}
		d.flow(&again)
		if d.bad {
			t.Fatal("a flow decoded from a record does not decode again")
		}
		if diff := cmp.Diff(fl, again, addrsEqual); diff != "" {
			t.Fatalf("decoded, encoded and decoded again (-first +again):\n%s", diff)
		}
	})
}

// TestZigzag checks that zigzag round-trips at the edges and writes the
// bytes binary.AppendVarint writes, as the encoder's comment says.
func TestZigzag(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64, -1234567890123} {
		if got := unzigzag(zigzag(v)); got != v {
			t.Errorf("unzigzag(zigzag(%d)) = %d", v, got)
		}
		if a, b := binary.AppendUvarint(nil, zigzag(v)), binary.AppendVarint(nil, v); !bytes.Equal(a, b) {
			t.Errorf("%d: zigzag bytes %x, varint bytes %x", v, a, b)
		}
	}
}

// countingFile counts the reads of a spill file.
type countingFile struct {
	SpillFile
	reads *int
}

func (f countingFile) ReadAt(b []byte, off int64) (int, error) {
	*f.reads++
	return f.SpillFile.ReadAt(b, off)
}

// TestFlowsSpillBlocks checks that a pass over a spilled list, which reads
// the file in blocks, decodes the flows that At reads one by one: flows
// of every size, one larger than a block and many across two, added in
// another order than the list's, over more blocks than a pass keeps. It
// checks the pass reads the file a block at a time, not a flow at a time.
func TestFlowsSpillBlocks(t *testing.T) {
	defer func(n int) { spillSize = n }(spillSize)
	spillSize = 1
	r := rand.New(rand.NewPCG(3, 4))
	const n = 8000
	flows := make([]Flow, n)
	for i := range flows {
		size := r.IntN(3000)
		if i == n/2 {
			size = 3 * spillBlock // a record larger than a block
		}
		flows[i] = Flow{Index: i, Packets: uint64(i), Findings: []Finding{{Kind: SilentPastTimeout, Message: strings.Repeat("m", size)}}}
	}
	reads := 0
	s := &flowStore{open: func() (SpillFile, error) {
		f, err := os.CreateTemp(t.TempDir(), "flows-*")
		return countingFile{f, &reads}, err
	}}
	// Added as flows finish: a few thousand in order, each with a flow
	// that lived long mixed in from the other end.
	for i := range n / 2 {
		s.add(&flows[i])
		s.add(&flows[n-1-i])
	}
	list := s.list()
	if s.size < 2*spillBlocks*spillBlock {
		t.Fatalf("the spill file holds %d bytes, fewer than twice the blocks a pass keeps", s.size)
	}
	reads = 0
	seen := 0
	for i, f := range list.All() {
		if f.Index != i || f.Packets != uint64(i) || len(f.Findings) != 1 || f.Findings[0].Message != flows[i].Findings[0].Message {
			t.Fatalf("flow %d of the pass: index %d, %d packets, findings %d", i, f.Index, f.Packets, len(f.Findings))
		}
		seen++
	}
	blocks := int(s.size/spillBlock) + 1
	if seen != n || reads > 3*blocks {
		t.Errorf("a pass over %d flows (%d blocks) read the file %d times", seen, blocks, reads)
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // At, one by one, as before
		j := r.IntN(n)
		if f := list.At(j); f.Index != j || f.Findings[0].Message != flows[j].Findings[0].Message {
			t.Fatalf("At(%d) (try %d) is flow %d", j, i, f.Index)
		}
	}
	list.Close()
}

// TestFlowsText checks that a Result stores its flagged flows without
// their findings' text and writes it as they are decoded, by At, All and
// Find and before edits run; that WithoutText decodes the same flows
// without it, and FillText then writes the same; and that the text is
// what the Analyzer writes for the finding, in memory and past the
// spill.
func TestFlowsText(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	lab, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.pcap"))
	segs := spreadSegments(t, append(paths, lab...), 20) // enough flagged flows to spill
	var spill *os.File
	a := New(Config{Idle: 5 * time.Second, Spill: func() (SpillFile, error) {
		f, err := os.CreateTemp(t.TempDir(), "spill")
		spill = f
		return f, err
	}})
	for i := range segs {
		a.Add(&segs[i])
	}
	res := a.Finish(time.Time{})
	defer res.Flows.Close()
	if spill == nil {
		t.Fatal("the flows did not spill")
	}
	stored, err := os.ReadFile(spill.Name())
	if err != nil {
		t.Fatal(err)
	}
	stored = append(stored, res.Flows.store.mem...)

	bare := listOf(res.Flows.WithoutText())
	var edited []string
	withText := listOf(res.Flows.Edit(func(f *Flow) {
		for _, fd := range f.Findings {
			edited = append(edited, fd.Message)
		}
	}))
	if len(bare) != len(withText) || len(bare) != res.Flows.Len() {
		t.Fatalf("%d flows without text, %d with, want %d", len(bare), len(withText), res.Flows.Len())
	}
	findings := 0
	for i := range withText {
		f, b := &withText[i], &bare[i]
		if diff := cmp.Diff(f.Findings, b.Findings, addrsEqual, cmpopts.IgnoreFields(Finding{}, "Message", "Fix")); diff != "" {
			t.Fatalf("flow %d: the facts differ with and without text:\n%s", f.Index, diff)
		}
		for k := range f.Findings {
			fd, bd := &f.Findings[k], &b.Findings[k]
			findings++
			if bd.Message != "" || bd.Fix != "" {
				t.Errorf("flow %d: WithoutText decoded the text %q", f.Index, bd.Message)
			}
			var buf []byte
			want := &Finding{}
			*want = *bd
			if msg, fix := a.message(want, f.Client, f.Server, &buf), a.fix(want); fd.Message != msg || fd.Fix != fix || msg == "" {
				t.Errorf("flow %d finding %d: text %q / %q, want %q / %q", f.Index, k, fd.Message, fd.Fix, msg, fix)
			}
			res.Flows.FillText(b, bd)
			if bd.Message != fd.Message || bd.Fix != fd.Fix {
				t.Errorf("flow %d finding %d: FillText wrote %q / %q, decoding %q / %q", f.Index, k, bd.Message, bd.Fix, fd.Message, fd.Fix)
			}
			if bytes.Contains(stored, []byte(fd.Message)) {
				t.Errorf("flow %d: the stored flows hold the message %q", f.Index, fd.Message)
			}
		}
		if at := res.Flows.At(i); cmp.Diff(*f, at, addrsEqual) != "" {
			t.Errorf("flow %d: At differs from All", f.Index)
		}
		if found, _ := res.Flows.Find(f.Index); cmp.Diff(*f, found, addrsEqual) != "" {
			t.Errorf("flow %d: Find differs from All", f.Index)
		}
	}
	if findings < 100 || len(edited) != findings || slices.Contains(edited, "") {
		t.Errorf("%d findings, %d messages seen by the edit (some empty: %v); want over 100, all with text", findings, len(edited), slices.Contains(edited, ""))
	}
}

// TestFindingKeys checks that FindingKeys gives, without decoding, the
// keys of the findings the list's flows decode with: for a Result past its
// spill, a filtered list of it, and a list of made-up flows with every
// field at random (zero times among them).
func TestFindingKeys(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	a := New(Config{Idle: 5 * time.Second, Spill: func() (SpillFile, error) { return os.CreateTemp(t.TempDir(), "spill") }})
	segs := spreadSegments(t, paths, 20)
	for i := range segs {
		a.Add(&segs[i])
	}
	res := a.Finish(time.Time{})
	defer res.Flows.Close()
	r := rand.New(rand.NewPCG(3, 4))
	var made []Flow
	for i := range 3000 { // more keys than a chunk holds
		var f Flow
		fill(r, reflect.ValueOf(&f).Elem())
		f.Index = i
		made = append(made, f)
	}
	lists := map[string]Flows{
		"result":   res.Flows,
		"filtered": res.Flows.Filter(func(f *Flow) bool { return f.Index%3 != 0 }),
		"made":     FlowsOf(made...),
	}
	for name, fs := range lists {
		var want []FindingKey
		for pos, f := range fs.All() {
			for n, fd := range f.Findings {
				want = append(want, FindingKey{pos, n, f.Index, fd.Severity, fd.At, fd.Kind, fd.Gap})
			}
		}
		got := slices.Collect(fs.FindingKeys())
		if len(want) < 50 {
			t.Fatalf("%s: %d findings, want more", name, len(want))
		}
		t.Logf("%s: %d findings", name, len(want))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: FindingKeys (-decoded +got):\n%s", name, diff)
		}
	}
}

// TestFlowsSome checks that Some yields the flows at the positions asked,
// in the order asked (repeats among them), as At decodes them, past the
// spill.
func TestFlowsSome(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	a := New(Config{KeepAll: true, Spill: func() (SpillFile, error) { return os.CreateTemp(t.TempDir(), "spill") }})
	segs := spreadSegments(t, paths, 20)
	for i := range segs {
		a.Add(&segs[i])
	}
	fs := a.Finish(time.Time{}).Flows
	defer fs.Close()
	if fs.store.file == nil || fs.Len() < 10 {
		t.Fatalf("%d flows, spilled %v; want more, spilled", fs.Len(), fs.store.file != nil)
	}
	positions := []int{fs.Len() - 1, 0, 3, 3, fs.Len() / 2, 1}
	var got []int
	for pos, f := range fs.Some(positions) {
		got = append(got, pos)
		if diff := cmp.Diff(fs.At(pos), *f, addrsEqual); diff != "" {
			t.Errorf("position %d (-At +Some):\n%s", pos, diff)
		}
	}
	if !slices.Equal(got, positions) {
		t.Errorf("Some yielded positions %v, want %v", got, positions)
	}
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestFlowsSorted checks the order sorted gives, placed by counts or
// sorted, against a stable sort of the records by index: indices dense
// and sparse, unique and repeated (FlowsOf may be given any), none.
func TestFlowsSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range []struct {
		name   string
		n      int
		spread uint32 // indices are drawn from [0, spread)
	}{
		{"none", 0, 1},
		{"one", 1, 1},
		{"dense", 5000, 5000},
		{"dense, repeated", 5000, 700},
		{"a few of many", 3000, 1 << 20},
		{"sparse", 200, 1 << 31},
	} {
		s := &flowStore{}
		for range tt.n {
			s.recs = append(s.recs, flowRec{index: rng.Uint32N(tt.spread)})
		}
		want := make([]int32, tt.n)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(x, y int32) int { return int(int64(s.recs[x].index) - int64(s.recs[y].index)) })
		if diff := cmp.Diff(want, s.sorted()); diff != "" {
			t.Errorf("%s: order (-stable sort +sorted):\n%s", tt.name, diff)
		}
	}
}
