#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transactions in a cluster, the partition side (issue 18): 3 brokers
# (scripts/dev-cluster.sh), a topic of 2 partitions with replication
# factor 3.
# - Transactional batches produced straight to each partition's leader
#   (no coordinator on that broker listed them) hold read_committed's LSO
#   at their first offsets, as the leader derives from its own log.
# - WriteTxnMarkers (API 27), as a coordinator on another broker sends
#   it: COMMIT into partition 0 and ABORT into partition 1 at their
#   leaders, answered once the high watermark covers the marker; a
#   non-leader answers NOT_LEADER_OR_FOLLOWER. read_committed (confluent-
#   kafka) then sees exactly the committed records, read_uncommitted all.
# - The aborted partition's leader is SIGKILLed: its new leader (a former
#   follower) still hides the aborted records from read_committed (the
#   follower indexed the abort marker it copied).
# - The killed broker restarts, rejoins the ISR and leads again
#   (ElectLeaders, preferred): it read the aborted transaction back from
#   its log at open, so read_committed still hides it.
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

CL_T=wtm
. tests/integration/cluster_lib.sh
W=(/usr/bin/python3 tests/integration/kafka/cluster_wtm.py)
EL=(/usr/bin/python3 tests/integration/kafka/elect_leaders.py)

cl_start
cl_create "$CL_T" 2 3 2
wait_for 30 full_isr 1 ||
	fail "partition 0 has no leader with 3 in-sync replicas: $(leader_of 0 1)"
p1_full() {
	local x
	x=$(leader_of 1 1) && [ "${x%% *}" != -1 ] &&
		[ "$(echo "${x#* }" | tr ',' '\n' | wc -l)" = 3 ]
}
wait_for 30 p1_full || fail "partition 1 not fully in sync: $(leader_of 1 1)"
pass "topic $CL_T: 2 partitions, replication factor 3, led by $(leader_of 0 1 | cut -d' ' -f1) and $(leader_of 1 1 | cut -d' ' -f1)"

timeout 100 "${W[@]}" write "$CL_T" "$(all)" >"$FMQ_TMP/write.out" 2>&1 ||
	fail "$(grep -h FAIL "$FMQ_TMP/write.out" || tail -5 "$FMQ_TMP/write.out")"
sed 's/^ok /PASS: /' "$FMQ_TMP/write.out"

sent=0 seen=0
for id in 1 2 3; do
	sent=$((sent + $(metric_sum "$id" fluxmq_write_txn_markers_appended_total)))
	seen=$((seen + $(metric_sum "$id" fluxmq_log_txn_markers_seen_total)))
done
[ "$sent" -ge 2 ] || fail "fluxmq_write_txn_markers_appended_total: $sent over the brokers, expected >= 2"
# Each marker closes a transaction on its leader and its two followers.
[ "$seen" -ge 6 ] || fail "fluxmq_log_txn_markers_seen_total: $seen over the brokers, expected >= 6"
pass "metrics: $sent markers appended through WriteTxnMarkers, $seen transactions closed by markers on leaders and followers"

l1=$(leader_of 1 1 | cut -d' ' -f1)
s=()
for id in 1 2 3; do [ "$id" = "$l1" ] || s+=("$id"); done
$DC kill "$l1" >/dev/null || fail "kill of broker $l1 failed"
moved() {
	local x
	x=$(leader_of 1 "${s[0]}") && [ "${x%% *}" != "$l1" ] && [ "${x%% *}" != -1 ]
}
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) moved ||
	fail "partition 1 has no new leader after killing $l1: $(leader_of 1 "${s[0]}")"
pass "leader $l1 of the aborted partition SIGKILLed; partition 1 now led by $(leader_of 1 "${s[0]}" | cut -d' ' -f1)"
timeout 60 "${W[@]}" read "$CL_T" "$(b "${s[0]}"),$(b "${s[1]}")" \
	>"$FMQ_TMP/read.out" 2>&1 ||
	fail "after the failover: $(grep -h FAIL "$FMQ_TMP/read.out" || tail -5 "$FMQ_TMP/read.out")"
sed 's/^ok /PASS: after the failover, /' "$FMQ_TMP/read.out"

$DC start "$l1" >/dev/null || fail "restart of broker $l1 failed"
back_in() {
	local x
	x=$(leader_of 1 "${s[0]}") && echo ",${x#* }," | grep -q ",$l1,"
}
wait_for 60 back_in || fail "broker $l1 did not rejoin partition 1's ISR: $(leader_of 1 "${s[0]}")"
cl_controller
r=$(timeout 60 "${EL[@]}" "$(b "$CL_CTRL")" 2 0 "$CL_T:1") ||
	fail "ElectLeaders to $CL_CTRL: $r"
leads_again() { [ "$(leader_of 1 "${s[0]}" | cut -d' ' -f1)" = "$l1" ]; }
wait_for 30 leads_again || fail "broker $l1 does not lead partition 1 again: $(leader_of 1 "${s[0]}") ($r)"
pass "broker $l1 restarted, back in the ISR and leading partition 1 again"
timeout 60 "${W[@]}" read "$CL_T" "$(all)" >"$FMQ_TMP/read2.out" 2>&1 ||
	fail "after the restart: $(grep -h FAIL "$FMQ_TMP/read2.out" || tail -5 "$FMQ_TMP/read2.out")"
sed 's/^ok /PASS: after the restart, /' "$FMQ_TMP/read2.out"
