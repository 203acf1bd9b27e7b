#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Independent reader: segment files written by lib/log are decoded by
# kafka-python's record batch reader and every record must match.
cd "$(dirname "$0")/../.." || exit 1
B=${FMQ_BUILD:-build}
SAMPLE=$B/tests/unit/log/fmq-log-sample
[ -x "$SAMPLE" ] || { echo "SKIP: $SAMPLE not built"; exit 77; }
/usr/bin/python3 -c 'import kafka.record' 2>/dev/null ||
	{ echo "SKIP: kafka-python not installed"; exit 77; }
DATA=$(mktemp -d /tmp/fmq-logpy.XXXXXX)
HOT=/dev/shm/fmq-logtest-py-$$
trap 'rm -rf "$DATA" "$HOT"' EXIT
echo "writing sample segments to $DATA"
"$SAMPLE" "$DATA" "$HOT" "$DATA/expect.jsonl" || { echo FAIL: writer; exit 1; }
echo "decoding with kafka-python"
/usr/bin/python3 tests/integration/log/check_kafka_python.py "$DATA" "$DATA/expect.jsonl" || exit 1
echo PASS
