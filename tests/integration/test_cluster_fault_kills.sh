#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication fault (issue 17): the leader of partition 0 SIGKILLed
# FMQ_KILLS times (default 3), restarted each time and waited back into
# the ISR, then one SIGSTOP/SIGCONT round past the session timeout. 3
# brokers (dev-cluster.sh), replication factor 3, min.insync.replicas=2,
# an idempotent acks=all producer over all partitions and a probe (an
# idempotent acks=all producer writing partition 0 every 10 ms) all
# along. Prints, over the faults, the failover time distribution: kill ->
# a new leader in the survivors' Metadata, and kill -> the probe's first
# acknowledged write produced after the kill. The checker reads
# everything back: lost, duplicated and inconsistent all 0, and the
# three replicas' segment files of partition 0 must be the same bytes.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"
. tests/integration/cluster_lib.sh
kills=${FMQ_KILLS:-3}
zpid=
# shellcheck disable=SC2016 # expanded when the cleanup runs
fmq_on_cleanup '[ -z "$zpid" ] || kill -CONT "$zpid" 2>/dev/null || true'

cl_up rk3 3
pass "topic rk3: 3 partitions, replication factor 3, min.insync.replicas=2; partition 0 led by $CL_LEADER"

M=$FMQ_TMP/marks
: >"$M"
"${PY[@]}" produce rk3 "$(all)" 170 "$FMQ_TMP/acks.txt" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
"${PY[@]}" probe rk3 "$(all)" 0 170 "$FMQ_TMP/probe-acks.txt" "$M" "$FMQ_TMP/stop" \
	>"$FMQ_TMP/probe.out" 2>"$FMQ_TMP/probe.err" &
qpid=$!
sleep 4
[ "$(acked "$FMQ_TMP/probe-acks.txt")" -gt 10 ] || fail "the probe has no acknowledged write"
meta=()
for ((k = 1; k <= kills; k++)); do
	x=$(leader_of 0 1) || x=$(leader_of 0 2) || x=$(leader_of 0 3)
	l=${x%% *}
	cl_kill_round "$l" "$M"
	meta+=("$CL_FAILOVER_MS")
	pass "kill $k: leader $l SIGKILLed, broker $CL_NEW_LEADER leads after $CL_FAILOVER_MS ms; $l restarted, back in the ISR after $CL_REJOIN_MS ms"
done

# A zombie round: the leader stopped past its session, continued.
x=$(leader_of 0 1) || x=$(leader_of 0 2) || x=$(leader_of 0 3)
z=${x%% *}
s=$((z % 3 + 1))
zpid=$(pid_of_broker "$z")
t0=$(now_ms)
kill -STOP "$zpid"
echo "$t0" >>"$M"
x=$(timeout $((FMQ_CLUSTER_SESSION_MS * 4 / 1000 + 10)) "${PY[@]}" \
	wait-leader rk3 "$(others "$z")" 0 "$z" "$t0" \
	$((FMQ_CLUSTER_SESSION_MS * 2 / 1000 + 3))) ||
	fail "no new leader while broker $z is stopped: $x"
meta+=("${x##* }")
sleep 2
kill -CONT "$zpid"
zpid=
t1=$(now_ms)
wait_for 60 in_isr "$z" "$s" || fail "broker $z did not rejoin the ISR: $(leader_of 0 "$s")"
pass "leader $z SIGSTOPped: broker ${x%% *} leads after ${x##* } ms; continued, back in the ISR after $(($(now_ms) - t1)) ms"

sleep 2
touch "$FMQ_TMP/stop"
wait "$ppid" || fail "the producer failed: $(tail -3 "$FMQ_TMP/produce.err")"
wait "$qpid" || fail "the probe failed: $(tail -3 "$FMQ_TMP/probe.err")"
read -r sent _ failed fatal <"$FMQ_TMP/produce.out"
read -r _ psent _ pfailed pfatal < <(grep '^probe ' "$FMQ_TMP/probe.out")
first=()
while read -r m ms; do
	[ "$m" = probe ] || first+=("$ms")
done <"$FMQ_TMP/probe.out"
[ "${#first[@]}" = $((kills + 1)) ] ||
	fail "the probe saw an acknowledged write after ${#first[@]} of $((kills + 1)) faults: $(cat "$FMQ_TMP/probe.out")"
pass "failover (fault -> new leader in Metadata), $((kills + 1)) faults: $(cl_dist "${meta[@]}")"
pass "failover (fault -> first acks=all write acknowledged), $((kills + 1)) faults: $(cl_dist "${first[@]}")"
cat "$FMQ_TMP/acks.txt" "$FMQ_TMP/probe-acks.txt" >"$FMQ_TMP/all-acks.txt"
out=$(timeout 100 "${PY[@]}" check rk3 "$(all)" "$FMQ_TMP/all-acks.txt") ||
	fail "checker: $out"
pass "producer sent $sent failed $failed, probe sent $psent failed $pfailed; $out"
# Every replica of partition 0 ends with the same bytes (a restarted
# leader cut what it had never committed, and fetched the rest).
x=$(leader_of 0 1) || x=$(leader_of 0 2)
nl=${x%% *}
same() {
	local s f
	for f in 1 2 3; do
		for s in "$DIR/b$nl/data/rk3-0"/*.log; do
			cmp -s "$s" "$DIR/b$f/data/rk3-0/$(basename "$s")" || return 1
		done
	done
}
wait_for 30 same || fail "the replicas' logs of partition 0 differ: $(ls -l "$DIR"/b*/data/rk3-0)"
pass "the three replicas' segment files of partition 0 are the leader's ($nl) byte for byte"
[ "$fatal" = - ] && [ "$pfatal" = - ] ||
	fail "fatal idempotence error after a leader change: producer $fatal, probe $pfatal"
