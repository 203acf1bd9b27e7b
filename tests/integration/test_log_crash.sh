#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Crash tests for lib/log:
#  1. 20 times: a child appends (recording each acknowledged offset) and is
#     killed with SIGKILL at a random moment; after each restart every
#     acknowledged batch is present and valid and the files end on a batch
#     boundary (process crash: the hot pool survives).
#  2. Power loss: the hot tier is wiped after the kill; the log recovers at
#     least to the last synced offset.
#  3. A segment cut in the middle of a batch recovers to the batch before.
cd "$(dirname "$0")/../.." || exit 1
B=${FMQ_BUILD:-build}
H=$B/tests/unit/log/fmq-log-crash
[ -x "$H" ] || { echo "SKIP: $H not built"; exit 77; }
ROUNDS=${FMQ_LOG_CRASH_ROUNDS:-20}

# Hot pool on hugetlbfs when a mount with room exists, else ordinary memory.
HUGE=$(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts)
FREE=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ -n "$HUGE" ] && [ -w "$HUGE" ] && [ "$FREE" -ge 16 ]; then
	HOT=$HUGE/fmq-logtest-crash-$$
else
	HOT=/dev/shm/fmq-logtest-crash-$$
fi
DATA=$(mktemp -d /tmp/fmq-logcrash.XXXXXX)
CHILD=
cleanup() {
	[ -n "$CHILD" ] && kill -9 "$CHILD" 2>/dev/null
	rm -rf "$DATA" "$HOT"
}
trap cleanup EXIT
echo "hot pool in $HOT, data in $DATA"

run_and_kill() {
	"$H" run "$DATA/d" "$HOT" "$DATA/acks" "$DATA/synced" 2>>"$DATA/run.err" &
	CHILD=$!
	# 50..550 ms
	sleep "0.$(printf '%03d' $((50 + RANDOM % 500)))"
	kill -9 "$CHILD" 2>/dev/null
	wait "$CHILD" 2>/dev/null
	CHILD=
}

for i in $(seq 1 "$ROUNDS"); do
	run_and_kill
	printf 'kill %2d: ' "$i"
	"$H" verify "$DATA/d" "$HOT" "$DATA/acks" || { cat "$DATA/run.err"; echo FAIL; exit 1; }
done
[ "$(wc -l < "$DATA/acks")" -gt 100 ] || { echo "FAIL: too few appends"; exit 1; }

echo "power loss: hot tier wiped after the kill"
run_and_kill
rm -f "$HOT/hotpool"
printf 'power:   '
"$H" verify "$DATA/d" "$HOT" "$DATA/acks" durable "$DATA/synced" || { echo FAIL; exit 1; }

echo "segment cut in the middle of its last batch"
END=$("$H" cut "$DATA/d") || { echo "FAIL: cut"; exit 1; }
printf 'cut:     '
"$H" verify "$DATA/d" "$HOT" "$DATA/acks" end "$END" || { echo FAIL; exit 1; }
echo PASS
