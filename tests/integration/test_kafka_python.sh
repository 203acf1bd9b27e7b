#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kafka-python 2.0.2 and confluent-kafka-python 1.7.0 (/usr/bin/python3)
# through the tap: topic admin (create with configs and validate-only,
# describe, alter, create partitions, delete, and the error codes clients
# branch on), produce/consume round trips with acks 0, 1 and all (plain,
# compressed, idempotent), offsets_for_times, and OFFSET_OUT_OF_RANGE with
# each auto.offset.reset policy; then Fetch limits and long-poll, ListOffsets
# and DescribeCluster on raw sockets. The checks are in
# tests/integration/kafka/.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
# Extra broker arguments, e.g. FMQ_KAFKA_ARGS_STR="--set lcores.data=2".
read -r -a FMQ_KAFKA_ARGS <<<"${FMQ_KAFKA_ARGS_STR:-}"
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python not installed"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

B=$FMQ_IP:9092
fmq_start py "${FMQ_KAFKA_ARGS[@]}"

timeout 300 /usr/bin/python3 tests/integration/kafka/kafka_python_client.py "$B" all ||
	fail "kafka-python checks (broker log: $FMQ_TMP/py.log)"
# librdkafka logs to stderr; keep it in a file and show its tail on failure.
timeout 300 /usr/bin/python3 tests/integration/kafka/confluent_client.py "$B" all \
	2>"$FMQ_TMP/confluent.err" ||
	fail "confluent-kafka checks: $(grep -v '^%' "$FMQ_TMP/confluent.err" | tail -20)"

# What clients cannot show: Fetch limits and waits, ListOffsets and
# DescribeCluster checked byte by byte on raw sockets.
timeout 120 /usr/bin/python3 tests/integration/kafka/fetch_raw.py "$FMQ_IP" 9092 ||
	fail "raw Fetch/ListOffsets/DescribeCluster checks"

for api in CreateTopics DeleteTopics CreatePartitions DescribeConfigs IncrementalAlterConfigs InitProducerId ListOffsets DescribeCluster; do
	n=$(fmq_metric fluxmq_kafka_requests_total "api=\"$api\"") || fail "no $api request counted"
	[ "$n" -gt 0 ] || fail "$api requests: $n"
done
n=$(fmq_metric fluxmq_kafka_errors_total 'error="OFFSET_OUT_OF_RANGE"') ||
	fail "no OFFSET_OUT_OF_RANGE counted in /metrics"
pass "admin and offset APIs counted; OFFSET_OUT_OF_RANGE answered $n times"
closes=$(fmq_metric fluxmq_kafka_connection_closes_total)
[ "$closes" -eq 0 ] || fail "the broker closed $closes client connections: $(curl -s "http://$FMQ_MGMT/metrics" | grep '^fluxmq_kafka_connection_closes_total' | grep -v ' 0$')"
pass "no client connection closed by the broker (group consumers included)"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "python clients"
