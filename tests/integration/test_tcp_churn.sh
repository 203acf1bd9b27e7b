#!/usr/bin/env bash
# TCP-lite connection churn: 10,000 connect / echo one byte / close cycles
# from kernel clients; afterwards /metrics shows zero active connections,
# the stack holds no mbufs and the pool's in-use count is back at its
# baseline (no leak).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd python3 curl

CLIENT=tests/integration/tcp/tcp_client.py

fmq_start tcp-churn --set poll.mode=adaptive --set net.services=echo:7

# Warm up (ARP, per-lcore mempool caches) before taking the baseline.
"$CLIENT" churn --host "$FMQ_IP" --port 7 --count 50 >/dev/null || fail "warm-up"
sleep 0.5
base_held=$(fmq_metric fluxmq_net_mbufs_held)
base_pool=$(fmq_metric fluxmq_mempool_in_use)
opened0=$(fmq_metric fluxmq_tcp_passive_opens_total)

out=$(timeout 300 "$CLIENT" churn --host "$FMQ_IP" --port 7 --count 10000 --parallel 32) ||
	fail "10000 connect/close cycles: $out"
pass "10000 connect/close cycles: $out"

for ((i = 0; i < 100; i++)); do
	active=$(fmq_metric fluxmq_tcp_connections_active)
	held=$(fmq_metric fluxmq_net_mbufs_held)
	pool=$(fmq_metric fluxmq_mempool_in_use)
	[ "$active" = 0 ] && [ "$held" = "$base_held" ] && [ "$pool" = "$base_pool" ] && break
	sleep 0.1
done
[ "$active" = 0 ] || fail "$active connections still active"
[ "$held" = "$base_held" ] || fail "mbufs held $held, baseline $base_held"
[ "$pool" = "$base_pool" ] || fail "mempool in use $pool, baseline $base_pool"
opened=$(fmq_metric fluxmq_tcp_passive_opens_total)
[ $((opened - opened0)) -eq 10000 ] || fail "passive opens grew by $((opened - opened0)), want 10000"
pass "0 active connections, mbufs held $held (baseline $base_held), pool in use $pool (baseline $base_pool)"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "clean shutdown"
