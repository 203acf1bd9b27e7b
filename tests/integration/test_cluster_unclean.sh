#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# unclean.leader.election.enable=true (issue 17) on 3 brokers
# (scripts/dev-cluster.sh): one partition, replication factor 3,
# min.insync.replicas=1, led by broker 1, the topic config on. Both
# followers SIGSTOPped until the ISR is the leader alone; it takes
# acks=all writes alone and is SIGKILLed; the followers continue. With
# no ISR member alive the first live replica (2, or 3) takes over with
# leader epoch + 1, counted as an unclean election; the writes only the
# old leader had are lost (the checker's "lost" = what it acknowledged
# alone, reported). The old leader returns as a follower and truncates
# them by epoch.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool cmp
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"

T=uu
CL_T=$T
. tests/integration/cluster_lib.sh
ckpt() { tail -1 "$DIR/b$1/data/$T-0/leader-epoch-checkpoint" 2>/dev/null || true; }

cl_start
create() {
	timeout 60 /usr/bin/python3 - "$(all)" "$T" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
nt = NewTopic(sys.argv[2], num_partitions=1, replica_assignment=[[1, 2, 3]],
              config={"min.insync.replicas": "1",
                      "unclean.leader.election.enable": "true"})
for _, f in a.create_topics([nt], operation_timeout=30).items():
    f.result(timeout=60)
PY
}
wait_for 30 create >/dev/null 2>&1 || fail "CreateTopics failed"
isr_is() { local x; x=$(leader_of 0 "$1") && [ "$x" = "$2" ]; }
wait_for 30 isr_is 1 "1 1,2,3" || fail "partition 0: $(leader_of 0 1), want leader 1, ISR 1,2,3"
timeout 60 "${PY[@]}" produce "$T" "$(all)" 2 "$FMQ_TMP/acks1.txt" >"$FMQ_TMP/p1.out" 2>"$FMQ_TMP/p1.err" ||
	fail "producer: $(tail -3 "$FMQ_TMP/p1.err")"
read -r _ acked1 _ _ <"$FMQ_TMP/p1.out"
cl_stop 2
cl_stop 3
wait_for 30 isr_is 1 "1 1" || fail "the ISR did not shrink to the leader: $(leader_of 0 1)"
timeout 60 "${PY[@]}" produce "$T" "$(b 1)" 2 "$FMQ_TMP/acks2.txt" >"$FMQ_TMP/p2.out" 2>"$FMQ_TMP/p2.err" ||
	fail "producer: $(tail -3 "$FMQ_TMP/p2.err")"
read -r _ acked2 _ _ <"$FMQ_TMP/p2.out"
$DC kill 1 >/dev/null
cl_cont 2
cl_cont 3
pass "$acked1 writes with the full ISR, then $acked2 acks=all writes acknowledged by leader 1 alone; leader 1 killed"
newl() { local x; x=$(leader_of 0 2) && { [ "${x%% *}" = 2 ] || [ "${x%% *}" = 3 ]; }; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 4 / 1000)) newl || fail "no unclean leader: $(leader_of 0 2)"
x=$(leader_of 0 2)
N=${x%% *}
u=$(metric_sum "$N" fluxmq_replica_unclean_leader_elections_total)
[ "$u" = 1 ] || fail "broker $N counts $u unclean elections"
e=$(metric_sum "$N" fluxmq_replica_leader_elections_total)
[ "$e" -ge 1 ] || fail "broker $N counts $e elections"
pass "unclean.leader.election.enable=true: broker $N leads alone (ISR ${x#* }, epoch entry '$(ckpt "$N")'), 1 unclean election counted"
cat "$FMQ_TMP/acks1.txt" "$FMQ_TMP/acks2.txt" >"$FMQ_TMP/acks.txt"
out=$(timeout 100 "${PY[@]}" check "$T" "$(b 2),$(b 3)" "$FMQ_TMP/acks.txt") && fail "nothing lost after an unclean election: $out"
lost=$(echo "$out" | head -1 | sed -n 's/.* lost \([0-9]*\).*/\1/p')
[ -n "$lost" ] && [ "$lost" -ge 1 ] && [ "$lost" -le "$acked2" ] ||
	fail "lost should be within the $acked2 writes leader 1 had alone: $out"
pass "as documented, the writes only the dead ISR had are gone: $out"
read -r ne ns <<<"$(ckpt "$N")"
$DC start 1 >/dev/null || fail "restart of broker 1 failed"
trunc() { grep -q "$T-0: truncating the log from [0-9]* to $ns (where it diverged" "$DIR/b1/broker.log"; }
wait_for 40 trunc || fail "broker 1 did not truncate to $ns by epoch: $(grep "$T-0: truncating" "$DIR/b1/broker.log" | tail -2)"
pass "broker 1 back: truncated by epoch to $ns, where epoch $ne starts on broker $N"
$DC down >/dev/null 2>&1 || true
