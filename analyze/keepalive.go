package analyze

import (
	"fmt"
	"time"
)

// noteProbe records what a probe says about the sender's keepalive
// settings. A probe right after the sender's own unanswered probe measures
// the retry interval; any other probe measures the idle time before probing.
func (d *keepState) noteProbe(now, idle int64, afterOwnProbe bool) {
	if afterOwnProbe {
		if d.keepIntvlMin == 0 || idle < d.keepIntvlMin {
			d.keepIntvlMin = idle
		}
		d.keepRun++
	} else {
		if d.keepIdleMin == 0 || idle < d.keepIdleMin {
			d.keepIdleMin = idle
		}
		d.keepRun = 1
	}
	d.keepMaxRun = max(d.keepMaxRun, d.keepRun)
}

// KeepaliveSettings is what the probes of one side say about its keepalive
// configuration: TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT as recovered
// from the wire. Zero fields are unknown.
type KeepaliveSettings struct {
	Idle     time.Duration // silence before the first probe (≈ TCP_KEEPIDLE); answered probes also come this far apart
	Interval time.Duration // spacing of unanswered probes (≈ TCP_KEEPINTVL)
	Count    int           // most probes in a row that went unanswered; TCP_KEEPCNT when GaveUp
	GaveUp   bool          // the side reset the connection after its unanswered probes
	Matches  []string      // stack defaults these values fit
}

// keepaliveProfile is a stack's default keepalive settings.
type keepaliveProfile struct {
	name           string
	idle, interval time.Duration // 0 interval: any
	count          int
}

// keepaliveProfiles are the defaults of common stacks (REFERENCE.md §4).
var keepaliveProfiles = []keepaliveProfile{
	{"Linux or macOS default (7200 s / 75 s)", 7200 * time.Second, 75 * time.Second, 9},
	{"Windows default (7200 s / 1 s)", 7200 * time.Second, time.Second, 10},
	{"curl default (60 s / 60 s)", 60 * time.Second, 60 * time.Second, 0},
	{"Go net.Dialer default (15 s / 15 s)", 15 * time.Second, 15 * time.Second, 9},
	{"Go http.DefaultTransport (30 s / 30 s)", 30 * time.Second, 30 * time.Second, 9},
	{"Node.js setKeepAlive (interval 1 s, 10 probes)", 0, time.Second, 10},
}

// keepaliveSettings recovers what the side's probes say of its settings.
func (a *Analyzer) keepaliveSettings(d *dirState) KeepaliveSettings {
	return a.keepNote(d).export()
}

// keepNote is keepaliveSettings as a finding keeps it.
func (a *Analyzer) keepNote(d *dirState) keepNote {
	if d.probes == 0 {
		return keepNote{}
	}
	ks := a.keeps.get(d.keep)
	return keepNote{idle: ks.keepIdleMin, interval: ks.keepIntvlMin, count: int32(ks.keepMaxRun), gaveUp: ks.keepGaveUp}
}

// export returns the settings, with the stacks' defaults they fit.
func (n keepNote) export() KeepaliveSettings {
	k := KeepaliveSettings{Idle: time.Duration(n.idle), Interval: time.Duration(n.interval), Count: int(n.count), GaveUp: n.gaveUp}
	for _, p := range keepaliveProfiles {
		compared := (k.Idle != 0 && p.idle != 0) || (k.Interval != 0 && p.interval != 0)
		if compared && near(k.Idle, p.idle) && near(k.Interval, p.interval) {
			k.Matches = append(k.Matches, p.name)
		}
	}
	return k
}

// near reports whether a measured value fits a profile's: unknown on either
// side fits; otherwise within 10 % plus a second of scheduling slack.
func near(measured, want time.Duration) bool {
	if measured == 0 || want == 0 {
		return true
	}
	diff := measured - want
	if diff < 0 {
		diff = -diff
	}
	return diff <= want/10+time.Second
}

// Describe says the settings one side's probes reveal in a sentence,
// against the timeout under test; "" when the probes reveal nothing.
func (k KeepaliveSettings) Describe(side Side, threshold time.Duration) string {
	if k.Idle == 0 && k.Interval == 0 {
		return ""
	}
	s := fmt.Sprintf("The %s's probes suggest", side)
	if k.Idle > 0 {
		s += fmt.Sprintf(" TCP_KEEPIDLE ≈ %s", fmtDur(int64(k.Idle)))
	}
	if k.Interval > 0 {
		s += fmt.Sprintf(" TCP_KEEPINTVL ≈ %s", fmtDur(int64(k.Interval)))
	}
	if k.GaveUp {
		s += fmt.Sprintf(" TCP_KEEPCNT = %d", k.Count)
	}
	if len(k.Matches) > 0 {
		s += fmt.Sprintf(" (fits %s)", joinOr(k.Matches))
	}
	if k.Idle >= threshold {
		s += fmt.Sprintf("; probing starts after the %s timeout has already run out", fmtSecs(int64(threshold)))
	}
	return s + "."
}

func joinOr(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " or " + names[len(names)-1]
}
