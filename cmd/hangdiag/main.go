// Command hangdiag diagnoses hanging TCP connections from packet captures:
// flows that went silent past a middlebox's idle timeout (an AWS NLB's 350 s,
// a NAT gateway's, a firewall's) and what followed — a reset, a black hole,
// a client waiting forever — in plain English, with the fix.
//
// Usage:
//
//	hangdiag analyze [flags] FILE...
//	hangdiag analyze --vantage [flags] CLIENT-SIDE.pcap SERVER-SIDE.pcap
//	hangdiag live -i IFACE [flags] [FILTER EXPRESSION...]
//	hangdiag middleboxes
//
// Run "hangdiag analyze --help" or "hangdiag live --help" for the flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/hangdiag/hangdiag/analyze"
	"github.com/hangdiag/hangdiag/pcapio"
	"github.com/hangdiag/hangdiag/report"
)

// version is the release; builds may override it with -ldflags "-X main.version=...".
var version = "0.1.0"

// Exit statuses.
const (
	exitOK       = 0
	exitFindings = 1 // with --exit-code, the analysis found something
	exitUsage    = 2 // bad flags or unreadable input
	// exitInterrupted, 128 + SIGINT's number as shells report a process
	// the signal stopped: the run was interrupted and wrote no report.
	exitInterrupted = 130
)

// errFindings is returned by run when --exit-code is set and there are findings.
var errFindings = errors.New("findings reported")

// usageError marks an error in how the command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	if !userGOGC() {
		// The heap is mostly flow state that lives long: collecting at
		// +50 % rather than +100 % keeps peak memory near the flows alive
		// (-15 % at a million flows) for no measurable time.
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// userGOGC reports whether the user set the collector's target (GOGC),
// which the command then leaves alone.
func userGOGC() bool { return os.Getenv("GOGC") != "" }

// exitStatus prints err, if it is worth a line, and maps it to a status.
func exitStatus(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "hangdiag: interrupted before the report was written; nothing was left behind")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "hangdiag: "+err.Error())
	return exitUsage
}

const mainUsage = `hangdiag diagnoses hanging TCP connections from packet captures.

Usage:
  hangdiag analyze [flags] FILE...   analyse captures (pcap, pcapng, gzip, zstd; "-" for stdin)
  hangdiag analyze --vantage A B     compare captures of the same traffic taken at two points
  hangdiag live -i IFACE [FILTER]    watch an interface and warn before a middlebox forgets a flow
  hangdiag middleboxes               list the middlebox presets and their idle timeouts
  hangdiag --version

Run "hangdiag analyze --help" or "hangdiag live --help" for the flags.
`

// run is the whole command, minus the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return usagef("no command given")
	}
	switch args[0] {
	case "analyze", "analyse":
		return runAnalyze(ctx, args[1:], stdout, stderr)
	case "live":
		return runLive(ctx, args[1:], stdout, stderr)
	case "middleboxes":
		return listMiddleboxes(stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, mainUsage)
		return nil
	case "--version", "version":
		fmt.Fprintf(stdout, "hangdiag %s (%s)\n", version, runtime.Version())
		return nil
	}
	return usagef("unknown command %q; try \"hangdiag --help\"", args[0])
}

// analyzeOptions holds the parsed analyze flags.
type analyzeOptions struct {
	idle       string
	middlebox  string
	format     string
	all        bool
	output     string
	exitCode   bool
	maxFlows   int
	captureEnd string
	quiet      bool            // no progress bar
	evidence   evidenceOptions // --write-flagged, --keep-payload, --anonymize, --anonymize-key
	vantage    bool
	cpuProfile string
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o analyzeOptions
	fs := pflag.NewFlagSet("hangdiag analyze", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.idle, "idle", "", "middlebox idle timeout under test: a Go duration (350s, 6m) or seconds (default 350s, or the preset's)")
	fs.StringVar(&o.middlebox, "middlebox", "", "middlebox preset (see \"hangdiag middleboxes\"), e.g. aws-nlb")
	fs.StringVar(&o.format, "format", "table", "output format: "+strings.Join(report.FormatNames(), ", "))
	fs.BoolVar(&o.all, "all", false, "list every flow, not only flows with findings")
	fs.StringVarP(&o.output, "output", "o", "", "write the report to this file instead of standard output")
	fs.BoolVar(&o.exitCode, "exit-code", false, "exit with status 1 when there are findings")
	fs.IntVar(&o.maxFlows, "max-flows", analyze.DefaultMaxFlows, "most flows tracked at once; beyond it the longest-idle flows are evicted and counted")
	fs.StringVar(&o.captureEnd, "capture-end", "", "when the capture really ended (RFC 3339), if later than its last packet")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "draw no progress bar on standard error (drawn only when it is a terminal)")
	o.evidence.addFlags(fs)
	fs.BoolVar(&o.vantage, "vantage", false, "compare two captures of the same traffic taken at two points (rotated files of one point joined by commas)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file, for go tool pprof (and the build's default.pgo)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: hangdiag analyze [flags] FILE...\n\nFlags:\n")
		fs.PrintDefaults()
	}
	cfg, ok, err := parseFlags(fs, args, o.config)
	if !ok {
		return err
	}
	render, ok := report.Formats[o.format]
	if !ok {
		return usagef("unknown format %q; use one of %s", o.format, strings.Join(report.FormatNames(), ", "))
	}
	var end time.Time
	if o.captureEnd != "" {
		if end, err = time.Parse(time.RFC3339Nano, o.captureEnd); err != nil {
			return usagef("--capture-end %q is not an RFC 3339 time", o.captureEnd)
		}
		if !time.Unix(0, end.UnixNano()).Equal(end) { // as packet times are held
			return usagef("--capture-end %s is out of range: give a time from 1678 to 2262", o.captureEnd)
		}
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usagef("no capture files given")
	}
	inputs := fs.Args()
	if o.vantage { // each point's rotated files joined by commas
		inputs = strings.Split(strings.Join(inputs, ","), ",")
	}
	outputs := []output{{"-o", o.output}, {"--write-flagged", o.evidence.path}, {"--cpuprofile", o.cpuProfile}}
	if err := checkPaths(inputs, outputs); err != nil {
		return err
	}

	if f, ok := stderr.(*os.File); ok && !o.quiet {
		if cols, ok := terminalWidth(f); ok {
			ctx = withProgress(ctx, stderr, cols)
		}
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.vantage {
		return runVantage(ctx, fs.Args(), cfg, end, &o, stdout, stderr)
	}
	rep, err := o.evidence.analyze(ctx, fs.Args(), cfg, end, o.format, stderr)
	if err != nil {
		return err
	}
	if last := rep.Capture.Last; !end.IsZero() && rep.Capture.Packets > 0 && end.UnixNano() < last {
		fmt.Fprintf(stderr, "hangdiag: warning: --capture-end %s is before the capture's last packet (%s); the report ends at that packet\n",
			o.captureEnd, time.Unix(0, last).UTC().Format(time.RFC3339Nano))
	}
	if o.format == "table" && o.output == "" {
		rep.Color, rep.Width = terminalStyle(stdout)
	} else {
		// Formats read by programs (or written to a file) may not show
		// the capture's damage to a person: say it on stderr too.
		for _, w := range rep.Warnings() {
			fmt.Fprintln(stderr, "hangdiag: warning: "+w)
		}
	}
	defer rep.Result.Flows.Close()
	if err := writeReport(o.output, stdout, func(w io.Writer) error { return render(w, rep) }); err != nil {
		return err
	}
	flagged := rep.FlaggedFlows()
	if err := readBack(rep.Result); err != nil {
		return err
	}
	if o.exitCode && flagged > 0 {
		return errFindings
	}
	return nil
}

// startCPUProfile starts writing a CPU profile to path and returns what
// ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// readBack reports a failure to read the results' flows back from their
// spill files, which would have left flows out of the report.
func readBack(results ...*analyze.Result) error {
	for _, r := range results {
		if err := r.Flows.Err(); err != nil {
			return fmt.Errorf("reading back the flows kept for the report: %w", err)
		}
	}
	return nil
}

// spillFile is where the finished flows of a long capture wait for the
// report: a temporary file, unlinked at once where the system allows it,
// so that an interrupted run leaves nothing behind.
func spillFile() (analyze.SpillFile, error) {
	f, err := os.CreateTemp("", "hangdiag-flows-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// config validates the flags into an analyze.Config.
func (o *analyzeOptions) config() (analyze.Config, error) {
	cfg := analyze.Config{KeepAll: o.all, MaxFlows: o.maxFlows, Spill: spillFile}
	if o.middlebox != "" {
		mb, ok := analyze.LookupMiddlebox(o.middlebox)
		if !ok {
			return cfg, usagef("unknown middlebox %q; \"hangdiag middleboxes\" lists them", o.middlebox)
		}
		cfg.Middlebox = mb
	}
	if o.idle != "" {
		d, err := parseIdle(o.idle)
		if err != nil {
			return cfg, err
		}
		cfg.Idle = d
	}
	if o.maxFlows < 1 {
		return cfg, usagef("--max-flows must be at least 1")
	}
	return cfg, nil
}

// parseIdle reads a Go duration or a plain number of seconds.
func parseIdle(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		switch {
		case ferr == nil:
			if !(secs >= minIdle.Seconds() && secs <= maxIdle.Seconds()) { // NaN too; and before the conversion overflows
				return 0, idleRange(s)
			}
			d = time.Duration(secs * float64(time.Second))
		case durationSyntax.MatchString(s): // too long for a time.Duration
			return 0, idleRange(s)
		default:
			return 0, usagef("--idle %q is neither a duration (350s, 6m) nor a number of seconds", s)
		}
	}
	if d < minIdle || d > maxIdle {
		return 0, idleRange(s)
	}
	return d, nil
}

// durationSyntax matches what time.ParseDuration reads, whatever the size.
var durationSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// minIdle and maxIdle bound --idle: no middlebox forgets a flow within a
// millisecond, and a gap longer than pcapio.ClockLeap is taken for the
// capture's clock jumping, not for idle time.
const (
	minIdle = time.Millisecond
	maxIdle = pcapio.ClockLeap
)

func idleRange(s string) error {
	return usagef("--idle %s is out of range: give 1ms to 720h (30 days)", s)
}

// analyzeFiles reads the captures through the analyzer.
func analyzeFiles(ctx context.Context, paths []string, cfg analyze.Config, end time.Time) (*report.Report, error) {
	src, err := pcapio.Open(paths...)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	defer startProgress(ctx, src)()
	a := analyze.New(cfg)
	for n := 0; ; n++ {
		batch := src.NextBatch()
		if len(batch) == 0 {
			break
		}
		if n&0xff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.AddBatch(batch)
	}
	st := src.Stats()
	if end.IsZero() && st.Last != 0 {
		end = time.Unix(0, st.Last).UTC()
	}
	if a.Tracked() <= finishFewFlows && !userGOGC() {
		defer debug.SetGCPercent(debug.SetGCPercent(finishGCPercent))
	}
	return &report.Report{Files: src.Files(), Capture: st, Result: a.Finish(end)}, nil
}

// While Finish stores the flows left at the end of a capture, each
// flow's notes become garbage as its record for the report is made. When
// few flows are left, the collector runs at +10 % rather than +50 % then,
// so that the garbage does not add to the peak: 50,000 pooled
// connections whose notes are full (--idle 30s) peaked at 65.5 to 66.3 MB
// in Finish, over the reading's 53 MB, and at 59.2 to 59.6 MB with it,
// in the same time. With hundreds of thousands left (the benchmark's
// flagged million), whose peak is the reading's, it took 8 % longer.
const (
	finishFewFlows  = 1 << 16
	finishGCPercent = 10
)

// writeReport renders to the named file, or to stdout when name is empty.
func writeReport(name string, stdout io.Writer, render func(io.Writer) error) error {
	if name == "" || name == "-" {
		return render(stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := render(f); err != nil {
		f.Close()
		return writeError(name, err)
	}
	return f.Close()
}

// output is a file a flag names for the run to write.
type output struct{ flag, path string }

// checkPaths refuses, before anything is read or written, a capture named
// twice among the inputs (by one name or two, as a shell pattern and a
// name can: read twice, its packets would be taken for copies captured
// twice on a router), an output that names a capture (writing it would
// destroy the capture, often the only one), and two outputs naming one
// file. Inputs that cannot be read are left to the reading to report.
func checkPaths(inputs []string, outputs []output) error {
	bySize := map[int64][]os.FileInfo{} // the inputs; os.SameFile is only asked of files of one size
	isInput := func(st os.FileInfo) bool {
		return slices.ContainsFunc(bySize[st.Size()], func(in os.FileInfo) bool { return os.SameFile(st, in) })
	}
	stdin := false
	for _, p := range inputs {
		if p == "-" {
			if stdin {
				return usagef("- (standard input) is named twice among the captures")
			}
			stdin = true
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.Mode().IsRegular() && isInput(st) {
			return usagef("%s is named twice among the captures", p)
		}
		bySize[st.Size()] = append(bySize[st.Size()], st)
	}
	for i, out := range outputs {
		if out.path == "" || out.path == "-" {
			continue
		}
		if st, err := os.Stat(out.path); err == nil && isInput(st) {
			return usagef("%s %s would overwrite a capture being read", out.flag, out.path)
		}
		for _, other := range outputs[:i] {
			if other.path == out.path {
				return usagef("%s and %s both name %s", other.flag, out.flag, out.path)
			}
		}
	}
	return nil
}

// writeError is the error of writing the named file: err itself when it
// names the file already ("write out.json: no space left on device", from
// the file), else "write NAME: err".
func writeError(name string, err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == name {
		return err
	}
	return fmt.Errorf("write %s: %w", name, err)
}

func listMiddleboxes(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIDLE\tPROBES RESET TIMER\tAT EXPIRY\tWHAT\tSOURCE")
	for _, m := range analyze.Middleboxes {
		probes := "yes"
		if !m.ProbesResetTimer {
			probes = "no (payload only)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Idle, probes, m.Expiry, m.Title, m.Source)
	}
	return tw.Flush()
}

// terminalStyle says how to draw the table on w: in colour on a terminal
// unless NO_COLOR is set (https://no-color.org), and fitted to its width.
func terminalStyle(w io.Writer) (color bool, width int) {
	f, ok := w.(*os.File)
	if !ok {
		return false, 0
	}
	cols, ok := terminalWidth(f)
	if !ok {
		return false, 0
	}
	return os.Getenv("NO_COLOR") == "", cols
}

// parseFlags parses args and validates them into a config. ok is false
// when the caller should stop: with err set, or with a nil err when the
// user asked for help, which the flag set has already printed.
func parseFlags(fs *pflag.FlagSet, args []string, config func() (analyze.Config, error)) (cfg analyze.Config, ok bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return cfg, false, nil
		}
		return cfg, false, &usageError{err.Error()}
	}
	cfg, err = config()
	return cfg, err == nil, err
}
