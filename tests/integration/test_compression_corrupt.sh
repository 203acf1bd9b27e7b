#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Corrupt compressed payloads with a valid CRC and decompression bombs,
# sent as raw Produce v8 requests (tests/integration/idem/corrupt_produce.py):
# rejected with INVALID_RECORD / MESSAGE_TOO_LARGE where the broker
# decompresses (validation=deep, topic compression.type), stored as sent in
# producer mode; the broker keeps serving and counts the failures.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
PY=/usr/bin/python3
$PY -c 'import confluent_kafka, kafka, lz4.frame, snappy, zstandard' 2>/dev/null ||
	skip "needs python3-confluent-kafka, python3-kafka, python3-lz4, python3-snappy, python3-zstandard"

fmq_start cor --set lcores.data=1
$PY tests/integration/idem/corrupt_produce.py "$FMQ_IP" 9092 || fail "corrupt payloads and bombs"
big=$(fmq_metric fluxmq_codec_decompress_too_big_total) || fail "no codec metrics"
bad=$(fmq_metric fluxmq_codec_decompress_corrupt_total)
errs=$(fmq_metric fluxmq_log_decompress_errors_total)
[ "${big%.*}" -ge 7 ] || fail "fluxmq_codec_decompress_too_big_total=$big, want >= 7"
[ "${bad%.*}" -ge 14 ] || fail "fluxmq_codec_decompress_corrupt_total=$bad, want >= 14"
[ "${errs%.*}" -ge 21 ] || fail "fluxmq_log_decompress_errors_total=$errs"
pass "metrics: $bad corrupt, $big over the bound"
[ "$(fmq_health)" = 200 ] || fail "/health after the bombs"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "corrupt payloads and bombs"
