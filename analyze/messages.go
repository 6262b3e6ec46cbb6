package analyze

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// addCause adds the finding that names a long gap itself: keepalives too
// slow when a keepalive bounds the gap, otherwise plain silence.
func (f *flow) addCause(a *Analyzer, start packetRef, end *packetRef, gap int64, waiting int8) {
	kind := SilentPastTimeout
	if start.kind == kindProbe || start.kind == kindProbeAck || (end != nil && (end.kind == kindProbe || end.kind == kindProbeAck)) {
		kind = KeepaliveTooSlow
	}
	ev := Evidence{GapStart: start.export(), EndedBy: "capture-end", Probes: int(f.dirs[0].probes + f.dirs[1].probes)}
	at := start.nanos + gap
	if end != nil {
		ev.GapEnd, ev.EndedBy = end.export(), end.kind.endedBy()
	}
	if waiting >= 0 {
		ev.Waiting = Side(waiting).String()
	}

	var b strings.Builder
	th := time.Duration(a.threshold)
	switch kind {
	case KeepaliveTooSlow:
		fmt.Fprintf(&b, "%s sends TCP keepalive probes, but no packet crossed for %s (%s to %s), past the %s idle timeout",
			f.label(), fmtDur(gap), clock(start.nanos), clock(at), fmtSecs(int64(th)))
		if end != nil && end.kind == kindProbe {
			fmt.Fprintf(&b, ": the %s's probe came %s after the last traffic", end.side, fmtDur(gap))
		}
		b.WriteString(". The probes are spaced too far apart to keep a middlebox's idle timer from running out.")
		for side := Client; side <= Server; side++ {
			if d := a.keepaliveSettings(&f.dirs[side]).Describe(side, th); d != "" {
				b.WriteString(" " + d)
			}
		}
	default:
		fmt.Fprintf(&b, "%s was silent for %s (%s to %s), past the %s idle timeout, with no packet in either direction",
			f.label(), fmtDur(gap), clock(start.nanos), clock(at), fmtSecs(int64(th)))
		if a.probesCount || f.dirs[0].probes+f.dirs[1].probes == 0 {
			b.WriteString(" and no TCP keepalive probes.")
		} else {
			b.WriteString(" that carried data; the keepalive probes seen do not reset this middlebox's timer.")
		}
	}
	switch {
	case waiting == int8(Client):
		b.WriteString(" The client's request was unanswered during the gap.")
	case waiting == int8(Server):
		b.WriteString(" The server's data was unacknowledged during the gap.")
	default:
		b.WriteString(" Nothing was outstanding: the connection sat idle.")
	}
	if end != nil {
		fmt.Fprintf(&b, " The gap ended when the %s sent %s (%s).", end.side, end.what(), frameName(end))
	} else {
		b.WriteString(" The capture ended with the flow still silent.")
	}
	n := a.notesOf(f)
	n.findings = append(n.findings, Finding{
		Kind: kind, Severity: Warning, At: nanoTime(at), Gap: time.Duration(gap),
		Message: b.String(), Fix: a.keepaliveFix(waiting), Evidence: ev,
	})
}

// consequence starts a finding about what a long gap led to.
func (f *flow) consequence(a *Analyzer, kind Kind, at int64) *Finding {
	w := a.watchOf(f)
	ev := Evidence{GapStart: w.start.export(), GapEnd: w.trigger.export(), EndedBy: w.trigger.kind.endedBy(),
		Probes: int(f.dirs[0].probes + f.dirs[1].probes)}
	if w.waiting >= 0 {
		ev.Waiting = Side(w.waiting).String()
	}
	n := a.notesOf(f)
	n.findings = append(n.findings, Finding{Kind: kind, Severity: Error, At: nanoTime(at), Gap: time.Duration(w.duration), Evidence: ev})
	return &n.findings[len(n.findings)-1]
}

func (f *flow) addReset(a *Analyzer, p packetRef, ri *ResetInfo) {
	w := a.watchOf(f)
	kind := ResetAfterIdle
	if w.waiting < 0 && w.trigger.kind != kindRst {
		kind = StaleConnectionReuse
	}
	fd := f.consequence(a, kind, p.nanos)
	fd.Evidence.Reset = ri
	claimed := ri.ClaimedBy.String()

	var b strings.Builder
	if ri.TriggeredBy == nil {
		fmt.Fprintf(&b, "%s: after %s of silence, a RST carrying the %s's address arrived at %s (%s) with no packet to answer. Some middleboxes reset both ends when their idle timer expires (Azure LB with TCP reset, F5 FastL4, Cisco ASA with reset).",
			f.label(), fmtDur(w.duration), claimed, clock(p.nanos), frameName(&p))
	} else {
		t := w.trigger
		fmt.Fprintf(&b, "%s: after %s of silence, the %s sent %s at %s (%s), and %s later a RST carrying the %s's address answered it (%s).",
			f.label(), fmtDur(w.duration), t.side, t.what(), clock(t.nanos), frameName(&t), fmtDur(int64(ri.After)), claimed, frameName(&p))
	}
	switch ri.Verdict {
	case "middlebox":
		fmt.Fprintf(&b, " The RST most likely came from a middlebox, not the %s: %s.", claimed, strings.Join(ri.Reasons, "; "))
		if t := ri.TriggeredBy; t != nil {
			fmt.Fprintf(&b, " The %s probably never received the %s's %s and heard no RST either.", claimed, t.Side, withoutArticle(t.What))
		}
	case "endpoint":
		fmt.Fprintf(&b, " The RST looks like the %s's own: %s.", claimed, strings.Join(ri.Reasons, "; "))
	default:
		if len(ri.Reasons) > 0 {
			fmt.Fprintf(&b, " Who sent the RST is unclear: %s.", strings.Join(ri.Reasons, "; "))
		}
	}
	if kind == StaleConnectionReuse {
		b.WriteString(" Nothing was outstanding before the gap: an idle pooled connection was reused after the middlebox had forgotten it, and the client sees \"connection reset by peer\".")
		fd.Fix = a.staleFix()
	} else {
		fd.Fix = a.keepaliveFix(w.waiting)
	}
	fd.Message = b.String()
}

func (f *flow) addBlackhole(a *Analyzer, last packetRef) {
	w := a.watchOf(f)
	fd := f.consequence(a, BlackholedAfterIdle, last.nanos)
	fd.Evidence.Retransmitted = w.retrans
	fd.Evidence.Unacked = w.trigger.export()
	t := w.trigger
	fd.Message = fmt.Sprintf("%s: after %s of silence, the %s sent %s at %s (%s); it was retransmitted %s, the last at %s (%s), and never acknowledged. The packets vanished on the way: a middlebox that silently drops flows it has forgotten (GCP Cloud NAT, AWS Gateway LB, IPVS, most firewalls) behaves like this.",
		f.label(), fmtDur(w.duration), t.side, t.what(), clock(t.nanos), frameName(&t), plural(w.retrans, "time"), clock(last.nanos), frameName(&last))
	fd.Fix = a.keepaliveFix(w.waiting)
}

func (f *flow) addClosed(a *Analyzer, fin packetRef) {
	w := a.watchOf(f)
	fd := f.consequence(a, ClosedAfterIdle, fin.nanos)
	waiter := fin.side.Other()
	fd.Message = fmt.Sprintf("%s: after %s with the %s's request unanswered, the %s closed the connection with a FIN at %s (%s). An idle timeout in a proxy or the application (nginx proxy_read_timeout, an AWS ALB or ELB idle timeout) rather than a silent middlebox ended it.",
		f.label(), fmtDur(w.duration), waiter, fin.side, clock(fin.nanos), frameName(&fin))
	fd.Fix = fmt.Sprintf("Raise the proxy's idle or read timeout above the longest request, or have the server send data (a progress byte, a heartbeat) at least every %s during long work; TCP keepalive probes do not reset an L7 proxy's timer.", fmtSecs(RecommendedInterval(a.threshold)))
}

func (f *flow) addHung(a *Analyzer, end, idle int64, waiting Side) {
	ev := Evidence{GapStart: f.lastRef.export(), EndedBy: "capture-end", Waiting: waiting.String(), Probes: int(f.dirs[0].probes + f.dirs[1].probes)}
	what := "request had been unanswered"
	if waiting == Server {
		what = "data had been unacknowledged"
	}
	msg := fmt.Sprintf("%s: at the capture end (%s) the %s's %s for %s, with no packet in either direction since %s (%s): the connection hangs. If a middlebox forgot the flow, the answer was dropped or reset on its way and the %s waits until its own timeout.",
		f.label(), clock(end), waiting, what, fmtDur(idle), clock(f.lastRef.nanos), frameName(&f.lastRef), waiting)
	n := a.notesOf(f)
	n.findings = append(n.findings, Finding{
		Kind: HungAtCaptureEnd, Severity: Error, At: nanoTime(end), Gap: time.Duration(idle),
		Message: msg, Fix: a.keepaliveFix(int8(waiting)), Evidence: ev,
	})
}

// keepaliveFix says which side should send keepalives and how often, or
// what to do instead when probes do not reset the middlebox's timer.
func (a *Analyzer) keepaliveFix(waiting int8) string {
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

func (a *Analyzer) staleFix() string {
	return fmt.Sprintf("Close pooled connections idle longer than %s (below the %s timeout), or enable TCP keepalive on them at most every %s, and retry idempotent requests once on \"connection reset\".",
		fmtSecs(RecommendedInterval(a.threshold)), fmtSecs(a.threshold), fmtSecs(RecommendedInterval(a.threshold)))
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

func (f *flow) label() string {
	return "Flow " + f.addr(Client).String() + " → " + f.addr(Server).String()
}

// fmtDur prints a duration for people: milliseconds below a second, seconds
// with one decimal below two minutes, and a minutes form beside the seconds
// above.
func fmtDur(n int64) string {
	d := time.Duration(n)
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + " ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
	case d < 2*time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return fmt.Sprintf("%.0f s (%s)", d.Seconds(), d.Round(time.Second))
}

// fmtSecs prints a whole-second setting such as a timeout or an interval:
// "350 s", "2 s"; fractions keep one decimal.
func fmtSecs(n int64) string {
	d := time.Duration(n)
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// clock prints a capture time as hh:mm:ss.mmm UTC.
func clock(n int64) string { return nanoTime(n).Format("15:04:05.000") + " UTC" }

func frameName(p *packetRef) string {
	if p.file > 0 {
		return fmt.Sprintf("file %d frame %d", p.file+1, p.frame)
	}
	return fmt.Sprintf("frame %d", p.frame)
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
