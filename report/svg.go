package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
)

// Geometry of a timeline drawing, in SVG user units (about pixels).
const (
	svgW         = 1160
	svgH         = 224
	plotL        = 176.0 // left edge of the time axis; lane names sit left of it
	plotR        = svgW - 28.0
	yTopRow      = 16.0 // RST labels
	ySecondRow   = 34.0 // threshold labels
	bandTop      = 44.0
	yClient      = 76.0
	yServer      = 136.0
	bandBottom   = 160.0
	yAxis        = 176.0
	yTickRow     = 192.0
	yBottomRow   = 210.0 // axis break lengths, capture end
	charWidth    = 6.2   // estimated width of a character at 11 px
	clusterPad   = 14.0  // room around a cluster of packets
	pointRoom    = 30.0  // room for each distinct time in a cluster
	clusterShare = 0.4   // most of the width clusters take when the axis is broken
	maxBreaks    = 8     // more breaks than this and fewer stretches are broken
	breakFactor  = 5     // a stretch this many times the median spacing is broken
	minBreak     = time.Second
)

// svgTimeline is a drawn timeline, ready for the template.
type svgTimeline struct {
	ID, Title, Desc string
	W, H            int
	Lanes           []svgLane
	AxisX1, AxisX2  float64
	AxisY           float64
	Bands           []svgBox
	Thresholds      []svgVLine
	Breaks          []svgBreak
	Ticks           []svgVLine
	Marks           []svgMark
	End             *svgVLine
	Labels          []svgLabel
}

type svgLane struct {
	Name, Addr string
	X1, X2, Y  float64
	Y2         float64 // baseline of the address under the name
}

type svgBox struct {
	X, Y, W, H float64
	Title      string
}

type svgVLine struct {
	X, Y1, Y2 float64
	Title     string
}

// svgBreak marks an axis break on each lane and the axis: a white cut
// (polygon points) between two slanted strokes (path data).
type svgBreak struct {
	Cuts, Lines []string
	Title       string
}

// svgMark is one packet: Shape is rect, circle (radius in W), polygon or
// path (Points), or line (from Y to H).
type svgMark struct {
	Shape, Class, Title string
	X, Y, W, H          float64
	Points              string
}

type svgLabel struct {
	Class, Text, Anchor string
	X, Y                float64
}

// axisSeg maps one stretch of time onto the x axis, linearly.
type axisSeg struct {
	t0, t1 int64
	x0, x1 float64
	broken bool
}

// timeAxis maps capture times to x positions: each stretch with packets
// to its own scale, long empty stretches at a fixed width.
type timeAxis struct {
	segs []axisSeg
}

// newAxis lays out the sorted distinct times pts across [plotL, plotR].
// A stretch between two consecutive times is broken, drawn at a fixed
// width, when it is at least minBreak, longer than a few times the median
// spacing, and either past the threshold or a tenth of the whole. When
// more than maxBreaks qualify, only those longer than a tenth are broken,
// so that a flow of regular long gaps stays to scale.
func newAxis(pts []int64, threshold time.Duration) timeAxis {
	width := plotR - plotL
	if len(pts) == 1 {
		return timeAxis{segs: []axisSeg{{pts[0], pts[0], plotL, plotR, false}}}
	}
	var spans []int64
	for i := 1; i < len(pts); i++ {
		spans = append(spans, pts[i]-pts[i-1])
	}
	sorted := slices.Clone(spans)
	slices.Sort(sorted)
	median := float64(sorted[(len(sorted)-1)/2])
	span := pts[len(pts)-1] - pts[0]
	factor := float64(breakFactor)
	broken := make([]bool, len(spans))
	mark := func(pastThreshold bool) int {
		n := 0
		for i, d := range spans {
			broken[i] = d >= int64(minBreak) && float64(d) > factor*median &&
				(d >= span/10 || pastThreshold && d >= int64(threshold))
			if broken[i] {
				n++
			}
		}
		return n
	}
	if mark(true) > maxBreaks {
		mark(false)
	}
	type cluster struct{ t0, t1 int64 }
	clusters := []cluster{{pts[0], pts[0]}}
	counts := []int{1} // distinct times in each cluster
	nb := 0
	for i, d := range spans {
		if broken[i] {
			nb++
			clusters = append(clusters, cluster{pts[i+1], pts[i+1]})
			counts = append(counts, 1)
		} else {
			clusters[len(clusters)-1].t1 += d
			counts[len(counts)-1]++
		}
	}
	// Each stretch with packets gets room by its number of distinct times,
	// together at most clusterShare of the width when something is
	// broken, and is drawn to its own scale; the breaks share the rest.
	rooms := make([]float64, len(clusters))
	total := 0.0
	for i := range clusters {
		rooms[i] = max(2*clusterPad, float64(counts[i])*pointRoom)
		total += rooms[i]
	}
	bw := 0.0
	k := width / total
	if nb > 0 {
		k = min(1, clusterShare*width/total)
		bw = (width - total*k) / float64(nb)
	}
	var a timeAxis
	x := plotL
	for i, c := range clusters {
		room := rooms[i] * k
		pad := min(clusterPad, room/4)
		a.segs = append(a.segs, axisSeg{c.t0, c.t1, x + pad, x + room - pad, false})
		x += room
		if i+1 < len(clusters) {
			// from this cluster's last packet to the next one's first
			next := min(clusterPad, rooms[i+1]*k/4)
			a.segs = append(a.segs, axisSeg{c.t1, clusters[i+1].t0, x - pad, x + bw + next, true})
			x += bw
		}
	}
	return a
}

// x maps a capture time to its position.
func (a *timeAxis) x(t time.Time) float64 {
	n := t.UnixNano()
	for _, s := range a.segs {
		if n > s.t1 {
			continue
		}
		if n <= s.t0 {
			if s.t1 == s.t0 && !s.broken {
				return (s.x0 + s.x1) / 2
			}
			return s.x0
		}
		return s.x0 + (s.x1-s.x0)*float64(n-s.t0)/float64(s.t1-s.t0)
	}
	last := a.segs[len(a.segs)-1]
	return last.x1
}

// placer keeps labels from overlapping: each row holds the spans taken.
type placer struct {
	rows map[float64][][2]float64
}

func labelWidth(s string) float64 { return float64(len([]rune(s))) * charWidth }

// place puts a label in the first of rows where it fits, anchored at x
// ("start" extends right, "end" left; flipped at the edges), and reports
// whether it fitted. With force it takes the last row when none is free.
func (p *placer) place(labels *[]svgLabel, class, text string, x float64, anchor string, force bool, rows ...float64) bool {
	w := labelWidth(text)
	if anchor == "start" && x+w > svgW-4 {
		anchor = "end"
	}
	if anchor == "end" && x-w < 4 {
		anchor = "start"
	}
	x0, x1 := x, x+w
	switch anchor {
	case "end":
		x0, x1 = x-w, x
	case "middle":
		x0, x1 = x-w/2, x+w/2
	}
	for i, y := range rows {
		free := true
		for _, sp := range p.rows[y] {
			if x0 < sp[1]+6 && sp[0] < x1+6 {
				free = false
				break
			}
		}
		if free || (force && i == len(rows)-1) {
			if p.rows == nil {
				p.rows = map[float64][][2]float64{}
			}
			p.rows[y] = append(p.rows[y], [2]float64{x0, x1})
			*labels = append(*labels, svgLabel{class, text, anchor, x, y})
			return true
		}
	}
	return false
}

// svgTimeline draws a flagged flow: the client's packets on the top lane,
// the server's below, long silences as shaded bands with the threshold
// marked, the RST labelled with its likely sender, and the capture end.
func (r *Report) svgTimeline(tl *timeline) svgTimeline {
	fl := tl.Flow
	th := r.Result.Threshold
	s := svgTimeline{ID: fmt.Sprintf("tl-%d", fl.Index), W: svgW, H: svgH, AxisX1: plotL, AxisX2: plotR, AxisY: yAxis}
	s.Title = fmt.Sprintf("Timeline of flow %d, %s", fl.Index, flowName(fl))
	s.Lanes = []svgLane{
		{"client", fl.Client.String(), plotL, plotR, yClient, yClient + 15},
		{"server", fl.Server.String(), plotL, plotR, yServer, yServer + 15},
	}

	var pts []int64
	for _, e := range tl.Events {
		pts = append(pts, e.Time.UnixNano())
	}
	for _, g := range tl.Gaps {
		pts = append(pts, g.Start.UnixNano(), g.End.UnixNano())
	}
	pts = append(pts, tl.End.UnixNano())
	slices.Sort(pts)
	pts = slices.Compact(pts)
	ax := newAxis(pts, th)

	var pl placer
	var desc []string
	if n := len(tl.Gaps); n > 3 {
		longest := tl.Gaps[0].Duration
		for _, g := range tl.Gaps {
			longest = max(longest, g.Duration)
		}
		drawn := ""
		if more := fl.GapsNotListed; more > 0 {
			longest = max(longest, fl.MaxGap) // the longest may be one not listed
			drawn = fmt.Sprintf(", %d of them drawn: the first %d and the latest", n, n-1)
			n += more
		}
		desc = append(desc, fmt.Sprintf("%d silences past the %s threshold between %s and %s UTC, the longest %s%s.",
			n, seconds(th), clockOf(tl.Gaps[0].Start), clockOf(tl.Gaps[len(tl.Gaps)-1].End), roughly(longest), drawn))
	}
	// Long silences: a band, its length, the threshold (labelled once).
	for _, g := range tl.Gaps {
		x0, x1 := ax.x(g.Start), ax.x(g.End)
		words := gapWords(g.Duration)
		title := fmt.Sprintf("%s, %s to %s UTC, past the %s idle threshold; ended by %s", words, clockOf(g.Start), clockOf(g.End), seconds(th), g.EndedBy)
		s.Bands = append(s.Bands, svgBox{x0, bandTop, max(x1-x0, 1), bandBottom - bandTop, title})
		if len(tl.Gaps) <= 3 {
			desc = append(desc, fmt.Sprintf("%s from %s to %s UTC, past the %s threshold.", words, clockOf(g.Start), clockOf(g.End), seconds(th)))
		}
		mid := (x0 + x1) / 2
		switch short := shortly(g.Duration); {
		case labelWidth(words)+10 < x1-x0:
			s.Labels = append(s.Labels, svgLabel{"band-lbl", words, "middle", mid, (yClient+yServer)/2 + 4})
		case labelWidth(short)+6 < x1-x0:
			s.Labels = append(s.Labels, svgLabel{"band-lbl", short, "middle", mid, (yClient+yServer)/2 + 4})
		}
		if at := g.Start.Add(th); !at.After(g.End) {
			xt := ax.x(at)
			s.Thresholds = append(s.Thresholds, svgVLine{xt, bandTop - 4, bandBottom,
				fmt.Sprintf("%s after the last packet (%s UTC): a middlebox with this idle timeout forgets the flow here", seconds(th), clockOf(at))})
			if len(s.Thresholds) == 1 {
				pl.place(&s.Labels, "thr-lbl", seconds(th)+" idle threshold", xt+4, "start", false, ySecondRow, yTopRow)
			}
		}
	}
	// Axis breaks, each with its real length.
	for _, seg := range ax.segs {
		if !seg.broken {
			continue
		}
		xb := (seg.x0 + seg.x1) / 2
		for _, thr := range s.Thresholds {
			if thr.X > seg.x0 && thr.X < seg.x1 {
				xb = (thr.X + seg.x1) / 2
			}
		}
		d := time.Duration(seg.t1 - seg.t0)
		b := svgBreak{Title: fmt.Sprintf("axis break: %s from %s to %s UTC, not drawn to scale", seconds(d), clockOf(timeOf(seg.t0)), clockOf(timeOf(seg.t1)))}
		for _, y := range []float64{yClient, yServer, yAxis} {
			b.Cuts = append(b.Cuts, pointsOf(xb-6, y+8, xb-2, y-8, xb+6, y-8, xb+2, y+8))
			b.Lines = append(b.Lines, fmt.Sprintf("M%s %sL%s %sM%s %sL%s %s", f1(xb-6), f1(y+8), f1(xb-2), f1(y-8), f1(xb+2), f1(y+8), f1(xb+6), f1(y-8)))
		}
		s.Breaks = append(s.Breaks, b)
		pl.place(&s.Labels, "brk-lbl", "≈ "+shortly(d), xb, "middle", true, yBottomRow)
	}
	// Packets; of those that would be drawn on the same spot, the first.
	type spot struct {
		x    int
		side analyze.Side
		kind analyze.PacketKind
	}
	drawn := map[spot]bool{}
	for i := range tl.Events {
		e := &tl.Events[i]
		x := ax.x(e.Time)
		y := yClient
		if e.Side == analyze.Server {
			y = yServer
		}
		sp := spot{int(x * 2), e.Side, e.Kind}
		if drawn[sp] && e.Reset == nil {
			continue
		}
		drawn[sp] = true
		title := clockOf(e.Time) + " " + e.direction() + ": " + e.words()
		if e.Kind == "" {
			title = clockOf(e.Time) + " " + e.What
		}
		if fr := r.frameName(&e.PacketRef); fr != "" {
			title += " (" + fr + ")"
		}
		if e.Reset != nil {
			title += ", " + resetVerdict(e.Reset)
		}
		m := svgMark{Class: string(e.Kind), Title: title, X: x, Y: y}
		switch e.Kind {
		case analyze.PacketData, analyze.PacketRetransmission:
			m.Shape, m.X, m.Y, m.W, m.H = "rect", x-1.5, y-11, 3, 22
		case analyze.PacketAck:
			m.Shape, m.X, m.Y, m.W, m.H = "rect", x-0.75, y-6, 1.5, 12
		case analyze.PacketKeepalive, analyze.PacketKeepaliveAck:
			m.Shape, m.W = "circle", 5
		case analyze.PacketZeroWindowProbe:
			m.Shape, m.Points = "polygon", pointsOf(x, y-6, x+6, y, x, y+6, x-6, y)
		case analyze.PacketSyn:
			m.Shape, m.Points = "polygon", pointsOf(x-5, y-6, x+6, y, x-5, y+6)
		case analyze.PacketFin:
			m.Shape, m.X, m.Y, m.W, m.H = "rect", x-4.5, y-4.5, 9, 9
		case analyze.PacketRst:
			m.Shape, m.Points = "path", fmt.Sprintf("M%s %sL%s %sM%s %sL%s %s", f1(x-7), f1(y-7), f1(x+7), f1(y+7), f1(x+7), f1(y-7), f1(x-7), f1(y+7))
		default:
			m.Shape, m.Class, m.Y, m.H = "line", "known", bandTop+2, bandBottom-2
		}
		s.Marks = append(s.Marks, m)
	}
	// RST labels go on top, above everything else.
	for i := range tl.Events {
		e := &tl.Events[i]
		if e.Kind != analyze.PacketRst {
			continue
		}
		label := "RST in the " + e.Side.String() + "'s name"
		if e.Reset != nil {
			label = resetLabel(e.Reset)
			desc = append(desc, fmt.Sprintf("At %s UTC a RST carrying the %s's address, %s.", clockOf(e.Time), e.Reset.ClaimedBy, resetSender(e.Reset)))
		}
		pl.place(&s.Labels, "alert-lbl", label, ax.x(e.Time)-4, "end", true, yTopRow, ySecondRow)
	}
	// What the other consequences look like on the wire.
	for _, f := range fl.Findings {
		ev := &f.Evidence
		switch {
		case f.Kind == analyze.BlackholedAfterIdle && ev.Unacked != nil:
			pl.place(&s.Labels, "alert-lbl", fmt.Sprintf("%s's data retransmitted %d×, never acknowledged", ev.Unacked.Side, ev.Retransmitted),
				ax.x(ev.Unacked.Time), "start", true, yTopRow, ySecondRow)
		case f.Kind == analyze.ClosedAfterIdle && ev.GapEnd != nil:
			pl.place(&s.Labels, "alert-lbl", fmt.Sprintf("FIN from the %s: a proxy or application timeout?", ev.GapEnd.Side),
				ax.x(ev.GapEnd.Time)-4, "end", true, yTopRow, ySecondRow)
		case f.Kind == analyze.HungAtCaptureEnd && ev.Waiting != "":
			pl.place(&s.Labels, "alert-lbl", fmt.Sprintf("the %s is still waiting", ev.Waiting),
				ax.x(tl.End)-4, "end", true, yTopRow, ySecondRow)
		}
	}
	// Capture end.
	xe := ax.x(tl.End)
	s.End = &svgVLine{xe, bandTop - 4, yAxis + 4, "capture end, " + clockOf(tl.End) + " UTC"}
	pl.place(&s.Labels, "end-lbl", "capture end "+clockOf(tl.End), xe, "end", true, yBottomRow, yTickRow)
	desc = append(desc, "The capture ends at "+clockOf(tl.End)+" UTC.")
	// Time labels: where each stretch drawn to scale starts and ends, and
	// round times inside wide ones; each time of day once.
	labelled := map[string]bool{}
	tick := func(t int64) {
		x, text := ax.x(timeOf(t)), clockOf(timeOf(t))
		if !labelled[text] && pl.place(&s.Labels, "tick-lbl", text, x, "middle", false, yTickRow) {
			labelled[text] = true
			s.Ticks = append(s.Ticks, svgVLine{X: x, Y1: yAxis - 3, Y2: yAxis + 3})
		}
	}
	for _, seg := range ax.segs {
		if !seg.broken {
			tick(seg.t0)
			tick(seg.t1)
		}
	}
	for _, seg := range ax.segs {
		if seg.broken || seg.x1-seg.x0 < 160 || seg.t1 == seg.t0 {
			continue
		}
		step := tickStep((seg.x1 - seg.x0) / float64(seg.t1-seg.t0))
		for t := (seg.t0/step + 1) * step; t < seg.t1; t += step {
			tick(t)
		}
	}
	if len(s.Breaks) > 0 {
		desc = append(desc, "Long stretches without packets are drawn at a fixed width, marked // and labelled with their real length; each stretch with packets has its own scale.")
	}
	s.Desc = strings.Join(desc, " ")
	return s
}

// tickStep is the round interval, in nanoseconds, that puts time labels
// about 120 units apart at the given scale.
func tickStep(scale float64) int64 {
	want := 120 / scale
	step := math.Pow(10, math.Floor(math.Log10(want)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step*m >= want {
			return int64(step * m)
		}
	}
	return int64(step * 10)
}

func pointsOf(xy ...float64) string {
	var b strings.Builder
	for i := 0; i+1 < len(xy); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f1(xy[i]) + "," + f1(xy[i+1]))
	}
	return b.String()
}

// shortly prints a duration without the minutes form: "960 s", "10.0 s".
func shortly(d time.Duration) string {
	short, _, _ := strings.Cut(roughly(d), " (")
	return short
}

// f1 prints a coordinate with one decimal, without a trailing ".0".
func f1(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") }
