#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication (issue 17) on 3 brokers (scripts/dev-cluster.sh): a topic
# with replication factor 3 and min.insync.replicas=2, 3 partitions.
# - An idempotent confluent-kafka producer (acks=all) writes unique
#   values while the leader of partition 0 is SIGKILLed; it keeps
#   writing through the new leader (the first live ISR member). The
#   checker (kafka/repl_checker.py) reads everything back from the two
#   survivors: acknowledged, read, lost (must be 0), duplicated (0),
#   inconsistent offsets (0). Prints the failover time (kill -> the
#   survivors name a new leader).
# - Both followers of partition 0 killed: the leader drops them from the
#   ISR after replica.lag.time.max.ms and acks=all writes get
#   NOT_ENOUGH_REPLICAS (min.insync.replicas=2); one back, they succeed.
# - A follower stopped, its log cut by hand (the last half of its
#   segment file), and restarted re-syncs: its segment files become the
#   leader's byte for byte, and it is back in the ISR.
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
MB=${FMQ_CLUSTER_MGMT_BASE:-18080}
DIR=${FMQ_CLUSTER_DIR:-/tmp/fmq-cluster-${FMQ_CLUSTER_BRIDGE:-fmqbr0}}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
PY=(/usr/bin/python3 tests/integration/kafka/repl_checker.py)
T=rk
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true
b() { echo "$NET.$((10 + $1)):9092"; }
all() { echo "$(b 1),$(b 2),$(b 3)"; }
now_ms() { date +%s%3N; }
metric() {
	curl -s --max-time 2 "http://127.0.0.1:$((MB + $1))/metrics" |
		awk -v n="$2" '$1 == n { print $2 }'
}
wait_for() { # wait_for SECONDS CMD...: poll CMD every 0.2 s
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
leader_of() { timeout 15 "${PY[@]}" leader "$T" "$(b "$2")" "$1" 2>/dev/null; }

# A follower that stops fetching leaves the ISR after 4 s (acks=all then
# goes on with the two others), rejoins when caught up.
# Leadership stays where the failover put it (no preferred-leader
# rebalance: test_cluster_leader_rebalance.sh covers that).
$DC up 3 -- --set replica.lag.time.max.ms=4000 \
	--set auto.leader.rebalance.enable=false >"$FMQ_TMP/up.out" ||
	fail "dev-cluster.sh up 3 failed"
created=0
for ((i = 0; i < 20; i++)); do
	if timeout 60 "${PY[@]}" create "$T" "$(all)" 3 3 2 >"$FMQ_TMP/create.out" 2>&1; then
		created=1
		break
	fi
	sleep 0.5
done
[ "$created" = 1 ] || fail "CreateTopics (replication factor 3) failed: $(cat "$FMQ_TMP/create.out")"
full_isr() { local x; x=$(leader_of 0 1) && [ "$(echo "${x#* }" | tr ',' '\n' | wc -l)" = 3 ]; }
wait_for 20 full_isr || fail "partition 0 has no leader with 3 in-sync replicas: $(leader_of 0 1)"
x=$(leader_of 0 1)
l=${x%% *}
pass "topic $T: 3 partitions, replication factor 3, min.insync.replicas=2; partition 0 led by $l, ISR ${x#* }"

# --- SIGKILL of the leader under acks=all traffic -------------------------------
"${PY[@]}" produce "$T" "$(all)" 20 "$FMQ_TMP/acks.txt" >"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
sleep 5
t0=$(now_ms)
$DC kill "$l" >/dev/null
s1=$((l % 3 + 1))
s2=$((s1 % 3 + 1))
new_leader() { local x; x=$(leader_of 0 "$s1") && [ "${x%% *}" != "$l" ] && [ "${x%% *}" != -1 ]; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) new_leader ||
	fail "no new leader for partition 0 after killing broker $l: $(leader_of 0 "$s1")"
t1=$(now_ms)
x=$(leader_of 0 "$s1")
pass "leader $l killed: broker ${x%% *} leads partition 0 after $((t1 - t0)) ms (session timeout $FMQ_CLUSTER_SESSION_MS ms), ISR ${x#* }"
wait "$ppid" ||
	fail "the producer failed: $(grep -m3 fatal "$FMQ_TMP/produce.err" || tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$acked" -gt 1000 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check "$T" "$(b "$s1"),$(b "$s2")" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
pass "sent $sent, failed $failed; survivors: $out"
[ "$fatal" = - ] || fail "fatal producer error after the failover: $fatal"
el=0
for id in $s1 $s2; do el=$((el + $(metric "$id" fluxmq_replica_leader_elections_total))); done
[ "$el" -ge 1 ] || fail "no leader election counted on the survivors"

# --- a follower with its log cut by hand re-syncs -------------------------------
$DC start "$l" >/dev/null || fail "restart of broker $l failed"
nl=$(leader_of 0 "$s1")
nl=${nl%% *}
f=$s1
[ "$f" != "$nl" ] || f=$s2
pdir="$DIR/b$f/data/$T-0"
back_in_isr() { local x; x=$(leader_of 0 "$nl") && echo ",${x#* }," | grep -q ",$1,"; }
wait_for 40 back_in_isr "$l" || fail "broker $l did not rejoin the ISR: $(leader_of 0 "$nl")"
# A clean stop (SIGTERM) writes everything through and gives the hot
# chunks back, so what is cut is gone from this broker.
fpid=$($DC status | awk -v i="$f" '$1 == "broker" && $2 == i { print $4 }')
kill -TERM "$fpid"
gone() { ! kill -0 "$fpid" 2>/dev/null; }
wait_for 30 gone || fail "broker $f did not stop on SIGTERM"
seg=$(find "$pdir" -name '*.log' | sort | tail -1)
size=$(stat -c %s "$seg")
[ "$size" -gt 0 ] || fail "follower $f has an empty segment $seg"
truncate -s $((size / 2)) "$seg"
pass "follower $f stopped, its segment $(basename "$seg") cut from $size to $((size / 2)) bytes"
$DC start "$f" >/dev/null || fail "restart of broker $f failed"
ldir="$DIR/b$nl/data/$T-0"
same() {
	local s
	for s in "$ldir"/*.log; do
		cmp -s "$s" "$pdir/$(basename "$s")" || return 1
	done
}
wait_for 40 same || fail "follower $f's log is not the leader's: $(ls -l "$ldir" "$pdir")"
wait_for 40 back_in_isr "$f" || fail "broker $f did not rejoin the ISR: $(leader_of 0 "$nl")"
pass "follower $f re-synced: its segment files are the leader's ($nl) byte for byte, back in the ISR"

# --- min.insync.replicas: the ISR shrinks to the leader, acks=all refused -------
x=$(leader_of 0 "$nl")
[ "${x%% *}" = "$nl" ] || fail "partition 0 moved: $x"
o1=$((nl % 3 + 1))
o2=$((o1 % 3 + 1))
$DC kill "$o1" >/dev/null
$DC kill "$o2" >/dev/null
alone() { local x; x=$(leader_of 0 "$nl") && [ "${x#* }" = "$nl" ]; }
wait_for 30 alone || fail "the ISR did not shrink to the leader: $(leader_of 0 "$nl")"
r=$(timeout 30 "${PY[@]}" produce-one "$T" "$(b "$nl")" 0)
[ "$r" = NOT_ENOUGH_REPLICAS ] || fail "acks=all with the ISR at 1 of min 2: $r"
sh=$(metric "$nl" fluxmq_replica_isr_shrinks_total)
[ "$sh" -ge 1 ] || fail "no ISR shrink counted on broker $nl"
$DC start "$o1" >/dev/null || fail "restart of broker $o1 failed"
wait_for 40 back_in_isr "$o1" || fail "broker $o1 did not rejoin the ISR: $(leader_of 0 "$nl")"
r=$(timeout 30 "${PY[@]}" produce-one "$T" "$(b "$nl")" 0)
[ "$r" = OK ] || fail "acks=all with 2 in sync: $r"
pass "followers $o1 and $o2 killed: ISR shrank to $nl ($sh shrinks), acks=all answered NOT_ENOUGH_REPLICAS; $o1 back in the ISR, acks=all OK"
