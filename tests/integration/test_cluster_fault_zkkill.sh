#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication fault (issue 17): ZooKeeper SIGKILLed under load, restarted
# a few seconds later on the same data. 3 brokers (dev-cluster.sh), a
# topic of 3 partitions, replication factor 3, min.insync.replicas=2, an
# idempotent acks=all producer writing all along. Meanwhile the brokers
# keep serving what they can: every one still answers Metadata with the
# leaders it knew, a consumer reads from partition 0's leader; writes to
# replicated partitions stop once the leaders' lease (2/3 of the session
# timeout without ZooKeeper) runs out, and the producer retries them.
# ZooKeeper back, the brokers find their sessions (ZooKeeper restores
# them from its log) or register again, writes are acknowledged again,
# no broker restarted, and the checker finds nothing acknowledged lost,
# duplicated or at another offset.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool kcat
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"
. tests/integration/cluster_lib.sh

cl_up pk 3
l=$CL_LEADER
pass "topic pk: 3 partitions, replication factor 3, min.insync.replicas=2, partition 0 led by $l"
declare -A pid0 ex0 rg0
for i in 1 2 3; do
	pid0[$i]=$(pid_of_broker "$i")
	ex0[$i]=$(metric "$i" fluxmq_zk_session_expirations_total)
	rg0[$i]=$(metric "$i" fluxmq_cluster_registrations_total)
done

"${PY[@]}" produce pk "$(all)" 90 "$FMQ_TMP/acks.txt" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
# The probe: how long after ZooKeeper is back the first write produced
# then is acknowledged.
M=$FMQ_TMP/marks
: >"$M"
"${PY[@]}" probe pk "$(all)" 0 90 "$FMQ_TMP/probe-acks.txt" "$M" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/probe.out" 2>"$FMQ_TMP/probe.err" &
qpid=$!
sleep 4
a0=$(acked "$FMQ_TMP/acks.txt")
[ "$a0" -gt 100 ] || fail "only $a0 writes acknowledged before ZooKeeper was killed"

t0=$(now_ms)
cl_zk_kill
pass "ZooKeeper SIGKILLed with $a0 writes acknowledged"
lost_zk() {
	local i
	for i in 1 2 3; do
		[ "$(metric "$i" fluxmq_zk_session_state)" != 1 ] || return 1
	done
}
wait_for 20 lost_zk || fail "a broker still says its ZooKeeper session is connected"
t1=$(now_ms)
for i in 1 2 3; do
	x=$(leader_of 0 "$i") || fail "broker $i answers no Metadata without ZooKeeper"
	[ "${x%% *}" = "$l" ] || fail "broker $i names leader ${x%% *} for partition 0 without ZooKeeper, not $l"
done
n=$(timeout 20 kcat -C -b "$(b "$l")" -t pk -p 0 -o beginning -c 100 -e \
	-q 2>/dev/null | wc -l)
[ "$n" = 100 ] || fail "a consumer read $n records from leader $l without ZooKeeper"
pass "all brokers lost ZooKeeper within $((t1 - t0)) ms; they still name leader $l in Metadata, a consumer reads from it"
# A few seconds down in all, the lease run out on every leader.
sleep 3
t2=$(now_ms)
cl_zk_start
t3=$(now_ms)
echo "$t3" >>"$M"
back() {
	local i
	for i in 1 2 3; do
		[ "$(metric "$i" fluxmq_zk_session_state)" = 1 ] &&
			[ "$(metric "$i" fluxmq_cluster_registered)" = 1 ] || return 1
	done
}
wait_for 40 back || fail "the brokers did not all get a session and registration back"
t4=$(now_ms)
how=
for i in 1 2 3; do
	[ "$(pid_of_broker "$i")" = "${pid0[$i]}" ] || fail "broker $i was restarted"
	e=$(metric "$i" fluxmq_zk_session_expirations_total)
	r=$(metric "$i" fluxmq_cluster_registrations_total)
	how="$how broker $i: expiries ${ex0[$i]}->$e registrations ${rg0[$i]}->$r;"
done
pass "ZooKeeper down $((t2 - t0)) ms, answering again $((t3 - t2)) ms after its start; every broker connected and registered $((t4 - t3)) ms later ($how)"
wait_for 30 full_isr "$l" || fail "partition 0 has no full ISR after ZooKeeper came back: $(leader_of 0 "$l")"
a1=$(acked "$FMQ_TMP/acks.txt")
sleep 3
a2=$(acked "$FMQ_TMP/acks.txt")
[ "$a2" -gt "$a1" ] || fail "no write acknowledged after ZooKeeper came back ($a1, then $a2)"
touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
wait "$qpid" || fail "the probe failed: $(tail -3 "$FMQ_TMP/probe.err")"
read -r sent _ failed fatal <"$FMQ_TMP/produce.out"
read -r _ psent _ pfailed pfatal < <(grep '^probe ' "$FMQ_TMP/probe.out")
read -r _ ms < <(grep -v '^probe ' "$FMQ_TMP/probe.out") ||
	fail "the probe had no write acknowledged after ZooKeeper came back"
pass "the first write produced after ZooKeeper answered again was acknowledged $ms ms later"
cat "$FMQ_TMP/acks.txt" "$FMQ_TMP/probe-acks.txt" >"$FMQ_TMP/all-acks.txt"
out=$(timeout 100 "${PY[@]}" check pk "$(all)" "$FMQ_TMP/all-acks.txt") ||
	fail "checker: $out"
pass "producer sent $sent failed $failed, probe sent $psent failed $pfailed; $out"
if [ "$fatal" != - ] || [ "$pfatal" != - ]; then
	fail "fatal idempotence error: producer $fatal, probe $pfatal"
fi
