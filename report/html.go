package report

import (
	"fmt"
	"html/template"
	"io"
	"iter"
	"slices"
	"strconv"

	"github.com/hangdiag/hangdiag/analyze"
)

// HTML writes the report as one self-contained page (inline CSS and SVG,
// no script, nothing loaded from elsewhere): the verdict and one line per
// flagged flow, the capture facts, the findings table, and for every
// flagged flow a timeline drawing, its findings, the fix with per-stack
// keepalive settings (once for each side and interval) and a Wireshark
// display filter. Past listedFindings findings, it lists the first and
// the flows of those, and counts the rest.
func HTML(w io.Writer, r *Report) error {
	bw := newOutput(w)
	if err := pageTemplate.Execute(bw, r.htmlPage()); err != nil {
		return err
	}
	return bw.Flush()
}

type htmlPage struct {
	Title    string
	Verdict  string
	Summary  []htmlSummary
	Facts    [][2]string
	Findings []htmlFindingRow
	Unlisted string               // how many findings the page leaves out; "" when none
	Flows    iter.Seq[htmlFlow]   // made one at a time as the page is written
	All      iter.Seq[htmlAllRow] // made one at a time too; nil without --all
	Schema   string
}

type htmlSummary struct {
	Anchor, Flow, Headline, Fix string
}

type htmlFindingRow struct {
	N                                     int
	Severity, Kind, Flow, Anchor, At, Gap string
}

type htmlFlow struct {
	Anchor, Name, Facts string
	Headline            string
	Timeline            svgTimeline
	Caption             string
	Findings            []shownFinding
	Fixes               []string
	Advice              advice
	Snippets            []snippet // how to turn keepalives on, when this section shows it
	Note                string
	HowToAt             string // the anchor of the section that shows it, when another does
	HowToIndex          int    // and its flow's Index
	Filter              string
}

type htmlAllRow struct {
	Index                                   int
	Flow, State, Packets, MaxGap, Keepalive string
	Findings                                int
}

func (r *Report) htmlPage() htmlPage {
	res := r.Result
	rows := r.sortedFindings(listedFindings)
	p := htmlPage{Title: "hangdiag report", Verdict: r.verdict(rows), Schema: Schema}
	if len(r.Files) == 1 {
		p.Title += ": " + r.Files[0].Name
	}
	for i := range r.Files {
		f := &r.Files[i]
		line := f.Name + " (" + formatWords(f)
		p.Facts = append(p.Facts, [2]string{"File", line + ", " + count(f.Packets, "packet", "packets") + ")"})
	}
	st := &r.Capture
	if st.Packets > 0 {
		span, end := r.spanWords()
		p.Facts = append(p.Facts, [2]string{"Span", span})
		if end != "" {
			p.Facts = append(p.Facts, [2]string{"Capture end", end})
		}
	}
	p.Facts = append(p.Facts, [2]string{"Packets", fmt.Sprintf("%d, of which %d TCP; %s", st.Packets, st.TCP(), count(uint64(res.Stats.Flows), "flow", "flows"))})
	p.Facts = append(p.Facts, [2]string{"Idle threshold", r.thresholdWords()})
	if inf := res.Inference; inf.Fatal > 0 || inf.Survived > 0 {
		p.Facts = append(p.Facts, [2]string{"Timeout bracket", bracket(inf)})
	}
	if m := matchedPresets(res.Inference); m != "" {
		p.Facts = append(p.Facts, [2]string{"Presets in the bracket", m})
	}
	for _, s := range r.Warnings() {
		p.Facts = append(p.Facts, [2]string{"Warning", s})
	}
	for _, s := range r.Notes() {
		p.Facts = append(p.Facts, [2]string{"Note", s})
	}
	for i := range rows.rows {
		row := &rows.rows[i]
		p.Findings = append(p.Findings, htmlFindingRow{i + 1, row.severity.String(), string(row.kind), row.flow,
			flowAnchor(row.index), row.at.Format("15:04:05.000"), seconds(row.gap)})
	}
	p.Unlisted = rows.unlistedNote()
	for _, fl := range rows.listedFlows(res.Flows.WithoutText()) {
		p.Summary = append(p.Summary, htmlSummary{flowAnchor(fl.Index), flowName(fl), headline(fl), flowAdvice(res, fl).Short})
	}
	p.Flows = func(yield func(htmlFlow) bool) {
		shown := howTos{}
		for _, fl := range rows.listedFlows(res.Flows) {
			if !yield(r.htmlFlow(fl, rows, shown)) {
				return
			}
		}
	}
	if rows.hasUnflagged() {
		p.All = func(yield func(htmlAllRow) bool) {
			for _, f := range res.Flows.WithoutText().All() {
				if !yield(htmlAllRow{f.Index, flowName(f), f.State.String(), fmt.Sprint(f.Packets), seconds(f.MaxGap),
					fmt.Sprintf("%d/%d", f.Keepalive[analyze.Client].Probes, f.Keepalive[analyze.Server].Probes), len(f.Findings)}) {
					return
				}
			}
		}
	}
	return p
}

// htmlFlow is the section of one flagged flow; it shows how to turn
// keepalives on only when no section before it, among those shown
// records, does the same.
func (r *Report) htmlFlow(fl *analyze.Flow, rows *findingList, shown howTos) htmlFlow {
	adv := flowAdvice(r.Result, fl)
	hf := htmlFlow{Anchor: flowAnchor(fl.Index), Name: fmt.Sprintf("Flow %d: %s", fl.Index, flowName(fl)), Facts: flowFacts(fl, r.Result.Threshold), Headline: capitalize(headline(fl)),
		Findings: rows.shown(fl), Advice: adv, Filter: WiresharkFilter(fl)}
	tl := r.timeline(fl)
	hf.Timeline = r.svgTimeline(&tl)
	hf.Caption = "Top lane: packets the client sent; bottom lane: packets the server sent. " + hf.Timeline.Desc
	if !tl.Full {
		hf.Caption += " Only the packets the findings name are drawn (this report was made without a per-packet trace)."
	}
	for _, f := range fl.Findings {
		if f.Fix != "" && !slices.Contains(hf.Fixes, f.Fix) {
			hf.Fixes = append(hf.Fixes, f.Fix)
		}
	}
	if adv.Keepalive {
		if at, ok := shown.shownAt(&adv, fl.Index); ok {
			hf.HowToAt, hf.HowToIndex = flowAnchor(at), at
		} else {
			hf.Snippets, hf.Note = adv.Snippets(), httpKeepAliveNote
		}
	}
	return hf
}

// flowAnchor is the id of a flow's section in the page.
func flowAnchor(index int) string { return "flow-" + strconv.Itoa(index) }

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"f":   f1,
	"sec": seconds,
}).Parse(pageHTML + svgHTML + legendHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328; background: #fff; margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 28px 40px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 32px 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 18px; margin: 0 0 6px; }
h4 { font-size: 15px; margin: 16px 0 6px; }
.verdict { font-size: 18px; font-weight: 600; margin: 4px 0 10px; }
.verdict.bad { color: #a40e26; }
.verdict.good { color: #1a7f37; }
ul.summary { padding-left: 20px; margin: 6px 0; }
ul.summary li { margin: 4px 0; }
.fixline { color: #1a7f37; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.facts th { width: 190px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
code { background: #f6f8fa; padding: 1px 4px; border-radius: 4px; word-break: break-all; }
pre { background: #f6f8fa; padding: 10px 12px; border-radius: 6px; overflow-x: auto; }
pre code { padding: 0; background: none; word-break: normal; }
.sev { display: inline-block; min-width: 60px; text-align: center; border-radius: 10px; padding: 0 8px; font-size: 13px; font-weight: 600; color: #fff; }
.sev.error { background: #cf222e; }
.sev.warning { background: #9a6700; }
.sev.info { background: #57606a; }
article.flow { border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 20px; margin: 18px 0; }
.headline { font-weight: 600; margin: 0 0 4px; }
.facts-line { color: #57606a; margin: 0 0 10px; }
figure { margin: 8px 0 12px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { color: #57606a; font-size: 13px; }
ul.findings { list-style: none; padding-left: 0; }
ul.findings li { margin: 8px 0; }
ul.findings li.fold { color: #57606a; font-style: italic; }
.fix { background: #dafbe1; border: 1px solid #aceebb; border-radius: 6px; padding: 4px 14px 10px; margin: 12px 0; }
.fix h4 { margin-top: 8px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
.note { color: #57606a; font-size: 14px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 6px 0 12px; padding: 0; list-style: none; font-size: 13px; color: #57606a; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { width: 22px; height: 22px; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #57606a; }
svg .lane { stroke: #d0d7de; stroke-width: 1; }
svg .axis { stroke: #57606a; stroke-width: 1; }
svg .tick { stroke: #57606a; }
svg .lane-name { font-size: 13px; font-weight: 600; fill: #1f2328; }
svg .band { fill: #fff1b8; stroke: #d4a72c; stroke-width: 1; }
svg .band-lbl { font-size: 12px; font-weight: 600; fill: #7d4e00; paint-order: stroke; stroke: #fff1b8; stroke-width: 4px; }
svg .thr { stroke: #cf222e; stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .thr-lbl { fill: #cf222e; }
svg .brk-cut { fill: #fff; }
svg .brk { fill: none; stroke: #1f2328; stroke-width: 1.5; }
svg .brk-lbl { font-weight: 600; fill: #1f2328; }
svg .end { stroke: #1f2328; stroke-width: 2; }
svg .end-lbl { fill: #1f2328; font-weight: 600; }
svg .m-data { fill: #0969da; }
svg .m-retransmission { fill: #d1580b; }
svg .m-ack { fill: #8c959f; }
svg .m-keepalive { fill: #1a7f37; }
svg .m-keepalive-ack { fill: #fff; stroke: #1a7f37; stroke-width: 2; }
svg .m-zero-window-probe { fill: #8250df; }
svg .m-syn { fill: #1f2328; }
svg .m-fin { fill: #fff; stroke: #1f2328; stroke-width: 2; }
svg .m-rst { stroke: #cf222e; stroke-width: 3.5; stroke-linecap: round; fill: none; }
svg .m-known { stroke: #8c959f; stroke-width: 1.5; stroke-dasharray: 3 3; }
svg .alert-lbl { fill: #cf222e; font-weight: 700; font-size: 12px; }
footer { color: #57606a; font-size: 13px; margin-top: 36px; }
</style>
</head>
<body>
<main>
<h1>hangdiag report</h1>
<p class="verdict {{if .Summary}}bad{{else}}good{{end}}">{{.Verdict}}</p>
{{- if .Summary}}
<ul class="summary">
{{- range .Summary}}
<li><a href="#{{.Anchor}}"><b>{{.Flow}}</b></a>: {{.Headline}}. <span class="fixline">Fix: {{.Fix}}.</span></li>
{{- end}}
</ul>
{{- end}}

<h2>Capture</h2>
<table class="facts">
{{- range .Facts}}
<tr><th scope="row">{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{- end}}
</table>
{{- if .Findings}}

<h2>Findings</h2>
<table>
<thead><tr><th>#</th><th>Severity</th><th>Kind</th><th>Client → Server</th><th>At (UTC)</th><th>Gap</th></tr></thead>
<tbody>
{{- range .Findings}}
<tr><td class="num">{{.N}}</td><td><span class="sev {{.Severity}}">{{.Severity}}</span></td><td>{{.Kind}}</td><td><a href="#{{.Anchor}}">{{.Flow}}</a></td><td>{{.At}}</td><td class="num">{{.Gap}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .Unlisted}}
<p class="note">{{.Unlisted}}</p>
{{- end}}

<h2>Flagged flows</h2>
{{template "legend"}}
{{- range .Flows}}
<article class="flow" id="{{.Anchor}}">
<h3>{{.Name}}</h3>
<p class="headline">{{.Headline}}.</p>
<p class="facts-line">{{.Facts}}</p>
<figure>
{{template "svg" .Timeline}}
<figcaption>{{.Caption}}</figcaption>
</figure>
<h4>Findings <span class="note">(numbered as in the findings table)</span></h4>
<ul class="findings">
{{- range .Findings}}
{{- if .Last}}
<li class="fold"><b>{{.N}}–{{.Last}}.</b> {{.Summary}}.</li>
{{- else}}
<li><b>{{.N}}.</b> <span class="sev {{.F.Severity}}">{{.F.Severity}}</span> <b>{{.F.Kind}}</b>: {{.F.Message}}</li>
{{- end}}
{{- end}}
</ul>
<div class="fix">
<h4>Fix</h4>
{{- range .Fixes}}
<p>{{.}}</p>
{{- end}}
{{- if .Advice.Middlebox}}
<p><b>Middlebox:</b> {{.Advice.Middlebox}} Source: <code>{{.Advice.Source}}</code></p>
{{- end}}
{{- if .Snippets}}
<details>
<summary>How to enable TCP keepalive on the {{.Advice.Side}}, every {{sec .Advice.Interval}}</summary>
<p class="note">{{.Note}}</p>
{{- range .Snippets}}
<h4>{{.Stack}}</h4>
<pre><code>{{.Code}}</code></pre>
{{- if .Note}}
<p class="note">{{.Note}}</p>
{{- end}}
{{- end}}
</details>
{{- else if .HowToAt}}
<p><b>How to enable TCP keepalive on the {{.Advice.Side}}, every {{sec .Advice.Interval}}:</b> as under <a href="#{{.HowToAt}}">flow {{.HowToIndex}}</a>.</p>
{{- end}}
</div>
<p><b>Wireshark filter:</b> <code>{{.Filter}}</code></p>
</article>
{{- end}}
{{- end}}
{{- if .All}}

<h2>All flows</h2>
<table>
<thead><tr><th>#</th><th>Client → Server</th><th>State</th><th>Packets</th><th>Max gap</th><th>Keepalives client/server</th><th>Findings</th></tr></thead>
<tbody>
{{- range .All}}
<tr><td class="num">{{.Index}}</td><td>{{.Flow}}</td><td>{{.State}}</td><td class="num">{{.Packets}}</td><td class="num">{{.MaxGap}}</td><td>{{.Keepalive}}</td><td class="num">{{.Findings}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
<footer>Made by hangdiag. Times are UTC; frame numbers are the ones Wireshark shows. The JSON report (schema {{.Schema}}) holds every figure.</footer>
</main>
</body>
</html>
`

const svgHTML = `{{define "svg"}}<svg viewBox="0 0 {{.W}} {{.H}}" role="img" aria-labelledby="{{.ID}}-title {{.ID}}-desc">
<title id="{{.ID}}-title">{{.Title}}</title>
<desc id="{{.ID}}-desc">{{.Desc}}</desc>
{{- range .Bands}}
<g><title>{{.Title}}</title><rect class="band" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}"/></g>
{{- end}}
{{- range .Lanes}}
<line class="lane" x1="{{f .X1}}" y1="{{f .Y}}" x2="{{f .X2}}" y2="{{f .Y}}"/>
<text class="lane-name" x="8" y="{{f .Y}}">{{.Name}}</text>
<text x="8" y="{{f .Y2}}">{{.Addr}}</text>
{{- end}}
<line class="axis" x1="{{f .AxisX1}}" y1="{{f .AxisY}}" x2="{{f .AxisX2}}" y2="{{f .AxisY}}"/>
<text class="lane-name" x="8" y="{{f .AxisY}}">time (UTC)</text>
{{- range .Ticks}}
<line class="tick" x1="{{f .X}}" y1="{{f .Y1}}" x2="{{f .X}}" y2="{{f .Y2}}"/>
{{- end}}
{{- range .Thresholds}}
<g><title>{{.Title}}</title><line class="thr" x1="{{f .X}}" y1="{{f .Y1}}" x2="{{f .X}}" y2="{{f .Y2}}"/></g>
{{- end}}
{{- range .Breaks}}
<g><title>{{.Title}}</title>
{{- range .Cuts}}<polygon class="brk-cut" points="{{.}}"/>{{end}}
{{- range .Lines}}<path class="brk" d="{{.}}"/>{{end}}</g>
{{- end}}
{{- with .End}}
<g><title>{{.Title}}</title><line class="end" x1="{{f .X}}" y1="{{f .Y1}}" x2="{{f .X}}" y2="{{f .Y2}}"/></g>
{{- end}}
{{- range .Marks}}
<g class="m-{{.Class}}"><title>{{.Title}}</title>
{{- if eq .Shape "rect"}}<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}"/>
{{- else if eq .Shape "circle"}}<circle cx="{{f .X}}" cy="{{f .Y}}" r="{{f .W}}"/>
{{- else if eq .Shape "polygon"}}<polygon points="{{.Points}}"/>
{{- else if eq .Shape "path"}}<path d="{{.Points}}"/>
{{- else}}<line x1="{{f .X}}" y1="{{f .Y}}" x2="{{f .X}}" y2="{{f .H}}"/>{{end}}</g>
{{- end}}
{{- range .Labels}}
<text class="{{.Class}}" x="{{f .X}}" y="{{f .Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{- end}}
</svg>{{end}}`

const legendHTML = `{{define "legend"}}<ul class="legend" aria-label="Legend">
<li><svg viewBox="0 0 22 22" aria-hidden="true"><rect class="m-data" x="9.5" y="2" width="3" height="18"/></svg>data</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><rect class="m-ack" x="10" y="6" width="2" height="10"/></svg>ACK</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><rect class="m-retransmission" x="9.5" y="2" width="3" height="18"/></svg>retransmission</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><circle class="m-keepalive" cx="11" cy="11" r="5"/></svg>keepalive probe</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><circle class="m-keepalive-ack" cx="11" cy="11" r="5"/></svg>keepalive ACK</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><polygon class="m-zero-window-probe" points="11,5 17,11 11,17 5,11"/></svg>zero-window probe</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><polygon class="m-syn" points="6,5 17,11 6,17"/></svg>SYN</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><rect class="m-fin" x="6" y="6" width="10" height="10"/></svg>FIN</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><path class="m-rst" d="M5 5L17 17M17 5L5 17"/></svg>RST</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><rect class="band" x="1" y="4" width="20" height="14"/></svg>silence past the threshold</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><line class="thr" x1="11" y1="1" x2="11" y2="21"/></svg>idle threshold reached</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><line class="axis" x1="1" y1="11" x2="21" y2="11"/><polygon class="brk-cut" points="5,19 9,3 17,3 13,19"/><path class="brk" d="M5 19L9 3M13 19L17 3"/></svg>axis break (not to scale)</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><line class="end" x1="11" y1="1" x2="11" y2="21"/></svg>capture end</li>
<li><svg viewBox="0 0 22 22" aria-hidden="true"><line class="m-known" x1="11" y1="1" x2="11" y2="21"/></svg>packet known only by its time</li>
</ul>{{end}}`
