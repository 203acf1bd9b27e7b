#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The management endpoint keeps answering /health while 1,000 idle
# connections (connected, never a byte sent) and more arriving between the
# checks hold it: a newcomer evicts the longest-idle connection, so the
# flood never fills the endpoint. Afterwards the evictions show in
# /metrics and the endpoint is back to a handful of connections.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3

fmq_start flood
out=$FMQ_TMP/flood.txt
rc=0
timeout 60 /usr/bin/python3 tests/integration/mgmt/idle_flood.py "$FMQ_MGMT" 1000 5 >"$out" 2>&1 || rc=$?
sed 's/^/    /' "$out"
[ "$rc" -eq 0 ] || fail "/health did not answer 200 within 3 s every time under 1,000+ idle connections"
pass "/health 200 five times under a flood of 1,000+ idle connections"

ev=$(fmq_metric fluxmq_mgmt_connections_evicted_total)
[ "$ev" -ge 900 ] || fail "fluxmq_mgmt_connections_evicted_total=$ev, want >= 900"
for ((i = 0; i < 50; i++)); do
	n=$(fmq_metric fluxmq_mgmt_connections)
	[ "$n" -le 2 ] && break
	sleep 0.2
done
[ "$n" -le 2 ] || fail "fluxmq_mgmt_connections=$n after the flood closed"
pass "$ev idle connections evicted; $n connection(s) left after the flood"
[ "$(fmq_health)" = 200 ] || fail "/health after the flood"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc"
pass "clean stop"
