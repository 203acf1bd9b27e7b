#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Codec x client matrix through the tap (docs/compression.md, "Tests"):
# librdkafka (confluent-kafka-python and kcat) and kafka-python produce with
# none/gzip/snappy/lz4/zstd, KafkaJS with gzip, into one topic per
# compression.type (producer, uncompressed, gzip, snappy, lz4, zstd); every
# topic is read back byte-exact by librdkafka and kafka-python (KafkaJS where
# it can decode), and the batches on disk carry the topic's codec.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl
PY=/usr/bin/python3
$PY -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"
$PY -c 'from kafka.codec import has_lz4; assert has_lz4()' 2>/dev/null ||
	fail "kafka-python cannot do lz4: install python3-lz4 (scripts/setup.sh)"
KJS=()
if command -v node >/dev/null 2>&1 &&
	[ -d tests/integration/node/node_modules/kafkajs ]; then
	KJS=(--kafkajs tests/integration/idem/kafkajs_gzip.js)
else
	echo "note: KafkaJS not installed (npm ci in tests/integration/node): its gzip column is skipped"
fi

fmq_start cmx --set lcores.data=1 --set validation=deep
BOOT=$FMQ_IP:9092
$PY tests/integration/idem/compress_matrix.py "$BOOT" "$FMQ_DATA" "${KJS[@]}" ||
	fail "codec matrix"

for c in gzip snappy lz4 zstd; do
	n=$(fmq_metric fluxmq_log_batches_total "codec=\"$c\"") || fail "no fluxmq_log_batches_total"
	[ "${n%.*}" -gt 0 ] || fail "no $c batches counted"
done
r=$(fmq_metric fluxmq_log_recompressed_total)
[ "${r%.*}" -gt 0 ] || fail "fluxmq_log_recompressed_total is $r"
pass "metrics: batches by codec, $r batches recompressed"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "compression matrix"
