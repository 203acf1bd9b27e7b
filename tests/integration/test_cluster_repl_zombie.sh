#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication (issue 17): a zombie leader. On 3 brokers (dev-cluster.sh),
# replication factor 3, min.insync.replicas=2, an idempotent acks=all
# producer writes while the leader of the only partition is SIGSTOPped
# past its ZooKeeper session (another replica takes over) and then
# SIGCONTed: it must learn it lost the partition, cut what it had
# appended but never committed, and follow. The checker reads everything
# back (lost, duplicated, inconsistent all 0) and the zombie's segment
# files end up the new leader's byte for byte.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool cmp
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
DIR=${FMQ_CLUSTER_DIR:-/tmp/fmq-cluster-${FMQ_CLUSTER_BRIDGE:-fmqbr0}}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
PY=(/usr/bin/python3 tests/integration/kafka/repl_checker.py)
T=rz
zpid=
# shellcheck disable=SC2016 # expanded when the cleanup runs
fmq_on_cleanup '[ -z "$zpid" ] || kill -CONT "$zpid" 2>/dev/null || true'
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true
b() { echo "$NET.$((10 + $1)):9092"; }
all() { echo "$(b 1),$(b 2),$(b 3)"; }
now_ms() { date +%s%3N; }
wait_for() { # wait_for SECONDS CMD...: poll CMD every 0.2 s
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
leader_of() { timeout 15 "${PY[@]}" leader "$T" "$(b "$1")" 0 2>/dev/null; }

# Leadership stays where the failover put it (no preferred-leader
# rebalance: test_cluster_leader_rebalance.sh covers that).
$DC up 3 -- --set replica.lag.time.max.ms=4000 \
	--set auto.leader.rebalance.enable=false >"$FMQ_TMP/up.out" ||
	fail "dev-cluster.sh up 3 failed"
created=0
for ((i = 0; i < 20; i++)); do
	if timeout 60 "${PY[@]}" create "$T" "$(all)" 1 3 2 >"$FMQ_TMP/create.out" 2>&1; then
		created=1
		break
	fi
	sleep 0.5
done
[ "$created" = 1 ] || fail "CreateTopics failed: $(cat "$FMQ_TMP/create.out")"
full_isr() { local x; x=$(leader_of 1) && [ "$(echo "${x#* }" | tr ',' '\n' | wc -l)" = 3 ]; }
wait_for 20 full_isr || fail "no leader with 3 in-sync replicas: $(leader_of 1)"
x=$(leader_of 1)
z=${x%% *}
s1=$((z % 3 + 1))

zpid=$($DC status | awk -v i="$z" '$1 == "broker" && $2 == i { print $4 }')
pass "topic $T: replication factor 3, min.insync.replicas=2, led by $z"

"${PY[@]}" produce "$T" "$(all)" 25 "$FMQ_TMP/acks.txt" >"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
sleep 5
t0=$(now_ms)
kill -STOP "$zpid"
new_leader() { local x; x=$(leader_of "$s1") && [ "${x%% *}" != "$z" ] && [ "${x%% *}" != -1 ]; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) new_leader ||
	fail "no new leader while broker $z is stopped: $(leader_of "$s1")"
t1=$(now_ms)
x=$(leader_of "$s1")
nl=${x%% *}
pass "leader $z stopped: broker $nl leads after $((t1 - t0)) ms, ISR ${x#* }"
sleep 3
kill -CONT "$zpid"
zpid=
pass "broker $z continued $(($(now_ms) - t0)) ms after it stopped"
wait "$ppid" ||
	fail "the producer failed: $(grep -m3 fatal "$FMQ_TMP/produce.err" || tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$acked" -gt 1000 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check "$T" "$(all)" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
pass "sent $sent, failed $failed; $out"
[ "$fatal" = - ] || fail "fatal producer error after the failover: $fatal"
back() { local x; x=$(leader_of "$nl") && [ "${x%% *}" = "$nl" ] && echo ",${x#* }," | grep -q ",$z,"; }
wait_for 40 back || fail "broker $z did not rejoin the ISR: $(leader_of "$nl")"
same() {
	local s
	for s in "$DIR/b$nl/data/$T-0"/*.log; do
		cmp -s "$s" "$DIR/b$z/data/$T-0/$(basename "$s")" || return 1
	done
}
wait_for 30 same || fail "the zombie's log is not the leader's: $(ls -l "$DIR/b$nl/data/$T-0" "$DIR/b$z/data/$T-0")"
pass "broker $z is back in the ISR as a follower, its segment files the leader's ($nl) byte for byte"
