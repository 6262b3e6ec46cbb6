// Command gen writes a large synthetic capture for benchmarking hangdiag.
//
// The capture is classic pcap (microsecond, little-endian, Ethernet) and is
// written packet by packet as the flows unfold, in time order, so memory
// stays constant whatever the size. The same flags and seed always give the
// same bytes.
//
// Usage:
//
//	go run ./bench/gen -size 1GiB -o bench/out/realistic-1GiB.pcap
//	go run ./bench/gen -flows 1000000 -o bench/out/flows-1M.pcap
//	go run ./bench/gen -size 256MiB -length 4 -o bench/out/len4.pcap
//	go run ./bench/gen -size 256MiB -length 4 -rotate 32MiB -o bench/out/len4-rot.pcap
//	go run ./bench/gen -flows 1000000 -mix open -o bench/out/open-1M.pcap
//	go run ./bench/gen -flows 1000000 -duration 20s -v6 100 -o bench/out/v6-1M.pcap
//	go run ./bench/gen -flows 200000 -mix keepalive -duration 600s -o bench/out/keepalive-200k.pcap
//	go run ./bench/gen -flows 50000 -mix pooled -duration 3600s -o bench/out/pooled-50k-1h.pcap
//	go run ./bench/gen -flows 3000000 -mix scan -duration 10s -o bench/out/scan-3M.pcap
//
// Six mixes of flows:
//
//   - realistic (the default with -size): seen from a busy host over about
//     17 minutes. Most flows are inbound HTTP-like keep-alive connections
//     (handshake, a few dozen request/response exchanges of mostly small
//     messages with the odd large download, delayed ACKs, FIN close); the
//     rest are outbound pooled connections that sit idle with keepalive
//     probes every 60 s (for one or two spells of 150–450 s, then closed)
//     or every 400 s (too slow), idle without keepalives
//     and are then answered, reset by a middlebox after the gap, reused
//     after the gap and reset, or black-holed; refused connections and
//     health checks. A fifth of the flows are IPv6, some frames carry an
//     802.1Q tag, some flows do without the timestamps option, and a few
//     DNS lookups and retransmissions are mixed in. About 2.9 million
//     packets and 30,000 flows per GiB.
//   - small (the default with -flows): a busy host over 5 minutes with
//     many tiny flows: half are handshakes left open (idle pooled
//     connections), the rest refused SYNs, health checks (handshake and
//     RST) and one-exchange connections. About 3.6 packets per flow.
//   - open: as small, every flow a handshake left open, so that all of
//     them are alive at the end: the most flows at once for a flow count.
//   - keepalive: every flow an outbound pooled connection of the
//     realistic mix that sits idle with keepalive probes every 60 s, for
//     one or two spells of 150–450 s, then closes: many flows alive at
//     once, each waking every minute. About 17 packets per flow.
//   - pooled: every flow an outbound pooled connection that stays open to
//     the capture's end, without keepalives, sending a request every 60 to
//     120 s: silent past a short idle threshold again and again, for as
//     long as the capture lasts. A longer -duration with the same -flows
//     keeps the same connections longer.
//   - scan: every flow a lone SYN that nothing answers, as a SYN flood or
//     a port scan that a firewall drops fills a capture: flows that never
//     close, more of them than hangdiag's flow table holds (--max-flows).
//
// In every mix a fifth of the flows are IPv6; -v6 P makes it P percent.
//
// -rotate writes the capture into files of about the given size, as
// tcpdump -C does: OUT, then OUT1, OUT2, and so on.
//
// -size picks the number of flows from a pilot run over the first flows;
// the file comes out within a few percent of it. -length L makes the
// capture L times as long with L times the flows, at the same flow rate.
// Every realistic flow ends within about 17 minutes of its start, so past
// that a longer capture holds as many flows at once as a shorter one.
//
// Addresses are private (10.0.0.0/8, fd00::/8): the busy host is 10.1.0.10
// and fd00:1::10.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gen: "+err.Error())
		}
		os.Exit(2)
	}
}

// run is the whole command; tests call it directly.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "", "approximate file size, e.g. 1GiB, 256MiB, 500MB (default 1GiB unless -flows is given)")
	flows := fs.Int("flows", 0, "number of flows, instead of -size")
	mix := fs.String("mix", "", "flow mix: realistic, small, open, keepalive, pooled or scan (default realistic with -size, small with -flows)")
	length := fs.Float64("length", 1, "make the capture this many times as long, with as many times the flows (same flow rate)")
	duration := fs.Duration("duration", 0, "capture span at -length 1 (default 1000s for realistic, 300s for the others)")
	v6 := fs.Int("v6", 20, "percent of the flows carried over IPv6, 0 to 100")
	seed := fs.Uint64("seed", 1, "random seed; the same flags and seed give the same file")
	out := fs.String("o", "", "output file, or - for standard output (required)")
	rotate := fs.String("rotate", "", "write rotated files of about this size each, as tcpdump -C does: OUT, OUT1, OUT2, ...")
	quiet := fs.Bool("q", false, "do not print the summary line on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o is required")
	}
	if *size != "" && *flows > 0 {
		return errors.New("give -size or -flows, not both")
	}
	if *length <= 0 || *flows < 0 {
		return errors.New("-length and -flows must be positive")
	}
	if *v6 < 0 || *v6 > 100 {
		return errors.New("-v6 must be 0 to 100")
	}
	cfg := Config{Seed: *seed, Length: *length, Duration: *duration, IPv6: *v6}
	if *v6 == 0 {
		cfg.IPv6 = -1 // none; Config's 0 is the default
	}
	switch *mix {
	case "":
		cfg.Mix = Realistic
		if *flows > 0 {
			cfg.Mix = Small
		}
	case "realistic":
		cfg.Mix = Realistic
	case "small":
		cfg.Mix = Small
	case "open":
		cfg.Mix = Open
	case "keepalive":
		cfg.Mix = Keepalive
	case "pooled":
		cfg.Mix = Pooled
	case "scan":
		cfg.Mix = Scan
	default:
		return fmt.Errorf("unknown mix %q; use realistic, small, open, keepalive, pooled or scan", *mix)
	}
	if *flows > 0 {
		cfg.Flows = *flows
	} else {
		s := *size
		if s == "" {
			s = "1GiB"
		}
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		cfg.Size = n
	}

	var w io.Writer = stdout
	var f io.WriteCloser
	switch {
	case *rotate != "" && *out == "-":
		return errors.New("-rotate needs a file name for -o")
	case *rotate != "":
		limit, err := parseSize(*rotate)
		if err != nil {
			return err
		}
		if f, err = newRotator(*out, limit); err != nil {
			return err
		}
		defer f.Close()
		w = f
	case *out != "-":
		file, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer file.Close()
		f, w = file, file
	}
	// A rotator buffers its files itself and must see each record in
	// one Write.
	flush := func() error { return nil }
	if *rotate == "" {
		bw := bufio.NewWriterSize(w, 1<<20)
		w, flush = bw, bw.Flush
	}
	start := time.Now()
	sum, err := Generate(w, cfg)
	if err == nil {
		err = flush()
	}
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if !*quiet {
		fmt.Fprintf(stderr, "gen: %s: %d bytes, %d packets, %d flows, span %s (%s mix, seed %d) in %.1fs\n",
			*out, sum.Bytes, sum.Packets, sum.Flows, sum.Span.Round(time.Second), cfg.Mix, cfg.Seed, time.Since(start).Seconds())
	}
	return nil
}

// parseSize reads a byte count with an optional unit: KiB, MiB, GiB (powers
// of 1024), KB, MB, GB (powers of 1000), or K, M, G (taken as binary).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (1GiB, 256MiB, 500MB)", s)
	}
	return int64(v * float64(mult)), nil
}
