#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# AlterConfigs (API 33) from kafka-python 2.0.2, confluent-kafka-python
# 1.7.0 and KafkaJS 2.2.4; topic configs altered while a producer keeps
# producing (applied in place: no NOT_LEADER_OR_FOLLOWER, nothing lost, the
# new codec and max.message.bytes in force at once); ListOffsets v7
# MAX_TIMESTAMP on raw sockets. Two data lcores, so partitions of both are
# covered (config updates and ListOffsets go to each partition's owner).
# Then a restart: configs and MAX_TIMESTAMP answers unchanged. The checks
# are in tests/integration/kafka/alter_configs.py and kafkajs_alter.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
read -r -a FMQ_KAFKA_ARGS <<<"${FMQ_KAFKA_ARGS_STR:---set lcores.data=2}"
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python not installed"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

B=$FMQ_IP:9092
fmq_start ac "${FMQ_KAFKA_ARGS[@]}"
timeout 300 /usr/bin/python3 tests/integration/kafka/alter_configs.py "$FMQ_IP" 9092 before \
	"$FMQ_TMP/maxts.want" 2>"$FMQ_TMP/alter.err" ||
	fail "AlterConfigs checks: $(grep -v '^%' "$FMQ_TMP/alter.err" | tail -20) (broker log: $FMQ_TMP/ac.log)"
if command -v node >/dev/null 2>&1 &&
	[ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 120 node tests/integration/kafka/kafkajs_alter.js "$B" ||
		fail "KafkaJS alterConfigs (broker log: $FMQ_TMP/ac.log)"
else
	printf 'NOTE: KafkaJS not installed (scripts/setup.sh): its alterConfigs check skipped\n'
fi
n=$(fmq_metric fluxmq_kafka_requests_total 'api="AlterConfigs"') || fail "no AlterConfigs request counted"
[ "$n" -ge 20 ] || fail "AlterConfigs requests counted: $n"
n=$(fmq_metric fluxmq_kafka_errors_total 'error="NOT_LEADER_OR_FOLLOWER"' 2>/dev/null) || n=0
[ "$n" -eq 0 ] || fail "$n NOT_LEADER_OR_FOLLOWER answers while configs changed"
# Each connection lives on one data lcore: partitions of the other one
# were served through their owner (produce, fetch, ListOffsets -3).
n=$(fmq_metric fluxmq_kafka_xlcore_served_total) || fail "no cross-lcore counter"
[ "${FMQ_KAFKA_ARGS_STR:-}" != "" ] || [ "$n" -gt 0 ] || fail "no partition operation crossed lcores"
closes=$(fmq_metric fluxmq_kafka_connection_closes_total)
[ "$closes" -eq 0 ] || fail "the broker closed $closes client connections"
pass "AlterConfigs counted, no NOT_LEADER_OR_FOLLOWER, no connection closed"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"

fmq_start ac "${FMQ_KAFKA_ARGS[@]}"
timeout 120 /usr/bin/python3 tests/integration/kafka/alter_configs.py "$FMQ_IP" 9092 after \
	"$FMQ_TMP/maxts.want" 2>"$FMQ_TMP/alter2.err" ||
	fail "after restart: $(grep -v '^%' "$FMQ_TMP/alter2.err" | tail -20) (broker log: $FMQ_TMP/ac.log)"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "AlterConfigs, live config changes and ListOffsets MAX_TIMESTAMP"
