#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A transactional producer keeps its sequence across a SIGKILL of the
# broker (issue 17): 3 committed transactions on one partition, the
# broker SIGKILLed and restarted (its producer state replayed from the
# log: transaction markers are not batches of the producer), then 3 more
# transactions with the same producer, in sequence (before the fix the
# replayed state ended at the marker's sequence -1 and the next batch got
# OUT_OF_ORDER_SEQUENCE_NUMBER, a fatal error for the producer). The
# same replay rebuilds a follower's state after a truncation.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "confluent-kafka-python is not installed"
PY=/usr/bin/python3
B=$FMQ_IP:9092
go=$FMQ_TMP/go
out=$FMQ_TMP/ck_seq_restart.out

fmq_start seq
"$PY" tests/integration/txn/ck_seq_restart.py "$B" "$go" >"$out" 2>&1 &
cpid=$!
fmq_on_cleanup "kill $cpid 2>/dev/null || true"
for ((i = 0; i < 600; i++)); do
	grep -q '^COMMITTED' "$out" && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^COMMITTED' "$out" || { sed 's/^/    | /' "$out" >&2; fail "no committed transactions"; }
pass "3 transactions committed"
fmq_kill9
fmq_start seq
touch "$go"
rc=0
wait "$cpid" || rc=$?
sed 's/^/    /' "$out"
if [ "$rc" != 0 ] || ! grep -q '^RESULT ok' "$out"; then
	fail "the producer after the restart: $(grep RESULT "$out")"
fi
pass "broker SIGKILLed and restarted: the same transactional producer went on in sequence, read_committed saw the 60 records once, in order"
