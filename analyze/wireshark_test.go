package analyze_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
)

// wiresharkCorpus holds real captures from public repositories, described
// by MANIFEST.tsv.
const wiresharkCorpus = "../../shared/pcaps/corpus"

// tsharkTimeout bounds one tshark run.
const tsharkTimeout = 60 * time.Second

// tsharkFields are the fields asked of tshark, in this order. Expert fields
// (tcp.analysis.*, tcp.options.sack.dsack) print a non-empty value when set;
// tcp.flags.reset prints 0 or 1 (tshark 4.0) or False or True (4.2 on).
var tsharkFields = []string{
	"frame.number", "frame.time_epoch",
	"ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
	"tcp.stream", "tcp.analysis.keep_alive", "tcp.analysis.keep_alive_ack", "tcp.flags.reset",
	"tcp.analysis.zero_window_probe", "tcp.window_size_value",
	"tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.flags", "ip.id", "tcp.options.timestamp.tsval",
	"tcp.options.sack.dsack", "ip.ttl", "ipv6.hlim", "frame.interface_id", "sll.pkttype", "sll.ifindex",
	"frame.protocols", "vxlan.vni", "geneve.vni", "gre.key", "erspan.spanid", "pppoe.session_id",
}

// Indexes into a tshark output line.
const (
	fFrame = iota
	fTime
	fIPSrc
	fIP6Src
	fSrcPort
	fIPDst
	fIP6Dst
	fDstPort
	fStream
	fKeepalive
	fKeepaliveAck
	fReset
	fZeroWinProbe
	fWindow
	fSeq
	fAck
	fLen
	fFlags
	fIPID
	fTSVal
	fDSACK
	fTTL
	fHopLimit
	fInterface
	fSLLType
	fSLLIfindex
	fProtocols
	fVXLAN
	fGeneve
	fGREKey
	fERSPAN
	fPPPoE
	numFields
)

// The counts compared, as exceptions name them.
const (
	cProbes    = "probes"             // keepalive probes sent
	cProbeAcks = "keepalive ACKs"     // keepalive ACKs sent, answering the peer's probes
	cZeroWin   = "zero-window probes" // zero-window probes sent
	cResets    = "RSTs"               // RSTs sent
)

var countNames = []string{cProbes, cProbeAcks, cZeroWin, cResets}

// counts are what one side of a connection sent, by count name, summed over
// every connection that used the 4-tuple.
type counts map[string]int

// direction is one side of a connection: packets from src to dst. Both
// addresses are unmapped (an IPv4-mapped IPv6 address becomes IPv4).
type direction struct {
	src, dst netip.AddrPort
}

func (d direction) String() string { return d.src.String() + " > " + d.dst.String() }

func (d direction) reverse() direction { return direction{d.dst, d.src} }

// wiresharkException explains why hangdiag's count of one kind, for one side
// of one connection, differs from Wireshark's once the rules (see
// TestWiresharkCounts) are applied, and pins both counts: a change in either
// tool fails the test, and so does an entry no longer needed.
type wiresharkException struct {
	file      string // base name
	dir       string // "sender > receiver", as direction.String prints it, or allFlows
	count     string // cProbes, cProbeAcks, cZeroWin or cResets
	wireshark int    // tshark 4.0's count, after the rules
	hangdiag  int
	why       string
	bug       bool // hangdiag is wrong: a known bug, pinned until it is fixed
}

// allFlows in wiresharkException.dir pools, for one count, the sides of
// every connection in the file that differ and have no entry of their own.
const allFlows = "all flows"

var wiresharkExceptions = []wiresharkException{
	// Wireshark is wrong.
	{
		file: "seq-wraparound.pcap", dir: "192.0.2.30:45000 > 198.51.100.50:80", count: cProbes, wireshark: 1, hangdiag: 6,
		why: "the client's next sequence number is 0 after wrapping past 2^32 and its six 0-byte keepalives carry seq 0xffffffff, each answered; " +
			"Wireshark 4.0 marks the first (frame 10), then sets its next sequence number to 0xffffffff (its update is not wrap-safe) and calls frames 12-20 duplicate ACKs",
	},
	{
		file: "seq-wraparound.pcap", dir: "198.51.100.50:80 > 192.0.2.30:45000", count: cProbeAcks, wireshark: 1, hangdiag: 6,
		why: "the server's ACKs to the six keepalives (frames 11-21); Wireshark misses five of the probes (see the client's probes) and so their ACKs",
	},
	{
		file: "suricata-verify__transform-base64-7296__input.pcap", dir: "127.0.0.1:8080 > 127.0.0.1:57228", count: cProbes, wireshark: 2, hangdiag: 0,
		why: "fuzzed capture: frames 37-38 are plain ACKs at the server's next sequence number 321070432 (the end of its 71 bytes in frame 31) acknowledging new client data; " +
			"Wireshark took the SYN bit of frame 36, a segment with every flag set (SYN, ACK, RST, FIN, ...), as a new ISN and moved its next sequence number one past, so seq = next-1 looked like a keepalive",
	},
}

// TestWiresharkCounts compares, for each side of every connection, the
// keepalive probes, keepalive ACKs, zero-window probes and RSTs that hangdiag
// counts with the packets tshark marks tcp.analysis.keep_alive,
// tcp.analysis.keep_alive_ack, tcp.analysis.zero_window_probe and
// tcp.flags.reset, on the captures in testdata and in the shared corpus.
//
// Connections are matched by 4-tuple and each side's counts are summed over
// every connection on that 4-tuple. tshark starts a new tcp.stream on a SYN
// after a close; hangdiag starts a new flow on a SYN after a close or on a
// SYN with a new ISN once data was sent; the two need not split at the same
// packet. Summed per sender over the 4-tuple, both count the same packets
// whatever the split, at the cost of not saying which of two reused
// connections differs.
//
// Three documented differences are applied as rules to Wireshark's marks
// before comparing, packet by packet, so that each covers only the packets
// it explains (the test log lists their frames):
//
//  1. Duplicates: a packet identical to one the same sender sent in the
//     last millisecond (sequence and acknowledgement numbers, length, flags,
//     window, IP ID, timestamp value) is the same packet captured twice
//     (tcpdump -i any on a router sees it in and out) when something proves
//     it: a non-zero IPv4 ID, a lower TTL, or another interface or SLL
//     packet type. hangdiag counts it once; Wireshark marks every copy, so
//     the copies are taken off. Packets alike in every field with nothing
//     to prove them copies are counted as Wireshark counts them.
//  2. Zero-window probes: a packet Wireshark marks as a keepalive while the
//     receiver's last advertised window was 0 is a Linux zero-window probe,
//     byte-identical to a keepalive (REFERENCE.md §5.2). It is moved to the
//     zero-window-probe count.
//  3. A capture that opens with a keepalive: Wireshark takes the next
//     sequence number from the sender's own first segment, a keepalive at
//     next-1, so it is one short. It marks neither that probe, nor the
//     sender's later probes at the same seq, nor the ACKs answering them,
//     nor the sender's ACKs to the peer's keepalives (they start one past
//     its next sequence number), until the sender sends new data.
//     hangdiag learns the next sequence number from the peer's ACK. The
//     test counts what Wireshark's rules would mark with the corrected
//     number: a first segment of 0 bytes, or 1 byte answered with a D-SACK,
//     whose answer acknowledges seq+1; then probes at one below, and
//     answers at, the number the peer acknowledges.
//
// Any other difference fails unless wiresharkExceptions names it.
func TestWiresharkCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark on some 200 captures (30-60 s on 2 cores); skipped in -short mode")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	c := &wiresharkCheck{
		tshark:   tshark,
		sem:      make(chan struct{}, 2),
		compared: map[string]bool{},
		used:     map[wiresharkException]bool{},
		rules:    map[string]int{},
		totals:   counts{},
	}

	t.Run("testdata", func(t *testing.T) {
		var files []string
		for _, pattern := range []string{"*.pcap", "*.pcapng", "*.pcap.gz", "lab/*.pcap"} {
			files = append(files, globCaptures(t, filepath.Join("..", "testdata", "pcaps", pattern))...)
		}
		c.run(t, files)
	})
	t.Run("corpus", func(t *testing.T) {
		files, err := corpusTCPFiles(wiresharkCorpus)
		if err != nil {
			t.Skipf("no corpus: %v", err)
		}
		c.run(t, files)
	})

	for _, e := range wiresharkExceptions {
		if c.compared[e.file] && !c.used[e] {
			t.Errorf("%s: the exception for %s %s (Wireshark %d, hangdiag %d) is not needed any more; remove it", e.file, e.dir, e.count, e.wireshark, e.hangdiag)
		}
	}
	t.Logf("compared %d files: %d connections (4-tuples), %d hangdiag flows, %d tshark streams; hangdiag counts %v",
		len(c.compared), c.conns, c.flows, c.streams, c.totals)
	for _, r := range slices.Sorted(mapKeys(c.rules)) {
		t.Logf("rule applied to %d packets: %s", c.rules[r], r)
	}
}

// wiresharkCheck is the state shared by the per-file subtests.
type wiresharkCheck struct {
	tshark string
	sem    chan struct{} // limits the files compared at once

	mu                    sync.Mutex
	compared              map[string]bool // base names of the files compared
	used                  map[wiresharkException]bool
	rules                 map[string]int // packets each rule moved
	conns, flows, streams int
	totals                counts // hangdiag's, over every file
}

func (c *wiresharkCheck) run(t *testing.T, files []string) {
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			c.sem <- struct{}{}
			defer func() { <-c.sem }()
			c.compareFile(t, path)
		})
	}
}

// globCaptures returns the files matching pattern and fails when there are
// none: a test over no files proves nothing.
func globCaptures(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

// corpusTCPFiles lists the corpus files MANIFEST.tsv describes as pcap or
// pcapng (gzipped or not) with TCP packets in them.
func corpusTCPFiles(dir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	header := strings.Split(lines[0], "\t")
	fileCol, formatCol, tcpCol := slices.Index(header, "file"), slices.Index(header, "file_format"), slices.Index(header, "tcp_packets")
	if fileCol < 0 || formatCol < 0 || tcpCol < 0 {
		return nil, fmt.Errorf("%s/MANIFEST.tsv lacks a file, file_format or tcp_packets column", dir)
	}
	var files []string
	for _, line := range lines[1:] {
		row := strings.Split(line, "\t")
		if len(row) <= max(fileCol, formatCol, tcpCol) {
			continue
		}
		// "pcap little-endian ...", "pcapng ...", "pcap-modified(Kuznetzov) ...",
		// "zstd zstd-compressed" (which both read); not "snoop ...",
		// "unknown:...".
		format := strings.Fields(row[formatCol])
		if len(format) == 0 || !strings.HasPrefix(format[0], "pcap") && format[0] != "zstd" || row[tcpCol] == "0" {
			continue
		}
		files = append(files, filepath.Join(dir, row[fileCol]))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s/MANIFEST.tsv lists no TCP capture", dir)
	}
	return files, nil
}

func (c *wiresharkCheck) compareFile(t *testing.T, path string) {
	name := filepath.Base(path)
	hd, flows := hangdiagCounts(t, path)
	ws, streams, notes := c.tsharkCounts(t, path)
	for _, n := range notes {
		t.Logf("%s: frames %s", n.key, strings.Join(n.frames, ","))
	}

	dirs := make([]direction, 0, len(hd)+len(ws))
	for d := range hd {
		dirs = append(dirs, d)
	}
	for d := range ws {
		if _, ok := hd[d]; !ok {
			dirs = append(dirs, d)
		}
	}
	slices.SortFunc(dirs, func(a, b direction) int {
		if n := a.src.Compare(b.src); n != 0 {
			return n
		}
		return a.dst.Compare(b.dst)
	})

	c.mu.Lock()
	defer c.mu.Unlock()
	c.compared[name] = true
	c.flows += flows
	c.streams += streams
	check := func(what, cn string, e wiresharkException, found bool, wn, hn int) {
		t.Helper()
		switch {
		case found && e.wireshark == wn && e.hangdiag == hn:
			c.used[e] = true
			if e.bug {
				t.Logf("%s %s: Wireshark %d, hangdiag %d: KNOWN HANGDIAG BUG: %s", what, cn, wn, hn, e.why)
			} else {
				t.Logf("%s %s: Wireshark %d, hangdiag %d: %s", what, cn, wn, hn, e.why)
			}
		case found:
			t.Errorf("%s %s: Wireshark %d, hangdiag %d; the exception says Wireshark %d, hangdiag %d (%s)", what, cn, wn, hn, e.wireshark, e.hangdiag, e.why)
		case hn != wn:
			t.Errorf("%s %s: Wireshark %d, hangdiag %d", what, cn, wn, hn)
		}
	}
	// Differences an "all flows" entry explains are pooled, per count.
	pooled := map[string][2]int{}
	for _, d := range dirs {
		if d.src.Compare(d.dst) < 0 || (hd[d.reverse()] == nil && ws[d.reverse()] == nil) {
			c.conns++
		}
		for _, cn := range countNames {
			hn, wn := hd[d][cn], ws[d][cn]
			c.totals[cn] += hn
			e, found := findException(name, d.String(), cn)
			if _, all := findException(name, allFlows, cn); all && !found && hn != wn {
				p := pooled[cn]
				pooled[cn] = [2]int{p[0] + wn, p[1] + hn}
				continue
			}
			check(d.String(), cn, e, found, wn, hn)
		}
	}
	for _, cn := range countNames {
		if e, found := findException(name, allFlows, cn); found {
			check(allFlows, cn, e, found, pooled[cn][0], pooled[cn][1])
		}
	}
	for _, n := range notes {
		c.rules[n.rule] += len(n.frames)
	}
}

func findException(file, dir, count string) (wiresharkException, bool) {
	for _, e := range wiresharkExceptions {
		if e.file == file && e.dir == dir && e.count == count {
			return e, true
		}
	}
	return wiresharkException{}, false
}

// hangdiagCounts runs the analysis on one file and sums each side's counts
// per 4-tuple; flows is the number of flows it found.
func hangdiagCounts(t *testing.T, path string) (out map[direction]counts, flows int) {
	t.Helper()
	src, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	a := analyze.New(analyze.Config{KeepAll: true, Idle: 350 * time.Second})
	var seg pcapio.Segment
	for src.Next(&seg) {
		a.Add(&seg)
	}
	res := a.Finish(time.Time{})
	out = map[direction]counts{}
	for _, f := range res.Flows.All() {
		cl, sv := unmapAddrPort(f.Client), unmapAddrPort(f.Server)
		for s, d := range map[analyze.Side]direction{analyze.Client: {cl, sv}, analyze.Server: {sv, cl}} {
			if out[d] == nil {
				out[d] = counts{}
			}
			k := f.Keepalive[s]
			out[d][cProbes] += k.Probes
			out[d][cZeroWin] += k.ZeroWindowProbes
			out[d][cResets] += int(f.Resets[s])
			// Keepalive[s].Acks were sent by the other side.
			out[d][cProbeAcks] += f.Keepalive[s.Other()].Acks
		}
	}
	return out, res.Flows.Len()
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// tsharkSig is what two copies of one captured packet share.
type tsharkSig struct {
	seq, ack, tsval, length uint32
	window, ipid            uint16
	flags                   uint8
}

// sentSig is a packet's signature, capture time and what may differ
// between two copies of it.
type sentSig struct {
	sig   tsharkSig
	nanos int64
	ttl   string // TTL or hop limit
	point string // pcapng interface, SLL packet type and interface index
}

// copyOf reports whether s, sent later, is provably a copy of r: the same
// packet captured twice rather than two packets alike in every field. It is
// when the IPv4 ID is not 0 (a sender does not reuse one within a
// millisecond), or when the copies differ in TTL (one was forwarded) or in
// where they were captured (tcpdump -i any).
func (s sentSig) copyOf(r sentSig) bool {
	return s.sig == r.sig && s.nanos-r.nanos <= int64(time.Millisecond) &&
		(s.sig.ipid != 0 || s.ttl != r.ttl || s.point != r.point)
}

// tsharkDir is what the rules need to know about what one side has sent.
type tsharkDir struct {
	recent []sentSig // packets sent in the last millisecond, copies excluded

	window   uint16 // last advertised window, from a segment other than a RST
	winValid bool
	lastAck  uint32 // last acknowledgement number, from a segment other than a RST
	ackValid bool
	next     uint32 // Wireshark's next sequence number: the highest seq+len (SYN and FIN count 1)
	nextOK   bool

	lastKeepalive bool // its last segment was a keepalive, marked by Wireshark or found by rule 3
	lastFound     bool // its last segment was a keepalive found by rule 3
	candidate     bool // its first segment may be a keepalive, if the peer's answer acks seq+1
	candidateLen  uint32
	candidateSeq  uint32
	candidateAt   string // frame number
}

// shortNext reports whether Wireshark's next sequence number for d is one
// below what the peer has acknowledged.
func (d *tsharkDir) shortNext(peer *tsharkDir) bool {
	return d.nextOK && peer != nil && peer.ackValid && peer.lastAck == d.next+1
}

// The rules applied to Wireshark's marks before comparing.
const (
	ruleDuplicate = "rule 1: a copy of a packet captured within the last millisecond, not counted"
	ruleZeroWin   = "rule 2: a Wireshark keepalive sent while the receiver's window was 0 is a Linux zero-window probe"
	ruleShortNext = "rule 3: missed by Wireshark, whose next sequence number for the sender is one short (the capture opened with the sender's keepalive)"
)

// ruleNote lists the frames one rule moved for one count of one side.
type ruleNote struct {
	key    string
	rule   string
	frames []string
}

// ruleNotes collects ruleNote values in the order they are first added.
type ruleNotes struct {
	order []*ruleNote
	byKey map[string]*ruleNote
}

func (n *ruleNotes) add(rule string, d direction, count, frame string) {
	k := fmt.Sprintf("%s %s: %s", d, count, rule)
	if n.byKey == nil {
		n.byKey = map[string]*ruleNote{}
	}
	if n.byKey[k] == nil {
		n.byKey[k] = &ruleNote{key: k, rule: rule}
		n.order = append(n.order, n.byKey[k])
	}
	n.byKey[k].frames = append(n.byKey[k].frames, frame)
}

// tsharkCounts runs tshark on one file and sums each side's marked packets
// per 4-tuple, after applying the rules; streams is the number of
// tcp.stream values, and the notes say which frames the rules moved.
func (c *wiresharkCheck) tsharkCounts(t *testing.T, path string) (out map[direction]counts, streams int, notes []*ruleNote) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tsharkTimeout)
	defer cancel()
	args := []string{"-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=/t"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, c.tshark, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("tshark: %v after %v", ctx.Err(), tsharkTimeout)
		}
		// tshark exits with status 2 on a capture cut short, after
		// printing the packets before the damage, which pcapio reads too.
		t.Logf("tshark: %v: %s", err, lastLine(stderr.String()))
	}

	out = map[direction]counts{}
	state := map[direction]*tsharkDir{}
	seenStreams := map[string]bool{}
	var rn ruleNotes
	var lastNanos int64
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != numFields {
			t.Fatalf("tshark line has %d fields, want %d: %q", len(f), numFields, sc.Text())
		}
		d, ok := tsharkDirection(f)
		if !ok {
			// TCP quoted in an ICMP error: hangdiag does not read it.
			continue
		}
		seenStreams[f[fStream]] = true
		frame := f[fFrame]
		now := parseEpoch(t, f[fTime])
		if now < lastNanos { // as in hangdiag, the clock never goes back
			now = lastNanos
		}
		lastNanos = now
		fwd, rev := state[d], state[d.reverse()]
		if fwd == nil {
			fwd = &tsharkDir{}
			state[d] = fwd
			out[d] = counts{}
		}
		ka, kaAck, rst, zwp := f[fKeepalive] != "", f[fKeepaliveAck] != "", isTrue(f[fReset]), f[fZeroWinProbe] != ""
		sig := tsharkSig{
			seq: uint32(parseUint(f[fSeq])), ack: uint32(parseUint(f[fAck])), tsval: uint32(parseUint(f[fTSVal])),
			length: uint32(parseUint(f[fLen])), window: uint16(parseUint(f[fWindow])), ipid: uint16(parseUint(f[fIPID])),
			flags: uint8(parseUint(f[fFlags])),
		}

		// Rule 1: a copy of a packet sent in the last millisecond.
		sent := sentSig{sig: sig, nanos: now, ttl: f[fTTL] + f[fHopLimit], point: strings.Join([]string{f[fInterface], f[fSLLType], f[fSLLIfindex],
			f[fProtocols], f[fVXLAN], f[fGeneve], f[fGREKey], f[fERSPAN], f[fPPPoE]}, "/")}
		fwd.recent = slices.DeleteFunc(fwd.recent, func(r sentSig) bool { return now-r.nanos > int64(time.Millisecond) })
		if slices.ContainsFunc(fwd.recent, sent.copyOf) {
			for _, m := range []struct {
				set   bool
				count string
			}{{ka, cProbes}, {kaAck, cProbeAcks}, {zwp, cZeroWin}, {rst, cResets}} {
				if m.set {
					rn.add(ruleDuplicate, d, m.count, frame)
				}
			}
			continue
		}
		fwd.recent = append(fwd.recent, sent)

		const synFinRst = pcapio.SYN | pcapio.FIN | pcapio.RST
		pureAck := sig.flags&synFinRst == 0 && sig.flags&pcapio.ACK != 0
		peerWindowZero := rev != nil && rev.winValid && rev.window == 0

		// Rule 3: the capture opened with a keepalive.
		found := false
		if rev != nil && rev.candidate {
			// The peer's first segment was a keepalive if this answer
			// acknowledges one more than its seq, and, for a 1-byte one
			// (which could be new data), reports the byte as a duplicate.
			rev.candidate = false
			if pureAck && sig.length == 0 && sig.ack == rev.candidateSeq+1 && !kaAck && (rev.candidateLen == 0 || f[fDSACK] != "") {
				out[d.reverse()][cProbes]++
				rn.add(ruleShortNext, d.reverse(), cProbes, rev.candidateAt)
				kaAck = true
				rn.add(ruleShortNext, d, cProbeAcks, frame)
			}
		}
		fwd.candidate = !fwd.nextOK && pureAck && sig.length <= 1 && (rev == nil || !rev.ackValid)
		fwd.candidateLen, fwd.candidateSeq, fwd.candidateAt = sig.length, sig.seq, frame
		if !ka && pureAck && sig.length <= 1 && fwd.shortNext(rev) && sig.seq == fwd.next {
			if peerWindowZero {
				zwp = true
				rn.add(ruleShortNext+", sent into a zero window", d, cZeroWin, frame)
			} else {
				ka, found = true, true
				rn.add(ruleShortNext, d, cProbes, frame)
			}
		}
		if !kaAck && pureAck && sig.length == 0 && rev != nil && rev.lastKeepalive &&
			fwd.ackValid && sig.ack == fwd.lastAck && fwd.winValid && sig.window == fwd.window && sig.window != 0 &&
			(rev.lastFound && sig.seq == fwd.next || fwd.shortNext(rev) && sig.seq == fwd.next+1) {
			kaAck = true
			rn.add(ruleShortNext, d, cProbeAcks, frame)
		}

		// Rule 2: a Linux zero-window probe looks like a keepalive.
		if ka && peerWindowZero {
			ka, zwp, found = false, true, false
			rn.add(ruleZeroWin, d, cZeroWin, frame)
		}

		for _, m := range []struct {
			set   bool
			count string
		}{{ka, cProbes}, {kaAck, cProbeAcks}, {zwp, cZeroWin}, {rst, cResets}} {
			if m.set {
				out[d][m.count]++
			}
		}
		if rst {
			continue
		}
		fwd.window, fwd.winValid = sig.window, true
		if sig.flags&pcapio.ACK != 0 {
			fwd.lastAck, fwd.ackValid = sig.ack, true
		}
		end := sig.seq + sig.length
		if sig.flags&(pcapio.SYN|pcapio.FIN) != 0 {
			end++
		}
		if !fwd.nextOK || int32(end-fwd.next) > 0 {
			fwd.next, fwd.nextOK = end, true
		}
		fwd.lastKeepalive, fwd.lastFound = ka, found
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out, len(seenStreams), rn.order
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// tsharkDirection reads the sender and receiver of a tshark line; ok is
// false unless the packet has exactly one IP header and one TCP header.
func tsharkDirection(f []string) (d direction, ok bool) {
	protocols := strings.Split(f[fProtocols], ":")
	tcp := slices.Index(protocols, "tcp")
	if tcp < 0 || slices.ContainsFunc(protocols[:tcp], func(p string) bool { return p == "icmp" || p == "icmpv6" }) {
		return d, false
	}
	// In a tunnel, the IP fields list every IP header, the outer first:
	// the segment's are the innermost.
	inner := ""
	for _, p := range protocols[:tcp] {
		if p == "ip" || p == "ipv6" {
			inner = p
		}
	}
	for _, i := range []int{fIPSrc, fIPDst, fIP6Src, fIP6Dst, fIPID, fTTL, fHopLimit} {
		f[i] = f[i][strings.LastIndex(f[i], ",")+1:]
	}
	src, dst := f[fIPSrc], f[fIPDst]
	if inner == "ipv6" {
		src, dst = f[fIP6Src], f[fIP6Dst]
		f[fIPID], f[fTTL] = "", ""
	} else {
		f[fHopLimit] = ""
	}
	if strings.Contains(f[fSrcPort], ",") {
		return d, false
	}
	s, err1 := netip.ParseAddr(src)
	r, err2 := netip.ParseAddr(dst)
	sp, err3 := strconv.ParseUint(f[fSrcPort], 10, 16)
	dp, err4 := strconv.ParseUint(f[fDstPort], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return d, false
	}
	return direction{netip.AddrPortFrom(s.Unmap(), uint16(sp)), netip.AddrPortFrom(r.Unmap(), uint16(dp))}, true
}

func isTrue(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

// parseUint reads a decimal or 0x-prefixed field; empty is 0.
func parseUint(s string) uint64 {
	n, _ := strconv.ParseUint(s, 0, 64)
	return n
}

// parseEpoch reads frame.time_epoch ("1709294400.000123000") as Unix
// nanoseconds.
func parseEpoch(t *testing.T, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t.Fatalf("frame.time_epoch %q: %v", s, err)
	}
	ns, err := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err != nil {
		t.Fatalf("frame.time_epoch %q: %v", s, err)
	}
	return n*1e9 + ns
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
