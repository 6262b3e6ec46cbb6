package analyze

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A finding's message and fix are written from its facts alone: its fields,
// its Evidence, the flow's endpoints and the three settings of texts. A
// flow keeps only the facts, in the table and in the Result's store; its
// findings' text is written when a Result's flow is decoded (flowStore),
// so that a capture of many flagged flows costs no text for the flows a
// report does not show, and live mode writes an alert's when it raises it.

// texts writes findings' messages and fixes.
type texts struct {
	threshold   int64
	probesCount bool // keepalive probes reset the middlebox's timer
	middlebox   *Middlebox
	// What fix returns, which depends on a finding's kind and waiting
	// side alone, written once the settings are set (prepare).
	keepaliveFixes      [3]string // by waiting side + 1: none, client, server
	staleFix, closedFix string
}

// prepare writes the fixes for the settings.
func (a *texts) prepare() {
	for waiting := int8(-1); waiting <= int8(Server); waiting++ {
		a.keepaliveFixes[waiting+1] = a.keepaliveFix(waiting)
	}
	iv := fmtSecs(RecommendedInterval(a.threshold))
	a.staleFix = fmt.Sprintf("Close pooled connections idle longer than %s (below the %s timeout), or enable TCP keepalive on them at most every %s, and retry idempotent requests once on \"connection reset\".",
		iv, fmtSecs(a.threshold), iv)
	a.closedFix = fmt.Sprintf("Raise the proxy's idle or read timeout above the longest request, or have the server send data (a progress byte, a heartbeat) at least every %s during long work; TCP keepalive probes do not reset an L7 proxy's timer.", iv)
}

// write fills in the message and fix of each finding of f that has
// none, with buf as scratch space kept from call to call.
func (a *texts) write(f *Flow, buf *[]byte) {
	for i := range f.Findings {
		a.fill(f, &f.Findings[i], buf)
	}
}

// fill writes the message and fix of fd, one of the findings of f, when
// it has none.
func (a *texts) fill(f *Flow, fd *Finding, buf *[]byte) {
	if fd.Message == "" {
		fd.Message, fd.Fix = a.message(fd, f.Client, f.Server, buf), a.fix(fd)
	}
}

// addCause adds the finding that names a long gap itself, and lists the
// gap: keepalives too slow when a keepalive bounds the gap, otherwise
// plain silence.
func (f *flow) addCause(a *Analyzer, start packetRef, end *packetRef, gap int64, waiting int8) {
	kind := SilentPastTimeout
	if start.kind == kindProbe || start.kind == kindProbeAck || (end != nil && (end.kind == kindProbe || end.kind == kindProbeAck)) {
		kind = KeepaliveTooSlow
	}
	fd := findingNote{kind: kindIndex(kind), severity: Warning, at: start.nanos + gap, gap: gap, start: start,
		waiting: waiting, probes: int32(f.dirs[0].probes + f.dirs[1].probes)}
	if end != nil {
		fd.end = *end
	}
	if kind == KeepaliveTooSlow {
		fd.more = &findingMore{keepalive: true, sides: [2]keepNote{a.keepNote(&f.dirs[Client]), a.keepNote(&f.dirs[Server])}}
	}
	a.notesOf(f).listGap(&fd)
	f.addFinding(a, fd)
}

// consequence starts a finding about what a long gap led to.
func (f *flow) consequence(a *Analyzer, kind Kind, at int64) findingNote {
	w := a.watchOf(f)
	return findingNote{kind: kindIndex(kind), severity: Error, at: at, gap: w.duration, start: w.start, end: w.trigger,
		waiting: w.waiting, probes: int32(f.dirs[0].probes + f.dirs[1].probes)}
}

func (f *flow) addReset(a *Analyzer, p packetRef, ri *ResetInfo) {
	w := a.watchOf(f)
	kind := ResetAfterIdle
	if w.waiting < 0 && w.trigger.kind != kindRst {
		kind = StaleConnectionReuse
	}
	fd := f.consequence(a, kind, p.nanos)
	fd.more = &findingMore{reset: ri}
	f.addFinding(a, fd)
}

func (f *flow) addBlackhole(a *Analyzer, last packetRef) {
	w := a.watchOf(f)
	fd := f.consequence(a, BlackholedAfterIdle, last.nanos)
	fd.more = &findingMore{retrans: int32(w.retrans), last: last}
	f.addFinding(a, fd)
}

// addClosed adds the finding that the FIN that ended the gap closed the
// flow; the FIN is the gap's end in the evidence.
func (f *flow) addClosed(a *Analyzer, fin packetRef) {
	f.addFinding(a, f.consequence(a, ClosedAfterIdle, fin.nanos))
}

func (f *flow) addHung(a *Analyzer, end, idle int64, waiting Side) {
	f.addFinding(a, findingNote{kind: kindIndex(HungAtCaptureEnd), severity: Error, at: end, gap: idle, start: f.lastRef,
		waiting: int8(waiting), probes: int32(f.dirs[0].probes + f.dirs[1].probes)})
}

// addFinding adds the finding to the flow's notes.
func (f *flow) addFinding(a *Analyzer, fd findingNote) {
	n := a.notesOf(f)
	if n.findings == nil && a.ending != nil {
		n.findings = a.ending.findings.take(1)[:0]
	}
	n.addFinding(fd)
	a.seal(n)
}

// waitingOf is the side whose request or data was outstanding during the
// finding's gap, or -1.
func waitingOf(fd *Finding) int8 {
	switch fd.Evidence.Waiting {
	case Client.String():
		return int8(Client)
	case Server.String():
		return int8(Server)
	}
	return -1
}

// message is the message of a finding of the flow from client to server.
// buf is scratch space, kept from call to call.
func (a *texts) message(fd *Finding, client, server netip.AddrPort, buf *[]byte) string {
	b := appendLabel((*buf)[:0], client, server)
	ev := &fd.Evidence
	switch fd.Kind {
	case SilentPastTimeout, KeepaliveTooSlow:
		b = a.appendCause(b, fd)
	case ResetAfterIdle, StaleConnectionReuse:
		b = appendReset(b, fd)
	case BlackholedAfterIdle:
		t, last := refOf(ev.Unacked), refOf(ev.Last)
		b = fmt.Appendf(b, ": after %s of silence, the %s sent %s at %s (%s); it was retransmitted %s, the last at %s (%s), and never acknowledged. The packets vanished on the way: a middlebox that silently drops flows it has forgotten (GCP Cloud NAT, AWS Gateway LB, IPVS, most firewalls) behaves like this.",
			fmtDur(int64(fd.Gap)), t.Side, t.What, clock(t.Time.UnixNano()), frameName(t.File, t.Frame),
			plural(ev.Retransmitted, "time"), clock(fd.At.UnixNano()), frameName(last.File, last.Frame))
	case ClosedAfterIdle:
		fin := refOf(ev.GapEnd)
		b = fmt.Appendf(b, ": after %s with the %s's request unanswered, the %s closed the connection with a FIN at %s (%s). An idle timeout in a proxy or the application (nginx proxy_read_timeout, an AWS ALB or ELB idle timeout) rather than a silent middlebox ended it.",
			fmtDur(int64(fd.Gap)), fin.Side.Other(), fin.Side, clock(fd.At.UnixNano()), frameName(fin.File, fin.Frame))
	case HungAtCaptureEnd:
		waiter := Side(waitingOf(fd))
		what := "request had been unanswered"
		if waiter == Server {
			what = "data had been unacknowledged"
		}
		start, end := refOf(ev.GapStart), fd.At.UnixNano()
		b = fmt.Appendf(b, ": at the capture end (%s) the %s's %s for %s, with no packet in either direction since %s (%s): the connection hangs. If a middlebox forgot the flow, the answer was dropped or reset on its way and the %s waits until its own timeout.",
			clock(end), waiter, what, fmtDur(int64(fd.Gap)), clock(end-int64(fd.Gap)), frameName(start.File, start.Frame), waiter)
	}
	*buf = b
	return string(b)
}

// fix is the fix of a finding. It depends on the finding's kind and
// waiting side only, and was written by prepare.
func (a *texts) fix(fd *Finding) string {
	switch fd.Kind {
	case StaleConnectionReuse:
		return a.staleFix
	case ClosedAfterIdle:
		return a.closedFix
	}
	return a.keepaliveFixes[waitingOf(fd)+1]
}

// appendCause appends the rest of the message of a finding that names a
// long gap to b, which names the flow.
func (a *texts) appendCause(b []byte, fd *Finding) []byte {
	ev := &fd.Evidence
	gap, at := int64(fd.Gap), fd.At.UnixNano()
	start := at - gap
	var end *PacketRef // nil when the gap ran to the capture end
	if ev.EndedBy != "capture-end" {
		r := refOf(ev.GapEnd)
		end = &r
	}
	th := time.Duration(a.threshold)
	switch fd.Kind {
	case KeepaliveTooSlow:
		b = fmt.Appendf(b, " sends TCP keepalive probes, but no packet crossed for %s (%s to %s), past the %s idle timeout",
			fmtDur(gap), clock(start), clock(at), fmtSecs(int64(th)))
		if end != nil && end.Kind == PacketKeepalive {
			b = fmt.Appendf(b, ": the %s's probe came %s after the last traffic", end.Side, fmtDur(gap))
		}
		b = append(b, ". The probes are spaced too far apart to keep a middlebox's idle timer from running out."...)
		if ev.Keepalive != nil {
			for side := Client; side <= Server; side++ {
				if d := ev.Keepalive[side].Describe(side, th); d != "" {
					b = append(append(b, ' '), d...)
				}
			}
		}
	default:
		b = appendDur(append(b, " was silent for "...), gap)
		b = appendClock(append(b, " ("...), start)
		b = appendClock(append(b, " to "...), at)
		b = appendSecs(append(b, "), past the "...), int64(th))
		b = append(b, " idle timeout, with no packet in either direction"...)
		if a.probesCount || ev.Probes == 0 {
			b = append(b, " and no TCP keepalive probes."...)
		} else {
			b = append(b, " that carried data; the keepalive probes seen do not reset this middlebox's timer."...)
		}
	}
	switch waitingOf(fd) {
	case int8(Client):
		b = append(b, " The client's request was unanswered during the gap."...)
	case int8(Server):
		b = append(b, " The server's data was unacknowledged during the gap."...)
	default:
		b = append(b, " Nothing was outstanding: the connection sat idle."...)
	}
	if end != nil {
		b = append(append(append(append(b, " The gap ended when the "...), end.Side.String()...), " sent "...), end.What...)
		return append(appendFrame(append(b, " ("...), end.File, end.Frame), ")."...)
	}
	return append(b, " The capture ended with the flow still silent."...)
}

// appendReset appends the rest of the message of a finding about a RST
// after a long gap to b, which names the flow.
func appendReset(b []byte, fd *Finding) []byte {
	ri := fd.Evidence.Reset
	p := &ri.Packet
	claimed := ri.ClaimedBy.String()
	if t := ri.TriggeredBy; t == nil {
		b = fmt.Appendf(b, ": after %s of silence, a RST carrying the %s's address arrived at %s (%s) with no packet to answer. Some middleboxes reset both ends when their idle timer expires (Azure LB with TCP reset, F5 FastL4, Cisco ASA with reset).",
			fmtDur(int64(fd.Gap)), claimed, clock(p.Time.UnixNano()), frameName(p.File, p.Frame))
	} else {
		b = fmt.Appendf(b, ": after %s of silence, the %s sent %s at %s (%s), and %s later a RST carrying the %s's address answered it (%s).",
			fmtDur(int64(fd.Gap)), t.Side, t.What, clock(t.Time.UnixNano()), frameName(t.File, t.Frame), fmtDur(int64(ri.After)), claimed, frameName(p.File, p.Frame))
	}
	switch ri.Verdict {
	case "middlebox":
		b = fmt.Appendf(b, " The RST most likely came from a middlebox, not the %s: %s.", claimed, strings.Join(ri.Reasons, "; "))
		if t := ri.TriggeredBy; t != nil {
			b = fmt.Appendf(b, " The %s probably never received the %s's %s and heard no RST either.", claimed, t.Side, withoutArticle(t.What))
		}
	case "endpoint":
		b = fmt.Appendf(b, " The RST looks like the %s's own: %s.", claimed, strings.Join(ri.Reasons, "; "))
	default:
		if len(ri.Reasons) > 0 {
			b = fmt.Appendf(b, " Who sent the RST is unclear: %s.", strings.Join(ri.Reasons, "; "))
		}
	}
	if fd.Kind == StaleConnectionReuse {
		b = append(b, " Nothing was outstanding before the gap: an idle pooled connection was reused after the middlebox had forgotten it, and the client sees \"connection reset by peer\"."...)
	}
	return b
}

// refOf returns *p, or the zero PacketRef for nil.
func refOf(p *PacketRef) PacketRef {
	if p == nil {
		return PacketRef{}
	}
	return *p
}

// keepaliveFix says which side should send keepalives and how often, or
// what to do instead when probes do not reset the middlebox's timer.
func (a *texts) keepaliveFix(waiting int8) string {
	iv := fmtSecs(RecommendedInterval(a.threshold))
	if !a.probesCount {
		return fmt.Sprintf("TCP keepalive probes do not reset this middlebox's idle timer; send application data at least every %s (or raise its idle timeout above the longest silence).", iv)
	}
	who := "the client"
	if waiting == int8(Server) {
		who = "the server"
	}
	fix := fmt.Sprintf("Enable TCP keepalive on %s with an idle time and interval of at most %s (below the %s timeout), e.g. SO_KEEPALIVE with TCP_KEEPIDLE=%d and TCP_KEEPINTVL=%d; probes from either end keep the middlebox's entry alive.",
		who, iv, fmtSecs(a.threshold), int(RecommendedInterval(a.threshold)/1e9), int(RecommendedInterval(a.threshold)/1e9))
	if a.middlebox != nil && a.middlebox.Range != "" {
		fix += fmt.Sprintf(" Or raise the %s idle timeout (%s).", a.middlebox.Title, a.middlebox.Range)
	}
	return fix
}

// RecommendedInterval is the keepalive idle time and interval to advise for
// a middlebox timeout, both in nanoseconds: 60 s (curl's default) for
// timeouts above two minutes, else half the timeout in whole seconds, at
// least 1 s.
func RecommendedInterval(threshold int64) int64 {
	if threshold > int64(2*time.Minute) {
		return int64(time.Minute)
	}
	return max(threshold/2/1e9, 1) * 1e9
}

// appendLabel appends how messages name a flow: "Flow client → server".
func appendLabel(b []byte, client, server netip.AddrPort) []byte {
	b = append(b, "Flow "...)
	b = client.AppendTo(b)
	b = append(b, " → "...)
	return server.AppendTo(b)
}

// label is appendLabel's text as a string.
func label(client, server netip.AddrPort) string { return string(appendLabel(nil, client, server)) }

// fmtDur prints a duration for people: milliseconds below a second, seconds
// with one decimal below two minutes, and a minutes form beside the seconds
// above.
func fmtDur(n int64) string { return string(appendDur(nil, n)) }

// appendDur appends fmtDur's text to b.
func appendDur(b []byte, n int64) []byte {
	d := time.Duration(n)
	switch {
	case d < time.Millisecond:
		return append(strconv.AppendFloat(b, float64(d)/1e6, 'f', 3, 64), " ms"...)
	case d < time.Second:
		return append(strconv.AppendFloat(b, float64(d)/1e6, 'f', 1, 64), " ms"...)
	case d < 2*time.Minute:
		return append(strconv.AppendFloat(b, d.Seconds(), 'f', 1, 64), " s"...)
	}
	b = append(strconv.AppendFloat(b, d.Seconds(), 'f', 0, 64), " s ("...)
	return append(append(b, d.Round(time.Second).String()...), ')')
}

// fmtSecs prints a whole-second setting such as a timeout or an interval:
// "350 s", "2 s"; fractions keep one decimal.
func fmtSecs(n int64) string { return string(appendSecs(nil, n)) }

// appendSecs appends fmtSecs's text to b.
func appendSecs(b []byte, n int64) []byte {
	d := time.Duration(n)
	if d%time.Second == 0 {
		return append(strconv.AppendInt(b, int64(d/time.Second), 10), " s"...)
	}
	return append(strconv.AppendFloat(b, d.Seconds(), 'f', 1, 64), " s"...)
}

// clock prints a capture time as hh:mm:ss.mmm UTC.
func clock(n int64) string { return string(appendClock(nil, n)) }

// appendClock appends clock's text to b.
func appendClock(b []byte, n int64) []byte {
	return append(nanoTime(n).AppendFormat(b, "15:04:05.000"), " UTC"...)
}

// frameName names a packet by its frame number, and its file's when there
// are several files (file is 0-based).
func frameName(file int, frame uint64) string { return string(appendFrame(nil, file, frame)) }

// appendFrame appends frameName's text to b.
func appendFrame(b []byte, file int, frame uint64) []byte {
	if file > 0 {
		b = append(strconv.AppendInt(append(b, "file "...), int64(file)+1, 10), ' ')
	}
	return strconv.AppendUint(append(b, "frame "...), frame, 10)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// withoutArticle turns "a FIN" into "FIN", so that it reads after a
// possessive: "the client's FIN".
func withoutArticle(what string) string {
	for _, a := range []string{"a ", "an "} {
		if strings.HasPrefix(what, a) {
			return what[len(a):]
		}
	}
	return what
}
