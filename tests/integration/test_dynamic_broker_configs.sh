#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Dynamic broker configs (IncrementalAlterConfigs / AlterConfigs on BROKER
# resources) with real clients: confluent-kafka alter_configs lowers
# message.max.bytes on broker 1 and a bigger record then fails with
# MSG_SIZE_TOO_LARGE; IncrementalAlterConfigs (raw: no client here has
# it) sets a cluster default; DescribeConfigs reports the sources
# (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG); Kafka's errors for
# read-only keys and bad values; KafkaJS alterConfigs on broker 1; all of
# it survives a restart (kept in __fluxmq/broker-configs); DELETE and an
# empty AlterConfigs clear it. The checks are in
# tests/integration/kafka/dyn_broker_configs.py and kafkajs_dyn_broker.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

PY=tests/integration/kafka/dyn_broker_configs.py
phase() {
	timeout 90 /usr/bin/python3 "$PY" "$FMQ_IP" 9092 "$1" 2>"$FMQ_TMP/dyn-$1.err" ||
		fail "phase $1: $(grep -v '^%' "$FMQ_TMP/dyn-$1.err" | tail -20) (broker log: $FMQ_TMP/dyn.log)"
}

fmq_start dyn
phase set
n=$(fmq_metric fluxmq_dynamic_broker_config_changes_total) ||
	fail "no fluxmq_dynamic_broker_config_changes_total"
[ "$n" -eq 2 ] || fail "fluxmq_dynamic_broker_config_changes_total $n, want 2"
pass "two dynamic broker config changes counted"
if command -v node >/dev/null 2>&1 &&
	[ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	timeout 60 node tests/integration/kafka/kafkajs_dyn_broker.js "$FMQ_IP:9092" ||
		fail "KafkaJS alterConfigs on a broker (broker log: $FMQ_TMP/dyn.log)"
	KJS=1
else
	printf 'SKIP: KafkaJS (no node or kafkajs): setting it raw\n'
	timeout 30 /usr/bin/python3 - "$FMQ_IP:9092" <<'PY' || fail "AlterConfigs message.max.bytes=3000"
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
r = ConfigResource(ConfigResource.Type.BROKER, "1", set_config={"message.max.bytes": "3000"})
a.alter_configs([r])[r].result(timeout=20)
PY
	KJS=0
fi
grep -q '^1 message.max.bytes=3000$' "$FMQ_DATA/__fluxmq/broker-configs" ||
	fail "broker-configs: $(cat "$FMQ_DATA/__fluxmq/broker-configs" 2>&1)"
grep -q '^<default> log.retention.ms=3600000$' "$FMQ_DATA/__fluxmq/broker-configs" ||
	fail "broker-configs: $(cat "$FMQ_DATA/__fluxmq/broker-configs" 2>&1)"
pass "both layers written to __fluxmq/broker-configs"
fmq_stop || fail "broker exit status $?"

fmq_start dyn
phase after
phase clear
fmq_stop || fail "broker exit status $?"
if [ "$KJS" = 1 ]; then
	pass "dynamic broker configs (confluent-kafka, KafkaJS, raw IncrementalAlterConfigs)"
else
	pass "dynamic broker configs (confluent-kafka, raw IncrementalAlterConfigs; KafkaJS skipped)"
fi
