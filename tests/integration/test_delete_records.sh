#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DeleteRecords (API 21) and DescribeLogDirs (API 35) with real clients:
# librdkafka's rd_kafka_DeleteRecords moves log starts (-1, past the end,
# a compact-only topic, an unknown partition answer as Kafka does), and
# so does KafkaJS's deleteTopicRecords when installed; confluent-kafka's
# watermarks and consumer see the new start; a fetch below it answers
# OFFSET_OUT_OF_RANGE. SIGKILL right after: the starts
# come back and retention deletes the segments below them. DescribeLogDirs
# v0-v4 reports each partition's size as its .log files' bytes. With the
# authorizer on: DeleteRecords needs DELETE on the topic, DescribeLogDirs
# DESCRIBE on the cluster. The checks are in
# tests/integration/kafka/logs_client.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python not installed"
/usr/bin/python3 -c 'import ctypes; ctypes.CDLL("librdkafka.so.1").rd_kafka_DeleteRecords' \
	2>/dev/null || skip "librdkafka without rd_kafka_DeleteRecords"

ARGS=(--set lcores.data=2 --set log.flush.interval.ms=100
	--set log.retention.check.interval.ms=500)
phase() {
	timeout 100 /usr/bin/python3 tests/integration/kafka/logs_client.py \
		"$FMQ_IP" 9092 "$1" "$FMQ_DATA" 2>"$FMQ_TMP/logs-$1.err" ||
		fail "phase $1: $(grep -v '^%' "$FMQ_TMP/logs-$1.err" | tail -20) (broker log: $FMQ_TMP/dr.log)"
}
stop() {
	local rc=0
	fmq_stop || rc=$?
	[ "$rc" -eq 0 ] || fail "broker exit status $rc"
}

fmq_start dr "${ARGS[@]}"
phase setup
phase delete
n=$(fmq_metric fluxmq_log_delete_records_total) || fail "no fluxmq_log_delete_records_total"
[ "$n" -eq 2 ] || fail "fluxmq_log_delete_records_total $n, want 2"
[ "$(cat "$FMQ_DATA/dr-t-0/log-start-offset")" = 100 ] ||
	fail "dr-t-0/log-start-offset: $(cat "$FMQ_DATA/dr-t-0/log-start-offset" 2>&1)"
pass "two log starts moved (/metrics), dr-t-0/log-start-offset holds 100"
if command -v node >/dev/null 2>&1 &&
	[ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 90 node \
		tests/integration/kafka/kafkajs_delete_records.js "$FMQ_IP:9092" ||
		fail "KafkaJS deleteTopicRecords (broker log: $FMQ_TMP/dr.log)"
else
	printf 'SKIP: KafkaJS deleteTopicRecords (no node or kafkajs)\n'
fi
fmq_kill9

fmq_start dr "${ARGS[@]}"
sleep 1.5       # a retention pass
phase check
phase logdirs
stop

fmq_start dr "${ARGS[@]}" --set authorizer.enabled=true \
	--set allow.everyone.if.no.acl.found=true
phase acl
n=$(fmq_metric fluxmq_ctrl_acl_decisions_total 'result="denied"') ||
	fail "no denied decision counted on the control lcore"
[ "$n" -gt 0 ] || fail "control lcore denied decisions: $n"
stop
pass "DeleteRecords and DescribeLogDirs"
