#!/usr/bin/env bash
# TCP-lite benchmark with kernel clients through the tap (not a test):
#   - the tap's raw packet ceiling: ICMP echo round trips through the tap
#     and the stack's ICMP path (ping -f, 64 in flight), 98- and 1514-byte
#     frames, before and after the TCP runs,
#   - echo throughput (1 and 8 connections),
#   - discard throughput (1 and 8 connections),
#   - connections per second (connect / 1-byte echo / close, 32 in flight),
# all in the same run against one broker (poll.mode=adaptive). Prints a
# Markdown table and JSON lines. Network names from tests/integration/lib.sh
# (FMQ_TAP, FMQ_IP, FMQ_MGMT, ...). Run as root:  bench/tcp/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd python3 curl ping

CLIENT=tests/integration/tcp/tcp_client.py
rows=()

fmq_start bench-tcp --set poll.mode=adaptive --set net.services=echo:7,discard:9

ceiling() {  # ICMP payload bytes; 64 echo requests in flight
	local size=$1 n=200000 t0 t1 pps
	t0=$(date +%s.%N)
	ping -f -q -l 64 -s "$size" -c "$n" -w 60 "$FMQ_IP" >"$FMQ_TMP/ping.out" 2>&1 ||
		fail "ping flood: $(cat "$FMQ_TMP/ping.out")"
	t1=$(date +%s.%N)
	grep -q " 0% packet loss" "$FMQ_TMP/ping.out" || echo "ping flood lost packets: $(grep loss "$FMQ_TMP/ping.out")" >&2
	pps=$(python3 -c "print(round($n / ($t1 - $t0)))")
	rows+=("| tap ceiling: ICMP echo round trips, $((size + 42))-byte frames, 64 in flight | $pps pps each way | $(python3 -c "print(round($pps * ($size + 42) / 1e6, 1))") MB/s each way |")
}

run() {  # label, client args...
	local label=$1 out
	shift
	out=$("$CLIENT" "$@" --host "$FMQ_IP") || fail "$label: $out"
	echo "$out" >&2
	rows+=("$(python3 -c "
import json, sys
d = json.loads(sys.argv[2])
if 'per_sec' in d:
    print('| %s | %s conn/s | %s s |' % (sys.argv[1], d['per_sec'], d['seconds']))
else:
    print('| %s | %s MB/s | %s s |' % (sys.argv[1], d['MBps'], d['seconds']))
" "$label" "$out")")
}

ceiling 56
ceiling 1472
run "echo, 1 connection, 512 MiB" echo --port 7 --conns 1 --bytes $((512 << 20))
run "echo, 8 connections x 64 MiB" echo --port 7 --conns 8 --bytes $((64 << 20))
run "discard, 1 connection, 1 GiB" discard --port 9 --conns 1 --bytes $((1 << 30))
run "discard, 8 connections x 128 MiB" discard --port 9 --conns 8 --bytes $((128 << 20))
run "connections/s (connect, 1-byte echo, close; 32 in flight)" churn --port 7 --count 20000 --parallel 32
ceiling 1472

fmq_stop || true
echo
echo "| what | rate | |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
