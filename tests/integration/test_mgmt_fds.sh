#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The management endpoint works past descriptor 1,023. The broker starts
# with a soft open-file limit of 1,024 (the usual default) and must raise
# it itself; 400 partitions (3 files each) then take it past 1,200 open
# descriptors, and /health and /metrics still answer, on connections whose
# descriptors are above 1,024.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl kcat

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 4096 ] || skip "hard open-file limit $hard < 4096"
# The broker inherits a soft limit of 1,024 (this subshell's).
ulimit -Sn 1024
fmq_start fds --set num.partitions=400
grep -q 'open-file limit raised from 1024' "$FMQ_TMP/fds.log" ||
	fail "no 'open-file limit raised' line in the log"
max=$(fmq_metric fluxmq_process_max_fds)
[ "$max" -gt 1024 ] || fail "fluxmq_process_max_fds=$max"
pass "open-file limit raised from 1024 to $max (logged)"

timeout 60 kcat -b "$FMQ_IP:9092" -m 45 -L -t fds-many >"$FMQ_TMP/L.txt" 2>&1 ||
	fail "kcat -L: $(tail -n 3 "$FMQ_TMP/L.txt")"
grep -q 'topic "fds-many" with 400 partitions' "$FMQ_TMP/L.txt" ||
	fail "topic not created with 400 partitions: $(grep -m1 topic "$FMQ_TMP/L.txt")"
fds=$(find "/proc/$FMQ_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
[ "$fds" -gt 1100 ] || fail "only $fds descriptors open in the broker"
pass "400 partitions: $fds descriptors open in the broker"

for i in 1 2 3 4 5; do
	code=$(fmq_health)
	[ "$code" = 200 ] || fail "/health try $i: HTTP $code with $fds descriptors open"
done
body=$(curl -sf --max-time 5 "http://$FMQ_MGMT/metrics") || fail "/metrics failed"
grep -q '^fluxmq_process_open_fds ' <<<"$body" || fail "/metrics incomplete"
open=$(fmq_metric fluxmq_process_open_fds)
[ "$open" -gt 1024 ] || fail "fluxmq_process_open_fds=$open"
pass "/health 200 (5 of 5) and /metrics with $open descriptors open"

# A message through one of the 400 partitions, to see the broker whole.
echo fds-msg | timeout 30 kcat -b "$FMQ_IP:9092" -P -t fds-many -p 399 || fail "produce"
got=$(timeout 30 kcat -b "$FMQ_IP:9092" -C -t fds-many -p 399 -o beginning -e -q) || fail "consume"
[ "$got" = fds-msg ] || fail "consumed '$got'"
pass "produce/consume on partition 399"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc"
pass "clean stop"
