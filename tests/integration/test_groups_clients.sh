#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Consumer groups with the other clients through the tap: a kafka-python
# group consumer and a KafkaJS group consumer each join, consume, commit,
# restart and must resume exactly at the committed offsets; kcat -G does
# the same, then two kcat -G balanced consumers split a topic between them
# and consume it exactly once together. Last, static members
# (group.instance.id, librdkafka) restart without a rebalance.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat node curl
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python is not installed"
[ -d tests/integration/node/node_modules/kafkajs ] ||
	skip "KafkaJS not installed (run scripts/setup.sh)"
PY=/usr/bin/python3
B=$FMQ_IP:9092
PARTS=3
PER=1000
TOTAL=$((PARTS * PER))

fmq_start clients

# A topic of PARTS partitions, PER messages each, values "<p>:<offset>".
make_topic() {
	local t=$1 p
	"$PY" - "$B" "$t" "$PARTS" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
a.create_topics([NewTopic(sys.argv[2], int(sys.argv[3]), 1)])[sys.argv[2]].result(10)
PY
	for ((p = 0; p < PARTS; p++)); do
		seq 0 $((PER - 1)) | sed "s/^/$p:/" |
			kcat -b "$B" -P -t "$t" -p "$p" -X linger.ms=5 \
				-X batch.num.messages=50 ||
			fail "producing to $t-$p"
	done
}

# --- kafka-python ------------------------------------------------------------
make_topic kp-t
out=$FMQ_TMP/kp.out
timeout 180 "$PY" tests/integration/groups/kp_resume.py "$B" kp-t kp-group 1000 "$TOTAL" \
	>"$out" 2>&1 || { cat "$out" >&2; fail "kafka-python resume"; }
cat "$out"
pass "kafka-python group consumer resumes at the committed offsets"

# --- KafkaJS -----------------------------------------------------------------
make_topic kj-t
out=$FMQ_TMP/kj.out
timeout 180 node tests/integration/groups/kj_resume.js "$B" kj-t kj-group 1000 "$TOTAL" \
	>"$out" 2>&1 || { cat "$out" >&2; fail "KafkaJS resume"; }
cat "$out"
pass "KafkaJS group consumer resumes at the committed offsets"

# --- kcat -G -----------------------------------------------------------------
make_topic kc-t
# kc GROUP ARGS...: a balanced kcat consumer printing "<p>:<o> <value>";
# small fetches so that consumption interleaves the partitions.
kc() {
	timeout 90 kcat -b "$B" -G "$1" -q -f '%p:%o %s\n' \
		-X auto.offset.reset=earliest -X session.timeout.ms=6000 \
		-X heartbeat.interval.ms=500 -X message.max.bytes=1024 -X fetch.max.bytes=1024 \
		-X max.partition.fetch.bytes=1024 "${@:2}"
}
# First run stops after 1000 messages; closing commits what it consumed.
kc kc-group -c 1000 kc-t >"$FMQ_TMP/kc1.out" || fail "kcat -G first run"
kc kc-group -e kc-t >"$FMQ_TMP/kc2.out" || fail "kcat -G second run"
n1=$(wc -l <"$FMQ_TMP/kc1.out")
n2=$(wc -l <"$FMQ_TMP/kc2.out")
# Each line "<p>:<o> <value>" must have value == "<p>:<o>".
bad=$(awk '$1 != $2' "$FMQ_TMP/kc1.out" "$FMQ_TMP/kc2.out" | head -3)
[ -z "$bad" ] || fail "kcat read wrong values: $bad"
uniq=$(cat "$FMQ_TMP/kc1.out" "$FMQ_TMP/kc2.out" | awk '{print $1}' | sort -u | wc -l)
[ "$n1" -eq 1000 ] || fail "kcat first run: $n1 messages, want 1000"
if [ "$((n1 + n2))" -ne "$TOTAL" ] || [ "$uniq" -ne "$TOTAL" ]; then
	fail "kcat: $n1 + $n2 messages, $uniq distinct, want $TOTAL exactly once"
fi
pass "kcat -G resumes at the committed offsets ($n1 + $n2)"

# Two balanced consumers at once split the partitions; together they read
# the topic once. Both must have owned partitions.
make_topic kcb-t
kc kcb-group -e kcb-t >"$FMQ_TMP/kcb1.out" &
p1=$!
kc kcb-group -e kcb-t >"$FMQ_TMP/kcb2.out" &
p2=$!
wait "$p1" || fail "balanced kcat 1 failed"
wait "$p2" || fail "balanced kcat 2 failed"
a=$(wc -l <"$FMQ_TMP/kcb1.out")
b=$(wc -l <"$FMQ_TMP/kcb2.out")
uniq=$(cat "$FMQ_TMP/kcb1.out" "$FMQ_TMP/kcb2.out" | awk '{print $1}' | sort -u | wc -l)
if [ "$a" -eq 0 ] || [ "$b" -eq 0 ]; then
	fail "one balanced kcat got nothing ($a, $b)"
fi
if [ "$((a + b))" -ne "$TOTAL" ] || [ "$uniq" -ne "$TOTAL" ]; then
	fail "balanced kcat: $a + $b messages, $uniq distinct, want $TOTAL exactly once"
fi
pass "two kcat -G balanced consumers: $a + $b messages, each once"

# --- static membership (KIP-345), librdkafka -------------------------------
out=$FMQ_TMP/static.out
timeout 120 "$PY" tests/integration/groups/ck_static.py "$B" static-t \
	"http://$FMQ_MGMT/metrics" >"$out" 2>&1 ||
	{ cat "$out" >&2; fail "static membership"; }
cat "$out"
pass "a static member restarts without a rebalance and expires when gone"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
