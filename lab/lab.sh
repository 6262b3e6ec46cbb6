#!/usr/bin/env bash
# lab.sh: reproduce hanging TCP connections through a Linux conntrack
# "middlebox" inside network namespaces, and capture them with tcpdump.
#
#   lab/lab.sh [-t T] [-o OUTDIR] SCENARIO... | all
#
# Topology (created per scenario, deleted afterwards):
#
#   client 192.0.2.2 --- 192.0.2.1 router 198.51.100.1 --- 198.51.100.2 server
#
# The router forwards with conntrack; its established-flow timeout is T
# seconds and a TCP packet conntrack calls INVALID (a flow it forgot) is
# answered with a RST ("reset" mode, like an AWS NLB) or dropped ("drop").
# The nat-* scenarios add NAT like a load balancer: the client connects to
# the virtual address 203.0.113.10:80 on the router, which DNATs it to the
# server and SNATs the source to 198.51.100.1:20000-20099, so the client and
# the server see the same connection under different 4-tuples.
# Each scenario writes OUTDIR/<scenario>.{client,server,router}.pcap.
#
# LAB_CLIENT_HOOK, if set, is a command run with bash -c in the client
# namespace during each scenario (LAB_IFACE names the client's interface):
# started once the captures run, before the client; stopped with SIGINT
# (SIGKILL 10 s later) once the captures stop. It must print "listening on"
# within 5 s, as tcpdump and hangdiag live do. Its output goes to
# LAB_CLIENT_HOOK_LOG (default: a file in the work directory).
# See lab/README.md.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LAB_DIR/.." && pwd)
PY=/usr/bin/python3

SCENARIOS=(
	requests-nokeepalive
	requests-keepalive
	curl-keepalive-short
	curl-keepalive-long
	requests-pool-reuse
	go-nokeepalive
	go-keepalive
	drop-nokeepalive
	hung-at-capture-end
	nat-requests-nokeepalive
	nat-requests-keepalive
)

CLIENT_IP=192.0.2.2
ROUTER_CLIENT_IP=192.0.2.1
ROUTER_SERVER_IP=198.51.100.1
SERVER_IP=198.51.100.2
PORT=8080
URL=http://$SERVER_IP:$PORT
# NAT scenarios: the client's destination, a virtual address on the router's
# client side, and the source addresses the router gives the server. The
# port range lies below the ephemeral range (32768-60999), so the source
# port is always rewritten.
VIP=203.0.113.10
VIP_PORT=80
VIP_URL=http://$VIP:$VIP_PORT
NAT_PORTS=20000-20099

usage() {
	cat >&2 <<EOF
usage: lab/lab.sh [-t T] [-o OUTDIR] SCENARIO... | all
  -t T       router conntrack idle timeout in seconds (default 5, at least 2)
  -o OUTDIR  where captures go (default testdata/pcaps/lab)
scenarios: ${SCENARIOS[*]}
environment: LAB_CLIENT_HOOK, LAB_CLIENT_HOOK_LOG (see the top of lab.sh)
EOF
	exit 2
}

die() {
	echo "lab.sh: $*" >&2
	exit 1
}

log() {
	echo "lab.sh: $*" >&2
}

T=5
OUTDIR=$REPO_ROOT/testdata/pcaps/lab
while getopts ":t:o:h" opt; do
	case $opt in
	t) T=$OPTARG ;;
	o) OUTDIR=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -gt 0 ]] || usage
[[ $T =~ ^[0-9]+$ ]] && ((T >= 2 && T <= 120)) || die "-t must be a whole number of seconds from 2 to 120"

RUN=()
for arg in "$@"; do
	if [[ $arg == all ]]; then
		RUN+=("${SCENARIOS[@]}")
	elif [[ " ${SCENARIOS[*]} " == *" $arg "* ]]; then
		RUN+=("$arg")
	else
		die "unknown scenario $arg (known: ${SCENARIOS[*]})"
	fi
done

# Preflight: everything the lab needs, with a clear message if missing.
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, iptables, tcpdump)"
need() {
	command -v "$1" >/dev/null || die "$1 not found: $2"
}
need ip "apt-get install iproute2"
need ss "apt-get install iproute2"
need tcpdump "apt-get install tcpdump"
need iptables "apt-get install iptables"
need conntrack "apt-get install conntrack"
need sysctl "apt-get install procps"
need curl "apt-get install curl"
need timeout "apt-get install coreutils"
need go "install Go and put it on PATH"
[[ -x $PY ]] || die "$PY not found (apt-get install python3)"
$PY -c 'import requests' 2>/dev/null || die "python3-requests missing for $PY (apt-get install python3-requests)"
probe_ns=hdlab-probe-$$
ip netns add "$probe_ns" 2>/dev/null || die "ip netns add does not work here (need CAP_SYS_ADMIN and a writable /run/netns)"
ip netns del "$probe_ns"

H=$((T / 2)) # keepalive interval below T
WORK=$(mktemp -d /tmp/hangdiag-lab.XXXXXX)
PIDS=()   # background processes still to stop
NETNS=()  # namespaces still to delete

cleanup() {
	local pid ns
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait_gone "$pid" 30
	done
	PIDS=()
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	NETNS=()
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_gone PID TENTHS: wait up to TENTHS/10 s for PID to exit, then kill it.
wait_gone() {
	local pid=$1 n=$2 i
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# sleep_until MS: sleep until MS milliseconds after $START_MS.
sleep_until() {
	local left=$(($1 - ($(now_ms) - START_MS)))
	if ((left > 0)); then
		sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
	fi
}

echo "building lab/goclient" >&2
(cd "$REPO_ROOT" && go build -buildvcs=false -o "$WORK/goclient" ./lab/goclient) || die "go build ./lab/goclient failed"

# setup_net NAME MODE NAT: create the three namespaces and the middlebox;
# with NAT=yes the router also NATs like a load balancer.
setup_net() {
	local name=$1 mode=$2 nat=$3 id
	id=hdlab-$$-$name
	NS_C=$id-client NS_R=$id-router NS_S=$id-server
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		ip netns add "$ns"
		NETNS+=("$ns")
		ip -n "$ns" link set lo up
	done
	ip link add cli0 netns "$NS_C" type veth peer name rtr-cli netns "$NS_R"
	ip link add srv0 netns "$NS_S" type veth peer name rtr-srv netns "$NS_R"
	ip -n "$NS_C" addr add "$CLIENT_IP/24" dev cli0
	ip -n "$NS_C" link set cli0 up
	ip -n "$NS_C" route add default via "$ROUTER_CLIENT_IP"
	ip -n "$NS_S" addr add "$SERVER_IP/24" dev srv0
	ip -n "$NS_S" link set srv0 up
	ip -n "$NS_S" route add default via "$ROUTER_SERVER_IP"
	ip -n "$NS_R" addr add "$ROUTER_CLIENT_IP/24" dev rtr-cli
	ip -n "$NS_R" addr add "$ROUTER_SERVER_IP/24" dev rtr-srv
	ip -n "$NS_R" link set rtr-cli up
	ip -n "$NS_R" link set rtr-srv up
	ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1

	# The -m conntrack rule makes this namespace track connections (and
	# loads nf_conntrack if needed), so set the sysctls after it.
	local target=(REJECT --reject-with tcp-reset)
	[[ $mode == drop ]] && target=(DROP)
	ip netns exec "$NS_R" iptables -A FORWARD -p tcp -m conntrack --ctstate INVALID -j "${target[@]}"
	if [[ $nat == yes ]]; then
		# The router owns the virtual address and DNATs it to the server;
		# the server sees the router's address and a port from NAT_PORTS.
		# A late packet of a forgotten flow is INVALID and conntrack does
		# not NAT it, so it stays addressed to the router itself (the VIP,
		# or 198.51.100.1:NAT port) and goes to INPUT, not FORWARD: the
		# same rule there sends the RST (without it the router's own TCP
		# stack would answer the segment for a closed port).
		ip -n "$NS_R" addr add "$VIP/32" dev rtr-cli
		ip netns exec "$NS_R" iptables -t nat -A PREROUTING -i rtr-cli -d "$VIP" -p tcp --dport "$VIP_PORT" \
			-j DNAT --to-destination "$SERVER_IP:$PORT"
		ip netns exec "$NS_R" iptables -t nat -A POSTROUTING -o rtr-srv -d "$SERVER_IP" -p tcp --dport "$PORT" \
			-j SNAT --to-source "$ROUTER_SERVER_IP:$NAT_PORTS"
		ip netns exec "$NS_R" iptables -A INPUT -p tcp -m conntrack --ctstate INVALID -j "${target[@]}"
	fi
	# loose=0: a mid-stream packet of a forgotten flow stays INVALID. With
	# the default (1) conntrack picks the flow up again and forwards it.
	ip netns exec "$NS_R" sysctl -qw \
		net.netfilter.nf_conntrack_tcp_timeout_established="$T" \
		net.netfilter.nf_conntrack_tcp_loose=0
	[[ $(ip netns exec "$NS_R" sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established) == "$T" ]] ||
		die "could not set nf_conntrack_tcp_timeout_established in $NS_R"
	[[ $(ip netns exec "$NS_R" sysctl -n net.netfilter.nf_conntrack_tcp_loose) == 0 ]] ||
		die "could not set nf_conntrack_tcp_loose in $NS_R"
}

start_server() {
	ip netns exec "$NS_S" "$PY" -u "$LAB_DIR/slowserver.py" "$SERVER_IP" "$PORT" \
		>"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NS_S" ss -Hltn "sport = :$PORT" | grep -q . && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/server.log" >&2
	die "server did not start listening on $SERVER_IP:$PORT"
}

# start_capture VANTAGE NS IFACE
start_capture() {
	local v=$1 ns=$2 ifc=$3 i pid
	: >"$WORK/$v.tcpdump.log"
	ip netns exec "$ns" tcpdump -Z root -U -s 128 -i "$ifc" -w "$WORK/$v.pcap" tcp \
		2>"$WORK/$v.tcpdump.log" &
	pid=$!
	PIDS+=("$pid")
	CAP_PIDS[$v]=$pid
	for ((i = 0; i < 50; i++)); do
		grep -q "listening on" "$WORK/$v.tcpdump.log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/$v.tcpdump.log" >&2
	die "tcpdump ($v) did not start"
}

stop_captures() {
	local v pid
	for v in client server router; do
		kill -INT "${CAP_PIDS[$v]}" 2>/dev/null || true
	done
	for v in client server router; do
		pid=${CAP_PIDS[$v]}
		wait_gone "$pid" 50
		forget_pid "$pid"
		grep -q "packets captured" "$WORK/$v.tcpdump.log" ||
			log "warning: tcpdump ($v) did not report its statistics"
		if grep -q "[1-9][0-9]* packets dropped by kernel" "$WORK/$v.tcpdump.log"; then
			log "warning: tcpdump ($v) dropped packets"
		fi
	done
}

# start_hook: start LAB_CLIENT_HOOK, if set, in the client namespace and
# wait for it to print "listening on".
start_hook() {
	HOOK_PID=
	[[ -n ${LAB_CLIENT_HOOK:-} ]] || return 0
	local hook_log=${LAB_CLIENT_HOOK_LOG:-$WORK/hook.log} i
	: >"$hook_log"
	LAB_IFACE=cli0 ip netns exec "$NS_C" bash -c "$LAB_CLIENT_HOOK" >"$hook_log" 2>&1 &
	HOOK_PID=$!
	PIDS+=("$HOOK_PID")
	for ((i = 0; i < 50; i++)); do
		grep -q "listening on" "$hook_log" && return 0
		kill -0 "$HOOK_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$hook_log" >&2
	die "client hook did not start: $LAB_CLIENT_HOOK"
}

# stop_hook: stop the client hook, if one runs.
stop_hook() {
	[[ -n ${HOOK_PID:-} ]] || return 0
	kill -INT "$HOOK_PID" 2>/dev/null || true
	wait_gone "$HOOK_PID" 100
	forget_pid "$HOOK_PID"
	HOOK_PID=
}

# check_conntrack PORT [PATTERN]: the router must track the flow to PORT,
# as ESTABLISHED with a timeout of at most T seconds (and an entry matching
# the extended regular expression PATTERN, if given).
check_conntrack() {
	local port=$1 pattern=${2:-.} i out
	for ((i = 0; i < 30; i++)); do
		out=$(ip netns exec "$NS_R" conntrack -L -p tcp --dport "$port" 2>/dev/null | grep ESTABLISHED | grep -E -- "$pattern" || true)
		if [[ -n $out ]]; then
			log "router conntrack: $(head -n1 <<<"$out")"
			return 0
		fi
		sleep 0.1
	done
	ip netns exec "$NS_R" conntrack -L -p tcp >&2 2>/dev/null || true
	die "conntrack does not track the forwarded flow in $NS_R"
}

# reject_count CHAIN: packets the INVALID rule of CHAIN in the router matched.
reject_count() {
	ip netns exec "$NS_R" iptables -L "$1" -v -n -x | awk '/INVALID/ { print $1; exit }'
}

# log_handshake VANTAGE FILE: the SYN and SYN-ACK with absolute sequence
# numbers, i.e. the addresses and the ISNs seen there.
log_handshake() {
	local line
	while IFS= read -r line; do
		log "$1: $line"
	done < <(tcpdump -S -nn -r "$2" 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null)
}

count_rst() {
	tcpdump -nn -r "$1" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l
}

count_packets() {
	tcpdump -nn -r "$1" 2>/dev/null | wc -l
}

# run_scenario NAME: one scenario from topology to captures in OUTDIR.
# Each case sets the client command and, where the defaults do not fit:
#   mode        what the router does with INVALID packets: reset or drop
#   expect      client outcome: fail, ok, or waiting (still running when
#               the capture stops at stop_at_ms)
#   want_rst    yes if the router capture must hold a RST, no if it must not
#   tail_ms     how long to keep capturing after the client exits
#   min_end_ms  capture at least this long after the client started
#   stop_at_ms  stop capturing this long after the client started
#   beat        yes: a second connection requests / every second meanwhile
#   nat         yes: the router NATs (client -> VIP_URL, server sees the
#               router's address); with want_rst=yes the RST must also
#               reach the server and come from the router's INPUT rule
run_scenario() {
	local name=$1
	local mode=reset expect=fail want_rst=yes tail_ms=1000 min_end_ms=0 stop_at_ms=0 beat=no nat=no
	local client=()
	local req=("$PY" "$LAB_DIR/reqclient.py")
	case $name in
	requests-nokeepalive)
		# The server answers at 2T, the client gives up at 2T+2.
		client=("${req[@]}" get "$URL/sleep/$((2 * T))" --timeout $((2 * T + 2)))
		;;
	requests-keepalive)
		client=("${req[@]}" get "$URL/sleep/$((2 * T))" --timeout $((3 * T)) --keepalive "$H,$H,3")
		expect=ok want_rst=no
		;;
	curl-keepalive-short)
		client=(curl -sS --keepalive-time "$H" -m $((3 * T)) -o - -w ' %{http_code}\n' "$URL/sleep/$((2 * T))")
		expect=ok want_rst=no
		;;
	curl-keepalive-long)
		# The first probe comes at T+2 s, after the router forgot the flow;
		# keep capturing until the server's answer at 2T+1 is reset too.
		client=(curl -sS --keepalive-time $((T + 2)) -m $((3 * T)) -o - -w ' %{http_code}\n' "$URL/sleep/$((2 * T + 1))")
		min_end_ms=$(((2 * T + 2) * 1000))
		;;
	requests-pool-reuse)
		client=("${req[@]}" reuse "$URL/" --wait $((T + 2)) --timeout $((3 * T)))
		;;
	go-nokeepalive)
		client=("$WORK/goclient" -url "$URL/sleep/$((2 * T))" -timeout $((2 * T + 2))s -keepalive 0)
		;;
	go-keepalive)
		client=("$WORK/goclient" -url "$URL/sleep/$((2 * T))" -timeout $((3 * T))s -keepalive "${H}s")
		expect=ok want_rst=no
		;;
	drop-nokeepalive)
		# The server answers at 2T, the client gives up at 2T+2; capture
		# 5 s of retransmissions after that.
		client=("${req[@]}" get "$URL/sleep/$((2 * T))" --timeout $((2 * T + 2)))
		mode=drop want_rst=no tail_ms=5000
		;;
	hung-at-capture-end)
		# Stop capturing at T+4 s while the client still waits; a second
		# connection requesting / every second runs until then, so the
		# capture's last packet marks when it stopped.
		client=("${req[@]}" get "$URL/sleep/$((6 * T))" --timeout $((8 * T)))
		expect=waiting want_rst=no stop_at_ms=$(((T + 4) * 1000)) beat=yes
		;;
	nat-requests-nokeepalive)
		# requests-nokeepalive through NAT.
		client=("${req[@]}" get "$VIP_URL/sleep/$((2 * T))" --timeout $((2 * T + 2)))
		nat=yes
		;;
	nat-requests-keepalive)
		# requests-keepalive through NAT: the probes keep the entry alive.
		client=("${req[@]}" get "$VIP_URL/sleep/$((2 * T))" --timeout $((3 * T)) --keepalive "$H,$H,3")
		expect=ok want_rst=no nat=yes
		;;
	*) die "no such scenario $name" ;;
	esac

	log "== $name (T=${T}s, router $mode mode$([[ $nat == yes ]] && echo ", NAT $VIP:$VIP_PORT -> $SERVER_IP:$PORT from $ROUTER_SERVER_IP:$NAT_PORTS"))"
	setup_net "$name" "$mode" "$nat"
	rm -f "$WORK"/*.pcap "$WORK"/*.log
	start_server
	declare -gA CAP_PIDS=()
	start_capture client "$NS_C" cli0
	start_capture server "$NS_S" srv0
	start_capture router "$NS_R" any
	start_hook

	if [[ $beat == yes ]]; then
		ip netns exec "$NS_C" timeout -k 2 $((T + 20)) "${req[@]}" beat "$URL/" --every 1 --count $((T + 15)) \
			>"$WORK/beat.log" 2>&1 &
		PIDS+=("$!")
		sleep 0.5
	fi

	START_MS=$(now_ms)
	ip netns exec "$NS_C" timeout -k 2 $((10 * T)) "${client[@]}" >"$WORK/client.log" 2>&1 &
	local client_pid=$! rc=0 result
	PIDS+=("$client_pid")
	if [[ $nat == yes ]]; then
		# The reply direction must show the server answering the router
		# at a port from NAT_PORTS (the pattern matches 20000-20099).
		check_conntrack "$VIP_PORT" "dst=$ROUTER_SERVER_IP sport=$PORT dport=200[0-9][0-9] "
	else
		check_conntrack "$PORT"
	fi

	if ((stop_at_ms > 0)); then
		sleep_until "$stop_at_ms"
		kill -0 "$client_pid" 2>/dev/null || die "$name: the client finished before the capture stopped"
		stop_captures
		stop_hook
		result=waiting
	else
		wait "$client_pid" || rc=$?
		forget_pid "$client_pid"
		result=$([[ $rc -eq 0 ]] && echo ok || echo fail)
		sleep_until $(($(now_ms) - START_MS + tail_ms))
		sleep_until "$min_end_ms"
		stop_captures
		stop_hook
	fi
	log "client ($result): $(tr '\n' ' ' <"$WORK/client.log")"
	if [[ -f $WORK/beat.log ]]; then
		log "second connection: $(grep -c '^ok' "$WORK/beat.log" || true) requests answered"
	fi
	local rej_in=0 rej_fwd=0
	if [[ $nat == yes ]]; then
		rej_fwd=$(reject_count FORWARD) rej_in=$(reject_count INPUT)
		log "router INVALID rule matched: FORWARD $rej_fwd, INPUT $rej_in packets"
	fi
	cleanup

	[[ $result == "$expect" ]] || die "$name: client result $result, expected $expect"
	local rsts
	rsts=$(count_rst "$WORK/router.pcap")
	if [[ $want_rst == yes ]] && ((rsts == 0)); then
		die "$name: expected a RST from the router, saw none"
	elif [[ $want_rst == no ]] && ((rsts > 0)); then
		die "$name: expected no RST, saw $rsts"
	fi
	local v
	if [[ $nat == yes ]]; then
		if [[ $want_rst == yes ]]; then
			((rej_in > 0)) || die "$name: the router's INPUT rule rejected nothing"
			(($(count_rst "$WORK/server.pcap") > 0)) || die "$name: no RST reached the server"
		fi
		for v in client server router; do
			log_handshake "$v" "$WORK/$v.pcap"
		done
	fi

	mkdir -p "$OUTDIR"
	for v in client server router; do
		mv "$WORK/$v.pcap" "$OUTDIR/$name.$v.pcap"
		echo "$OUTDIR/$name.$v.pcap ($(count_packets "$OUTDIR/$name.$v.pcap") packets)"
	done
}

for s in "${RUN[@]}"; do
	run_scenario "$s"
done
