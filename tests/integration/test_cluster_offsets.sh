#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Committed offsets survive a coordinator move (issue 17): 3 brokers
# (scripts/dev-cluster.sh), offsets in ZooKeeper at Kafka's
# /consumers/<group>/offsets/<topic>/<partition>.
# - A confluent-kafka consumer commits synchronously; its group's
#   coordinator (FindCoordinator) is SIGKILLed right after the last
#   acknowledged commit; a new consumer of the group on the survivors sees
#   exactly those offsets (OffsetFetch) and resumes there.
# - The znodes hold the offsets in decimal (zkCli, as old Kafka tools).
# - ZooKeeper stopped: a commit is not acknowledged (an error, or it
#   waits); after ZooKeeper is back the committed offset is still the
#   last acknowledged one, and commits are acknowledged again.
# - DeleteGroups removes the group's znodes.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool
[ -x /usr/share/zookeeper/bin/zkCli.sh ] || skip "needs zookeeper's zkCli.sh"
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"

. tests/integration/cluster_lib.sh
ZO=(/usr/bin/python3 tests/integration/kafka/zk_offsets.py)
CC=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)
$DC down >/dev/null 2>&1 || true
zkget() { # zkget PATH: the znode's data (under the chroot), via zkCli
	timeout 30 /usr/share/zookeeper/bin/zkCli.sh -server "127.0.0.1:$ZKPORT" \
		get "/fluxmq$1" 2>/dev/null | grep -E '^-?[0-9]+$' | tail -1
}
TOPIC=zoff
G=zoff-group
PARTS=4

$DC up 3 >"$FMQ_TMP/up.out" || fail "dev-cluster.sh up 3 failed"
pass "dev-cluster.sh up 3"
three() { local id; for id in 1 2 3; do [ "$(metric "$id" fluxmq_cluster_brokers)" = 3 ] || return 1; done; }
wait_for 20 three || fail "the brokers do not all see 3 live brokers"
timeout 60 "${ZO[@]}" create $TOPIC "$(b 1)" $PARTS 3 || fail "CreateTopics failed"
sleep 1
timeout 60 "${ZO[@]}" produce $TOPIC "$(b 1),$(b 2),$(b 3)" 100 $PARTS ||
	fail "produce failed"

co=$(timeout 20 "${CC[@]}" coordinators "$(b 1)" $G | awk '{ print $2 }')
[ "$co" -ge 1 ] 2>/dev/null || fail "no coordinator for $G: '$co'"
timeout 90 "${ZO[@]}" commit $TOPIC $G "$(b 1),$(b 2),$(b 3)" $PARTS 230 7 \
	>"$FMQ_TMP/acked" || fail "consumer: $(cat "$FMQ_TMP/acked")"
$DC kill "$co" >/dev/null
grep -E '^[0-9]+ [0-9]+$' "$FMQ_TMP/acked" | sort -n >"$FMQ_TMP/acked.tp"
[ "$(wc -l <"$FMQ_TMP/acked.tp")" -ge 2 ] ||
	fail "commits covered $(wc -l <"$FMQ_TMP/acked.tp") partitions: $(cat "$FMQ_TMP/acked")"
lat=$(awk '/^latency_ms/ { print $2 " ms median, " $3 " ms p99" }' "$FMQ_TMP/acked")
pass "$(awk '/^commits/ { print $2 }' "$FMQ_TMP/acked") synchronous commits acknowledged ($lat) by coordinator $co, which is SIGKILLed now"

s=()
for id in 1 2 3; do [ "$id" = "$co" ] || s+=("$id"); done
boot="$(b "${s[0]}"),$(b "${s[1]}")"
gone() { local id; for id in "${s[@]}"; do [ "$(metric "$id" fluxmq_cluster_brokers)" = 2 ] || return 1; done; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) gone || fail "broker $co still listed after its death"
timeout 120 "${ZO[@]}" resume $TOPIC $G "$boot" $PARTS >"$FMQ_TMP/resume" ||
	fail "new consumer: $(cat "$FMQ_TMP/resume")"
while read -r p off; do
	got=$(awk -v p="$p" '$1 == p { print $2 " " $3 }' "$FMQ_TMP/resume")
	# At a partition's end (100 messages) there is nothing to read.
	[ "$got" = "$off $off" ] || [ "$got" = "100 -1" -a "$off" = 100 ] ||
		fail "partition $p: acknowledged commit $off, the new consumer on brokers ${s[*]} saw committed/first offset '$got' (all: $(tr '\n' ' ' <"$FMQ_TMP/resume"))"
done <"$FMQ_TMP/acked.tp"
nco=$(timeout 20 "${CC[@]}" coordinators "$(b "${s[0]}")" $G | awk '{ print $2 }')
[ "$(metric "$nco" fluxmq_group_zk_loads_total)" -ge 1 ] ||
	fail "fluxmq_group_zk_loads_total did not count on the new coordinator $nco"
pass "new coordinator $nco (loaded from ZooKeeper): the new consumer's committed offsets and first reads are exactly the acknowledged ones ($(tr '\n' ' ' <"$FMQ_TMP/acked.tp"))"

read -r p0 off0 < <(head -1 "$FMQ_TMP/acked.tp")
z=$(zkget "/consumers/$G/offsets/$TOPIC/$p0")
[ "$z" = "$off0" ] || fail "/consumers/$G/offsets/$TOPIC/$p0 holds '$z', not $off0"
pass "/fluxmq/consumers/$G/offsets/$TOPIC/$p0 = $z (decimal, as Kafka's old tools read it)"

# --- ZooKeeper stopped: nothing acknowledged ------------------------------------
scripts/zk.sh stop "$DIR/zk" >/dev/null
down() { local id; for id in "${s[@]}"; do [ "$(metric "$id" fluxmq_zk_session_state)" != 1 ] || return 1; done; }
wait_for 20 down || fail "brokers still see a ZooKeeper session"
new=$((off0 + 50))
r=$(timeout 25 "${ZO[@]}" commit-one $TOPIC $G "$boot" "$p0" $new 20 || echo "waited (killed)")
[ "$r" != ok ] || fail "a commit was acknowledged while ZooKeeper was stopped"
pass "ZooKeeper stopped: the commit of $new got '$r', not an acknowledgement"
scripts/zk.sh start "$DIR/zk" "$ZKPORT" >/dev/null || fail "ZooKeeper restart failed"
up() { local id; for id in "${s[@]}"; do [ "$(metric "$id" fluxmq_zk_session_state)" = 1 ] || return 1; done; }
wait_for 40 up || fail "brokers did not reconnect to ZooKeeper"
timeout 120 "${ZO[@]}" resume $TOPIC $G "$boot" $PARTS >"$FMQ_TMP/resume2" ||
	fail "consumer after the restart: $(cat "$FMQ_TMP/resume2")"
got=$(awk -v p="$p0" '$1 == p { print $2 }' "$FMQ_TMP/resume2")
[ "$got" = "$off0" ] || fail "partition $p0: committed $got after ZooKeeper's return, not the acknowledged $off0"
r=$(timeout 60 "${ZO[@]}" commit-one $TOPIC $G "$boot" "$p0" $new 20 || echo "waited (killed)")
[ "$r" = ok ] || fail "a commit after ZooKeeper's return got '$r'"
[ "$(zkget "/consumers/$G/offsets/$TOPIC/$p0")" = $new ] || fail "the znode does not hold $new"
pass "ZooKeeper back: partition $p0 still at the acknowledged $off0; a new commit ($new) is acknowledged and in ZooKeeper"
sleep 7   # the last consumers' sessions expire: the group is Empty
r=$(timeout 60 /usr/bin/python3 tests/integration/kafka/zk_offsets.py delete $G "$boot")
[ "$r" = ok ] || fail "DeleteGroups: $r"
z=$(zkget "/consumers/$G/offsets/$TOPIC/$p0" || true)
[ -z "$z" ] || fail "DeleteGroups left /consumers/$G/offsets/$TOPIC/$p0 = $z"
pass "DeleteGroups removed the group's offset znodes"
for id in "${s[@]}"; do
	for m in fluxmq_group_zk_commits_total fluxmq_group_zk_multis_total fluxmq_group_zk_multis_in_flight fluxmq_group_zk_rejected_total; do
		printf '%s %s=%s  ' "$id" "$m" "$(metric "$id" $m)"
	done
	echo
done

$DC down >/dev/null
pass "dev-cluster.sh down"
