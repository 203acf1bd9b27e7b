#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Corrupt compressed payloads with a valid CRC and decompression bombs,
# sent as raw Produce v8 requests (tests/integration/idem/corrupt_produce.py):
# under the default validation (deep, as Kafka) and on topics that
# recompress, every codec's garbage is refused with CORRUPT_MESSAGE and
# bombs with MESSAGE_TOO_LARGE, nothing is stored (the offsets move by the
# good batches only, librdkafka and kafka-python read exactly the good
# records); validation=shallow (opt-in) stores them as sent. The broker
# keeps serving and counts the failures.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
PY=/usr/bin/python3
$PY -c 'import confluent_kafka, kafka, lz4.frame, snappy, zstandard' 2>/dev/null ||
	skip "needs python3-confluent-kafka, python3-kafka, python3-lz4, python3-snappy, python3-zstandard"

fmq_start cor --set lcores.data=1
timeout 110 $PY tests/integration/idem/corrupt_produce.py "$FMQ_IP" 9092 ||
	fail "corrupt payloads and bombs"
big=$(fmq_metric fluxmq_codec_decompress_too_big_total) || fail "no codec metrics"
bad=$(fmq_metric fluxmq_codec_decompress_corrupt_total)
errs=$(fmq_metric fluxmq_log_decompress_errors_total)
[ "${big%.*}" -ge 12 ] || fail "fluxmq_codec_decompress_too_big_total=$big, want >= 12"
[ "${bad%.*}" -ge 24 ] || fail "fluxmq_codec_decompress_corrupt_total=$bad, want >= 24"
[ "${errs%.*}" -ge 36 ] || fail "fluxmq_log_decompress_errors_total=$errs"
pass "metrics: $bad corrupt, $big over the bound"
[ "$(fmq_health)" = 200 ] || fail "/health after the bombs"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "corrupt payloads and bombs"
