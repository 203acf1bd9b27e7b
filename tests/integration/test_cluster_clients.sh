#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A 3-broker cluster and ZooKeeper on this host (scripts/dev-cluster.sh,
# adaptive polling) seen by stock clients: one cluster id from every
# broker; a 12-partition topic created through a broker that is not the
# controller spreads over all three (4 leaders each, every broker says
# the same); kcat, confluent-kafka, kafka-python and KafkaJS produce
# through one bootstrap broker and read everything back, once, through
# another; a topic auto-created by a produce through one broker is created
# in ZooKeeper (every broker lists it); a broker asked for a partition it
# does not lead answers NOT_LEADER_OR_FOLLOWER to Produce, Fetch and
# ListOffsets, and to Produce v10 / Fetch v16 with KIP-951's current
# leader and its endpoint.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl java ethtool node
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
[ -f tests/integration/node/node_modules/kafkajs/package.json ] ||
	skip "KafkaJS not installed (scripts/setup.sh runs npm ci in tests/integration/node)"
/usr/bin/python3 -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
PY=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true
b() { echo "$NET.$((10 + $1)):9092"; }

$DC up 3 >"$FMQ_TMP/up.out" || fail "dev-cluster.sh up 3 failed"
pass "dev-cluster.sh up 3"

# --- one cluster id ---------------------------------------------------------
ids=$(for id in 1 2 3; do timeout 20 "${PY[@]}" cluster-id "$(b "$id")"; done)
[ "$(echo "$ids" | sort -u | wc -l)" = 1 ] && [ -n "$(echo "$ids" | head -1)" ] ||
	fail "brokers give different cluster ids: $(echo "$ids" | tr '\n' ' ')"
pass "one cluster id from all three brokers ($(echo "$ids" | head -1))"

# --- a 12-partition topic spreads over the three ------------------------------
ctl=$(timeout 10 kcat -b "$(b 1)" -L -m 5 2>/dev/null |
	sed -n 's/^  broker \([0-9]*\) at .*(controller)$/\1/p')
[ -n "$ctl" ] || fail "Metadata names no controller"
via=$((ctl % 3 + 1))
timeout 60 "${PY[@]}" create t12 "$(b "$via")" 12 >/dev/null ||
	fail "CreateTopics through broker $via (controller $ctl) failed"
leaders() { # leaders ID: "partition leader" lines from broker ID's Metadata
	timeout 10 kcat -b "$(b "$1")" -L -t t12 -m 5 2>/dev/null |
		sed -n 's/^    partition \([0-9]*\), leader \([0-9-]*\),.*/\1 \2/p' |
		sort -n
}
spread_ok() {
	local id l1
	l1=$(leaders 1)
	[ "$(echo "$l1" | grep -c .)" = 12 ] || return 1
	for id in 2 3; do [ "$(leaders "$id")" = "$l1" ] || return 1; done
	for id in 1 2 3; do
		[ "$(echo "$l1" | awk -v i="$id" '$2 == i' | wc -l)" = 4 ] || return 1
	done
}
ok=0
for ((i = 0; i < 50; i++)); do
	spread_ok && { ok=1; break; }
	sleep 0.2
done
[ "$ok" = 1 ] || fail "t12 is not spread 4/4/4 or brokers disagree: $(leaders 1 | tr '\n' ',')"
pass "t12 created through broker $via (controller $ctl): 12 partitions, 4 led by each broker, all three agree"

# --- kcat ---------------------------------------------------------------------
N=3000
seq 1 "$N" | sed 's/^/kc-/' >"$FMQ_TMP/kcat.in"
sed 's/^\(.*\)$/\1:\1/' "$FMQ_TMP/kcat.in" >"$FMQ_TMP/kcat.kv"
timeout 60 kcat -P -b "$(b 1)" -t t12 -X acks=all -K: \
	-l "$FMQ_TMP/kcat.kv" 2>"$FMQ_TMP/kcat.err" || fail "kcat produce: $(tail -3 "$FMQ_TMP/kcat.err")"
for id in 2 3; do
	timeout 60 kcat -C -b "$(b "$id")" -t t12 -o beginning -e -q 2>/dev/null |
		grep '^kc-' | sort >"$FMQ_TMP/kcat.out.$id" || true
	[ "$(wc -l <"$FMQ_TMP/kcat.out.$id")" = "$N" ] &&
		[ "$(sort -u "$FMQ_TMP/kcat.out.$id" | wc -l)" = "$N" ] &&
		cmp -s "$FMQ_TMP/kcat.out.$id" <(sort "$FMQ_TMP/kcat.in") ||
		fail "kcat via broker $id read $(wc -l <"$FMQ_TMP/kcat.out.$id") of $N (or not each once)"
done
parts=$(timeout 60 kcat -C -b "$(b 3)" -t t12 -o beginning -e -q -f '%p\n' 2>/dev/null | sort -u | wc -l)
[ "$parts" = 12 ] || fail "kcat's messages landed in $parts partitions, not 12"
pass "kcat: $N messages produced via broker 1 (all 12 partitions), each read once via brokers 2 and 3"

# --- confluent-kafka, kafka-python, KafkaJS ---------------------------------------
out=$(timeout 120 "${PY[@]}" confluent t12 "$(b 2)" "$(b 3)" 2000) || fail "$out"
pass "$out"
out=$(timeout 120 "${PY[@]}" kafka-python t12 "$(b 3)" "$(b 1)" 2000) || fail "$out"
pass "$out"
out=$(KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 120 node tests/integration/kafka/cluster_kafkajs.js \
	t12 "$(b 1)" "$(b 2)" 2000 2>&1) || fail "$out"
pass "$out"

# --- every partition holds what was sent to it, on its leader only ------------------
total=$(timeout 30 "${PY[@]}" count t12 "$(b 1)" $(seq 0 11)) || fail "count failed"
[ "$total" = $((N + 2000 * 3)) ] || fail "t12 holds $total messages, $((N + 6000)) were produced"
pass "t12 holds all $total messages"

# --- auto-creation through any broker goes to ZooKeeper ----------------------------
seq 1 100 | sed 's/^/auto-/' | timeout 60 kcat -P -b "$(b 2)" -t auto1 -X acks=all 2>"$FMQ_TMP/auto.err" ||
	fail "kcat produce to a new topic: $(tail -3 "$FMQ_TMP/auto.err")"
for id in 1 3; do
	timeout 10 kcat -b "$(b "$id")" -L -t auto1 -m 5 2>/dev/null | grep -q 'partition 0, leader [1-3],' ||
		fail "broker $id does not know auto1, auto-created through broker 2"
done
n=$(timeout 30 kcat -C -b "$(b 3)" -t auto1 -o beginning -e -q 2>/dev/null | grep -c '^auto-' || true)
[ "$n" = 100 ] || fail "auto1 read via broker 3: $n of 100"
pass "a topic auto-created by a produce through broker 2 is in ZooKeeper: brokers 1 and 3 list it, 100 messages read via broker 3"

# --- a broker that does not lead a partition refuses it ------------------------------
out=$(timeout 30 "${PY[@]}" not-leader t12 "$(b 1)") || fail "$out"
pass "$out"
# KIP-951: Produce v10 / Fetch v16 there name the leader and its endpoint.
out=$(timeout 30 /usr/bin/python3 tests/integration/kafka/kip951_client.py \
	t12 "$(b 1)" 2>&1) || fail "$out"
pass "$out"

$DC down >/dev/null
pass "dev-cluster.sh down"
