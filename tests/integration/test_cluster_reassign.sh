#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Partition reassignment (AlterPartitionReassignments and
# ListPartitionReassignments from KafkaJS 2.2.4's admin:
# kafka/kafkajs_reassign.js) on 3 brokers (scripts/dev-cluster.sh):
# - a topic of 1 partition, replication factor 2 on brokers [A, B], led
#   by A; an idempotent acks=all producer (confluent-kafka) runs
#   throughout;
# - it is moved to [B, C]: ListPartitionReassignments shows it under way
#   (adding C, removing A); C opens the partition and fetches it, joins
#   the ISR, the leadership moves from A (removed) to B, the topic znode
#   keeps [B, C] alone and the list becomes empty;
# - Metadata names replicas B, C and an ISR of both; A's directory of the
#   partition is gone; the checker finds nothing acknowledged lost,
#   duplicated or at another offset; the controller's metrics count one
#   reassignment started and completed, none under way;
# - a cancel (null replicas, raw: kafka/reassign_raw.py) with none under
#   way answers NO_REASSIGNMENT_IN_PROGRESS (85); a move to [C, A] and
#   its cancel right after: both 0, A opens the partition and drops it
#   again (its directory gone), the ISR is B and C, nothing listed, and
#   the controller counts the cancel.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool node
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"
[ -f tests/integration/node/node_modules/kafkajs/package.json ] ||
	skip "KafkaJS not installed (scripts/setup.sh runs npm ci in tests/integration/node)"

JS=(node tests/integration/kafka/kafkajs_reassign.js)
T=ra
CL_T=$T
. tests/integration/cluster_lib.sh
$DC down >/dev/null 2>&1 || true

$DC up 3 -- --set replica.lag.time.max.ms=4000 >"$FMQ_TMP/up.out" ||
	fail "dev-cluster.sh up 3 failed"
cl_controller
CT=$CL_CTRL
A=1 B=2 C=3
cl_create "$T" 1 2 1 "$A"
state() { # state LEADER ISR: partition 0 so, seen from broker C
	local x
	x=$(leader_of 0 "$C") || return 1
	[ "$x" = "$1 $2" ]
}
wait_for 30 state "$A" "$A,$B" || fail "partition 0: $(leader_of 0 "$C"), want $A $A,$B"
[ -d "$DIR/b$A/data/$T-0" ] || fail "no $T-0 on broker $A"
pass "controller $CT; topic $T: replicas [$A, $B], led by $A"

"${PY[@]}" produce "$T" "$(all)" 600 "$FMQ_TMP/acks.txt" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
fmq_on_cleanup "kill $ppid 2>/dev/null || true"
sleep 4
KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 60 "${JS[@]}" "$(all)" alter "$T" 0 "$B,$C" \
	>"$FMQ_TMP/alter.out" 2>&1 || fail "alterPartitionReassignments: $(cat "$FMQ_TMP/alter.out")"
t0=$(date +%s%3N)
l=$(timeout 60 "${JS[@]}" "$(all)" list "$T" 2>&1) || fail "listPartitionReassignments: $l"
# Done already (a small log) or under way with Kafka's full set.
[ -z "$l" ] || [ "$l" = "0 replicas=$B,$C,$A adding=$C removing=$A" ] ||
	fail "listed: $l"
pass "moving $T-0 to [$B, $C]; listed: ${l:-(already done)}"
ra=$(metric "$CT" fluxmq_controller_reassignments_started_total)
[ "$ra" = 1 ] || fail "reassignments started: '$ra'"
listed_none() { l=$(timeout 30 "${JS[@]}" "$(all)" list "$T" 2>&1) && [ -z "$l" ]; }
wait_for 60 listed_none || fail "still under way: $l"
settled() { state "$B" "$B,$C" || state "$C" "$C,$B" || state "$B" "$C,$B" || state "$C" "$B,$C"; }
wait_for 30 settled || fail "partition 0 after the move: $(leader_of 0 "$C")"
t1=$(date +%s%3N)
gone() { [ ! -d "$DIR/b$A/data/$T-0" ]; }
wait_for 20 gone || fail "broker $A still has $T-0: $(ls "$DIR/b$A/data")"
[ -d "$DIR/b$C/data/$T-0" ] || fail "no $T-0 on broker $C"
pass "moved in $((t1 - t0)) ms (list to settled): $(leader_of 0 "$C") (leader ISR); $A's directory gone"

sleep 2
touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$acked" -gt 500 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check "$T" "$(b "$B"),$(b "$C")" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
pass "sent $sent, failed $failed: $out"
[ "$fatal" = - ] ||
	fail "fatal idempotence error after a leader change: producer $fatal"

done_n=$(metric "$CT" fluxmq_controller_reassignments_completed_total)
under=$(metric "$CT" fluxmq_controller_reassigning_partitions)
[ "$done_n" = 1 ] && [ "$under" = 0 ] ||
	fail "controller: $done_n completed, $under under way"
pass "metrics: 1 reassignment started and completed, none under way"

RAW=(/usr/bin/python3 tests/integration/kafka/reassign_raw.py)
r=$(timeout 60 "${RAW[@]}" "$(b "$CT")" "$T:0=null" "$T:0=$C,$A" "$T:0=null") ||
	fail "AlterPartitionReassignments (raw): $r"
[ "$(echo "$r" | tr '\n' ' ')" = "top 0 $T 0 85 top 0 $T 0 0 top 0 $T 0 0 " ] ||
	fail "cancel with none, move, cancel: $r"
wait_for 30 listed_none || fail "still under way after the cancel: $l"
isr_bc() { local x; x=$(leader_of 0 "$C") && { [ "${x#* }" = "$B,$C" ] || [ "${x#* }" = "$C,$B" ]; }; }
wait_for 30 isr_bc || fail "after the cancel: $(leader_of 0 "$C")"
wait_for 20 gone || fail "broker $A kept $T-0 after the cancel: $(ls "$DIR/b$A/data")"
cn=$(metric "$CT" fluxmq_controller_reassignments_cancelled_total)
[ "$cn" = 1 ] || fail "cancelled: '$cn'"
pass "cancel: 85 with none under way; a move cancelled at once: replicas back to [$B, $C], $A's copy gone"
