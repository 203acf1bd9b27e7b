#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Consumer groups and producer ids across a 3-broker cluster
# (scripts/dev-cluster.sh, adaptive polling):
# - FindCoordinator names the same broker for a group whichever broker is
#   asked (Kafka's hash of the group id over the __consumer_offsets
#   partitions, those over the live brokers), and groups spread over all
#   three; a broker asked for a group it does not coordinate answers
#   NOT_COORDINATOR (clients look again).
# - A consumer group of 3 (confluent-kafka, each consumer bootstrapped
#   from its own broker) splits a 12-partition topic, reads every message
#   exactly once and its committed offsets are seen through every broker.
# - After SIGKILL of a broker its groups move to the survivors, which
#   agree.
# - InitProducerId on every broker hands out ids from blocks claimed in
#   ZooKeeper (/latest_producer_id_block): no id twice in the cluster,
#   also after a broker restarts.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl java ethtool
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
MB=${FMQ_CLUSTER_MGMT_BASE:-18080}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
PY=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true
b() { echo "$NET.$((10 + $1)):9092"; }
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
GROUPS_=(g-alpha g-beta g-gamma g-delta g-epsilon g-zeta g-eta g-theta g-iota g-kappa g-lambda g-mu)
coords() { timeout 20 "${PY[@]}" coordinators "$(b "$1")" "${GROUPS_[@]}" 2>&1; }
agree() { # agree ID...: the brokers named give the same coordinators
	local first x id
	first=$(coords "$1")
	for id in "$@"; do
		x=$(coords "$id")
		[ "$x" = "$first" ] || return 1
	done
	! echo "$first" | grep -q -- ' -1'
}

$DC up 3 >"$FMQ_TMP/up.out" || fail "dev-cluster.sh up 3 failed"
pass "dev-cluster.sh up 3"

# --- FindCoordinator: one answer whichever broker is asked -------------------
wait_for 20 agree 1 2 3 ||
	fail "brokers name different coordinators: 1: $(coords 1 | tr '\n' ' ') 2: $(coords 2 | tr '\n' ' ') 3: $(coords 3 | tr '\n' ' ')"
used=$(coords 1 | awk '{ print $2 }' | sort -u | tr '\n' ' ')
[ "$(echo "$used" | wc -w)" = 3 ] || fail "12 groups coordinated by brokers $used only"
pass "FindCoordinator for 12 groups: brokers 1, 2 and 3 give the same answers, spread over brokers $used"

# --- a group of 3 consumers, one per bootstrap broker ----------------------------
timeout 60 "${PY[@]}" create gt "$(b 2)" 12 >/dev/null || fail "CreateTopics failed"
sleep 1
out=$(timeout 150 "${PY[@]}" group gt g-alpha 3000 "$(b 1)" "$(b 2)" "$(b 3)" 2>&1) || fail "$out"
pass "$out"
co=$(coords 1 | awk '$1 == "g-beta" { print $2 }')
other=$((co % 3 + 1))
[ "$(timeout 20 "${PY[@]}" not-coordinator "$(b "$other")" g-beta gt)" = "16 16" ] ||
	fail "broker $other answers g-beta's Heartbeat and OffsetFetch with '$(timeout 20 "${PY[@]}" not-coordinator "$(b "$other")" g-beta gt)', not NOT_COORDINATOR (16)"
[ "$(timeout 20 "${PY[@]}" not-coordinator "$(b "$co")" g-beta gt)" != "16 16" ] ||
	fail "the coordinator of g-beta (broker $co) answers NOT_COORDINATOR"
[ "$(metric "$other" fluxmq_cluster_not_coordinator_total)" -ge 2 ] ||
	fail "fluxmq_cluster_not_coordinator_total did not count"
pass "g-beta's Heartbeat and OffsetFetch: NOT_COORDINATOR from broker $other, served by its coordinator $co"

# --- producer ids: never twice in the cluster -----------------------------------
ids=$(for id in 1 2 3 1 2 3; do timeout 20 "${PY[@]}" pids "$(b "$id")" 5; done)
echo "$ids" | grep -q -- '-1' && fail "InitProducerId failed: $(echo "$ids" | grep -- -1 | head -1)"
[ "$(echo "$ids" | grep -c .)" = 30 ] && [ "$(echo "$ids" | sort -u | wc -l)" = 30 ] ||
	fail "producer ids repeat across brokers: $(echo "$ids" | sort -n | uniq -d | head -5 | tr '\n' ' ')"
blocks=0
for id in 1 2 3; do blocks=$((blocks + $(metric "$id" fluxmq_cluster_producer_id_blocks_total))); done
[ "$blocks" = 3 ] || fail "$blocks producer id blocks claimed, not 3 (one per broker)"
pass "30 InitProducerId over brokers 1, 2, 3: 30 different ids from 3 blocks claimed in ZooKeeper"

$DC kill 1 >/dev/null
$DC start 1 >/dev/null || fail "restart of broker 1 failed"
more=$(timeout 20 "${PY[@]}" pids "$(b 1)" 5)
all=$(printf '%s\n%s\n' "$ids" "$more")
echo "$more" | grep -q -- '-1' && fail "InitProducerId after the restart failed: $more"
[ "$(echo "$all" | sort -u | wc -l)" = 35 ] ||
	fail "broker 1 handed out an id again after its restart: $(echo "$more" | tr '\n' ' ')"
pass "broker 1 restarted: new ids ($(echo "$more" | head -1)..) from a new block, none seen before"

# --- a broker dies: its groups move to the survivors ----------------------------
$DC kill 3 >/dev/null
two() { local id; for id in 1 2; do [ "$(metric "$id" fluxmq_cluster_brokers)" = 2 ] || return 1; done; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) two || fail "broker 3 still listed after its death"
wait_for 10 agree 1 2 || fail "survivors disagree: $(coords 1 | tr '\n' ' ') / $(coords 2 | tr '\n' ' ')"
coords 1 | awk '$2 == 3' | grep -q . && fail "a group is still coordinated by the dead broker 3"
pass "broker 3 killed: its groups moved, brokers 1 and 2 agree on $(coords 1 | awk '{ print $2 }' | sort -u | tr '\n' ' ')"

$DC down >/dev/null
pass "dev-cluster.sh down"
