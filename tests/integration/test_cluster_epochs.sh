#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Leader epochs and truncation (issue 17, KIP-101/279) on 3 brokers
# (scripts/dev-cluster.sh): one partition, replication factor 3,
# min.insync.replicas=1, led by broker 1.
# A. Kafka's scenario: both followers SIGSTOPped until the leader drops
#    them from the ISR; the leader alone takes acks=all writes; the
#    leader is SIGKILLed. With unclean.leader.election.enable=false the
#    partition stays offline (leader -1, no election) while the followers
#    are back; the old leader returns and leads again: nothing
#    acknowledged is lost (repl_checker).
# B. The followers stopped for a moment (still in the ISR), the leader
#    takes acks=1 writes they never get, and is SIGKILLed: broker 2 (or 3)
#    leads
#    with epoch + 1 (its leader-epoch-checkpoint says where the epoch
#    starts), takes acks=all writes; broker 1 returns and truncates by
#    epoch exactly what it alone had (from its log end to the new epoch's
#    start), then holds the new leader's bytes; nothing acknowledged with
#    acks=all is lost.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool cmp kcat
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"

OFLE=(/usr/bin/python3 tests/integration/kafka/ofle.py)
T=ue
CL_T=$T
. tests/integration/cluster_lib.sh
ckpt() { tail -1 "$DIR/b$1/data/$T-0/leader-epoch-checkpoint" 2>/dev/null || true; }

cl_start
cl_create "$T" 1 3 1 1
isr_is() { local x; x=$(leader_of 0 "$1") && [ "$x" = "$2" ]; }
wait_for 30 isr_is 1 "1 1,2,3" || fail "partition 0: $(leader_of 0 1), want leader 1, ISR 1,2,3"
e0=$(ckpt 1)
[ "$e0" = "0 0" ] || fail "broker 1's leader-epoch-checkpoint ends with '$e0', want '0 0'"
pass "topic $T: replication factor 3, min.insync.replicas=1, led by 1 (epoch entry '$e0')"

# --- A: the ISR shrinks to the leader, which dies: offline, nothing lost ----
timeout 60 "${PY[@]}" produce "$T" "$(all)" 2 "$FMQ_TMP/acks1.txt" >"$FMQ_TMP/p1.out" 2>"$FMQ_TMP/p1.err" ||
	fail "producer: $(tail -3 "$FMQ_TMP/p1.err")"
cl_stop 2
cl_stop 3
wait_for 30 isr_is 1 "1 1" || fail "the ISR did not shrink to the leader: $(leader_of 0 1)"
timeout 60 "${PY[@]}" produce "$T" "$(b 1)" 2 "$FMQ_TMP/acks2.txt" >"$FMQ_TMP/p2.out" 2>"$FMQ_TMP/p2.err" ||
	fail "producer: $(tail -3 "$FMQ_TMP/p2.err")"
read -r _ acked2 _ _ <"$FMQ_TMP/p2.out"
[ "$acked2" -gt 0 ] || fail "no acks=all write acknowledged by the leader alone"
$DC kill 1 >/dev/null
cl_cont 2
cl_cont 3
pass "followers stopped, ISR = {1}: $acked2 acks=all writes acknowledged by the leader alone; leader 1 killed, followers continued"
# The leader's registration goes after the session timeout; then nobody
# may lead (no ISR member alive, unclean election off).
sleep $((FMQ_CLUSTER_SESSION_MS * 3 / 2000))
offline() { local x; x=$(leader_of 0 2) && [ "${x%% *}" = -1 ]; }
wait_for 20 offline || fail "partition 0 not offline with its ISR dead: $(leader_of 0 2)"
for ((i = 0; i < 6; i++)); do
	x=$(leader_of 0 2) || true
	[ "${x%% *}" = -1 ] || fail "partition 0 got leader '${x%% *}' with unclean election off"
	sleep 0.4
done
u=$(($(metric_sum 2 fluxmq_replica_unclean_leader_elections_total) + $(metric_sum 3 fluxmq_replica_unclean_leader_elections_total)))
[ "$u" = 0 ] || fail "$u unclean elections counted"
pass "unclean.leader.election.enable=false: partition 0 offline (leader -1) for 3 s with brokers 2 and 3 alive, no election"
$DC start 1 >/dev/null || fail "restart of broker 1 failed"
wait_for 40 isr_is 2 "1 1,2,3" || wait_for 20 isr_is 2 "1 1,3,2" ||
	fail "broker 1 does not lead with a full ISR again: $(leader_of 0 2)"
cat "$FMQ_TMP/acks1.txt" "$FMQ_TMP/acks2.txt" >"$FMQ_TMP/acksA.txt"
out=$(timeout 100 "${PY[@]}" check "$T" "$(all)" "$FMQ_TMP/acksA.txt") || fail "checker: $out"
pass "old leader back, leads with ISR 1,2,3: $out"

# --- B: writes only the old leader had are truncated by epoch ---------------
read -r eA _ < <(ckpt 1)
h=$(timeout 20 "${OFLE[@]}" "$(b 1)" "$T" 0 -1 "$eA")
read -r err _ H <<<"$h"
[ "$err" = 0 ] || fail "OffsetForLeaderEpoch on the leader: $h"
cl_stop 2
cl_stop 3
for i in $(seq 1 40); do echo "only-on-1-$i"; done |
	timeout 20 kcat -P -b "$(b 1)" -t "$T" -p 0 -X topic.request.required.acks=1 ||
	fail "acks=1 produce to broker 1 failed"
h=$(timeout 20 "${OFLE[@]}" "$(b 1)" "$T" 0 -1 "$eA")
read -r _ _ L1 <<<"$h"
[ "$L1" = $((H + 40)) ] || fail "broker 1's log end $L1, want $((H + 40))"
$DC kill 1 >/dev/null
cl_cont 2
cl_cont 3
pass "followers stopped for a moment; broker 1 took 40 acks=1 writes ($H..$((L1 - 1))) and was killed"
# The first live ISR member each survivor sees takes over (2, or 3 when
# broker 2's registration was not seen in time).
newl() { local x; x=$(leader_of 0 2) && [ "${x%% *}" = 2 ] || [ "${x%% *}" = 3 ]; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) newl || fail "no new leader: $(leader_of 0 2)"
N=$(leader_of 0 2)
N=${N%% *}
want="$((eA + 1)) $H"
got_ck() { [ "$(ckpt "$N")" = "$want" ]; }
wait_for 10 got_ck || fail "broker $N's leader-epoch-checkpoint ends with '$(ckpt "$N")', want '$want'"
h=$(timeout 20 "${OFLE[@]}" "$(b "$N")" "$T" 0 "$((eA + 1))" "$eA")
[ "$h" = "0 $eA $H" ] || fail "OffsetForLeaderEpoch($eA) on broker $N: '$h', want '0 $eA $H'"
h=$(timeout 20 "${OFLE[@]}" "$(b "$N")" "$T" 0 "$eA" "$eA")
[ "${h%% *}" = 74 ] || fail "current epoch $eA on broker $N (at $((eA + 1))): '$h', want FENCED_LEADER_EPOCH (74)"
pass "broker $N leads with epoch $((eA + 1)) from offset $H (checkpoint '$(ckpt "$N")'); OffsetForLeaderEpoch($eA) = $H, an old current epoch FENCED"
timeout 60 "${PY[@]}" produce "$T" "$(b 2),$(b 3)" 2 "$FMQ_TMP/acks3.txt" >"$FMQ_TMP/p3.out" 2>"$FMQ_TMP/p3.err" ||
	fail "producer: $(tail -3 "$FMQ_TMP/p3.err")"
t0=$(metric_sum "$N" fluxmq_replica_diverging_epoch_total)
$DC start 1 >/dev/null || fail "restart of broker 1 failed"
ldir="$DIR/b$N/data/$T-0"
fdir="$DIR/b1/data/$T-0"
trunc() { grep -q "$T-0: truncating the log from $L1 to $H (where it diverged" "$DIR/b1/broker.log"; }
wait_for 40 trunc || fail "broker 1 did not truncate from $L1 to $H by epoch: $(grep "$T-0: truncating" "$DIR/b1/broker.log" | tail -2)"
same() {
	local s
	for s in "$ldir"/*.log; do
		cmp -s "$s" "$fdir/$(basename "$s")" || return 1
	done
}
wait_for 40 same || fail "broker 1's log is not broker $N's: $(ls -l "$ldir" "$fdir")"
d=$(metric_sum "$N" fluxmq_replica_diverging_epoch_total)
[ "$d" -gt "$t0" ] || fail "no diverging epoch answered by broker $N ($t0 -> $d)"
et=$(metric_sum 1 fluxmq_replica_epoch_truncations_total)
[ "$et" -ge 1 ] || fail "no epoch truncation counted on broker 1"
pass "broker 1 back: truncated from $L1 to $H exactly (its 40 acks=1 writes), its segments are broker $N's byte for byte ($(cat "$ldir"/*.log | wc -c) bytes)"
cat "$FMQ_TMP/acksA.txt" "$FMQ_TMP/acks3.txt" >"$FMQ_TMP/acksB.txt"
out=$(timeout 100 "${PY[@]}" check "$T" "$(all)" "$FMQ_TMP/acksB.txt") || fail "checker: $out"
pass "acks=all writes of both parts: $out"
$DC down >/dev/null 2>&1 || true
