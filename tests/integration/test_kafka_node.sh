#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# KafkaJS 2.2.4 (pinned in tests/integration/node/package-lock.json,
# installed by scripts/setup.sh) through the tap: admin createTopics and
# friends, idempotent and plain producers (acks -1, 1, 0, GZIP, two topics
# in one request), and a group consumer that reads everything back.
# The checks are in tests/integration/kafka/kafkajs_client.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
# Extra broker arguments, e.g. FMQ_KAFKA_ARGS_STR="--set lcores.data=2".
read -r -a FMQ_KAFKA_ARGS <<<"${FMQ_KAFKA_ARGS_STR:-}"
fmq_require_root
fmq_require_cmd node curl
[ -f tests/integration/node/node_modules/kafkajs/package.json ] ||
	skip "KafkaJS not installed (scripts/setup.sh runs npm ci in tests/integration/node)"
v=$(node -p 'require("./tests/integration/node/node_modules/kafkajs/package.json").version')
[ "$v" = 2.2.4 ] || fail "KafkaJS $v installed, package-lock.json pins 2.2.4 (run npm ci)"

fmq_start node "${FMQ_KAFKA_ARGS[@]}"
KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 300 node tests/integration/kafka/kafkajs_client.js "$FMQ_IP:9092" ||
	fail "KafkaJS checks (broker log: $FMQ_TMP/node.log)"
closes=$(fmq_metric fluxmq_kafka_connection_closes_total)
[ "$closes" -eq 0 ] || fail "the broker closed $closes KafkaJS connections"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "KafkaJS"
