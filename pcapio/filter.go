package pcapio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/packetcap/go-pcap/filter"
	"golang.org/x/net/bpf"
)

// Filter expressions
//
// A live capture's filter is a tcpdump-style expression (pcap-filter(7))
// compiled to classic BPF without libpcap. The expression is parsed here,
// with libpcap's rules for and/or/not (and and or of equal precedence, from
// the left; not binding tightest) and for omitted qualifiers ("tcp port 80
// or 443"); each primitive is compiled by the pure-Go compiler of
// github.com/packetcap/go-pcap, and the primitives are joined here.
// go-pcap's own and, or and not, and some of its primitives, compile to
// wrong or invalid programs: "port 80 or port 443 and host X" and "host X
// and not port 22" select other packets than libpcap; bare ip and ip6 and
// IPv6 networks jump past the end of the program (so these are written
// here); portrange accepts everything; tcp[...] and vlan are silently
// dropped from the expression. So the parser accepts only the primitives
// proven against libpcap (filter_test.go) and refuses everything else with
// a message that names it.

// ErrFilterUnsupported is wrapped by the error for a filter expression that
// uses part of the pcap-filter language the built-in compiler does not
// support (vlan, portrange, tcp[...], ether, host names and more).
var ErrFilterUnsupported = errors.New("not supported by the built-in filter compiler")

// filterSupported lists what the built-in compiler supports, for messages.
const filterSupported = "supported: [ip|ip6] [src|dst] host ADDR, [src|dst] net CIDR, [tcp|udp] [src|dst] port N, [ip|ip6] proto N, ip, ip6, tcp, udp, and, or, not, parentheses"

// etherHeaderLen is the length of the Ethernet header go-pcap assumes in
// front of every packet.
const etherHeaderLen = 14

// maxFilterLen is the kernel's limit on a classic BPF program's length.
const maxFilterLen = 4096

// maxFilterDepth bounds how deeply parentheses and negations nest, far
// past any filter written by hand, so that no expression can exhaust the
// stack of the recursive parser and code generator.
const maxFilterDepth = 1000

// maxFilterBytes bounds an expression's length. A program the kernel
// takes, at most maxFilterLen instructions, is written in far fewer.
const maxFilterBytes = 1 << 20

// tunnelCarriers are the packets a live capture with no filter expression
// keeps besides TCP: the tunnels Decode walks (VXLAN, VXLAN-GPE, Geneve,
// GTP-U, CAPWAP, Teredo and L2TP over UDP; GRE, with ERSPAN and PPTP in
// it, and IP in IP), so that hangdiag live watches the TCP inside them
// too, as on the target of a mirror session, on a wireless controller or
// on a VPN server.
const tunnelCarriers = "udp port 4789 or udp port 8472 or udp port 4790 or udp port 6081 or udp port 2152 or udp port 5247 or udp port 3544 or udp port 1701 or proto 47 or proto 4 or proto 41"

// compileFilter compiles a tcpdump-style filter expression into a classic
// BPF program for a packet socket that accepts the TCP segments the
// expression matches, cut to snaplen bytes. An empty expression accepts
// every TCP segment, and the tunnelCarriers. With cooked false the program reads frames that start
// with an Ethernet header (a SOCK_RAW socket on an Ethernet interface);
// with cooked true, packets that start at the network header (SOCK_DGRAM),
// whose EtherType the kernel supplies through the ExtProto extension.
func compileFilter(expr string, cooked bool, snaplen uint32) ([]bpf.Instruction, error) {
	shown := expr // in errors, cut so that they stay one readable line
	if len(shown) > 200 {
		shown = shown[:200] + "..."
	}
	tree := &filterNode{prim: filterPrim{proto: "tcp"}}
	if strings.TrimSpace(expr) != "" {
		user, err := parseFilter(expr)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", shown, err)
		}
		tree = &filterNode{op: opAnd, l: tree, r: user}
	} else {
		carriers, err := parseFilter(tunnelCarriers)
		if err != nil {
			return nil, err
		}
		tree = &filterNode{op: opOr, l: tree, r: carriers}
	}
	var g filterGen
	t, f := g.newLabel(), g.newLabel()
	if err := g.gen(tree, t, f); err != nil {
		return nil, fmt.Errorf("filter %q: %w", shown, err)
	}
	g.place(t)
	g.emit(bpf.RetConstant{Val: snaplen})
	g.place(f)
	g.emit(bpf.RetConstant{Val: 0})
	prog := g.resolve()
	if cooked {
		var err error
		if prog, err = cookProgram(prog); err != nil {
			return nil, fmt.Errorf("filter %q: %w", shown, err)
		}
	}
	if len(prog) > maxFilterLen {
		return nil, fmt.Errorf("filter %q: %d instructions, more than the kernel's %d", shown, len(prog), maxFilterLen)
	}
	if _, err := bpf.NewVM(substituteExtProto(prog, 0x0800)); err != nil {
		return nil, fmt.Errorf("filter %q: compiled to an invalid program: %w", shown, err)
	}
	return prog, nil
}

// Node operators.
const (
	opPrim = iota
	opAnd
	opOr
	opNot
)

// filterNode is a node of a parsed expression.
type filterNode struct {
	op   int
	l, r *filterNode       // operands; r is nil for opNot
	prim filterPrim        // for opPrim
	raw  []bpf.Instruction // for opPrim when not empty: the program, written here, instead of go-pcap's
}

// filterPrim is one primitive with its qualifiers, as libpcap reads it.
type filterPrim struct {
	proto string // "", "ip", "ip6", "tcp", "udp"
	dir   string // "", "src", "dst", "src or dst", "src and dst"
	kind  string // "", "host", "net", "port"
	value string // address, prefix or port number; "" for a bare protocol
}

// String is the primitive as go-pcap reads it.
func (p filterPrim) String() string {
	var parts []string
	for _, s := range []string{p.proto, p.dir, p.kind, p.value} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// filterParser is a recursive-descent parser over the tokens of an
// expression.
type filterParser struct {
	toks  []string
	pos   int
	last  *filterPrim // qualifiers of the previous primitive, for omitted ones
	depth int         // parentheses and negations open around the current term
	prims int         // primitives parsed so far
}

// parseFilter parses an expression into a tree.
func parseFilter(expr string) (*filterNode, error) {
	if len(expr) > maxFilterBytes {
		return nil, fmt.Errorf("%d bytes long, more than %d", len(expr), maxFilterBytes)
	}
	toks, err := tokenizeFilter(expr)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, unexpected(p.toks[p.pos])
	}
	return n, nil
}

// unexpected is the error for a token out of place: an unsupported word,
// or a syntax error.
func unexpected(tok string) error {
	if hint, ok := unsupportedFilterWords[strings.ToLower(tok)]; ok {
		return fmt.Errorf("%q is %w%s (%s)", tok, ErrFilterUnsupported, hint, filterSupported)
	}
	return fmt.Errorf("syntax error at %q", tok)
}

// tokenizeFilter splits an expression into words, parentheses and the
// symbolic operators !, && and ||.
func tokenizeFilter(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '!' && !strings.HasPrefix(s[i:], "!="):
			toks = append(toks, "not")
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, "and")
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, "or")
			i += 2
		case isFilterWordByte(c):
			j := i
			for j < len(s) && isFilterWordByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			what := "packet data accessors and arithmetic (tcp[...], &, =, <)"
			if c == '[' || c == ']' {
				what = "packet data accessors (tcp[tcpflags], ip[...])"
			}
			return nil, fmt.Errorf("%s are %w (%s)", what, ErrFilterUnsupported, filterSupported)
		}
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	return toks, nil
}

func isFilterWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_' || c == '\\'
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) next() string {
	t := p.peek()
	if t != "" {
		p.pos++
	}
	return t
}

// expr parses terms joined by and/or, of equal precedence, from the left.
func (p *filterParser) expr() (*filterNode, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		var op int
		switch p.peek() {
		case "and":
			op = opAnd
		case "or":
			op = opOr
		default:
			return n, nil
		}
		p.next()
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		n = &filterNode{op: op, l: n, r: r}
	}
}

// term parses a negation, a parenthesised expression or a primitive.
func (p *filterParser) term() (*filterNode, error) {
	t := p.peek()
	if t == "not" || t == "(" {
		if p.depth == maxFilterDepth {
			return nil, fmt.Errorf("parentheses and negations nested more than %d deep", maxFilterDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
	}
	switch t {
	case "not":
		p.next()
		n, err := p.term()
		if err != nil {
			return nil, err
		}
		return &filterNode{op: opNot, l: n}, nil
	case "(":
		p.next()
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, errors.New("syntax error: missing )")
		}
		return n, nil
	case "", ")", "and", "or":
		if t == "" {
			return nil, errors.New("syntax error: expression ends early")
		}
		return nil, fmt.Errorf("syntax error at %q", t)
	}
	return p.primitive()
}

// Filter words that pcap-filter(7) knows but the built-in compiler does
// not, with a hint where one helps.
var unsupportedFilterWords = map[string]string{
	"vlan": "", "mpls": "", "pppoes": "", "pppoed": "", "geneve": "", "vxlan": "",
	"ether": "", "arp": "", "rarp": "", "gateway": "", "protochain": "",
	"portrange": " (list the ports: port 8000 or port 8001)", "len": "", "less": "", "greater": "",
	"broadcast": "", "multicast": "", "inbound": "", "outbound": "", "ifname": "", "on": "",
	"icmp": "", "icmp6": "", "sctp": "", "igmp": "", "mask": " (write the network as a CIDR prefix, net 10.0.0.0/8)",
	"decnet": "", "fddi": "", "tr": "", "wlan": "", "type": "", "subtype": "", "dir": "",
	"llc": "", "iso": "", "atalk": "", "ipx": "", "netbeui": "", "stp": "", "lat": "",
	"ah": "", "esp": "", "pim": "", "vrrp": "", "carp": "", "tcpflags": "", "icmptype": "",
}

// primitive parses qualifiers and a value: [proto] [dir] [kind] value, a
// bare protocol, or a bare value that takes the previous primitive's
// qualifiers.
func (p *filterParser) primitive() (*filterNode, error) {
	// Every primitive compiles to one instruction or more, so more than
	// the kernel's limit can never load; stopping here also bounds the
	// depth of the tree that "and" and "or" build.
	if p.prims++; p.prims > maxFilterLen {
		return nil, fmt.Errorf("more than %d primitives, more than the kernel's %d instructions can hold", maxFilterLen, maxFilterLen)
	}
	var q filterPrim
	start := p.pos
	if t := p.peek(); t == "ip" || t == "ip4" || t == "ip6" || t == "tcp" || t == "udp" {
		q.proto = strings.Replace(p.next(), "ip4", "ip", 1)
	}
	switch p.peek() {
	case "src", "dst":
		q.dir = p.next()
		if (p.peek() == "or" || p.peek() == "and") && p.pos+1 < len(p.toks) && p.toks[p.pos+1] == "dst" && q.dir == "src" {
			q.dir = "src " + p.next() + " " + p.next()
		}
	}
	switch p.peek() {
	case "host", "net", "port", "proto":
		q.kind = p.next()
	}
	if p.pos == start || q.dir != "" || q.kind != "" || isFilterValue(p.peek()) {
		switch t := p.peek(); t {
		case "", "(", ")", "and", "or", "not":
			return nil, fmt.Errorf("syntax error: a value is missing after %q", strings.Join(p.toks[start:p.pos], " "))
		}
		t := p.next()
		if _, ok := unsupportedFilterWords[strings.ToLower(t)]; ok {
			return nil, unexpected(t)
		}
		if p.pos-1 == start && p.last != nil {
			// a bare value: "port 80 or 443", "host a and not b"
			q = *p.last
		} else if q.kind == "" {
			q.kind = "host"
			if q.proto == "tcp" || q.proto == "udp" {
				return nil, fmt.Errorf("syntax error: %s %s: %s takes a port, as in %s port N", q.proto, t, q.proto, q.proto)
			}
		}
		v, err := filterValue(q, t)
		if err != nil {
			return nil, err
		}
		q.value = v
	}
	if q.value == "" {
		if q.proto == "" {
			return nil, unexpected(p.peek())
		}
		if t := p.peek(); t != "" && t != "and" && t != "or" && t != ")" {
			return nil, unexpected(t)
		}
	} else {
		last := q
		p.last = &last
	}
	return &filterNode{prim: q}, nil
}

// isFilterValue reports whether a token can only be a value (an address,
// a prefix or a number), not a keyword.
func isFilterValue(t string) bool {
	if t == "" {
		return false
	}
	if _, err := netip.ParseAddr(t); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(t); err == nil {
		return true
	}
	_, err := strconv.Atoi(t)
	return err == nil
}

// filterValue checks a primitive's value and returns it as go-pcap should
// see it.
func filterValue(q filterPrim, v string) (string, error) {
	switch q.kind {
	case "host":
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("host %q: host names are %w (give an IP address)", v, ErrFilterUnsupported)
		}
		if a.Is4In6() {
			return "", fmt.Errorf("host %q: IPv4-mapped addresses are %w", v, ErrFilterUnsupported)
		}
		if q.proto == "ip" && !a.Is4() || q.proto == "ip6" && !a.Is6() {
			return "", fmt.Errorf("syntax error: %s host %s mixes address families", q.proto, v)
		}
		return a.String(), nil
	case "net":
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return "", fmt.Errorf("net %q: only CIDR prefixes (10.0.0.0/8) and addresses are %w", v, ErrFilterUnsupported)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if pfx.Addr().Zone() != "" || pfx.Addr().Is4In6() {
			return "", fmt.Errorf("net %q is %w", v, ErrFilterUnsupported)
		}
		if pfx.Masked() != pfx {
			return "", fmt.Errorf("net %s has host bits set; did you mean %s?", v, pfx.Masked())
		}
		if q.proto == "ip" && !pfx.Addr().Is4() || q.proto == "ip6" && !pfx.Addr().Is6() {
			return "", fmt.Errorf("syntax error: %s net %s mixes address families", q.proto, v)
		}
		if pfx.Bits() == 0 {
			return "", fmt.Errorf("net %s: a zero-length prefix is %w", v, ErrFilterUnsupported)
		}
		return pfx.String(), nil
	case "port":
		if q.proto == "ip" || q.proto == "ip6" {
			return "", fmt.Errorf("%s port is %w; use tcp port or port", q.proto, ErrFilterUnsupported)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			if n, err = net.LookupPort("tcp", v); err != nil {
				if n, err = net.LookupPort("udp", v); err != nil {
					return "", fmt.Errorf("unknown port %q", v)
				}
			}
		}
		if n < 0 || n > 65535 {
			return "", fmt.Errorf("port %s out of range", v)
		}
		return strconv.Itoa(n), nil
	case "proto":
		if q.proto == "tcp" || q.proto == "udp" || q.dir != "" {
			return "", fmt.Errorf("syntax error: proto takes ip, ip6 or nothing before it, as in ip proto 47")
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", fmt.Errorf("proto %q: protocol names are %w (give the number, as in proto 47 for GRE)", v, ErrFilterUnsupported)
		}
		if n < 0 || n > 255 {
			return "", fmt.Errorf("proto %s out of range", v)
		}
		return strconv.Itoa(n), nil
	}
	return "", fmt.Errorf("syntax error at %q", v)
}

// filterGen emits the code of a tree: each primitive's go-pcap program,
// with its accepting return turned into a jump to the primitive's true
// label and its rejecting return into a jump to its false label.
type filterGen struct {
	prog   []bpf.Instruction
	jumps  map[int]int // instruction index of a ja to a label
	labels []int       // label to instruction index; -1 until placed
}

func (g *filterGen) newLabel() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *filterGen) place(l int) { g.labels[l] = len(g.prog) }

func (g *filterGen) emit(ins bpf.Instruction) { g.prog = append(g.prog, ins) }

func (g *filterGen) jumpTo(l int) {
	if g.jumps == nil {
		g.jumps = map[int]int{}
	}
	g.jumps[len(g.prog)] = l
	g.emit(bpf.Jump{})
}

// gen emits n so that control reaches label t when n matches, f otherwise.
func (g *filterGen) gen(n *filterNode, t, f int) error {
	switch n.op {
	case opNot:
		return g.gen(n.l, f, t)
	case opAnd, opOr:
		mid := g.newLabel()
		lt, lf := mid, f
		if n.op == opOr {
			lt, lf = t, mid
		}
		if err := g.gen(n.l, lt, lf); err != nil {
			return err
		}
		g.place(mid)
		return g.gen(n.r, t, f)
	}
	prog := n.raw
	if prog == nil {
		if sub := expandPrim(n.prim); sub != nil {
			return g.gen(sub, t, f)
		}
		var err error
		if prog, err = primitiveProgram(n.prim); err != nil {
			return err
		}
	}
	for _, ins := range prog {
		if r, ok := ins.(bpf.RetConstant); ok {
			if r.Val != 0 {
				g.jumpTo(t)
			} else {
				g.jumpTo(f)
			}
			continue
		}
		g.emit(ins)
	}
	return nil
}

// resolve fills in the jumps to labels.
func (g *filterGen) resolve() []bpf.Instruction {
	for at, l := range g.jumps {
		g.prog[at] = bpf.Jump{Skip: uint32(g.labels[l] - at - 1)}
	}
	return g.prog
}

// expandPrim returns, for the primitives go-pcap compiles wrongly or not
// at all, a tree of small programs written here: bare ip and ip6 (go-pcap
// jumps past the end of the program), IPv6 networks (go-pcap jumps past
// the end, and ignores the mask) and protocols. It returns nil for the
// primitives go-pcap compiles.
func expandPrim(q filterPrim) *filterNode {
	ip6 := &filterNode{raw: etherTypeProgram(0x86dd)}
	switch {
	case q.kind == "proto":
		n, _ := strconv.Atoi(q.value) // a number up to 255: filterValue checked it
		return protoNode(q.proto, uint32(n))
	case q.value == "" && q.proto == "ip":
		return &filterNode{raw: etherTypeProgram(0x0800)}
	case q.value == "" && q.proto == "ip6":
		return ip6
	case q.kind == "net" && strings.Contains(q.value, ":"):
		pfx := netip.MustParsePrefix(q.value)
		src, dst := ip6NetNode(pfx, 22), ip6NetNode(pfx, 38)
		var addr *filterNode
		switch q.dir {
		case "src":
			addr = src
		case "dst":
			addr = dst
		case "src and dst":
			addr = &filterNode{op: opAnd, l: src, r: dst}
		default:
			addr = &filterNode{op: opOr, l: src, r: dst}
		}
		return &filterNode{op: opAnd, l: ip6, r: addr}
	}
	return nil
}

// protoNode matches IP packets of protocol n, as libpcap's [ip|ip6] proto
// does: the IPv4 header's protocol, or the IPv6 header's next header, also
// behind a fragment header (44). family is "ip", "ip6" or "" for both.
func protoNode(family string, n uint32) *filterNode {
	and := func(l, r *filterNode) *filterNode { return &filterNode{op: opAnd, l: l, r: r} }
	or := func(l, r *filterNode) *filterNode { return &filterNode{op: opOr, l: l, r: r} }
	v4 := and(&filterNode{raw: etherTypeProgram(0x0800)}, &filterNode{raw: byteProgram(23, n)})
	v6 := and(&filterNode{raw: etherTypeProgram(0x86dd)},
		or(&filterNode{raw: byteProgram(20, n)}, and(&filterNode{raw: byteProgram(20, 44)}, &filterNode{raw: byteProgram(54, n)})))
	switch family {
	case "ip":
		return v4
	case "ip6":
		return v6
	}
	return or(v4, v6)
}

// byteProgram matches frames whose byte at offset off is v.
func byteProgram(off, v uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: off, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipFalse: 1},
		bpf.RetConstant{Val: 1},
		bpf.RetConstant{Val: 0},
	}
}

// etherTypeProgram matches frames of one EtherType.
func etherTypeProgram(et uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: et, SkipFalse: 1},
		bpf.RetConstant{Val: 1},
		bpf.RetConstant{Val: 0},
	}
}

// ip6NetNode matches an IPv6 frame whose address at offset off (22 for the
// source, 38 for the destination) lies in pfx, a word at a time.
func ip6NetNode(pfx netip.Prefix, off uint32) *filterNode {
	a := pfx.Addr().As16()
	var n *filterNode
	for w := 0; w < 4 && w*32 < pfx.Bits(); w++ {
		bits := min(pfx.Bits()-w*32, 32)
		mask := ^uint32(0) << (32 - bits)
		val := uint32(a[4*w])<<24 | uint32(a[4*w+1])<<16 | uint32(a[4*w+2])<<8 | uint32(a[4*w+3])
		prog := []bpf.Instruction{bpf.LoadAbsolute{Off: off + uint32(4*w), Size: 4}}
		if mask != ^uint32(0) {
			prog = append(prog, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: val, SkipFalse: 1},
			bpf.RetConstant{Val: 1},
			bpf.RetConstant{Val: 0})
		word := &filterNode{raw: prog}
		if n == nil {
			n = word
		} else {
			n = &filterNode{op: opAnd, l: n, r: word}
		}
	}
	return n
}

// primitiveProgram compiles one primitive for Ethernet frames with go-pcap.
func primitiveProgram(q filterPrim) ([]bpf.Instruction, error) {
	text := q.String()
	e := filter.NewExpression(text)
	if e == nil {
		return nil, fmt.Errorf("%q: empty primitive", text)
	}
	f := e.Compile()
	if f == nil {
		return nil, fmt.Errorf("%q: go-pcap cannot parse it", text)
	}
	prog, err := f.Compile()
	if err != nil {
		return nil, fmt.Errorf("%q: %w", text, err)
	}
	if len(prog) == 0 {
		return nil, fmt.Errorf("%q: go-pcap compiles it to nothing", text)
	}
	if _, err := bpf.NewVM(prog); err != nil {
		return nil, fmt.Errorf("%q: go-pcap compiles it to an invalid program: %w", text, err)
	}
	return prog, nil
}

// cookProgram moves a program compiled for Ethernet frames onto packets
// that start at the network header, as libpcap does for its cooked
// sockets: the EtherType load becomes the ExtProto extension (the socket
// buffer's protocol) and every other offset moves back by the Ethernet
// header's length.
func cookProgram(prog []bpf.Instruction) ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(prog))
	for i, ins := range prog {
		switch ins := ins.(type) {
		case bpf.LoadAbsolute:
			switch {
			case ins.Off == 12 && ins.Size == 2:
				out[i] = bpf.LoadExtension{Num: bpf.ExtProto}
				continue
			case ins.Off < etherHeaderLen:
				return nil, errors.New("it reads the Ethernet header, which -i any and non-Ethernet interfaces do not have")
			}
			ins.Off -= etherHeaderLen
			out[i] = ins
		case bpf.LoadIndirect:
			if ins.Off < etherHeaderLen {
				return nil, fmt.Errorf("cannot move indirect load at offset %d off the Ethernet header", ins.Off)
			}
			ins.Off -= etherHeaderLen
			out[i] = ins
		case bpf.LoadMemShift:
			if ins.Off < etherHeaderLen {
				return nil, fmt.Errorf("cannot move header length load at offset %d off the Ethernet header", ins.Off)
			}
			ins.Off -= etherHeaderLen
			out[i] = ins
		case bpf.LoadExtension:
			return nil, fmt.Errorf("unexpected extension load %v", ins)
		default:
			out[i] = ins
		}
	}
	return out, nil
}

// substituteExtProto returns a copy of prog in which the ExtProto extension
// is the constant etherType, so that the program runs in bpf.VM, which
// knows no extension but the length.
func substituteExtProto(prog []bpf.Instruction, etherType uint32) []bpf.Instruction {
	out := make([]bpf.Instruction, len(prog))
	for i, ins := range prog {
		if e, ok := ins.(bpf.LoadExtension); ok && e.Num == bpf.ExtProto {
			ins = bpf.LoadConstant{Dst: bpf.RegA, Val: etherType}
		}
		out[i] = ins
	}
	return out
}
