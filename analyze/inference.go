package analyze

import (
	"fmt"
	"slices"
	"time"
)

// fatalGap is a gap after which a flow died, and how.
type fatalGap struct {
	gap    time.Duration
	ending uint8 // index in endings
}

// endings are the behaviours at expiry a fatal gap can show, indexed so
// that flow state holds no strings.
var endings = [...]Expiry{ResetNextPacket, ResetBoth, SilentDrop}

// noteFatal keeps the flow's shortest fatal gap.
func (a *Analyzer) noteFatal(f *flow, gap time.Duration, ending Expiry) {
	n := a.notesOf(f)
	if n.minFatal.gap == 0 || gap < n.minFatal.gap {
		n.minFatal = fatalGap{gap, uint8(slices.Index(endings[:], ending))}
	}
}

// noteInference records what a finished flow says about the timeout.
func (a *Analyzer) noteInference(f *flow) {
	a.noteGaps(f.maxSurvived, a.notes.get(f.notes).minFatal)
}

// noteGaps records a flow's longest survived gap and shortest fatal one,
// each when not 0.
func (a *Analyzer) noteGaps(survived time.Duration, fatal fatalGap) {
	if survived > 0 {
		if len(a.survived) == cap(a.survived) {
			a.survived = pruneSurvived(a.survived)
		}
		a.survived = append(a.survived, survived)
	}
	if fatal.gap > 0 {
		if len(a.fatal) == cap(a.fatal) {
			a.fatal = pruneFatal(a.fatal)
		}
		a.fatal = append(a.fatal, fatal)
	}
}

// pruneSurvived drops the gaps that can no longer count for infer, which
// counts those within 10 % of the longest: memory follows the gaps near
// the bound, not the flows. When little goes, the slice grows, so that
// pruning stays rare.
func pruneSurvived(s []time.Duration) []time.Duration {
	if len(s) == 0 {
		return s
	}
	m := slices.Max(s)
	s = slices.DeleteFunc(s, func(g time.Duration) bool { return g < m-m/10 })
	return slices.Grow(s, len(s))
}

// pruneFatal drops, as pruneSurvived does, the fatal gaps more than 10 %
// above the shortest, but keeps a gap of each ending for infer's list of
// endings; those are never counted.
func pruneFatal(s []fatalGap) []fatalGap {
	if len(s) == 0 {
		return s
	}
	m := s[0].gap
	for _, g := range s {
		m = min(m, g.gap)
	}
	var kept [len(endings)]bool // endings of the gaps kept
	for _, g := range s {
		if g.gap <= m+m/10 {
			kept[g.ending] = true
		}
	}
	s = slices.DeleteFunc(s, func(g fatalGap) bool {
		if g.gap <= m+m/10 || !kept[g.ending] {
			kept[g.ending] = true
			return false
		}
		return true
	})
	return slices.Grow(s, len(s))
}

// infer brackets the timeout: above the longest survived gap, at or below
// the shortest fatal one.
func (a *Analyzer) infer() Inference {
	var inf Inference
	for _, s := range a.survived {
		inf.Survived = max(inf.Survived, s)
	}
	for _, f := range a.fatal {
		if inf.Fatal == 0 || f.gap < inf.Fatal {
			inf.Fatal = f.gap
		}
		if e := endings[f.ending]; !slices.Contains(inf.Endings, e) {
			inf.Endings = append(inf.Endings, e)
		}
	}
	slices.Sort(inf.Endings)
	for _, s := range a.survived {
		if s >= inf.Survived-inf.Survived/10 {
			inf.SurvivedBy++
		}
	}
	for _, f := range a.fatal {
		if f.gap <= inf.Fatal+inf.Fatal/10 {
			inf.FatalBy++
		}
	}
	inf.Matches = matchPresets(inf)
	th := time.Duration(a.threshold)
	switch {
	case inf.Fatal > 0 && inf.Survived >= inf.Fatal:
		inf.Conflict = fmt.Sprintf("flows survived a gap of %s but another died after %s: more than one middlebox or path is in the capture",
			fmtDur(int64(inf.Survived)), fmtDur(int64(inf.Fatal)))
	case inf.Fatal > 0 && inf.Fatal < th:
		inf.Conflict = fmt.Sprintf("a flow died after a gap of only %s, below the %s threshold under test: the middlebox's timeout is shorter; analyse again with --idle %s",
			fmtDur(int64(inf.Fatal)), fmtSecs(int64(th)), suggestIdle(inf))
	case inf.Survived >= th:
		inf.Conflict = fmt.Sprintf("a flow survived a gap of %s, longer than the %s threshold under test: no middlebox on its path expires flows that fast",
			fmtDur(int64(inf.Survived)), fmtSecs(int64(th)))
	}
	return inf
}

// suggestIdle is the threshold to analyse with when the fatal gap is below
// the one under test: the bracket's lower end, or a little under the fatal
// gap, in whole seconds.
func suggestIdle(inf Inference) string {
	d := inf.Fatal * 9 / 10
	if inf.Survived > 0 {
		d = inf.Survived + (inf.Fatal-inf.Survived)/2
	}
	return max(d.Truncate(time.Second), time.Second).String() // as the flag takes it: "9s"
}

// matchPresets names the presets whose timeout lies in the bracket and
// whose behaviour at expiry fits how the fatal gaps ended. Without both
// bounds nothing is matched: a fatal gap alone bounds the timeout only from
// above.
func matchPresets(inf Inference) []string {
	if inf.Fatal == 0 || inf.Survived == 0 || inf.Survived >= inf.Fatal {
		return nil
	}
	var names []string
	for _, m := range Middleboxes {
		if m.Idle > inf.Survived && m.Idle <= inf.Fatal && slices.Contains(inf.Endings, m.Expiry) {
			names = append(names, m.Name)
		}
	}
	return names
}
