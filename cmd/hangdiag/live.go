package main

// The live command: capture on an interface, warn while a flow goes silent
// towards the middlebox's timeout, and write the analyze report at the end.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
	"github.com/hangdiag/hangdiag/report"
)

// liveOptions holds the parsed live flags.
type liveOptions struct {
	iface     string
	idle      string
	middlebox string
	warnAt    float64
	snaplen   int
	duration  time.Duration
	format    string
	alerts    string
	output    string
	write     string
	maxFlows  int
	user      string
	quiet     bool
	all       bool
}

const liveUsage = `Usage: hangdiag live -i IFACE [--idle D | --middlebox NAME] [flags] [FILTER EXPRESSION...]

Capture TCP on IFACE ("any" for every interface) and warn, one line per
alert on stderr, when a flow has been silent for --warn-at of the idle
threshold, again when it passes the threshold, and when a reset or black
hole follows. On SIGINT or SIGTERM, or after --duration, write the report
"hangdiag analyze" would write, with the capture end taken as now.

FILTER EXPRESSION is a tcpdump-style filter (tcp port 443 and host
10.0.0.5), run in the kernel; only TCP is ever captured.

Flags:
`

// runLive is the live command.
func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o liveOptions
	fs := pflag.NewFlagSet("hangdiag live", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetInterspersed(true)
	fs.StringVarP(&o.iface, "interface", "i", "", "interface to capture on, or \"any\" for all of them")
	fs.StringVar(&o.idle, "idle", "", "middlebox idle timeout under test: a Go duration (350s, 6m) or seconds (default 350s, or the preset's)")
	fs.StringVar(&o.middlebox, "middlebox", "", "middlebox preset (see \"hangdiag middleboxes\"), e.g. aws-nlb")
	fs.Float64Var(&o.warnAt, "warn-at", analyze.DefaultWarnAt, "warn when a flow has been silent for this share of the idle timeout")
	fs.IntVarP(&o.snaplen, "snaplen", "s", pcapio.DefaultSnaplen, "bytes kept of each packet: link, IP and TCP headers with options; payload is not needed")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (default: at SIGINT or SIGTERM)")
	fs.StringVar(&o.format, "format", "table", "final report format: "+strings.Join(report.FormatNames(), ", ")+"; jsonl also makes the alerts JSON lines")
	fs.StringVar(&o.alerts, "alerts", "", "alert lines on stderr: text or jsonl (default text, or jsonl with --format jsonl)")
	fs.StringVarP(&o.output, "output", "o", "", "write the final report to this file instead of standard output")
	fs.StringVarP(&o.write, "write", "w", "", "also save every captured packet to this capture file, for hangdiag analyze later")
	fs.IntVar(&o.maxFlows, "max-flows", analyze.DefaultMaxFlows, "most flows tracked at once; beyond it the longest-idle flows are evicted and counted")
	fs.StringVarP(&o.user, "relinquish-privileges", "Z", "", "once the capture has started, switch to this user (default when run as root: nobody, if it exists; -Z root keeps root)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no status line and no start and end messages; alerts are still written")
	fs.BoolVar(&o.all, "all", false, "list every flow in the final report, not only flows with findings")
	fs.Usage = func() {
		fmt.Fprint(stderr, liveUsage)
		fs.PrintDefaults()
	}
	cfg, ok, err := parseFlags(fs, args, o.config)
	if !ok {
		return err
	}
	render := report.Formats[o.format]
	filter := strings.Join(fs.Args(), " ")

	src, err := pcapio.OpenLive(o.iface, &pcapio.LiveConfig{Snaplen: o.snaplen, Filter: filter})
	if err != nil {
		return err
	}
	defer src.Close()

	// Open the output files while still privileged.
	var (
		capFile *os.File
		capW    *pcapio.Writer
		repFile *os.File
	)
	if o.write != "" {
		if capFile, err = os.Create(o.write); err != nil {
			return err
		}
		defer capFile.Close()
		if capW, err = pcapio.NewPcapngWriter(capFile, src.LinkType()); err != nil {
			return err
		}
	}
	if o.output != "" && o.output != "-" {
		if repFile, err = os.Create(o.output); err != nil {
			return err
		}
		defer repFile.Close()
	}
	if note, err := relinquish(o.user); err != nil {
		return err
	} else if note != "" && !o.quiet {
		fmt.Fprintln(stderr, "hangdiag: "+note)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := analyze.New(cfg)
	threshold := a.Threshold()
	out := &alertWriter{w: stderr, jsonl: o.alerts == "jsonl", threshold: threshold}
	out.status = !o.quiet && !out.jsonl && isTerminal(stderr)
	if !o.quiet {
		desc := filter
		if desc == "" {
			desc = "all TCP"
		}
		fmt.Fprintf(stderr, "hangdiag: listening on %s (%s, snap length %d, filter: %s), idle threshold %s, warning at %s; stop with Ctrl-C\n",
			o.iface, pcapio.LinkName(src.LinkType()), o.snaplen, desc, secs(threshold), secs(time.Duration(float64(threshold)*o.warnAt)))
	}

	capErr := captureLive(ctx, src, a, capW, out, o.duration, tickInterval(threshold))
	now := time.Now()
	out.alerts(a.Tick(now))
	out.clearStatus()
	if capW != nil {
		if err := capW.Flush(); err != nil && capErr == nil {
			capErr = writeError(o.write, err)
		}
		if err := capFile.Close(); err != nil && capErr == nil {
			capErr = writeError(o.write, err)
		}
	}
	rep := liveReport(src, a.Finish(now))
	defer rep.Result.Flows.Close()
	if !o.quiet {
		st := rep.Capture
		ks, _ := src.KernelStats()
		fmt.Fprintf(stderr, "hangdiag: %d packets captured (%d TCP), %d dropped by the kernel\n", st.Packets, st.TCP(), ks.Dropped)
	}
	w := stdout
	if repFile != nil {
		w = repFile
	}
	if err := render(w, rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := readBack(rep.Result); err != nil {
		return err
	}
	if repFile != nil {
		if err := repFile.Close(); err != nil {
			return writeError(o.output, err)
		}
	}
	return capErr
}

// config validates the flags into an analyze.Config.
func (o *liveOptions) config() (analyze.Config, error) {
	if o.iface == "" {
		return analyze.Config{}, usagef("no interface given: -i IFACE, or -i any")
	}
	ao := analyzeOptions{idle: o.idle, middlebox: o.middlebox, all: o.all, maxFlows: o.maxFlows}
	cfg, err := ao.config()
	if err != nil {
		return cfg, err
	}
	if !(o.warnAt > 0 && o.warnAt < 1) {
		return cfg, usagef("--warn-at must be between 0 and 1, e.g. 0.8")
	}
	cfg.WarnAt = o.warnAt
	if o.snaplen < pcapio.MinSnaplen || o.snaplen > pcapio.WriteSnaplen {
		return cfg, usagef("--snaplen must be from %d to %d", pcapio.MinSnaplen, pcapio.WriteSnaplen)
	}
	if o.duration < 0 {
		return cfg, usagef("--duration must not be negative")
	}
	if _, ok := report.Formats[o.format]; !ok {
		return cfg, usagef("unknown format %q; use one of %s", o.format, strings.Join(report.FormatNames(), ", "))
	}
	switch o.alerts {
	case "":
		o.alerts = "text"
		if o.format == "jsonl" {
			o.alerts = "jsonl"
		}
	case "text", "jsonl":
	default:
		return cfg, usagef("unknown alert format %q; use text or jsonl", o.alerts)
	}
	if o.write != "" && o.write == o.output {
		return cfg, usagef("-w and -o name the same file")
	}
	return cfg, nil
}

// tickInterval is how often the analyzer's clock ticks: a twentieth of
// the threshold, so that alerts come within 5 % of it, between 100 ms and
// a second (Tick visits every flow).
func tickInterval(threshold time.Duration) time.Duration {
	return min(max(threshold/20, 100*time.Millisecond), time.Second)
}

// captureLive reads packets until ctx ends, the duration passes or the socket
// fails, feeding them to the analyzer and the capture file and ticking the
// analyzer's clock every tick, also when no packet arrives.
func captureLive(ctx context.Context, src *pcapio.Live, a *analyze.Analyzer, capW *pcapio.Writer, out *alertWriter, duration, tick time.Duration) error {
	start := time.Now()
	next := start.Add(tick)
	var seg pcapio.Segment
	for ctx.Err() == nil && (duration == 0 || time.Since(start) < duration) {
		ok, err := src.Next(&seg)
		if err != nil {
			return err
		}
		if raw, has := src.Raw(); has && capW != nil {
			if err := capW.WritePacket(raw); err != nil {
				return fmt.Errorf("write capture: %w", err)
			}
		}
		if ok {
			a.Add(&seg)
		}
		if now := time.Now(); !now.Before(next) {
			next = now.Add(tick)
			out.alerts(a.Tick(now))
			if capW != nil {
				if err := capW.Flush(); err != nil {
					return fmt.Errorf("write capture: %w", err)
				}
			}
			if out.status {
				ks, _ := src.KernelStats()
				st := src.Stats()
				out.showStatus(fmt.Sprintf("%s  %d flows tracked, %d packets, %d TCP, %d dropped by the kernel, %d alerts",
					now.Format("15:04:05"), a.Tracked(), st.Packets, st.TCP(), ks.Dropped, out.count))
			}
		}
	}
	return nil
}

// liveReport builds the report of a live capture: the interface stands as
// the one file, and the kernel's drops, when there were any, as its damage.
func liveReport(src *pcapio.Live, res *analyze.Result) *report.Report {
	info := src.Info()
	if ks, err := src.KernelStats(); err != nil {
		info.Damage = "the kernel's drop count could not be read: " + err.Error()
	} else if ks.Dropped > 0 {
		info.Damage = fmt.Sprintf("the kernel dropped %d of %d packets the filter accepted (the capture did not keep up; narrow the filter)", ks.Dropped, ks.Received)
	}
	return &report.Report{Files: []pcapio.FileInfo{info}, Capture: src.Stats(), Result: res}
}

// alertWriter writes alerts to stderr, one line each, as text or JSON, and
// keeps a status line below them on a terminal.
type alertWriter struct {
	w         io.Writer
	jsonl     bool
	status    bool // a status line is shown (a terminal, text alerts)
	shown     bool // the status line is on screen now
	threshold time.Duration
	count     int
}

// jsonAlert is one alert as a JSON line.
type jsonAlert struct {
	Time      time.Time `json:"time"`
	Level     string    `json:"level"` // warning, expired, finding
	Kind      string    `json:"kind,omitempty"`
	Client    string    `json:"client"`
	Server    string    `json:"server"`
	Idle      float64   `json:"idle_seconds,omitempty"`
	Threshold float64   `json:"idle_threshold_seconds"`
	Message   string    `json:"message"`
}

func (w *alertWriter) alerts(als []analyze.Alert) {
	if len(als) == 0 {
		return
	}
	w.clearStatus()
	for _, al := range als {
		w.count++
		if w.jsonl {
			b, _ := json.Marshal(jsonAlert{Time: al.Time.UTC(), Level: string(al.Level), Kind: string(al.Kind), Client: al.Client, Server: al.Server,
				Idle: al.Idle.Seconds(), Threshold: w.threshold.Seconds(), Message: al.Message})
			fmt.Fprintf(w.w, "%s\n", b)
			continue
		}
		level := string(al.Level)
		if al.Kind != "" {
			level += " " + string(al.Kind)
		}
		fmt.Fprintf(w.w, "%s %s: %s\n", al.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), level, al.Message)
	}
}

func (w *alertWriter) showStatus(s string) {
	fmt.Fprintf(w.w, "\r\x1b[K%s", s)
	w.shown = true
}

func (w *alertWriter) clearStatus() {
	if w.shown {
		fmt.Fprint(w.w, "\r\x1b[K")
		w.shown = false
	}
}

// secs prints a duration in seconds, as the report does.
func secs(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", d.Seconds()), "0"), ".") + " s"
}
