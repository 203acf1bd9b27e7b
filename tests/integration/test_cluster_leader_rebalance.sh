#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The automatic preferred-leader rebalance (auto.leader.rebalance.enable,
# on by default) on 3 brokers (scripts/dev-cluster.sh), checked every
# 2 s (leader.imbalance.check.interval.seconds):
# - a topic of 2 partitions, replication factor 3, min.insync.replicas=2,
#   every partition's preferred replica P a broker that is not the
#   controller; an idempotent acks=all producer runs throughout;
# - P is SIGKILLed (another broker takes over), restarted; once it is
#   back in the ISRs the controller moves both partitions back to it
#   with no request from anyone;
# - the checker finds nothing acknowledged lost, duplicated or moved;
#   the controller counts the automatic run and 2 preferred elections.
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

T=plr
CL_T=$T
. tests/integration/cluster_lib.sh

$DC up 3 -- --set replica.lag.time.max.ms=4000 \
	--set leader.imbalance.check.interval.seconds=2 >"$FMQ_TMP/up.out" ||
	fail "dev-cluster.sh up 3 failed"
cl_controller
C=$CL_CTRL
P=$((C % 3 + 1))
cl_create "$T" 2 3 2 "$P"
cl_kill_preferred
ppid=$CL_PPID
t0=$(date +%s%3N)
$DC start "$P" >/dev/null || fail "restart of broker $P failed"
wait_for 60 cl_led_by "$P" "$C" ||
	fail "leadership did not go back to $P: $(leader_of 0 "$C"); $(leader_of 1 "$C")"
pass "broker $P restarted: it leads both partitions again after $(($(date +%s%3N) - t0)) ms (start to Metadata), no request sent"

touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$acked" -gt 500 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check "$T" "$(all)" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
pass "sent $sent, failed $failed: $out"
[ "$fatal" = - ] ||
	fail "fatal idempotence error after a leader change: producer $fatal"

runs=$(metric "$C" fluxmq_controller_auto_rebalances_total)
pe=$(curl -s --max-time 2 "http://127.0.0.1:$((MB + C))/metrics" |
	awk '$1 == "fluxmq_replica_leader_elections_by_type_total{type=\"preferred\"}" { print $2 }')
[ "${runs:-0}" -ge 1 ] && [ "${pe:-0}" -ge 2 ] ||
	fail "controller: $runs automatic runs, $pe preferred elections"
imb=$(metric "$C" fluxmq_controller_preferred_replica_imbalance)
[ "$imb" = 0 ] || fail "imbalance after the rebalance: '$imb'"
pass "metrics: $runs automatic run(s), $pe preferred elections on the controller, imbalance 0"
