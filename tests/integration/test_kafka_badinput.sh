#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input through the tap: 40-odd malformed requests on raw sockets
# (negative, zero, huge and off-by-one sizes, truncated and malformed
# headers, unknown API keys, unsupported versions, absurd array counts,
# truncated bodies, corrupt batches, acks=0 errors, 64 connections of random
# bytes) while a librdkafka producer keeps producing with acks=all on its
# own connection. Each bad connection must be closed with exactly one close
# counted under its reason in /metrics, or answered with Kafka's error code;
# the producer must see no error and every message it was told is delivered
# must be there. The cases are in tests/integration/kafka/bad_input.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
# Extra broker arguments, e.g. FMQ_KAFKA_ARGS_STR="--set lcores.data=2".
read -r -a FMQ_KAFKA_ARGS <<<"${FMQ_KAFKA_ARGS_STR:-}"
fmq_require_root
fmq_require_cmd curl kcat /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

B=$FMQ_IP:9092
MAX=1048576
fmq_start bad --set socket.request.max.bytes=$MAX "${FMQ_KAFKA_ARGS[@]}"
printf 'seed\n' | timeout 30 kcat -b "$B" -P -t bad-in || fail "creating bad-in"
printf 'seed\n' | timeout 30 kcat -b "$B" -P -t steady || fail "creating steady"

STOP=$FMQ_TMP/stop
timeout 300 /usr/bin/python3 tests/integration/kafka/steady_producer.py "$B" steady "$STOP" \
	>"$FMQ_TMP/steady.out" 2>"$FMQ_TMP/steady.err" &
spid=$!
fmq_on_cleanup "touch '$STOP'; kill $spid 2>/dev/null || true"
sleep 1

rc=0
timeout 240 /usr/bin/python3 tests/integration/kafka/bad_input.py "$FMQ_IP" 9092 "$MAX" bad-in "$FMQ_MGMT" || rc=$?
touch "$STOP"
wait "$spid" || fail "steady producer: $(cat "$FMQ_TMP/steady.out" "$FMQ_TMP/steady.err")"
[ "$rc" -eq 0 ] || fail "bad input cases"
fmq_alive "$FMQ_PID" || fail "the broker died"

read -r _ delivered _ failed _ errors _ secs _ <"$FMQ_TMP/steady.out"
if [ "$failed" != 0 ] || [ "$errors" != 0 ]; then
	fail "steady producer: $(cat "$FMQ_TMP/steady.out")"
fi
[ "$delivered" -gt 1000 ] || fail "steady producer delivered only $delivered"
got=$(timeout 60 kcat -b "$B" -C -t steady -o beginning -e -q -f '%s\n' | grep -c '^steady-' || true)
[ "$got" -eq "$delivered" ] ||
	fail "steady: $got messages in the log, $delivered delivered"
pass "meanwhile a producer on another connection delivered $delivered messages in ${secs}s, no error, all in the log"

n=$(fmq_metric fluxmq_kafka_connection_closes_total)
pass "broker still up; $n connections closed for bad input, by reason: $(curl -s "http://$FMQ_MGMT/metrics" |
	sed -n 's/^fluxmq_kafka_connection_closes_total{reason="\([A-Z_0-9]*\)"} \([1-9][0-9]*\)$/\1=\2/p' | tr '\n' ' ')"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "bad input"
