#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Repeated leader kills under an idempotent producer (issue 17): 3
# brokers (scripts/dev-cluster.sh), 3 partitions, replication factor 3,
# min.insync.replicas=2 (each broker leads one and follows the others),
# session timeout 5000 ms, replica.lag.time.max.ms 3000 (LAG_MS). An
# idempotent confluent-kafka producer (acks=all) writes unique values
# while the leader of partition 0 is SIGKILLed KILLS times (default 4),
# each killed broker restarted and back in every ISR before the
# next kill. Each new leader must hold the producer's state as the old one
# had it: a retried batch it already has is answered as a duplicate with
# its offset, the next one is in sequence, so the producer never sees
# OUT_OF_ORDER_SEQUENCE_NUMBER or any fatal idempotence error (the
# checker's produce exits 3 on one). The checker then reads everything
# back: acknowledged, read, lost (0), duplicated (0), inconsistent offsets
# (0). Prints each failover time (kill -> a new leader in Metadata).
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

KILLS=${KILLS:-4}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-5000}
T=rkills
CL_T=$T
. tests/integration/cluster_lib.sh
$DC down >/dev/null 2>&1 || true

$DC up 3 -- --set "replica.lag.time.max.ms=${LAG_MS:-3000}" >"$FMQ_TMP/up.out" ||
	fail "dev-cluster.sh up 3 failed"
cl_create "$T" 3 3 2
all_in_sync() { # every partition's ISR full: no broker reports one under
	local id v n=0
	for id in 1 2 3; do
		v=$(curl -s --max-time 2 "http://127.0.0.1:$((MB + id))/metrics" |
			awk '$1 == "fluxmq_replica_under_replicated_partitions" { print $2 }')
		[ -n "$v" ] || return 1
		n=$((n + v))
	done
	[ "$n" = 0 ]
}
led() { local x; x=$(leader_of 0 1) && [ "${x%% *}" -gt 0 ] && all_in_sync; }
wait_for 20 led || fail "no leader with 3 in-sync replicas: $(leader_of 0 1)"
x=$(leader_of 0 1)
l=${x%% *}
pass "topic $T: 3 partitions, replication factor 3, min.insync.replicas=2; partition 0 led by $l, ISR ${x#* }"

stopf=$FMQ_TMP/stop
"${PY[@]}" produce "$T" "$(all)" 110 "$FMQ_TMP/acks.txt" "$stopf" \
	>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
ppid=$!
sleep 2
times=()
for ((k = 1; k <= KILLS; k++)); do
	kill -0 "$ppid" 2>/dev/null ||
		fail "the producer stopped before kill $k: $(grep -m3 fatal "$FMQ_TMP/produce.err" || tail -3 "$FMQ_TMP/produce.err")"
	t0=$(now_ms)
	$DC kill "$l" >/dev/null
	s=$((l % 3 + 1))
	new_leader() { local x; x=$(leader_of 0 "$s") && [ "${x%% *}" != "$l" ] && [ "${x%% *}" -gt 0 ]; }
	wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) new_leader ||
		fail "kill $k: no new leader after killing broker $l: $(leader_of 0 "$s")"
	t1=$(now_ms)
	x=$(leader_of 0 "$s")
	nl=${x%% *}
	times+=("$((t1 - t0))")
	pass "kill $k: leader $l SIGKILLed, broker $nl leads after $((t1 - t0)) ms, ISR ${x#* }"
	# The killed broker back (traffic goes on through the new leader).
	$DC start "$l" >/dev/null || fail "restart of broker $l failed"
	wait_for 40 all_in_sync || fail "kill $k: broker $l did not rejoin the ISR: $(leader_of 0 "$nl")"
	x=$(leader_of 0 "$nl")
	l=${x%% *}
done
touch "$stopf"
wait "$ppid" ||
	fail "the producer failed: $(grep -m3 fatal "$FMQ_TMP/produce.err" || tail -3 "$FMQ_TMP/produce.err")"
read -r sent acked failed fatal <"$FMQ_TMP/produce.out"
[ "$fatal" = - ] || fail "fatal producer error: $fatal"
[ "$acked" -gt 1000 ] || fail "only $acked of $sent writes acknowledged"
out=$(timeout 100 "${PY[@]}" check "$T" "$(all)" "$FMQ_TMP/acks.txt") ||
	fail "checker: $out"
dups=0
ooo=0
for id in 1 2 3; do
	dups=$((dups + $(metric_sum "$id" fluxmq_log_duplicates_total)))
	ooo=$((ooo + $(metric_sum "$id" fluxmq_log_out_of_order_total)))
done
cb=$(grep -c "a new producer goes on" "$FMQ_TMP/produce.err" || true)
pass "$KILLS leader kills (failover ms: ${times[*]}): sent $sent, failed $failed, no fatal producer error from the broker (librdkafka #4438 on the client: $cb); $out; retries answered as duplicates $dups, OUT_OF_ORDER_SEQUENCE_NUMBER $ooo (since the last restarts)"
