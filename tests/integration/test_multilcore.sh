#!/usr/bin/env bash
# Two data lcores on the tap (software steering, adaptive polling):
# 8 producers over 16 partitions, 1,000,000 messages, consumed back by 4
# group consumers exactly once and in order per partition; /metrics shows both lcores working and
# partition operations crossing between them; pipelined requests spanning
# partitions of both lcores come back in order on one connection.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat /usr/bin/python3

NPROD=8
PER=125000
TOPIC=mlc
fmq_start mlc --set lcores.data=2 --set num.partitions=16 --set poll.mode=adaptive

for p in $(seq 1 $NPROD); do
	seq 1 $PER | sed "s/^/P$p-/" >"$FMQ_TMP/in$p.txt"
done
start=$(date +%s%N)
pids=()
for p in $(seq 1 $NPROD); do
	# Random partitioner: every producer writes to every partition.
	kcat -b "$FMQ_IP:9092" -P -t "$TOPIC" -l "$FMQ_TMP/in$p.txt" \
		-X partitioner=random -X linger.ms=5 -X batch.num.messages=2000 \
		-X acks=all 2>"$FMQ_TMP/prod$p.err" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid" || fail "a producer failed: $(cat "$FMQ_TMP"/prod*.err | tail -5)"
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'produced %d messages with %d producers in %d ms (%d msg/s)\n' \
	$((NPROD * PER)) $NPROD "$ms" $((NPROD * PER * 1000 / (ms > 0 ? ms : 1)))

# Four group consumers (one group, synchronous commits).
/usr/bin/python3 tests/integration/multilcore/group_consume.py "$FMQ_IP:9092" \
	"$TOPIC" $((NPROD * PER)) >"$FMQ_TMP/out.txt" 2>"$FMQ_TMP/cons.err" ||
	fail "group consumers: $(tail -5 "$FMQ_TMP/cons.err")"
tail -1 "$FMQ_TMP/cons.err"
/usr/bin/python3 tests/integration/multilcore/check.py $NPROD $PER \
	<"$FMQ_TMP/out.txt" || fail "consumed messages do not match"
pass "1,000,000 messages over 16 partitions on 2 lcores, 4 group consumers: each once, in order"

for l in 0 1; do
	rx=$(fmq_metric fluxmq_lcore_rx_packets_total "lcore=\"$l\"")
	b=$(fmq_metric fluxmq_kafka_produce_batches_total "lcore=\"$l\"")
	[ "${rx%.*}" -gt 0 ] || fail "lcore $l received nothing"
	[ "${b%.*}" -gt 0 ] || fail "lcore $l appended nothing"
	printf 'lcore %d: rx packets %s, batches appended %s\n' "$l" "$rx" "$b"
done
sent=$(fmq_metric fluxmq_kafka_xlcore_sent_total)
steered=$(fmq_metric fluxmq_lcore_steered_out_total)
printf 'partition operations across lcores: %s, packets steered: %s\n' "$sent" "$steered"
[ "${sent%.*}" -gt 0 ] || fail "no partition operation crossed lcores"
pass "both lcores did work; forwarding happened"

/usr/bin/python3 tests/integration/multilcore/pipeline.py "$FMQ_IP" 9092 "$TOPIC" 16 ||
	fail "pipelined requests"
pass "pipelined requests across both lcores answered in order"

# Both lcores idle (adaptive: asleep), then requests that cross: the owner
# must be woken by its doorbell, not by its sleep timing out.
sleep 1
b0=$(fmq_metric fluxmq_lcore_doorbell_wakeups_total)
/usr/bin/python3 tests/integration/multilcore/xlat.py "$FMQ_IP" 9092 "$TOPIC" 16 100 ||
	fail "ListOffsets by time across lcores"
b1=$(fmq_metric fluxmq_lcore_doorbell_wakeups_total)
[ "${b1%.*}" -gt "${b0%.*}" ] || fail "no sleeping lcore was woken by its doorbell"
pass "sleeping lcores woken by their doorbell ($((${b1%.*} - ${b0%.*})) wakeups)"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "clean shutdown"
