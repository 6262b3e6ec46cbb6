#!/usr/bin/env bash
# bench/instructions.sh counts, with valgrind's callgrind, the instructions
# hangdiag spends on a packet reading and decoding it, on a segment
# analysing it, and on a packet in the whole command. Times on a virtual
# or shared machine swing by half from minute to minute; these counts come
# out the same on every run (within 0.2 %: the flow hash's seed, and with
# it the flow table's probes, changes from run to run), so they show what
# a change to the per-packet code saves (or costs). Each is
# counted on one goroutine (GOMAXPROCS=1) with the garbage collector off,
# so that nothing else runs on the thread while the counted function does
# (and with the runtime's RDTSCP turned off, cpu.rdtscp=off: valgrind 3.19,
# Debian 12's, stops the program at that instruction, which Go 1.26 uses
# to read the clock where the processor has it):
#
#   read+decode  BenchmarkReadDecode (pcapio): its capture of 100,000
#                packets read from memory through NextBatch, as the command
#                reads, as pcap and as pcapng
#   analysis     BenchmarkAddBatchCapture (analyze): AddBatch alone, over
#                the segments of the first 100 MB of
#                bench/out/realistic-1GiB.pcap, read into memory first
#   command      hangdiag analyze --format json over the same 100 MB, as
#                built for use (with cmd/hangdiag/default.pgo, which the
#                test binaries above are not): everything from start to
#                exit, reading and analysis on one core
#
# Usage: bench/instructions.sh    (needs valgrind: apt-get install valgrind)
#
# It makes the 1 GiB capture through bench/run.sh when it is missing, and
# builds the test binaries into bench/out/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/out"
mkdir -p "$out"
cd "$root"
if ! command -v valgrind >/dev/null; then
	echo "bench/instructions.sh: valgrind is missing; install it (apt-get install valgrind)" >&2
	exit 1
fi
[ -s "$out/realistic-1GiB.pcap" ] || bench/run.sh -fast -runs 1 -only 1gib >/dev/null
head -c 100000000 "$out/realistic-1GiB.pcap" >"$out/first-100MB.pcap"
go test -c -o "$out/pcapio.test" ./pcapio
go build -o "$out/hangdiag" ./cmd/hangdiag
go test -c -o "$out/analyze.test" ./analyze

# run DIR TEST TOGGLES BENCH [VAR=VALUE...] runs benchmark BENCH of test
# binary TEST once, in DIR, under callgrind collecting only while one of
# the functions TOGGLES names (patterns, separated by spaces) runs, and
# prints its output.
run() {
	local dir="$1" test="$2" bench="$4" toggles=()
	set -f # the patterns are valgrind's, not the shell's (run runs in a subshell)
	for t in $3; do
		toggles+=(--toggle-collect="$t")
	done
	shift 4
	(cd "$dir" && env "$@" GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off \
		valgrind --tool=callgrind --callgrind-out-file=/dev/null "${toggles[@]}" \
		"$test" -test.run '^$' -test.bench "$bench" -test.benchtime 1x 2>&1)
}
collected() { sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }

packets=100000 # benchPackets in pcapio/bench_test.go
# NewReader reads the first batch, NextBatch the others: what the
# benchmark's loop does but for Close. (Collecting while the benchmark's
# closure ran stopped working once the compiler laid it out otherwise:
# 0.8 instructions a packet. A count under 100 is taken for such a fault.)
for format in pcap pcapng; do
	n=$(run pcapio "$out/pcapio.test" '*pcapio.NewReader *pcapio.(*Source).NextBatch' "ReadDecode/$format-batches\$" | collected)
	if [ -z "$n" ] || [ "$n" -lt $((100 * packets)) ]; then
		echo "bench/instructions.sh: read+decode $format collected ${n:-nothing}: the toggles no longer name the reading" >&2
		exit 1
	fi
	awk -v n="$n" -v p="$packets" -v f="$format" 'BEGIN {printf "read+decode %-7s %7.1f instructions a packet\n", f, n/p}'
done
log=$(run analyze "$out/analyze.test" '*Analyzer*AddBatch*' 'AddBatchCapture$' HANGDIAG_BENCH_CAPTURE="$out/first-100MB.pcap")
n=$(collected <<<"$log")
segments=$(sed -n 's/.* \([0-9]*\) segments$/\1/p' <<<"$log")
if [ -z "$n" ] || [ -z "$segments" ]; then
	echo "bench/instructions.sh: the analysis benchmark did not run:" >&2
	echo "$log" >&2
	exit 1
fi
awk -v n="$n" -v s="$segments" 'BEGIN {printf "analysis            %7.1f instructions a segment (%d segments)\n", n/s, s}'

# The whole command. Its hash seed changes from run to run, and with it
# the flow table's probes: the count moves by less than 0.1 %.
first="$out/first-100MB.pcap"
packets=$("$out/hangdiag" analyze -q --format json "$first" 2>/dev/null | sed -n 's/^    "packets": \([0-9]*\),$/\1/p')
n=$(GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind --callgrind-out-file=/dev/null \
	"$out/hangdiag" analyze -q --format json -o /dev/null "$first" 2>&1 | collected)
if [ -z "$n" ] || [ -z "$packets" ]; then
	echo "bench/instructions.sh: the command did not run under valgrind" >&2
	exit 1
fi
awk -v n="$n" -v p="$packets" 'BEGIN {printf "command             %7.1f instructions a packet (%d packets, JSON report)\n", n/p, p}'
