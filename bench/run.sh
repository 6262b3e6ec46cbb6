#!/usr/bin/env bash
# bench/run.sh times hangdiag against cat, tshark and tcptrace on large
# generated captures and checks the performance targets. len4-rot is len4
# written as tcpdump -C writes rotated files (32 MiB each), read as one
# capture; 1gib-ng is the 1 GiB capture as pcapng (editcap -F pcapng), as
# dumpcap and Wireshark write captures; 1m-open is a million flows all
# alive at the end (handshakes left open), where 1m-flows has about half
# of its million alive at its peak; 1m-burst is 1m-flows squeezed into
# 20 s, so that all its million flows are in the table at the end (the
# closed ones wait 30 s for late packets) and none has been idle long;
# 1m-v6 is the burst with every flow over IPv6, whose keys take the most
# room; 1m-flagged is 1m-flows spread over 16 min 40 s, so that about a
# third of its flows are flagged (silent past the timeout at the end) and
# finishing and reporting them weighs on the run: it is timed with the
# terminal table, the default, where the other captures are timed with
# JSON (the JSON report of its 325,000 flagged flows is 888 MB);
# 200k-ka is 200,000 pooled connections that each send a keepalive probe
# every minute while idle, so that about 150,000 are alive at once and
# every one wakes again and again; 50k-pooled is 50,000 pooled connections
# kept open for an hour without keepalives, a request every 60 to 120 s,
# analysed with --idle 30s: every flow is silent past the threshold forty
# times and lists as many long gaps and findings as a flow lists (50k-html
# is the same capture as the HTML report, which reads it twice: the second
# time for the timelines of the flows it lists; 50k-evidence as JSON with
# --write-flagged, whose second reading writes every packet of the 50,000
# flagged flows); 3m-scan
# is 3,000,000 lone SYNs within 10 s (a SYN flood, or a scan a firewall
# drops), more flows that never close than the flow table holds, which
# fills again and again and evicts the flows idle longest.
#
# Usage: bench/run.sh [-fast] [-runs N] [-timeout SECONDS] [-only NAME]
#        bench/run.sh -pgo
#
#   -fast        skip tshark and tcptrace (tshark takes minutes on 1 GiB)
#   -runs N      time cat and hangdiag N times each, by turns, and report
#                medians (default 5);
#                tshark and tcptrace run once
#   -timeout S   bound each run (default 900 s)
#   -only NAME   measure one capture: 1gib, 1gib-ng, 1m-flows, 1m-open,
#                1m-burst, 1m-v6, 1m-flagged, 200k-ka, 50k-pooled, 50k-html,
#                50k-evidence, 3m-scan, len1, len4 or len4-rot
#   -pgo         instead of timing, profile hangdiag (built without a
#                profile) on the 1 GiB capture, as JSON, and on the
#                million flows, and write the merged CPU profile to
#                cmd/hangdiag/default.pgo, which go build then optimises
#                by (profile-guided optimisation); run it again after
#                large changes to the per-packet code
#
# It builds hangdiag, bench/gen, bench/corelat and bench/walk into bench/out/, generates the captures
# there when missing or made by another generator (about 8 GB in all;
# bench/out/ is not committed),
# warms the page cache, and prints one table row per tool and capture:
# wall time and peak RSS (medians, from /usr/bin/time -f '%e %M'; MB are
# MiB, its kilobytes divided by 1,024), packets
# per second, each tool's time as a multiple of cat's ("x cat"), and
# tshark's and tcptrace's as a multiple of hangdiag's ("x hangdiag"); for
# the 1 GiB capture also bench/walk ("walk": the records read as hangdiag
# reads them and visited, nothing decoded, the least a tool that looks at
# every packet can take) and hangdiag on one processor ("hd-1core",
# GOMAXPROCS=1), timed by turns with cat and hangdiag, and what they leave
# of the target against cat ("info" lines under the targets),
# between two readings of the round trip of a cache line from one
# processor to the other (bench/corelat), which says how much the two
# goroutines can gain over one. Then PASS or FAIL per target. Run it from anywhere in the
# repository, on an otherwise idle machine when you can: other work on the
# same cores shows up in the times.
set -euo pipefail

fast=0 runs=5 limit=900 only="" pgo=0
while [ $# -gt 0 ]; do
	case "$1" in
	-fast) fast=1 ;;
	-runs) runs="$2"; shift ;;
	-timeout) limit="$2"; shift ;;
	-only) only="$2"; shift ;;
	-pgo) pgo=1 fast=1 ;;
	*) echo "usage: bench/run.sh [-fast] [-runs N] [-timeout SECONDS] [-only NAME] | -pgo" >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/out"
mkdir -p "$out"
cd "$root"

if [ ! -x /usr/bin/time ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get install -y -qq time >/dev/null
	else
		echo "bench/run.sh: /usr/bin/time is missing; install it (apt-get install time)" >&2
		exit 1
	fi
fi
for tool in tshark tcptrace capinfos; do
	if [ "$fast" = 0 ] && ! command -v "$tool" >/dev/null; then
		echo "bench/run.sh: $tool is missing; install it or use -fast" >&2
		exit 1
	fi
done

go build -o "$out/hangdiag" ./cmd/hangdiag
# No build stamp in the generator, so that its digest (below) changes only
# with its code.
go build -buildvcs=false -trimpath -o "$out/gen" ./bench/gen
go build -o "$out/corelat" ./bench/corelat
go build -o "$out/walk" ./bench/walk

# The captures: name, file, generator flags, or =FILE for FILE converted
# to pcapng.
captures=(
	"1gib     realistic-1GiB.pcap -size 1GiB"
	"1gib-ng  realistic-1GiB.pcapng =realistic-1GiB.pcap"
	"1m-flows flows-1M.pcap       -flows 1000000"
	"1m-open  open-1M.pcap        -flows 1000000 -mix open"
	"1m-burst burst-1M.pcap       -flows 1000000 -duration 20s"
	"1m-v6    v6-1M.pcap          -flows 1000000 -duration 20s -v6 100"
	"1m-flagged flows-1M-1000s.pcap -flows 1000000 -duration 1000s"
	"200k-ka  keepalive-200k.pcap -flows 200000 -mix keepalive -duration 600s"
	"50k-pooled pooled-50k-1h.pcap -flows 50000 -mix pooled -duration 3600s"
	"50k-html pooled-50k-1h.pcap  -flows 50000 -mix pooled -duration 3600s"
	"50k-evidence pooled-50k-1h.pcap -flows 50000 -mix pooled -duration 3600s"
	"3m-scan  scan-3M.pcap        -flows 3000000 -mix scan -duration 10s"
	"len1     len1.pcap           -size 256MiB"
	"len4     len4.pcap           -size 256MiB -length 4"
	"len4-rot len4-rot.pcap       -size 256MiB -length 4 -rotate 32MiB"
)

# gen writes NAME.txt beside each capture: its summary line, with the
# packet and flow counts. NAME.gen holds a digest of the generator that
# made it: a changed generator makes the captures again.
gen_digest=$(sha256sum "$out/gen" | cut -c1-16)
for c in "${captures[@]}"; do
	read -r name file flags <<<"$c"
	[ -n "$only" ] && [ "$only" != "$name" ] && continue
	if [ ! -s "$out/$file" ] || [ ! -s "$out/$file.txt" ] || [ "$(cat "$out/$file.gen" 2>/dev/null)" != "$gen_digest" ]; then
		if [[ "$flags" == =* ]]; then
			src="$out/${flags#=}"
			if ! command -v editcap >/dev/null || [ "$(cat "$src.gen" 2>/dev/null)" != "$gen_digest" ]; then
				echo "skipping $name: it needs editcap and ${flags#=} made first" >&2
				continue
			fi
			echo "converting ${flags#=} to $file" >&2
			editcap -F pcapng "$src" "$out/$file"
			cp "$src.txt" "$out/$file.txt"
		else
			echo "generating $file ($flags)" >&2
			# shellcheck disable=SC2086
			"$out/gen" $flags -o "$out/$file" 2>"$out/$file.txt"
		fi
		echo "$gen_digest" >"$out/$file.gen"
	fi
done
# Captures just written are still being written back to disk for a while,
# which slows the runs (the GiB as pcapng, timed just after its conversion:
# 0.71 s, against 0.36 s once written): wait for it.
sync

if [ "$pgo" = 1 ]; then
	go build -pgo=off -o "$out/hangdiag-nopgo" ./cmd/hangdiag
	cat "$out/realistic-1GiB.pcap" "$out/flows-1M.pcap" >/dev/null
	"$out/hangdiag-nopgo" analyze -q --format json --cpuprofile "$out/1gib.pprof" "$out/realistic-1GiB.pcap" >/dev/null
	"$out/hangdiag-nopgo" analyze -q --cpuprofile "$out/1m-flows.pprof" "$out/flows-1M.pcap" >/dev/null
	go tool pprof -proto "$out/1gib.pprof" "$out/1m-flows.pprof" >cmd/hangdiag/default.pgo
	echo "wrote cmd/hangdiag/default.pgo"
	exit 0
fi

# measure CMD... runs CMD once under /usr/bin/time and timeout, with stdout
# to /dev/null, and prints "seconds KB", "timeout -" when it did not
# finish, or "failed -" when it exited with an error (whose time and
# memory would pass for a run's).
measure() {
	local tmp line status=0
	tmp=$(mktemp)
	timeout "$limit" /usr/bin/time -f '%e %M' -o "$tmp" "$@" >/dev/null 2>&1 || status=$?
	line=$(tail -n 1 "$tmp")
	rm -f "$tmp"
	if [[ "$line" =~ ^[0-9.]+\ [0-9]+$ ]] && [ "$status" = 0 ]; then
		echo "$line"
	elif [ "$status" = 124 ] || ! [[ "$line" =~ ^[0-9.]+\ [0-9]+$ ]]; then
		echo "timeout -"
	else
		echo "failed -"
	fi
}

# alternate N ARGS FLOOR FILE... runs cat and hangdiag (with the flags
# ARGS) on the files N times each, by turns, so that both see the machine
# as it is at the moment: its speed drifts from minute to minute, and two
# blocks of runs one after the other can see two speeds. With FLOOR 1 it
# runs by turns with them bench/walk (the records visited, nothing
# decoded) and hangdiag on one processor (GOMAXPROCS=1). It prints
# "seconds KB" for each command, cat, hangdiag and then walk and the one
# processor's or "- - - -": the medians, with "timeout -" or "failed -"
# for a command that did not finish a run or failed one.
alternate() {
	local n="$1" args="$2" cmds=2 i s kb bad
	local -a times kbs
	[ "$3" = 1 ] && cmds=4
	shift 3
	for _ in $(seq "$n"); do
		bad=0
		for ((i = 0; i < cmds; i++)); do
			read -r s kb < <(measure_nth "$i" "$args" "$@")
			if [[ "$s" =~ ^[0-9.]+$ ]]; then
				times[i]="${times[i]:-} $s" kbs[i]="${kbs[i]:-} $kb"
			else
				times[i]=$s kbs[i]=-
				bad=1
			fi
		done
		[ "$bad" = 1 ] && break
	done
	for ((i = 0; i < cmds; i++)); do
		# shellcheck disable=SC2086
		if [[ "${times[i]}" =~ ^[\ 0-9.]+$ ]]; then echo -n "$(median ${times[i]}) $(median ${kbs[i]}) "; else echo -n "${times[i]} - "; fi
	done
	[ "$cmds" = 4 ] || echo -n "- - - -"
	echo
}

# measure_nth I ARGS FILE... measures alternate's I-th command.
measure_nth() {
	local i="$1" args="$2"
	shift 2
	case "$i" in
	0) measure cat "$@" ;;
	# shellcheck disable=SC2086
	1) measure "$out/hangdiag" analyze $args -o /dev/null "$@" ;;
	2) measure "$out/walk" "$@" ;;
	# shellcheck disable=SC2086
	3) measure env GOMAXPROCS=1 "$out/hangdiag" analyze $args -o /dev/null "$@" ;;
	esac
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}

# ratio A B prints A/B with two decimals, or "-".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0 > 0 && b+0 > 0) printf "%.2f", a/b; else print "-"}'; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# The two processors' round trip (bench/corelat) before and after the
# timings: when it is long, the two goroutines gain little over one.
corelat() { "$out/corelat" 2>/dev/null || echo "?"; }
echo "cross-core round trip: $(corelat) ns"
printf '%-10s %-9s %9s %9s %11s %8s %10s   (medians of %s runs; tshark and tcptrace once)\n' \
	capture tool seconds 'peak MB' 'packets/s' 'x cat' 'x hangdiag' "$runs"
for c in "${captures[@]}"; do
	read -r name file _ <<<"$c"
	[ -n "$only" ] && [ "$only" != "$name" ] && continue
	[ "$(cat "$out/$file.gen" 2>/dev/null)" = "$gen_digest" ] || continue # skipped above
	f="$out/$file"
	packets=$(sed -n 's/.* \([0-9]*\) packets,.*/\1/p' "$f.txt")
	flows=$(sed -n 's/.* \([0-9]*\) flows,.*/\1/p' "$f.txt")
	files=("$f")
	for r in "$f"[0-9]*; do # rotated files, when there are
		[ -e "$r" ] && files+=("$r")
	done
	cat "${files[@]}" >/dev/null # warm the page cache

	args="--format json"
	[ "$name" = 1m-flagged ] && args="--format table"
	[ "$name" = 50k-pooled ] && args="--format json --idle 30s"
	[ "$name" = 50k-html ] && args="--format html --idle 30s"
	[ "$name" = 50k-evidence ] && args="--format json --idle 30s --write-flagged $out/evidence.pcap"
	floor=0
	[ "$name" = 1gib ] && floor=1 # the records walked alone, and one processor
	read -r cat_s cat_kb hd_s hd_kb walk_s walk_kb one_s one_kb < <(alternate "$runs" "$args" "$floor" "${files[@]}")
	ts_s=- ts_kb=- tt_s=- tt_kb=-
	# tshark and tcptrace read one file, not len4-rot's 33; on the million
	# open flows, the bursts, the flagged flows, the pooled connections and
	# the lone SYNs, they would take minutes and gigabytes to tell what
	# 1m-flows tells already. They run on these:
	case "$name" in
	1gib | 1gib-ng | 1m-flows | len1 | len4) peers=1 ;;
	*) peers=0 ;;
	esac
	if [ "$fast" = 0 ] && [ "$peers" = 1 ]; then
		read -r ts_s ts_kb < <(measure tshark -r "$f" -q -z conv,tcp)
		read -r tt_s tt_kb < <(measure tcptrace -l -n "$f")
	fi
	echo "$name $packets $flows $cat_s $cat_kb $hd_s $hd_kb $ts_s $ts_kb $tt_s $tt_kb $walk_s $walk_kb $one_s $one_kb" >>"$results"
	for row in "cat $cat_s $cat_kb" "walk $walk_s $walk_kb" "hangdiag $hd_s $hd_kb" "hd-1core $one_s $one_kb" "tshark $ts_s $ts_kb" "tcptrace $tt_s $tt_kb"; do
		read -r tool s kb <<<"$row"
		[ "$s" = - ] && continue # not measured: -fast, or rotated files
		pps=$(awk -v p="$packets" -v s="$s" 'BEGIN {if (s+0 > 0) printf "%.2fM", p/s/1e6; else print "-"}')
		mb=$(awk -v k="$kb" 'BEGIN {if (k+0 > 0) printf "%.1f", k/1024; else print "-"}')
		vs_hd=-
		case "$tool" in tshark | tcptrace) vs_hd=$(ratio "$s" "$hd_s") ;; esac
		printf '%-10s %-9s %9s %9s %11s %8s %10s\n' "$name" "$tool" "$s" "$mb" "$pps" "$(ratio "$s" "$cat_s")" "$vs_hd"
	done
done

echo "cross-core round trip: $(corelat) ns"
echo
echo "targets:"
# get NAME COLUMN prints a column of a capture's results; check WHAT 1|0|-
# prints PASS, FAIL or n/a; cond EXPR VALUE... evaluates an awk condition,
# or prints - when one of the values it uses is not a number (a timeout).
get() { awk -v n="$1" -v k="$2" '$1 == n {print $k}' "$results"; }
check() {
	local what="$1" ok="$2"
	case "$ok" in
	1) echo "  PASS  $what" ;;
	0) echo "  FAIL  $what" ;;
	*) echo "  n/a   $what" ;;
	esac
}
cond() {
	local expr="$1" v
	shift
	for v in "$@"; do
		[[ "$v" =~ ^[0-9.]+$ ]] || { echo "-"; return; } # not measured: a timeout
	done
	awk "BEGIN {$expr}" 2>/dev/null || echo "-"
}
# has NAME tells whether a capture was measured.
has() { [ -n "$(get "$1" 1)" ]; }
# rate NAME LABEL M checks that hangdiag read the capture at M million
# packets a second or more.
rate() {
	local p hs
	p=$(get "$1" 2) hs=$(get "$1" 6)
	check "$2: >= $3 M packets/s ($(awk -v p="$p" -v s="$hs" 'BEGIN {printf "%.2f M", p/s/1e6}'))" \
		"$(cond "print ($p/$hs >= $3e6) ? 1 : 0" "$p" "$hs")"
}
# vscat NAME LABEL checks that hangdiag took at most twice cat's time.
vscat() {
	local hs cs
	hs=$(get "$1" 6) cs=$(get "$1" 4)
	check "$2: <= 2x cat ($(ratio "$hs" "$cs")x)" "$(cond "print ($hs <= 2*$cs) ? 1 : 0" "$hs" "$cs")"
}
# floorinfo NAME says, beside the check against cat, what the records
# walked alone (bench/walk) and hangdiag on one processor took: what 2x
# cat leaves for decoding and analysing once each packet is visited, and
# what two processors would need to do with the one processor's work.
floorinfo() {
	local cs ws os p
	cs=$(get "$1" 4) ws=$(get "$1" 12) os=$(get "$1" 14) p=$(get "$1" 2)
	[[ "$cs $ws $os" =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+$ ]] || return 0 # not measured, or a timeout
	echo "  info  $2: the records walked alone (bench/walk) took $ws s, $(ratio "$ws" "$cs")x cat:" \
		"2x cat leaves $(awk -v c="$cs" -v w="$ws" -v p="$p" 'BEGIN {printf "%.2f s (%.0f ns a packet)", 2*c-w, (2*c-w)/p*1e9}') to decode and analyse"
	echo "  info  $2: hangdiag on one processor took $os s: 2x cat asks two processors to be" \
		"$(ratio "$os" "$(awk -v c="$cs" 'BEGIN {print 2*c}')")x as quick as one (two can at most halve the time)"
}
# peak NAME LABEL MB checks hangdiag's peak RSS.
peak() {
	local kb
	kb=$(get "$1" 7)
	check "$2: peak RSS <= $3 MB ($(awk -v k="$kb" 'BEGIN {printf "%.1f MB", k/1024}'))" \
		"$(cond "print ($kb <= $3*1024) ? 1 : 0" "$kb")"
}
# longer NAME LABEL checks that hangdiag's peak RSS on a capture four times
# as long as len1 is within 10 % of len1's.
longer() {
	local a b
	a=$(get len1 7) b=$(get "$1" 7)
	check "$2: peak RSS within 10 % of 1x ($(awk -v a="$a" -v b="$b" 'BEGIN {printf "%+.1f %%", (b-a)/a*100}'))" \
		"$(cond "print ($b <= 1.10*$a && $b >= 0.90*$a) ? 1 : 0" "$a" "$b")"
}
if has 1gib; then
	rate 1gib "1 GiB" 10
	vscat 1gib "1 GiB"
	floorinfo 1gib "1 GiB"
	hs=$(get 1gib 6) ts=$(get 1gib 8)
	if [ "$ts" != - ] && [ "$ts" != timeout ]; then
		check "1 GiB: >= 100x faster than tshark ($(ratio "$ts" "$hs")x)" "$(cond "print ($ts >= 100*$hs) ? 1 : 0" "$ts" "$hs")"
	else
		check "1 GiB: >= 100x faster than tshark (not measured: -fast or timeout)" "-"
	fi
	peak 1gib "1 GiB ($(get 1gib 3) flows)" 64
fi
if has 1m-flows; then
	rate 1m-flows "1M flows" 3
	peak 1m-flows "1M flows" 256
fi
if has 1m-open; then
	rate 1m-open "1M flows, all alive at once" 3
	peak 1m-open "1M flows, all alive at once" 256
fi
if has 1m-burst; then
	rate 1m-burst "1M flows within 20 s" 3
	peak 1m-burst "1M flows within 20 s" 256
fi
if has 1m-v6; then
	rate 1m-v6 "1M IPv6 flows within 20 s" 3
	peak 1m-v6 "1M IPv6 flows within 20 s" 256
fi
if has 1m-flagged; then
	rate 1m-flagged "1M flows, a third flagged (table)" 3
	peak 1m-flagged "1M flows, a third flagged (table)" 256
fi
if has 1gib-ng; then
	rate 1gib-ng "1 GiB as pcapng" 10
	vscat 1gib-ng "1 GiB as pcapng"
	peak 1gib-ng "1 GiB as pcapng" 64
fi
for n in len1 len4 len4-rot; do
	if has $n; then
		peak $n "$n ($(get $n 3) flows)" 64
	fi
done
if has 50k-pooled; then
	peak 50k-pooled "50,000 flows, each silent past 30 s forty times" 64
fi
if has 50k-html; then
	peak 50k-html "the same 50,000 flows, as HTML" 64
fi
if has 50k-evidence; then
	peak 50k-evidence "the same 50,000 flows, with their evidence" 64
fi
if has len1 && has len4; then
	longer len4 "4x as long"
fi
if has len1 && has len4-rot; then
	longer len4-rot "4x as long, in rotated files"
fi
