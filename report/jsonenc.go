package report

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jsonOut appends JSON text byte for byte as encoding/json writes it,
// without reflection, for the parts of a report written once a flow or
// finding: the types' own write methods name their members in the order
// and with the names of their struct tags, which stay the schema's one
// definition (TestJSONEncoder compares the two encodings). It writes
// indented, as an Encoder with SetIndent(prefix, "  ") does, or compact,
// as json.Marshal does, and escapes <, > and & or not, as
// SetEscapeHTML says.
type jsonOut struct {
	b      []byte
	prefix string // the start of every line after the first, when indented
	indent bool   // a line per member and element, two spaces a level
	html   bool   // escape <, > and &
	depth  int
	first  bool  // nothing written yet in the innermost object or array
	err    error // the first value JSON cannot hold
}

// sep starts a member or an element: a comma after the one before and,
// indented, a new line.
func (o *jsonOut) sep() {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	if o.indent {
		o.newline()
	}
}

func (o *jsonOut) newline() {
	if n := 1 + len(o.prefix) + 2*o.depth; (o.prefix == "" || o.prefix == "    ") && n <= len(jsonIndents) {
		o.b = append(o.b, jsonIndents[:n]...) // the reports' prefixes are spaces too: one copy
		return
	}
	o.b = append(o.b, '\n')
	o.b = append(o.b, o.prefix...)
	o.b = appendSpaces(o.b, 2*o.depth)
}

// jsonIndents is a new line and the spaces of the deepest indent jsonOut
// writes in one copy.
var jsonIndents = "\n" + strings.Repeat(" ", 63)

// key starts the member name, which must need no escaping.
func (o *jsonOut) key(name string) {
	o.sep()
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
	if o.indent {
		o.b = append(o.b, ' ')
	}
}

// open starts an object or an array, c being '{' or '['.
func (o *jsonOut) open(c byte) {
	o.b = append(o.b, c)
	o.depth++
	o.first = true
}

// close ends an object or an array, c being '}' or ']'; an empty one
// stays {} or [].
func (o *jsonOut) close(c byte) {
	o.depth--
	if !o.first && o.indent {
		o.newline()
	}
	o.b = append(o.b, c)
	o.first = false
}

func (o *jsonOut) null() { o.b = append(o.b, "null"...) }

func (o *jsonOut) bool(v bool) { o.b = strconv.AppendBool(o.b, v) }

func (o *jsonOut) int(v int64) { o.b = strconv.AppendInt(o.b, v, 10) }

func (o *jsonOut) uint(v uint64) { o.b = strconv.AppendUint(o.b, v, 10) }

// float writes v in the shortest form that reads back the same, in
// exponent form only when very small or very large, as encoding/json
// does.
func (o *jsonOut) float(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		o.fail(&jsonValueError{"the number " + strconv.FormatFloat(v, 'g', -1, 64)})
		o.null()
		return
	}
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	o.b = strconv.AppendFloat(o.b, v, format, -1, 64)
	if n := len(o.b); format == 'e' && n >= 4 && o.b[n-4] == 'e' && o.b[n-3] == '-' && o.b[n-2] == '0' {
		o.b[n-2], o.b = o.b[n-1], o.b[:n-1] // e-07 becomes e-7
	}
}

// optFloat writes *v, or null.
func (o *jsonOut) optFloat(v *float64) {
	if v == nil {
		o.null()
		return
	}
	o.float(*v)
}

// time writes t as RFC 3339 with nanoseconds, as time.Time's MarshalJSON
// does; a year outside 0 to 9999 is an error there and here.
func (o *jsonOut) time(t time.Time) {
	if y := t.Year(); y < 0 || y > 9999 {
		o.fail(&jsonValueError{"the time " + t.String() + ", whose year is outside 0 to 9999"})
		o.null()
		return
	}
	o.b = append(o.b, '"')
	if t.Location() == time.UTC { // every time a report holds
		o.b = appendUTC(o.b, t)
	} else {
		o.b = t.AppendFormat(o.b, time.RFC3339Nano)
	}
	o.b = append(o.b, '"')
}

// appendUTC appends t, a UTC time of a year from 0 to 9999, as
// AppendFormat with time.RFC3339Nano does (the fraction of a second
// without its trailing zeros, none when whole), without walking the
// layout: 600 instructions a time rather than 850, six times a flow.
func appendUTC(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	m := int(mo)
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

func (o *jsonOut) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// jsonValueError is a value JSON cannot hold.
type jsonValueError struct{ what string }

func (e *jsonValueError) Error() string { return "JSON cannot hold " + e.what }

// jsonEscape says how each ASCII byte is written in a string: 0 as
// itself, 'u' as \u00XX, 'h' as \u00XX when escaping HTML, any other
// byte as a backslash and that byte.
var jsonEscape = func() (t [utf8.RuneSelf]byte) {
	for c := range ' ' {
		t[c] = 'u'
	}
	t['"'], t['\\'] = '"', '\\'
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = 'b', 'f', 'n', 'r', 't'
	t['<'], t['>'], t['&'] = 'h', 'h', 'h'
	return t
}()

// str writes s as a JSON string: invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029 escaped, as encoding/json does.
func (o *jsonOut) str(s string) {
	const hex = "0123456789abcdef"
	b := append(o.b, '"')
	start := 0 // s[start:i] is yet to be copied
	for i := 0; i < len(s); {
		if i += plainRun(s[i:], o.html); i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			esc := jsonEscape[c]
			if esc == 0 || esc == 'h' && !o.html {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			if esc == 'u' || esc == 'h' {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, '\\', esc)
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	o.b = append(b, '"')
}

// plainRun returns how many bytes s starts with, in whole words of 8,
// that are ASCII a JSON string holds as they are: none below a space, none
// of " and \\, and with html none of <, > and &. It tests 8 bytes at a
// time, by the bit tricks of "determine if a word has a byte less than n"
// (Anderson's Bit Twiddling Hacks), each exact about whether any byte of
// the word matches.
func plainRun(s string, html bool) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := word(s[i : i+8])
		q, b := w^(ones*'"'), w^(ones*'\\')
		bad := w | (w-ones*' ')&^w | (q-ones)&^q | (b-ones)&^b
		if html {
			l, g, a := w^(ones*'<'), w^(ones*'>'), w^(ones*'&')
			bad |= (l-ones)&^l | (g-ones)&^g | (a-ones)&^a
		}
		if bad&highs != 0 {
			break
		}
	}
	return i
}

// word is the first 8 bytes of s, little-endian, loaded at once.
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// strs writes a list of strings; nil is null.
func (o *jsonOut) strs(ss []string) {
	if ss == nil {
		o.null()
		return
	}
	o.open('[')
	for _, s := range ss {
		o.sep()
		o.str(s)
	}
	o.close(']')
}

// flowMembers writes the members that name a flow, first in a flow and
// in a JSON lines record.
func (o *jsonOut) flowMembers(client, server string, index int) {
	o.key("client")
	o.str(client)
	o.key("server")
	o.str(server)
	o.key("index")
	o.int(int64(index))
}

func (f *jsonFlow) write(o *jsonOut) {
	o.open('{')
	o.flowMembers(f.Client, f.Server, f.Index)
	o.key("first_seen")
	o.time(f.FirstSeen)
	o.key("last_seen")
	o.time(f.LastSeen)
	o.key("handshake_seen")
	o.bool(f.HandshakeSeen)
	o.key("state")
	o.str(f.State)
	o.key("packets")
	o.uint(f.Packets)
	for _, sides := range []struct {
		name string
		v    *jsonSides[uint64]
	}{{"bytes", &f.Bytes}, {"retransmissions", &f.Retransmissions}, {"resets", &f.Resets}} {
		o.key(sides.name)
		o.open('{')
		o.key("client")
		o.uint(sides.v.Client)
		o.key("server")
		o.uint(sides.v.Server)
		o.close('}')
	}
	o.key("max_gap_seconds")
	o.float(f.MaxGap)
	o.key("idle_at_end_seconds")
	o.float(f.IdleAtEnd)
	o.key("keepalive")
	o.open('{')
	o.key("client")
	f.Keepalive.Client.write(o)
	o.key("server")
	f.Keepalive.Server.write(o)
	o.close('}')
	o.key("gaps")
	if f.Gaps == nil {
		o.null()
	} else {
		o.open('[')
		for i := range f.Gaps {
			o.sep()
			f.Gaps[i].write(o)
		}
		o.close(']')
	}
	if f.GapsNotListed != 0 {
		o.key("gaps_not_listed")
		o.int(int64(f.GapsNotListed))
	}
	o.key("wireshark_filter")
	o.str(f.WiresharkFilter)
	if f.Evicted {
		o.key("evicted")
		o.bool(true)
	}
	o.key("findings")
	if f.Findings == nil {
		o.null()
	} else {
		o.open('[')
		for i := range f.Findings {
			o.sep()
			o.open('{')
			f.Findings[i].members(o)
			o.close('}')
		}
		o.close(']')
	}
	if len(f.FindingsNotListed) > 0 {
		o.key("findings_not_listed")
		o.open('{')
		for _, k := range slices.Sorted(maps.Keys(f.FindingsNotListed)) {
			o.key(k)
			o.int(int64(f.FindingsNotListed[k]))
		}
		o.close('}')
	}
	o.close('}')
}

func (k *jsonKeepalive) write(o *jsonOut) {
	o.open('{')
	o.key("probes")
	o.int(int64(k.Probes))
	o.key("acks")
	o.int(int64(k.Acks))
	o.key("interval_seconds")
	o.optFloat(k.Interval)
	o.key("min_interval_seconds")
	o.optFloat(k.MinInterval)
	o.key("max_interval_seconds")
	o.optFloat(k.MaxInterval)
	o.key("idle_before_first_seconds")
	o.optFloat(k.IdleBeforeFirst)
	o.key("zero_window_probes")
	o.int(int64(k.ZeroWindowProbes))
	o.key("settings")
	if s := k.Settings; s == nil {
		o.null()
	} else {
		o.open('{')
		o.key("idle_seconds")
		o.optFloat(s.Idle)
		o.key("interval_seconds")
		o.optFloat(s.Interval)
		o.key("unanswered_in_a_row")
		o.int(int64(s.Count))
		o.key("gave_up")
		o.bool(s.GaveUp)
		o.key("matches")
		o.strs(s.Matches)
		o.close('}')
	}
	o.close('}')
}

func (g *jsonGap) write(o *jsonOut) {
	o.open('{')
	o.key("start")
	o.time(g.Start)
	o.key("end")
	o.time(g.End)
	o.key("seconds")
	o.float(g.Seconds)
	o.key("ended_by")
	o.str(g.EndedBy)
	o.key("outcome")
	o.str(g.Outcome)
	o.close('}')
}

// members writes the finding's members, without braces: a JSON lines
// record puts its flow's first.
func (f *jsonFinding) members(o *jsonOut) {
	o.key("kind")
	o.str(f.Kind)
	o.key("severity")
	o.str(f.Severity)
	o.key("at")
	o.time(f.At)
	o.key("gap_seconds")
	o.float(f.Gap)
	o.key("message")
	o.str(f.Message)
	if f.Fix != "" {
		o.key("fix")
		o.str(f.Fix)
	}
	o.key("evidence")
	e := &f.Evidence
	o.open('{')
	if e.GapStart != nil {
		o.key("gap_start")
		e.GapStart.write(o)
	}
	if e.GapEnd != nil {
		o.key("gap_end")
		e.GapEnd.write(o)
	}
	o.key("ended_by")
	o.str(e.EndedBy)
	if e.Waiting != "" {
		o.key("waiting")
		o.str(e.Waiting)
	}
	if r := e.Reset; r != nil {
		o.key("reset")
		r.write(o)
	}
	if e.Retransmitted != 0 {
		o.key("retransmissions")
		o.int(int64(e.Retransmitted))
	}
	if e.Unacked != nil {
		o.key("unacknowledged")
		e.Unacked.write(o)
	}
	o.key("keepalive_probes")
	o.int(int64(e.Probes))
	o.close('}')
}

// write writes the packet, or null.
func (p *jsonPacket) write(o *jsonOut) {
	if p == nil {
		o.null()
		return
	}
	o.open('{')
	o.key("file")
	o.str(p.File)
	o.key("frame")
	o.uint(p.Frame)
	o.key("time")
	o.time(p.Time)
	o.key("side")
	o.str(p.Side)
	o.key("kind")
	o.str(p.Kind)
	o.key("what")
	o.str(p.What)
	o.close('}')
}

func (r *jsonReset) write(o *jsonOut) {
	o.open('{')
	o.key("packet")
	r.Packet.write(o)
	o.key("claimed_by")
	o.str(r.ClaimedBy)
	o.key("triggered_by")
	r.TriggeredBy.write(o)
	o.key("after_seconds")
	o.optFloat(r.After)
	o.key("ttl")
	o.uint(uint64(r.TTL))
	o.key("usual_ttl")
	if r.UsualTTL == nil {
		o.null()
	} else {
		o.uint(uint64(*r.UsualTTL))
	}
	o.key("has_timestamps")
	o.bool(r.HasTS)
	o.key("timestamps_in_use")
	o.bool(r.TSInUse)
	o.key("verdict")
	o.str(r.Verdict)
	o.key("reasons")
	o.strs(r.Reasons)
	o.close('}')
}
