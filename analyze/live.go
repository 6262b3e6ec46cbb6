package analyze

import (
	"fmt"
	"time"
)

// DefaultWarnAt is the share of the threshold at which Tick first warns
// about a silent flow.
const DefaultWarnAt = 0.8

// AlertLevel grades an alert.
type AlertLevel string

// Alert levels, in the order a dying flow raises them.
const (
	AlertWarning AlertLevel = "warning" // silent for WarnAt of the threshold: the middlebox will forget it soon
	AlertExpired AlertLevel = "expired" // silent for the whole threshold: the middlebox has likely forgotten it
	AlertFinding AlertLevel = "finding" // a finding was made: a reset, a black hole, a close after idle
)

// Alert is something a person watching a live capture should know now.
type Alert struct {
	Time    time.Time // when it was raised (the clock given to Tick)
	Level   AlertLevel
	Client  string
	Server  string
	Idle    time.Duration // silence so far, for warning and expired
	Kind    Kind          // the finding's kind, for AlertFinding
	Message string
}

// Tick tells the Analyzer the time is now (live mode, where the clock runs
// between packets) and returns what became true since the last call: flows
// whose silence crossed WarnAt of the threshold or the threshold itself, and
// findings made since. Each gap raises each level once. Tick visits every
// tracked flow; call it about once a second.
func (a *Analyzer) Tick(now time.Time) []Alert {
	n := now.UnixNano()
	a.ticking = true
	a.flows.thawAll() // live mode keeps every flow a record (none, unless Tick came late)
	a.sweep(n)
	alerts := a.pending
	a.pending = nil
	warnAt := int64(float64(a.threshold) * a.warnAt)
	for f := range a.flows.all() {
		alerts = a.newFindingAlerts(f, now, alerts)
		if !f.silent() {
			continue
		}
		idle := n - f.lastRef.nanos
		level := uint8(0)
		switch {
		case idle >= a.threshold:
			level = 2
		case idle >= warnAt:
			level = 1
		}
		if level == 0 {
			continue
		}
		st := a.alerts.at(&f.alerts)
		if st.gap != f.lastRef.nanos {
			st.gap, st.level = f.lastRef.nanos, 0
		}
		if level <= st.level {
			continue
		}
		st.level = level
		al := Alert{Time: now, Client: f.addr(Client).String(), Server: f.addr(Server).String(), Idle: time.Duration(idle)}
		waiting := ""
		if w := f.waiting(); w >= 0 {
			waiting = fmt.Sprintf(" with the %s waiting", Side(w))
		}
		if level == 1 {
			al.Level = AlertWarning
			al.Message = fmt.Sprintf("%s has been silent for %s%s; a middlebox with a %s idle timeout forgets it in %s unless a packet crosses",
				label(f.addr(Client), f.addr(Server)), fmtDur(idle), waiting, fmtSecs(a.threshold), fmtDur(a.threshold-idle))
		} else {
			al.Level = AlertExpired
			al.Message = fmt.Sprintf("%s has been silent for %s%s, past the %s idle timeout: a middlebox has likely forgotten it, and the next packet will be reset or dropped",
				label(f.addr(Client), f.addr(Server)), fmtDur(idle), waiting, fmtSecs(a.threshold))
		}
		alerts = append(alerts, al)
	}
	return alerts
}

// newFindingAlerts appends an alert for each finding not yet alerted.
func (a *Analyzer) newFindingAlerts(f *flow, now time.Time, alerts []Alert) []Alert {
	if f.notes == 0 {
		return alerts
	}
	n := a.notesOf(f)
	var buf []byte
	var fd Finding
	for i := len(n.findings) - int(n.unalerted); i < len(n.findings); i++ {
		exportFinding(&n.findings[i], &fd, &a.out)
		alerts = append(alerts, Alert{Time: now, Level: AlertFinding, Client: f.addr(Client).String(), Server: f.addr(Server).String(),
			Kind: fd.Kind, Message: a.message(&fd, f.addr(Client), f.addr(Server), &buf)})
	}
	a.out.reset() // the alerts hold their messages, not the findings
	n.unalerted = 0
	return alerts
}

// alertState is what Tick has raised for a flow.
type alertState struct {
	gap   int64 // the gap (by its start) alerts were raised for
	level uint8 // and the highest level raised
}

// Tracked returns how many flows are in the table now.
func (a *Analyzer) Tracked() int { return a.flows.live }

// Threshold returns the idle timeout under test.
func (a *Analyzer) Threshold() time.Duration { return time.Duration(a.threshold) }
