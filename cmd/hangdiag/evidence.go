package main

// Evidence a support engineer can attach: the packets of flagged flows in a
// small capture file, the timelines of those flows for the reports that
// draw them, and the anonymization of both.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/internal/anon"
	"github.com/hangdiag/hangdiag/pcapio"
	"github.com/hangdiag/hangdiag/report"
)

// maxTimeline bounds the packets kept in one flow's timeline: the first
// half and the last half of them; the packets between are left out.
// timelineBudget bounds them in all the timelines of a report together,
// so that the memory they take does not grow with the flagged flows: each
// of n flows keeps at most timelineBudget/n, and at least minTimeline.
const (
	maxTimeline    = 10000
	timelineBudget = 200000
	minTimeline    = 100
)

// timelineCap is the most packets each of n timelines keeps.
func timelineCap(n int) int {
	return max(minTimeline, min(maxTimeline, timelineBudget/max(n, 1)))
}

// evidenceOptions holds the flags for evidence files and anonymization.
type evidenceOptions struct {
	path        string // --write-flagged
	keepPayload bool
	anonymize   bool
	key         string // --anonymize-key; implies anonymize
}

func (e *evidenceOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&e.path, "write-flagged", "", "write the packets of flows with findings to this capture file, headers only: it analyses the same, and is small enough to attach (pcap; pcapng when they come from several interfaces)")
	fs.BoolVar(&e.keepPayload, "keep-payload", false, "keep TCP payloads in the --write-flagged file (they may hold tokens and personal data)")
	fs.BoolVar(&e.anonymize, "anonymize", false, "replace IP addresses in the report and the --write-flagged file by stand-ins, the same for each address and keeping shared prefixes; ports are kept, MAC addresses and payloads are not changed, and IP and TCP checksums in the file are left wrong")
	fs.StringVar(&e.key, "anonymize-key", "", "key for --anonymize, which it implies: the same key gives the same stand-ins in every run (default: a random key per run)")
}

// needsTimelines reports whether a report format draws the timelines of
// flagged flows, so that the analysis must trace them in a second pass.
func needsTimelines(format string) bool {
	return format == "html" || format == "markdown"
}

// analyze runs the analysis of paths, as analyzeFiles does, and then, when
// evidence or timelines are wanted, a second pass that traces the flagged
// flows; last it anonymizes the report if asked. Notes go to stderr.
func (e *evidenceOptions) analyze(ctx context.Context, paths []string, cfg analyze.Config, end time.Time, format string, stderr io.Writer) (rep *report.Report, err error) {
	if e.key != "" {
		e.anonymize = true
	}
	if e.keepPayload && e.path == "" {
		return nil, usagef("--keep-payload needs --write-flagged")
	}
	var out *os.File
	if e.path != "" {
		if out, err = os.Create(e.path); err != nil {
			return nil, fmt.Errorf("--write-flagged: %w", err)
		}
		defer func() {
			if err != nil {
				out.Close()
				// A part-written capture goes; a device or a pipe named
				// as the output (/dev/null, a FIFO) stays.
				if st, serr := os.Stat(e.path); serr == nil && st.Mode().IsRegular() {
					os.Remove(e.path)
				}
			}
		}()
	}
	var mapper *anon.Mapper
	if e.anonymize {
		key := []byte(e.key)
		if len(key) == 0 {
			key = make([]byte, 32)
			rand.Read(key) // never fails
		}
		mapper = anon.New(key)
	}

	second := out != nil || needsTimelines(format)
	if second && slices.Contains(paths, "-") {
		var tmp string
		if paths, tmp, err = spoolStdin(paths); err != nil {
			return nil, err
		}
		defer func() {
			os.Remove(tmp)
			err = unspool(rep, err, tmp)
		}()
	}
	if rep, err = analyzeFiles(ctx, paths, cfg, end); err != nil {
		return nil, err
	}
	// The reading's chunks and batches and the flow table are garbage now.
	// Collected before the report is written (1 to 2 ms), they leave their
	// memory to its text, which otherwise grows the heap past the
	// analysis' peak by up to 4 MB, by how the collections happen to fall.
	runtime.GC()
	if second {
		if err := e.trace(ctx, paths, cfg, rep, needsTimelines(format), out, mapper, stderr); err != nil {
			return nil, err
		}
	}
	if mapper != nil {
		anonymizeResult(rep.Result, mapper)
	}
	return rep, nil
}

// trace runs the second pass over paths: when drawn is set, it sets
// rep.Timelines to the packets of the flows the report lists and, when
// out is not nil, writes the packets of every flagged flow to out as
// evidence and closes it.
func (e *evidenceOptions) trace(ctx context.Context, paths []string, cfg analyze.Config, rep *report.Report, drawn bool, out *os.File, mapper *anon.Mapper, stderr io.Writer) error {
	timelined := map[int]bool{}
	if drawn {
		timelined = rep.ListedFlows()
	}
	traced := timelined
	if out != nil {
		traced = make(map[int]bool)
		for k := range rep.Result.Flows.FindingKeys() {
			traced[k.Index] = true
		}
	}
	var ev *evidence
	if out != nil {
		var err error
		if ev, err = newEvidence(!e.keepPayload, mapper); err != nil {
			return err
		}
		defer ev.close()
	}
	tl, err := secondPass(ctx, paths, cfg, rep.Result, traced, timelined, timelineCap(len(timelined)), ev, stderr)
	if err != nil {
		return err
	}
	if drawn {
		rep.Timelines = tl
	}
	if out == nil {
		return nil
	}
	link := uint16(pcapio.LinkEthernet) // for a file with no packets
	if len(rep.Capture.Links) > 0 {
		link = rep.Capture.Links[0].LinkType
	}
	if err := ev.writeTo(out, link); err != nil {
		return writeError(e.path, err)
	}
	if err := out.Close(); err != nil {
		return writeError(e.path, err)
	}
	ev.adviseEnd(stderr, e.path, rep.Result)
	return nil
}

// spoolStdin copies standard input to a temporary file, so that it can be
// read twice, and returns paths with "-" replaced by the file's name, and
// that name.
func spoolStdin(paths []string) ([]string, string, error) {
	f, err := os.CreateTemp("", "hangdiag-stdin-*")
	if err != nil {
		return nil, "", fmt.Errorf("copy standard input: %w", err)
	}
	_, err = io.Copy(f, os.Stdin)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, "", fmt.Errorf("copy standard input: %w", err)
	}
	paths = slices.Clone(paths)
	for i, p := range paths {
		if p == "-" {
			paths[i] = f.Name()
		}
	}
	return paths, f.Name(), nil
}

// unspool names standard input "-" again, where spoolStdin's file name tmp
// appears in the report or in err, and returns err.
func unspool(rep *report.Report, err error, tmp string) error {
	if rep != nil {
		for i := range rep.Files {
			if rep.Files[i].Name == tmp {
				rep.Files[i].Name = "-"
			}
		}
	}
	if err != nil && strings.Contains(err.Error(), tmp) {
		return errors.New(strings.ReplaceAll(err.Error(), tmp, "-"))
	}
	return err
}

// secondPass reads paths again to trace the flows of res in traced: the
// packets of those in timelined go to the timelines it returns, at most
// keep of each, and, when ev is not nil, every packet of every one to the
// evidence. It takes subsetPass when the flows are few enough and the
// first pass evicted none, and tracePass otherwise, or when subsetPass
// turns them down.
func secondPass(ctx context.Context, paths []string, cfg analyze.Config, res *analyze.Result, traced, timelined map[int]bool, keep int, ev *evidence, stderr io.Writer) (*timelines, error) {
	if len(traced) == 0 {
		return &timelines{}, nil
	}
	ctx = progressLabel(ctx, "pass 2") // a bar filling again from nothing says why
	var tls *timelines
	ok := false
	var err error
	if res.Stats.Evicted == 0 && len(traced) <= res.Stats.Flows/subsetShare {
		tls, ok, err = subsetPass(ctx, paths, cfg, res, traced, timelined, keep, ev)
	}
	if !ok && err == nil {
		tls, err = tracePass(ctx, paths, cfg, traced, timelined, keep, ev)
	}
	if err != nil {
		return nil, err
	}
	noteShortened(stderr, tls.flows) // once the pass has cleared its progress bar
	return tls, nil
}

// tracer gathers what a second pass traces: the timelines of the flows
// in timelined, at most keep packets each, and, when ev is not nil, every
// packet traced in the evidence.
type tracer struct {
	timelined map[int]bool
	keep      int
	ev        *evidence
	tls       *timelines
	src       *pcapio.Source // while run reads, for the evidence's raw packets
	seg       pcapio.Segment // while run reads, the segment being analysed
}

func newTracer(timelined map[int]bool, keep int, ev *evidence) *tracer {
	return &tracer{timelined: timelined, keep: keep, ev: ev, tls: &timelines{flows: make(map[int]*timeline, len(timelined))}}
}

// add takes a packet traced for the report's flow index.
func (t *tracer) add(index int, p *analyze.Packet) {
	tl := t.tls.flows[index]
	if tl == nil && t.timelined[index] {
		tl = &timeline{half: t.keep / 2}
		t.tls.flows[index] = tl
	}
	if tl != nil {
		tl.add(t.tls.pack(p))
	}
	if t.ev != nil {
		raw, _ := t.src.Raw()
		t.ev.add(raw)
	}
}

// run reads paths again and analyses with cfg, for its Trace alone, the
// segments feed takes (every one when feed is nil).
func (t *tracer) run(ctx context.Context, paths []string, cfg analyze.Config, feed func(*pcapio.Segment) bool) error {
	src, err := pcapio.Open(paths...)
	if err != nil {
		return err
	}
	defer src.Close()
	defer startProgress(ctx, src)()
	t.src = src
	cfg.TraceOnly = true
	a := analyze.New(cfg)
	for n := 0; src.Next(&t.seg); n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if feed == nil || feed(&t.seg) {
			a.Add(&t.seg)
		}
	}
	if t.ev != nil {
		return t.ev.err
	}
	return nil
}

// tracePass reads paths again with the analyzer tracing the flows in
// flagged: their packets go, when ev is not nil, to the evidence, and
// those of the flows in timelined to the timelines it returns, at most
// keep of each.
func tracePass(ctx context.Context, paths []string, cfg analyze.Config, flagged, timelined map[int]bool, keep int, ev *evidence) (*timelines, error) {
	t := newTracer(timelined, keep, ev)
	cfg.TraceFlows = flagged
	cfg.Trace = func(i int, p analyze.Packet) { t.add(i, &p) }
	if err := t.run(ctx, paths, cfg, nil); err != nil {
		return nil, err
	}
	return t.tls, nil
}

// subsetShare is the largest share of a capture's flows, as a fraction
// 1/subsetShare, that subsetPass traces rather than tracePass: it keeps
// about 400 bytes for each flow it traces, and analyses their packets one
// at a time. A third of the million flows of the benchmark's flagged
// capture took it 9.8 s and 275 MB, against tracePass's 7.4 s and 154 MB;
// the GiB's 915 of 30,000 took 0.73 s against 1.10.
const subsetShare = 8

// subsetPass is the second pass for a few of a capture's flows, as
// tracePass does it but in less time and memory: where tracePass analyses
// every packet again, it analyses only those of the traced flows'
// connections (address and port pairs), in an analyzer of their own.
// That analyzer numbers its flows apart, so each is known by its
// connection and its first packet's time, and it must cut the packets of
// a connection into the same flows as the first pass: it does, but when
// the first pass parted with a closed flow at a time its other flows set
// (a sweep, every 4,096 packets), and a late packet of the connection came
// after it. So each traced flow is checked against res: the same last
// packet time and the same number of packets. It returns false, with no
// timelines and no packets left in ev, when one is not the same, when one
// is not found, or when two flows share a connection and a first time,
// for the caller to trace in a full pass.
func subsetPass(ctx context.Context, paths []string, cfg analyze.Config, res *analyze.Result, traced, timelined map[int]bool, keep int, ev *evidence) (*timelines, bool, error) {
	type start struct {
		conn  pcapio.FlowKey
		first int64
	}
	// tally is what a flow's packets come to.
	type tally struct {
		index   int    // the flow's in the report
		packets uint64 // duplicates left out, as Flow.Packets counts
		last    int64  // the last packet's time
	}
	// The connections by their hash, which every segment carries: a
	// segment of another connection whose hash is the same is analysed
	// too, and its flows match no start.
	conns := map[uint64]bool{}
	starts := map[start]tally{} // the report's
	var key pcapio.Segment
	for _, f := range res.Flows.WithoutText().All() {
		if !traced[f.Index] {
			continue
		}
		key.SetAddrs(f.Client, f.Server)
		st := start{key.Flow, f.First.UnixNano()}
		if _, twice := starts[st]; twice {
			return nil, false, nil
		}
		conns[key.Hash] = true
		starts[st] = tally{f.Index, f.Packets, f.Last.UnixNano()}
	}
	if len(starts) != len(traced) { // a flow res does not hold
		return nil, false, nil
	}

	t := newTracer(timelined, keep, ev)
	found := map[int]*[2]tally{} // by the pass' own flow numbers: the report's and the pass'; nil for a flow traced for none
	cfg.TraceAll, cfg.TraceFlows = true, nil
	cfg.Trace = func(i int, p analyze.Packet) {
		c, seen := found[i]
		if !seen {
			st := start{t.seg.Flow, p.Time.UnixNano()}
			if w, ok := starts[st]; ok {
				delete(starts, st) // one flow each
				c = &[2]tally{w, {index: w.index}}
			}
			found[i] = c
		}
		if c == nil {
			return
		}
		t.add(c[0].index, &p)
		if p.Kind != analyze.PacketDuplicate {
			c[1].packets++
			c[1].last = p.Time.UnixNano()
		}
	}
	if err := t.run(ctx, paths, cfg, func(seg *pcapio.Segment) bool { return conns[seg.Hash] }); err != nil {
		return nil, false, err
	}
	same := len(starts) == 0 // every traced flow found
	for _, c := range found {
		if c != nil && c[0] != c[1] {
			same = false
		}
	}
	if !same {
		if ev != nil {
			return nil, false, ev.reset()
		}
		return nil, false, nil
	}
	return t.tls, true, nil
}

// shortenedNotes is the most timelines noteShortened names one by one.
const shortenedNotes = 3

// noteShortened says on w which timelines left packets out: the first
// few by flow, one line each, then how many more did and how many
// packets all of them left out.
func noteShortened(w io.Writer, timelines map[int]*timeline) {
	short, dropped := 0, 0
	for _, i := range slices.Sorted(maps.Keys(timelines)) {
		tl := timelines[i]
		if tl.dropped == 0 {
			continue
		}
		if short++; short <= shortenedNotes {
			fmt.Fprintf(w, "hangdiag: note: timeline of flow %d shortened to its first %d and last %d packets; %d packets in between left out\n",
				i, tl.half, tl.half, tl.dropped)
		}
		dropped += tl.dropped
	}
	if short > shortenedNotes {
		more := "timelines were"
		if short-shortenedNotes == 1 {
			more = "timeline was"
		}
		fmt.Fprintf(w, "hangdiag: note: %d more %s shortened as well; the %d shortened timelines left out %d packets in all\n",
			short-shortenedNotes, more, short, dropped)
	}
}

// timelines holds the timelines a second pass traced, as report.Timelines
// gives them. A report's timelines keep up to timelineBudget packets, 19
// MB as analyze.Packet values, which the collector would scan; they are
// kept as tracedPacket values instead, 8 MB it has nothing to scan, and
// made into packets one flow at a time as the report asks for them.
type timelines struct {
	flows map[int]*timeline
	kinds []analyze.PacketKind // the kinds the packets name, by tracedPacket.kind
}

// tracedPacket is an analyze.Packet as a timeline keeps it: its kind by
// index, its time in nanoseconds, and its words left out, since those of
// a traced packet are its kind's (analyze's Trace says so).
type tracedPacket struct {
	nanos         int64
	frame         uint64
	file          int32
	len, seq, ack uint32
	ttl, flags    uint8
	side          analyze.Side
	kind          uint8
}

// pack makes p a tracedPacket.
func (tls *timelines) pack(p *analyze.Packet) tracedPacket {
	kind := slices.Index(tls.kinds, p.Kind)
	if kind < 0 {
		kind = len(tls.kinds)
		tls.kinds = append(tls.kinds, p.Kind) // analyze's ten PacketKinds at most
	}
	return tracedPacket{nanos: p.Time.UnixNano(), frame: p.Frame, file: int32(p.File), len: p.Len, seq: p.Seq, ack: p.Ack,
		ttl: p.TTL, flags: p.Flags, side: p.Side, kind: uint8(kind)}
}

// Packets returns the packets of flow's timeline, in order; nil when it
// has none.
func (tls *timelines) Packets(flow int) []analyze.Packet {
	tl := tls.flows[flow]
	if tl == nil {
		return nil
	}
	pkts := make([]analyze.Packet, 0, len(tl.kept))
	for t := range tl.inOrder() {
		kind := tls.kinds[t.kind]
		pkts = append(pkts, analyze.Packet{
			PacketRef: analyze.PacketRef{File: int(t.file), Frame: t.frame, Time: time.Unix(0, t.nanos).UTC(), Side: t.side, Kind: kind, What: string(kind)},
			Len:       t.len, Seq: t.seq, Ack: t.ack, TTL: t.ttl, Flags: t.flags,
		})
	}
	return pkts
}

// timeline collects one flow's packets: the first half in full, then the
// latest half in a ring after them.
type timeline struct {
	half    int            // the packets kept at each end
	kept    []tracedPacket // the first half, then the ring
	next    int            // in a full ring, the place of its oldest packet
	dropped int            // packets left out
}

func (t *timeline) add(p tracedPacket) {
	switch {
	case len(t.kept) < 2*t.half:
		t.kept = append(t.kept, p)
		return
	case t.half == 0:
		t.dropped++
		return
	}
	t.kept[t.half+t.next] = p
	t.next = (t.next + 1) % t.half
	t.dropped++
}

// inOrder returns the packets kept, in order.
func (t *timeline) inOrder() iter.Seq[tracedPacket] {
	return func(yield func(tracedPacket) bool) {
		first := min(t.half, len(t.kept))
		ring := t.kept[first:]
		for _, part := range [][]tracedPacket{t.kept[:first], ring[t.next:], ring[:t.next]} {
			for _, p := range part {
				if !yield(p) {
					return
				}
			}
		}
	}
}

// evidence gathers the packets of flagged flows, cut and anonymized, in a
// temporary spool file, since the capture format to write depends on the
// interfaces of all of them; writeTo then writes the capture file.
type evidence struct {
	headersOnly bool
	anon        *anon.Mapper // nil: addresses kept
	spool       *os.File
	w           *bufio.Writer
	ifaces      []evidenceIface // in order of first appearance
	last        int64           // time of the latest packet
	buf         []byte
	err         error // first error met in add
}

// evidenceIface is one interface of an evidence file: a link type and the
// interface of the capture read. Keeping the captured interfaces apart keeps
// two copies of one packet taken on two of them apart from a
// retransmission.
type evidenceIface struct {
	link uint16
	orig uint32
}

// spoolHeader is the size of a spooled record's header: time, evidence
// interface, wire length, captured length.
const spoolHeader = 8 + 4 + 4 + 4

func newEvidence(headersOnly bool, m *anon.Mapper) (*evidence, error) {
	f, err := os.CreateTemp("", "hangdiag-evidence-*")
	if err != nil {
		return nil, fmt.Errorf("--write-flagged: %w", err)
	}
	return &evidence{headersOnly: headersOnly, anon: m, spool: f, w: bufio.NewWriter(f)}, nil
}

// add spools one packet. Its data is copied.
func (ev *evidence) add(r pcapio.Raw) {
	if ev.err != nil {
		return
	}
	_, payload, ok := pcapio.Offsets(r.LinkType, r.Data, r.WireLen)
	if !ok {
		ev.err = fmt.Errorf("packet at %v: no TCP headers found", time.Unix(0, r.Nanos).UTC())
		return
	}
	data := r.Data
	if ev.headersOnly {
		data = data[:payload]
	}
	ifc := slices.Index(ev.ifaces, evidenceIface{r.LinkType, r.Interface})
	if ifc < 0 {
		ifc = len(ev.ifaces)
		ev.ifaces = append(ev.ifaces, evidenceIface{r.LinkType, r.Interface})
	}
	b := binary.LittleEndian.AppendUint64(ev.buf[:0], uint64(r.Nanos))
	b = binary.LittleEndian.AppendUint32(b, uint32(ifc))
	b = binary.LittleEndian.AppendUint32(b, max(r.WireLen, uint32(len(r.Data))))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	if ev.anon != nil {
		pcapio.MapAddrs(r.LinkType, b[spoolHeader:], r.WireLen, ev.anon.Addr)
	}
	ev.buf = b
	ev.last = max(ev.last, r.Nanos)
	if _, err := ev.w.Write(b); err != nil {
		ev.err = fmt.Errorf("spool evidence: %w", err)
	}
}

// reset forgets the packets spooled so far.
func (ev *evidence) reset() error {
	ev.w.Reset(ev.spool)
	ev.ifaces, ev.last, ev.err = nil, 0, nil
	if err := ev.spool.Truncate(0); err != nil {
		return fmt.Errorf("spool evidence: %w", err)
	}
	if _, err := ev.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool evidence: %w", err)
	}
	return nil
}

// writeTo writes the spooled packets to out as a capture file: classic
// pcap when they came from one interface, pcapng with one interface for
// each link type and interface read otherwise. A file with no packets gets
// the link type fallback.
func (ev *evidence) writeTo(out io.Writer, fallback uint16) error {
	links := []uint16{fallback}
	if len(ev.ifaces) > 0 {
		links = links[:0]
		for _, ifc := range ev.ifaces {
			links = append(links, ifc.link)
		}
	}
	if err := ev.w.Flush(); err != nil {
		return fmt.Errorf("spool evidence: %w", err)
	}
	if _, err := ev.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool evidence: %w", err)
	}
	w, err := pcapio.NewWriter(out, links...)
	if err != nil {
		return err
	}
	r := bufio.NewReader(ev.spool)
	var h [spoolHeader]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("read evidence spool: %w", err)
		}
		p := pcapio.Raw{
			Nanos:     int64(binary.LittleEndian.Uint64(h[0:8])),
			Interface: binary.LittleEndian.Uint32(h[8:12]),
			WireLen:   binary.LittleEndian.Uint32(h[12:16]),
		}
		p.LinkType = links[p.Interface]
		n := int(binary.LittleEndian.Uint32(h[16:20]))
		ev.buf = slices.Grow(ev.buf[:0], n)
		p.Data = ev.buf[:n]
		if _, err := io.ReadFull(r, p.Data); err != nil {
			return fmt.Errorf("read evidence spool: %w", err)
		}
		if err := w.WritePacket(p); err != nil {
			return err
		}
	}
	return w.Flush()
}

// adviseEnd tells, when a flagged flow was still open at the capture end
// and the capture ran on past the evidence's last packet, the
// --capture-end with which the evidence analyses the same.
func (ev *evidence) adviseEnd(w io.Writer, path string, r *analyze.Result) {
	if ev.last == 0 || !r.CaptureEnd.After(time.Unix(0, ev.last)) {
		return
	}
	open := false
	for _, f := range r.Flows.WithoutText().All() {
		if open = len(f.Findings) > 0 && f.State == analyze.Open; open {
			break
		}
	}
	if !open {
		return
	}
	fmt.Fprintf(w, "hangdiag: note: the capture ran on %s past the last packet in %s; analyze it with --capture-end %s to judge its open flows the same\n",
		r.CaptureEnd.Sub(time.Unix(0, ev.last)).Round(time.Millisecond), path, r.CaptureEnd.Format(time.RFC3339Nano))
}

// close removes the spool file.
func (ev *evidence) close() {
	ev.spool.Close()
	os.Remove(ev.spool.Name())
}

// anonymizeResult replaces the addresses of every flow of r by m's
// stand-ins: the Client and Server fields, and their text in finding
// messages, fixes, reset reasons and packet descriptions. Ports are kept.
// Flows are anonymized as they are read from r.
func anonymizeResult(r *analyze.Result, m *anon.Mapper) {
	r.Flows = r.Flows.Edit(func(f *analyze.Flow) {
		c, s := m.AddrPort(f.Client), m.AddrPort(f.Server)
		// Address-and-port forms first, then bare addresses, longest
		// first, so that no address is replaced inside a longer one.
		pairs := []string{f.Client.String(), c.String(), f.Server.String(), s.String()}
		bare := [][2]string{{f.Client.Addr().String(), c.Addr().String()}, {f.Server.Addr().String(), s.Addr().String()}}
		if len(bare[1][0]) > len(bare[0][0]) {
			bare[0], bare[1] = bare[1], bare[0]
		}
		for _, b := range bare {
			pairs = append(pairs, b[0], b[1])
		}
		rp := strings.NewReplacer(pairs...)
		f.Client, f.Server = c, s
		for j := range f.Findings { // a decoded flow's findings share no evidence
			fd := &f.Findings[j]
			fd.Message, fd.Fix = rp.Replace(fd.Message), rp.Replace(fd.Fix)
			ev := &fd.Evidence
			refs := []*analyze.PacketRef{ev.GapStart, ev.GapEnd, ev.Unacked, ev.Last}
			if ri := ev.Reset; ri != nil {
				refs = append(refs, &ri.Packet, ri.TriggeredBy)
				for k := range ri.Reasons {
					ri.Reasons[k] = rp.Replace(ri.Reasons[k])
				}
			}
			for _, ref := range refs {
				if ref != nil {
					ref.What = rp.Replace(ref.What)
				}
			}
		}
	})
}
