#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# acks=0 with one record per request, through the tap, broker in its
# default poll.mode=adaptive.
#
# 1. fluxmq-bench --kernel --batch 1 --acks 0 for 3 s: a producer faster
#    than the data lcore, which never gets an answer to wait for. The
#    broker must hold it back with the TCP window, not by piling its
#    requests up: the mbuf pool stays under a quarter in use, no payload is
#    dropped for memory pressure, and every request sent is appended within
#    2 s of the client's exit (0.2-0.5 s measured). (Before the fix: three
#    quarters of the pool in use and 4-5 s to catch up, the lcore asleep
#    with requests queued.)
# 2. confluent-kafka (librdkafka), acks=0, linger.ms=0,
#    batch.num.messages=1: 200,000 one-record requests, then a consumer
#    reads every record back, in order (kafka/acks0_client.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
BENCH=$FMQ_BUILD/bench/loadgen/fluxmq-bench
[ -x "$BENCH" ] || skip "no $BENCH (ninja -C $FMQ_BUILD)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

B=$FMQ_IP:9092
fmq_start acks0

# --- 1. a producer faster than the broker ------------------------------------
pool=$(fmq_metric fluxmq_mempool_size) || fail "no fluxmq_mempool_size"
: >"$FMQ_TMP/in_use"
(
	while [ ! -e "$FMQ_TMP/bench.done" ]; do
		fmq_metric fluxmq_mempool_in_use >>"$FMQ_TMP/in_use" 2>/dev/null || true
		sleep 0.1
	done
) &
sampler=$!
fmq_on_cleanup "kill $sampler 2>/dev/null"
timeout 60 "$BENCH" --kernel --broker "$B" --topic acks0-bench --msg-size 100 \
	--batch 1 --acks 0 --duration 3 --warmup 0 --progress 0 \
	>"$FMQ_TMP/bench.json" 2>"$FMQ_TMP/bench.err" ||
	fail "fluxmq-bench: $(tail -5 "$FMQ_TMP/bench.err")"
t_exit=$(date +%s%N)
sent=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["msgs"])' \
	"$FMQ_TMP/bench.json") || fail "no JSON from fluxmq-bench: $(cat "$FMQ_TMP/bench.json")"
[ "$sent" -gt 0 ] || fail "fluxmq-bench sent nothing"
# Only the bench produced so far: the broker has caught up when it has
# appended one batch per request sent.
appended=0
for _ in $(seq 1 200); do
	appended=$(fmq_metric fluxmq_kafka_produce_batches_total) || appended=0
	[ "$appended" -ge "$sent" ] && break
	sleep 0.05
done
t_caught=$(date +%s%N)
touch "$FMQ_TMP/bench.done"
wait "$sampler" 2>/dev/null || true
catchup_ms=$(((t_caught - t_exit) / 1000000))
peak=$(sort -n "$FMQ_TMP/in_use" | tail -1)
peak=${peak:-0}
mem_drops=$(fmq_metric fluxmq_net_rx_dropped_total 'reason="tcp_mem_pressure"' || echo 0)
pauses=$(fmq_metric fluxmq_kafka_rx_backlog_pauses_total || echo 0)
printf 'bench: %s one-record requests sent (%s/s); appended %s; %s ms after the client exit; peak mbufs in use %s of %s; backlog pauses %s\n' \
	"$sent" "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["msgs_per_s"])' "$FMQ_TMP/bench.json")" \
	"$appended" "$catchup_ms" "$peak" "$pool" "$pauses"
[ "$appended" -eq "$sent" ] ||
	fail "appended $appended of $sent requests 10 s after the client exit"
[ "$catchup_ms" -le 2000 ] ||
	fail "the broker took $catchup_ms ms after the client exit to append what it had received"
[ "$peak" -lt $((pool / 4)) ] ||
	fail "$peak of $pool mbufs in use: received requests piled up in the broker"
[ "$mem_drops" -eq 0 ] || fail "$mem_drops segments dropped for mbuf pool pressure"
pass "acks=0 flood: held back by the window, caught up in $catchup_ms ms"

# --- 2. a real client ---------------------------------------------------------------
timeout 120 /usr/bin/python3 tests/integration/kafka/acks0_client.py "$B" 200000 \
	2>"$FMQ_TMP/acks0_client.err" ||
	fail "confluent-kafka acks=0: $(grep -v '^%' "$FMQ_TMP/acks0_client.err" | tail -5)"
pass "confluent-kafka acks=0, one record per request: 200,000 records, none lost"

closes=$(fmq_metric fluxmq_kafka_connection_closes_total)
[ "$closes" -eq 0 ] || fail "the broker closed $closes client connections"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "acks=0 one record per request"
