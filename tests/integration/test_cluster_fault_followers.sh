#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication fault (issue 17): the leader cut off from its followers only.
# 3 brokers (dev-cluster.sh), replication factor 3, min.insync.replicas=2,
# replica.lag.time.max.ms=4000, an idempotent acks=all producer writing
# all along. ebtables drops every frame the bridge would forward between
# the leader's veth and the two followers' (clients on the host and
# ZooKeeper still reach every broker). As Kafka: the leader drops both
# followers from the ISR, acks=all answers NOT_ENOUGH_REPLICAS and
# nothing is acknowledged while the ISR is below min.insync.replicas;
# healed, the followers catch up and rejoin, their segment files the
# leader's byte for byte, and the checker finds nothing lost, duplicated
# or at another offset. With CL_ONEWAY=1 (test_cluster_fault_oneway.sh)
# only the leader's frames to the followers are dropped: their Fetch
# requests still arrive, the answers never do.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool cmp ebtables
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"
. tests/integration/cluster_lib.sh
how=() what="cut off from"
if [ "${CL_ONEWAY:-0}" = 1 ]; then
	how=(oneway)
	what="unheard by"
fi

cl_up pf 1
l=$CL_LEADER
f1=$((l % 3 + 1))
f2=$((f1 % 3 + 1))
pass "topic pf: replication factor 3, min.insync.replicas=2, led by $l, followers $f1 $f2"

"${PY[@]}" produce pf "$(all)" 90 "$FMQ_TMP/acks.txt" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
# The probe: its first write produced after the cut must not be
# acknowledged before the heal (the followers cannot have it).
M=$FMQ_TMP/marks
: >"$M"
"${PY[@]}" probe pf "$(all)" 0 90 "$FMQ_TMP/probe-acks.txt" "$M" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/probe.out" 2>"$FMQ_TMP/probe.err" &
qpid=$!
sleep 4
a0=$(acked "$FMQ_TMP/acks.txt")
[ "$a0" -gt 100 ] || fail "only $a0 writes acknowledged before the partition"
sh0=$(metric "$l" fluxmq_replica_isr_shrinks_total)
cl_cut "$l" "${how[@]}"
# Stamped once every rule is in place (the four ebtables calls take
# ~0.2 s on a loaded host: a write produced meanwhile may still reach a
# follower, and be acknowledged by it, before the cut is whole).
t0=$(now_ms)
echo "$t0" >>"$M"
alone() { local x; x=$(leader_of 0 "$l") && [ "$x" = "$l $l" ]; }
wait_for 30 alone || fail "the ISR did not shrink to the leader: $(leader_of 0 "$l")"
t1=$(now_ms)
sh1=$(metric "$l" fluxmq_replica_isr_shrinks_total)
pass "leader $l $what $f1 and $f2: ISR shrank to $l after $((t1 - t0)) ms (shrinks $sh0 -> $sh1)"
[ "$sh1" -ge $((sh0 + 1)) ] || fail "no ISR shrink counted on broker $l"
a1=$(acked "$FMQ_TMP/acks.txt")
r=$(timeout 30 "${PY[@]}" produce-one pf "$(b "$l")" 0)
[ "$r" = NOT_ENOUGH_REPLICAS ] || fail "acks=all with the ISR at 1 of min 2: $r"
sleep 2
a2=$(acked "$FMQ_TMP/acks.txt")
[ "$a2" = "$a1" ] ||
	fail "$((a2 - a1)) writes acknowledged while the ISR was the leader alone"
pass "acks=all answered NOT_ENOUGH_REPLICAS; nothing acknowledged while the ISR was below min.insync.replicas ($a1 before, $a2 after)"

t2=$(now_ms)
cl_heal
# The rejoin timed on the leader's gauge (a curl: polling Metadata
# through Python costs a second per look), then checked in Metadata.
urp() { [ "$(metric "$l" fluxmq_replica_under_replicated_partitions)" = 0 ]; }
wait_for 60 urp || fail "the leader still counts an under-replicated partition 60 s after the heal"
t3=$(now_ms)
# Retransmissions capped at replica.socket.rto.max.ms (1 s) on both
# ends and the ISR expanded on the leader's next pass: before, 2.8-5.9 s.
[ $((t3 - t2)) -le 4000 ] ||
	fail "the followers came back $((t3 - t2)) ms after the heal (at most 4000)"
back() { in_isr "$f1" "$l" && in_isr "$f2" "$l"; }
wait_for 30 back || fail "the followers did not rejoin the ISR: $(leader_of 0 "$l")"
x=$(leader_of 0 "$l")
[ "${x%% *}" = "$l" ] || fail "the leader moved: $x"
pass "healed after $((t2 - t0)) ms: both followers back in the ISR after $((t3 - t2)) ms ($x)"
sleep 3
a3=$(acked "$FMQ_TMP/acks.txt")
[ "$a3" -gt "$a2" ] || fail "no write acknowledged after the heal"
touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
wait "$qpid" || fail "the probe failed: $(tail -3 "$FMQ_TMP/probe.err")"
read -r sent _ failed fatal <"$FMQ_TMP/produce.out"
read -r _ psent _ pfailed pfatal < <(grep '^probe ' "$FMQ_TMP/probe.out")
read -r m ms < <(grep -v '^probe ' "$FMQ_TMP/probe.out") ||
	fail "the probe had no write acknowledged after the cut: $(cat "$FMQ_TMP/probe.out")"
[ "$m" = "$t0" ] || fail "probe: $m is not the cut's time $t0"
[ $((t0 + ms)) -ge "$t2" ] ||
	fail "a write produced after the cut was acknowledged $ms ms after it, before the heal ($((t2 - t0)) ms)"
pass "the first write produced after the cut was acknowledged $ms ms after it, $((t0 + ms - t2)) ms after the heal"
cat "$FMQ_TMP/acks.txt" "$FMQ_TMP/probe-acks.txt" >"$FMQ_TMP/all-acks.txt"
out=$(timeout 100 "${PY[@]}" check pf "$(all)" "$FMQ_TMP/all-acks.txt") ||
	fail "checker: $out"
pass "producer sent $sent failed $failed, probe sent $psent failed $pfailed; $out"
[ "$fatal" = - ] && [ "$pfatal" = - ] ||
	fail "fatal idempotence error after a leader change: producer $fatal, probe $pfatal"
same() {
	local s f
	for f in "$f1" "$f2"; do
		for s in "$DIR/b$l/data/pf-0"/*.log; do
			cmp -s "$s" "$DIR/b$f/data/pf-0/$(basename "$s")" || return 1
		done
	done
}
wait_for 30 same || fail "a follower's log is not the leader's: $(ls -l "$DIR"/b*/data/pf-0)"
pass "the followers' segment files are the leader's byte for byte"
