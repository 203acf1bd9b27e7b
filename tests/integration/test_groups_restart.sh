#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Committed offsets survive broker restarts: a confluent-kafka consumer
# commits synchronously and the broker is stopped right after, first with
# SIGTERM, then with SIGKILL. After each restart the broker must still have
# exactly the acknowledged offsets, the group consumer must resume there,
# and over all steps the topic is consumed exactly once.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "confluent-kafka-python is not installed"
PY=/usr/bin/python3
B=$FMQ_IP:9092
PER=1000
work=$FMQ_TMP/dur
mkdir -p "$work"

step() {
	timeout 120 "$PY" tests/integration/groups/ck_commit_step.py "$B" dur-t \
		dur-group "$1" "$work" >"$FMQ_TMP/step.out" 2>&1 ||
		{ cat "$FMQ_TMP/step.out" >&2; fail "consumer step ($2)"; }
	cat "$FMQ_TMP/step.out"
}

fmq_start dur
"$PY" - "$B" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
a.create_topics([NewTopic("dur-t", 2, 1)])["dur-t"].result(10)
PY
for p in 0 1; do
	seq 0 $((PER - 1)) | sed "s/^/$p:/" |
		kcat -b "$B" -P -t dur-t -p "$p" -X batch.num.messages=50 ||
		fail "producing to dur-t-$p"
done

step 500 "before SIGTERM"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc after SIGTERM"
fmq_start dur
grep -q "group: loaded 1 groups and 2 committed offsets" "$FMQ_TMP/dur.log" ||
	fail "the restarted broker did not load the group's two offsets"
[ "$(fmq_metric fluxmq_group_offsets)" = 2 ] || fail "fluxmq_group_offsets after restart"
step 700 "after SIGTERM, before SIGKILL"
pass "offsets kept across SIGTERM; the consumer resumed at them"

fmq_kill9
fmq_start dur
step $((2 * PER - $(wc -l <"$work/seen.txt"))) "after SIGKILL"
pass "offsets kept across SIGKILL; the consumer resumed at them"

n=$(wc -l <"$work/seen.txt")
u=$(sort -u "$work/seen.txt" | wc -l)
if [ "$n" -ne $((2 * PER)) ] || [ "$u" -ne $((2 * PER)) ]; then
	fail "over three steps: $n messages, $u distinct, want $((2 * PER)) once each"
fi
pass "the topic was consumed exactly once over the restarts"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
