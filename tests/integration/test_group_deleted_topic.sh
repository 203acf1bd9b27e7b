#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A group member subscribed to a topic that is deleted under it leaves
# and closes (issue 18): kafka-python and KafkaJS consumers read, the topic
# is deleted, they keep polling, then close within the bound, and the
# group is left Empty (DescribeGroups). With confluent-kafka the broker
# side is the same (its LeaveGroup is answered and the group is Empty),
# but librdkafka 2.0.2-2.6.0 then hangs in rd_kafka_destroy in this very
# sequence against Apache Kafka too (librdkafka #4724, fixed in 2.6.1: a
# message left in a removed partition's fetch queue keeps the partition,
# and with it a broker reference); from 2.6.1 on its close must return.
# The clients are tests/integration/kafka/deleted_topic_member.py and
# kafkajs_deleted_topic.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python not installed"

B=$FMQ_IP:9092
PY=tests/integration/kafka/deleted_topic_member.py

# group_state GROUP: its state from DescribeGroups (kafka-python admin).
group_state() {
	/usr/bin/python3 - "$B" "$1" <<'PY'
import sys
from kafka.admin import KafkaAdminClient
a = KafkaAdminClient(bootstrap_servers=sys.argv[1])
print(a.describe_consumer_groups([sys.argv[2]])[0].state)
PY
}
# wait_empty GROUP: Empty within 10 s (the LeaveGroup was handled).
wait_empty() {
	local i st=
	for ((i = 0; i < 20; i++)); do
		st=$(group_state "$1" 2>/dev/null) || st=
		[ "$st" = Empty ] && return 0
		sleep 0.5
	done
	fail "group $1 is '$st', not Empty, after its member closed"
}
leaves() { fmq_metric fluxmq_kafka_requests_total 'api="LeaveGroup"' || echo 0; }

# Without auto-creation (as in production): kafka-python's Metadata v1
# would otherwise create the deleted topic again (so would Kafka).
fmq_start dt --set auto.create.topics.enable=false
l0=$(leaves)
timeout 60 /usr/bin/python3 "$PY" "$B" kafka-python dt-kp dt-g-kp >"$FMQ_TMP/kp.out" 2>&1 ||
	fail "kafka-python: $(tail -5 "$FMQ_TMP/kp.out")"
grep -qx left "$FMQ_TMP/kp.out" || fail "kafka-python did not close: $(tail -5 "$FMQ_TMP/kp.out")"
wait_empty dt-g-kp
[ "$(leaves)" -gt "$l0" ] || fail "kafka-python sent no LeaveGroup"
pass "kafka-python: topic deleted under the member; it closed (LeaveGroup) and the group is Empty"

if command -v node >/dev/null 2>&1 &&
	[ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	timeout 60 node tests/integration/kafka/kafkajs_deleted_topic.js "$B" dt-kjs dt-g-kjs \
		>"$FMQ_TMP/kjs.out" 2>&1 || fail "KafkaJS: $(tail -5 "$FMQ_TMP/kjs.out")"
	grep -qx left "$FMQ_TMP/kjs.out" || fail "KafkaJS did not disconnect"
	wait_empty dt-g-kjs
	pass "KafkaJS: topic deleted under the member; it disconnected and the group is Empty"
else
	printf 'SKIP: KafkaJS (no node or kafkajs)\n'
fi

if /usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null; then
	ver=$(/usr/bin/python3 -c 'import confluent_kafka as c; print(c.libversion()[1])')
	vs=$(/usr/bin/python3 -c 'import confluent_kafka as c; print(c.libversion()[0])')
	fixed=0
	[ "$ver" -ge $((0x02060100)) ] && fixed=1
	l1=$(leaves)
	rc=0
	timeout 30 /usr/bin/python3 "$PY" "$B" confluent dt-ck dt-g-ck >"$FMQ_TMP/ck.out" 2>&1 || rc=$?
	grep -qx deleted "$FMQ_TMP/ck.out" || fail "confluent-kafka: $(grep -v '^%' "$FMQ_TMP/ck.out" | tail -5)"
	wait_empty dt-g-ck
	[ "$(leaves)" -gt "$l1" ] || fail "confluent-kafka sent no LeaveGroup"
	if [ "$fixed" = 1 ]; then
		{ [ "$rc" -eq 0 ] && grep -qx left "$FMQ_TMP/ck.out"; } ||
			fail "librdkafka $vs did not close (rc $rc)"
		pass "confluent-kafka: the member left and close() returned"
	elif [ "$rc" -eq 0 ]; then
		pass "confluent-kafka: the member left and close() returned"
	else
		pass "confluent-kafka: the member left (LeaveGroup answered, group Empty); librdkafka $vs then hangs in rd_kafka_destroy (librdkafka #4724, fixed in 2.6.1), as against Apache Kafka"
	fi
fi
fmq_stop || fail "broker exit status $?"
pass "a member of a deleted topic leaves and closes"
