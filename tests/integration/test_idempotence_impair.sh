#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Idempotent producer under a lossy, duplicating, reordering network and two
# broker restarts (docs/storage.md, "Producer state"):
#  - iptables statistic DROP on the tap in both directions, plus the port
#    layer's impairment (net.impair.{rx,tx}.{duplicate,reorder});
#  - librdkafka (confluent-kafka, enable.idempotence=true) produces 500,000 keyed
#    records to 4 partitions; the broker is killed (-9) at ~30% and
#    restarted, then stopped cleanly at ~65% and restarted;
#  - everything is read back: no duplicates, no gaps, order kept per
#    partition.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl iptables
PY=/usr/bin/python3
$PY -c 'import confluent_kafka' 2>/dev/null || skip "needs python3-confluent-kafka"
N=${FMQ_IDEM_N:-500000}
LOSS=${FMQ_IDEM_LOSS:-0.01}
TOPIC=idem
IMPAIR=(--set net.impair.rx.duplicate=0.005 --set net.impair.rx.reorder=0.005
	--set net.impair.tx.duplicate=0.005 --set net.impair.tx.reorder=0.005)
"$FMQ_BIN" --dump-config-doc 2>/dev/null | grep -q net.impair.rx.reorder ||
	{ echo "note: no net.impair keys in this build: iptables loss only"; IMPAIR=(); }

start() {
	fmq_start idem --set lcores.data=1 --set num.partitions=4 \
		--set log.segment.bytes=2097152 "${IMPAIR[@]}"
	grep -h "producer(s) restored\|recovered:" "$FMQ_TMP/idem.log" |
		sed 's/^/    | /' || true
}
DUPS=0
count_dups() { d=$(fmq_metric fluxmq_log_duplicates_total || echo 0); DUPS=$((DUPS + ${d%.*})); }
appended() { fmq_metric fluxmq_log_append_records_total 2>/dev/null || echo 0; }

start
kcat -L -b "$FMQ_IP:9092" -t "$TOPIC" >/dev/null 2>&1 || true   # auto-create
for chain in "OUTPUT -o $FMQ_TAP" "INPUT -i $FMQ_TAP"; do
	# shellcheck disable=SC2086
	iptables -I ${chain} -m statistic --mode random --probability "$LOSS" -j DROP
	fmq_on_cleanup "iptables -D ${chain} -m statistic --mode random --probability $LOSS -j DROP"
done
pass "loss $LOSS each way on $FMQ_TAP, impairment: ${IMPAIR[*]:-none}"

$PY tests/integration/idem/idem_produce.py "$FMQ_IP:9092" "$TOPIC" "$N" \
	>"$FMQ_TMP/producer.log" 2>&1 &
KP=$!
fmq_on_cleanup "kill $KP 2>/dev/null || true"
t0=$SECONDS

wait_for() {   # wait_for RECORDS: until the log holds that many (or kcat ends)
	while kill -0 "$KP" 2>/dev/null; do
		a=$(appended)
		[ "${a%.*}" -ge "$1" ] && return 0
		[ $((SECONDS - t0)) -lt 400 ] || fail "stuck at $a records"
		sleep 0.5
	done
}
# The counter restarts with the broker: the second target counts from it.
wait_for $((N * 3 / 10))
fmq_kill9
pass "broker killed (-9) mid-stream"
start
wait_for $((N * 35 / 100))
count_dups
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "clean stop: exit status $rc"
pass "broker stopped cleanly mid-stream"
start
wait "$KP" || { cat "$FMQ_TMP/producer.log"; fail "producer exited with status $?"; }
pass "$(tail -n 1 "$FMQ_TMP/producer.log")"
count_dups

kcat -C -b "$FMQ_IP:9092" -t "$TOPIC" -o beginning -e -q -f '%p %s\n' \
	>"$FMQ_TMP/out.txt" 2>"$FMQ_TMP/kcat-c.log" || fail "consumer failed"
$PY tests/integration/idem/check_stream.py "$N" <"$FMQ_TMP/out.txt" ||
	fail "stream check"
pass "no duplicates, no gaps, order kept ($DUPS retried batches answered as duplicates after the first restart)"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "idempotence under impairment"
