#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The API versions Kafka 3.9's Java client and librdkafka 2.x ask for
# (Produce v10-11, Fetch v13-17 by topic id, ListOffsets v8-9,
# OffsetCommit/OffsetFetch v9) and DescribeProducers (61), with raw
# requests (tests/integration/kafka/api_newer.py: no client installed here
# sends them), on two data lcores so that DescribeProducers reads the
# producer state of the other lcore's partitions through the ring.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "confluent-kafka-python is not installed"

fmq_start apinew --set lcores.data=2
/usr/bin/python3 - "$FMQ_IP:9092" <<'PY' || fail "creating topic an"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for t, f in a.create_topics([NewTopic("an", 4, 1)]).items():
    f.result(10)
PY
timeout 90 /usr/bin/python3 tests/integration/kafka/api_newer.py \
	"$FMQ_IP" 9092 || fail "newer API versions (broker log: $FMQ_TMP/apinew.log)"
n=$(fmq_metric fluxmq_kafka_xlcore_sent_total) || fail "no xlcore metric"
[ "$n" -gt 0 ] || fail "no request crossed to the other data lcore"
pass "cross-lcore requests: $n"
fmq_stop || fail "broker exit status $?"
pass "newer API versions"
