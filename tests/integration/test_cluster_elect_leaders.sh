#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Preferred-leader election through ElectLeaders (API 43, raw requests:
# kafka/elect_leaders.py) on 3 brokers (scripts/dev-cluster.sh), with the
# automatic rebalance off (auto.leader.rebalance.enable=false):
# - a topic of 2 partitions, replication factor 3, min.insync.replicas=2,
#   every partition's preferred replica P a broker that is not the
#   controller; an idempotent acks=all producer runs throughout;
# - P is SIGKILLed (another broker takes over), restarted, and rejoins
#   the ISR; the leadership stays away from it (no rebalance);
# - ElectLeaders type 0 to the controller moves both partitions back to
#   P (error 0); again: ELECTION_NOT_NEEDED (84); a null list (every
#   partition) lists none; an unknown partition: 3; a non-controller
#   answers NOT_CONTROLLER (41); type 1 on a partition with a live
#   leader: ELECTION_NOT_NEEDED;
# - the checker finds nothing acknowledged lost, duplicated or moved;
#   the controller counts 2 preferred elections and its imbalance gauge
#   goes from 2 to 0; the new leader shows each follower's lag;
# - a partition [P, O] whose ISR shrank to P, with P dead: offline;
#   with O back, a preferred election answers PREFERRED_LEADER_NOT_
#   AVAILABLE (80) and an unclean one (type 1) makes O the leader.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"

EL=(/usr/bin/python3 tests/integration/kafka/elect_leaders.py)
T=pl
CL_T=$T
. tests/integration/cluster_lib.sh

cl_start
cl_controller
C=$CL_CTRL
P=$((C % 3 + 1))
O=$((P % 3 + 1))
[ "$O" != "$C" ] || O=$((O % 3 + 1))
cl_create "$T" 2 3 2 "$P"
cl_kill_preferred
ppid=$CL_PPID
$DC start "$P" >/dev/null || fail "restart of broker $P failed"
in_isr() { # in_isr ID: ID in the ISR of both partitions
	local p x
	for p in 0 1; do
		x=$(leader_of "$p" "$C") || return 1
		echo ",${x#* }," | grep -q ",$1," || return 1
	done
}
wait_for 60 in_isr "$P" || fail "broker $P did not rejoin the ISRs: $(leader_of 0 "$C")"
sleep 2
x=$(leader_of 0 "$C")
[ "${x%% *}" != "$P" ] || fail "leadership went back to $P with the rebalance off"
imb=$(metric "$C" fluxmq_controller_preferred_replica_imbalance)
[ "$imb" = 2 ] || fail "controller's imbalance gauge: '$imb', want 2"
pass "broker $P back in the ISRs, not leading (rebalance off); imbalance 2"

# --- ElectLeaders ---------------------------------------------------------
r=$(timeout 60 "${EL[@]}" "$(b "$O")" 2 0 "$T:0,1") || fail "ElectLeaders to $O: $r"
echo "$r" | grep -qx "$T 0 41" || fail "a non-controller's answer: $r"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 2 0 "$T:0,1,7" nosuch:0) ||
	fail "ElectLeaders: $r"
echo "$r" | grep -qx "top 0" || fail "top-level error: $r"
echo "$r" | grep -qx "$T 0 0" && echo "$r" | grep -qx "$T 1 0" ||
	fail "preferred election: $r"
echo "$r" | grep -qx "$T 7 3" && echo "$r" | grep -qx "nosuch 0 3" ||
	fail "unknown partitions: $r"
wait_for 20 cl_led_by "$P" "$C" || fail "not led by $P after ElectLeaders: $(leader_of 0 "$C"); $(leader_of 1 "$C")"
pass "ElectLeaders (preferred): both partitions led by $P again; unknown ones: 3; non-controller: 41"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 1 0 "$T:0") || fail "ElectLeaders v1: $r"
echo "$r" | grep -qx "$T 0 84" || fail "a second election: $r"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 2 0 all) || fail "ElectLeaders (all): $r"
[ "$r" = "top 0" ] || fail "every partition, none to elect: $r"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 2 1 "$T:0") || fail "ElectLeaders unclean: $r"
echo "$r" | grep -qx "$T 0 84" || fail "unclean with a live leader: $r"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 0 0 "$T:1") || fail "ElectLeaders v0: $r"
echo "$r" | grep -qx "$T 1 84" || fail "v0 (preferred): $r"
pass "again: ELECTION_NOT_NEEDED (84); a null list lists nothing; unclean with a live leader: 84"

touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$acked" -gt 500 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check "$T" "$(all)" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
pass "sent $sent, failed $failed: $out"
[ "$fatal" = - ] ||
	fail "fatal idempotence error after a leader change: producer $fatal"

pe=$(curl -s --max-time 2 "http://127.0.0.1:$((MB + C))/metrics" |
	awk '$1 == "fluxmq_replica_leader_elections_by_type_total{type=\"preferred\"}" { print $2 }')
[ "$pe" = 2 ] || fail "controller's preferred elections: '$pe', want 2"
imb=$(metric "$C" fluxmq_controller_preferred_replica_imbalance)
[ "$imb" = 0 ] || fail "imbalance after the election: '$imb'"
pass "metrics: 2 preferred elections on the controller, imbalance 0"
lags=$(curl -s --max-time 2 "http://127.0.0.1:$((MB + P))/metrics" |
	grep -c "^fluxmq_replica_lag_messages{topic=\"$T\",partition=\"[01]\",replica=\"[0-9]*\"} [0-9]")
[ "$lags" = 4 ] || fail "leader $P's per-follower lag gauges: $lags, want 4"
ra=$(metric "$C" fluxmq_controller_reassigning_partitions)
[ "$ra" = 0 ] || fail "reassigning partitions: '$ra'"
pass "metrics: the leader's lag per follower (4 gauges), no reassignment under way"

# --- ElectLeaders type 1 (unclean) on an offline partition ------------------
# Replicas [P, O] (the controller C is neither): O killed, the ISR shrinks
# to P; P killed: offline (no live ISR member); O restarted stays out
# (not in the ISR) until ElectLeaders type 1 makes it the leader.
U=pu
timeout 60 /usr/bin/python3 - "$U" "$(all)" "$P" "$O" <<'PYEOF' >"$FMQ_TMP/createu.out" 2>&1 ||
import sys
from confluent_kafka.admin import AdminClient, NewTopic
t, boot, p, o = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a = AdminClient({"bootstrap.servers": boot})
for _, f in a.create_topics([NewTopic(t, num_partitions=1,
                             replica_assignment=[[p, o]])],
                            operation_timeout=30).items():
    f.result(timeout=60)
PYEOF
	fail "CreateTopics $U: $(cat "$FMQ_TMP/createu.out")"
ul() { timeout 15 "${PY[@]}" leader "$U" "$(b "$C")" 0 2>/dev/null; }
is() { [ "$(ul)" = "$1" ]; }
wait_for 30 is "$P $P,$O" || fail "$U-0: $(ul), want $P $P,$O"
$DC kill "$O" >/dev/null
wait_for 30 is "$P $P" || fail "$U-0 after killing $O: $(ul)"
$DC kill "$P" >/dev/null
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) is "-1 $P" ||
	fail "$U-0 not offline after killing $P: $(ul)"
$DC start "$O" >/dev/null || fail "restart of broker $O failed"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 2 0 "$U:0") || fail "ElectLeaders preferred: $r"
echo "$r" | grep -qx "$U 0 80" || fail "preferred with the preferred replica dead: $r"
sleep 2
is "-1 $P" || fail "$U-0 left offline state without an election: $(ul)"
r=$(timeout 60 "${EL[@]}" "$(b "$C")" 2 1 "$U:0") || fail "ElectLeaders unclean: $r"
echo "$r" | grep -qx "$U 0 0" || fail "unclean election: $r"
wait_for 20 is "$O $O" || fail "$U-0 after the unclean election: $(ul)"
ue=$(curl -s --max-time 2 "http://127.0.0.1:$((MB + C))/metrics" |
	awk '$1 == "fluxmq_replica_leader_elections_by_type_total{type=\"unclean\"}" { print $2 }')
[ "$ue" = 1 ] || fail "controller's unclean elections: '$ue'"
pass "offline $U-0 (ISR $P dead): preferred answered 80, unclean made $O the leader with ISR $O; counted"
