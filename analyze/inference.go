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
	if f.maxSurvived > 0 {
		a.survived = append(a.survived, f.maxSurvived)
	}
	if fatal := a.notes.get(f.notes).minFatal; fatal.gap > 0 {
		a.fatal = append(a.fatal, fatal)
	}
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
