#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication fault (issue 17): the leader cut off from ZooKeeper only.
# 3 brokers (dev-cluster.sh, each in its own cgroup v2:
# FMQ_CLUSTER_CGROUP=1), replication factor 3, min.insync.replicas=2, an
# idempotent acks=all producer writing all along. All brokers reach
# ZooKeeper at 127.0.0.1 from the root namespace, so the cut is an
# iptables OUTPUT rule on lo matching the ZooKeeper port and the leader's
# cgroup (-m cgroup --path): its data plane, its clients and the other
# brokers' sessions are untouched (checked: their session state stays
# connected). Expected: the leader refuses writes within 2/3 of the
# session timeout (its lease, counted from when it last heard from
# ZooKeeper), before its session expires and a follower takes
# over; healed, the old leader finds its session expired, registers
# again and comes back as a follower in the ISR; the checker finds
# nothing lost, duplicated or at another offset.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool iptables kcat
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"
grep -q ' cgroup2 ' /proc/mounts || skip "needs a cgroup2 mount"
export FMQ_CLUSTER_CGROUP=1
. tests/integration/cluster_lib.sh

RULE=()
part_cut() {
	RULE=(OUTPUT -o lo -p tcp --dport "$ZKPORT" -m cgroup --path "/fmqc-$BR-$1" -j DROP)
	iptables -I "${RULE[@]}" || fail "iptables -I ${RULE[*]}"
}
part_heal() {
	[ ${#RULE[@]} = 0 ] || iptables -D "${RULE[@]}" 2>/dev/null || true
	RULE=()
}
fmq_on_cleanup part_heal

cl_up pz 1
l=$CL_LEADER
f1=$((l % 3 + 1))
f2=$((f1 % 3 + 1))
pass "topic pz: replication factor 3, min.insync.replicas=2, led by $l"

"${PY[@]}" produce pz "$(all)" 90 "$FMQ_TMP/acks.txt" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
sleep 4
ex0=$(metric "$l" fluxmq_zk_session_expirations_total)
lr0=$(metric_sum "$l" fluxmq_replica_lease_refused_total)
refused() { [ "$(metric_sum "$l" fluxmq_replica_lease_refused_total)" -gt "$lr0" ]; }
t0=$(now_ms)
part_cut "$l"
# One acks=all write to the leader every 0.1 s (kcat, unique values)
# until its lease refuses one (librdkafka retries NOT_LEADER_OR_FOLLOWER
# within message.timeout.ms, so the refusal is seen in the metric).
n=0
refused=
last_ok=-
while [ $(($(now_ms) - t0)) -lt $((FMQ_CLUSTER_SESSION_MS * 2)) ]; do
	ta=$(now_ms)
	n=$((n + 1))
	if echo "lease-$n" | timeout 5 kcat -P -b "$(b "$l")" -t pz -p 0 \
		-X acks=all -X message.timeout.ms=1000 >/dev/null 2>&1; then
		last_ok=$((ta - t0))
	fi
	if refused; then
		refused=$((ta - t0))
		break
	fi
	sleep 0.1
done
[ -n "$refused" ] ||
	fail "broker $l still takes writes $(($(now_ms) - t0)) ms after its ZooKeeper cut"
pass "leader $l cut off from ZooKeeper: a write to it acknowledged at $last_ok ms, the next one refused (lease) at $refused ms (session $FMQ_CLUSTER_SESSION_MS ms, lease $((FMQ_CLUSTER_SESSION_MS * 2 / 3)) ms)"
x=$(timeout $((FMQ_CLUSTER_SESSION_MS * 4 / 1000 + 10)) "${PY[@]}" \
	wait-leader pz "$(others "$l")" 0 "$l" "$t0" \
	$((FMQ_CLUSTER_SESSION_MS * 4 / 1000))) ||
	fail "no new leader while broker $l is cut off: $x"
nl=${x%% *}
pass "broker $nl leads after ${x##* } ms (ISR $(echo "$x" | cut -d' ' -f2))"
# The lease counts from when ZooKeeper was last heard from, at the cut
# at the latest: refused within 2/3 of the session timeout (plus this
# loop's step), and before another broker could lead.
[ "$refused" -le $((FMQ_CLUSTER_SESSION_MS * 2 / 3 + 1500)) ] ||
	fail "broker $l took writes until $refused ms after its cut, past 2/3 of the session timeout"
[ "$refused" -lt "${x##* }" ] ||
	fail "broker $l took writes until $refused ms, broker $nl led from ${x##* } ms"
for i in "$f1" "$f2"; do
	s=$(metric "$i" fluxmq_zk_session_state)
	[ "$s" = 1 ] || fail "broker $i's ZooKeeper session is in state $s: the cut is not exact"
done
s=$(metric "$l" fluxmq_zk_session_state)
[ "$s" != 1 ] || fail "broker $l's session still connected through the cut"
pass "only broker $l lost ZooKeeper (its session state $s, the others' 1)"
sleep 2
part_heal
t2=$(now_ms)
back() { in_isr "$l" "$nl" && [ "$(leader_of 0 "$nl" | cut -d' ' -f1)" = "$nl" ]; }
wait_for 60 back || fail "broker $l did not come back into the ISR: $(leader_of 0 "$nl")"
t3=$(now_ms)
ex1=$(metric "$l" fluxmq_zk_session_expirations_total)
[ "$ex1" -gt "$ex0" ] || fail "broker $l did not count a session expiry ($ex0 -> $ex1)"
pass "healed after $((t2 - t0)) ms: broker $l back as a follower in the ISR after $((t3 - t2)) ms, expiries $ex0 -> $ex1"
sleep 3
touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$acked" -gt 1000 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check pz "$(all)" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
pass "sent $sent, failed $failed; $out"
[ "$fatal" = - ] ||
	fail "fatal idempotence error after a leader change: producer $fatal"
same() {
	local s
	for s in "$DIR/b$nl/data/pz-0"/*.log; do
		cmp -s "$s" "$DIR/b$l/data/pz-0/$(basename "$s")" || return 1
	done
}
wait_for 30 same || fail "the old leader's log is not the new leader's: $(ls -l "$DIR"/b*/data/pz-0)"
pass "the old leader's segment files are the new leader's ($nl) byte for byte"
