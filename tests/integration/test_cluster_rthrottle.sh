#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication quotas (KIP-73) during a reassignment, on 3 brokers
# (scripts/dev-cluster.sh):
# - a topic of 1 partition on broker 1 with
#   leader./follower.replication.throttled.replicas=* gets 12 MB;
# - leader.replication.throttled.rate=RATE on all brokers (AlterConfigs,
#   resource BROKER), then the partition moves to [2]: broker 2's copy
#   (its .log files) grows at no more than 1.5 x RATE (and at least
#   RATE / 4), measured over 4 s, and broker 1 holds fetches back;
# - the same with follower.replication.throttled.rate=RATE alone, broker
#   2 holding back; the copy is still under way after both;
# - the rates back to Long.MAX: the move completes, broker 2 holds all
#   of it; the metrics count held fetches on both sides.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool node
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka"
[ -f tests/integration/node/node_modules/kafkajs/package.json ] ||
	skip "KafkaJS not installed (scripts/setup.sh runs npm ci in tests/integration/node)"

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
MB=${FMQ_CLUSTER_MGMT_BASE:-18080}
DIR=${FMQ_CLUSTER_DIR:-/tmp/fmq-cluster-${FMQ_CLUSTER_BRIDGE:-fmqbr0}}
RT=(/usr/bin/python3 tests/integration/kafka/rthrottle.py)
JS=(node tests/integration/kafka/kafkajs_reassign.js)
T=rthr
RATE=524288
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true
b() { echo "$NET.$((10 + $1)):9092"; }
all() { echo "$(b 1),$(b 2),$(b 3)"; }
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
size() { # bytes in broker $1's .log files of $T-0 (0: none yet)
	local s
	s=$(cat "$DIR/b$1/data/$T-0/"*.log 2>/dev/null | wc -c) || true
	echo "${s:-0}"
}

$DC up 3 >"$FMQ_TMP/up.out" || fail "dev-cluster.sh up 3 failed"
ctrl_known() { c=$(metric 1 fluxmq_cluster_controller_id) && [ -n "$c" ] && [ "$c" -ge 1 ]; }
wait_for 20 ctrl_known || fail "no controller"
created=0
for ((i = 0; i < 20; i++)); do
	if timeout 60 "${RT[@]}" create "$(all)" "$T" 1 >"$FMQ_TMP/create.out" 2>&1; then
		created=1
		break
	fi
	grep -q TOPIC_ALREADY_EXISTS "$FMQ_TMP/create.out" && { created=1; break; }
	sleep 0.5
done
[ "$created" = 1 ] || fail "CreateTopics failed: $(cat "$FMQ_TMP/create.out")"
n=$(timeout 90 "${RT[@]}" produce "$(b 1)" "$T" 12 2>"$FMQ_TMP/produce.err") ||
	fail "produce: $n $(tail -3 "$FMQ_TMP/produce.err")"
total=$(size 1)
[ "$total" -gt 12000000 ] || fail "broker 1 holds $total bytes of $T-0"
pass "topic $T on broker 1: $n records, $total bytes"

MAX=9223372036854775807
rates() { # rates LEADER FOLLOWER: on every broker
	for id in 1 2 3; do
		timeout 60 "${RT[@]}" rate "$(b "$id")" "$id" "$1" "$2" >"$FMQ_TMP/rate.out" 2>&1 ||
			fail "AlterConfigs broker $id: $(cat "$FMQ_TMP/rate.out")"
	done
}
held() { metric "$1" "fluxmq_replica_throttled_fetches_total{side=\"$2\"}"; }
measure() { # measure SIDE BROKER: broker 2's copy rate over 4 s
	local s0 t0 s1 t1 h0 h1
	s0=$(size 2) t0=$(date +%s%3N) h0=$(held "$2" "$1")
	sleep 4
	s1=$(size 2) t1=$(date +%s%3N) h1=$(held "$2" "$1")
	rate=$(( (s1 - s0) * 1000 / (t1 - t0) ))
	echo "$1 throttle: broker 2 copied $((s1 - s0)) bytes in $((t1 - t0)) ms: $rate bytes/s (throttle $RATE); $s1 of $total; broker $2 held $((h1 - h0)) fetches"
	[ "$s1" -lt "$total" ] || fail "copy done already ($s1 of $total bytes): not throttled"
	[ "$rate" -le $((RATE * 3 / 2)) ] || fail "copy at $rate bytes/s, above 1.5 x $RATE"
	[ "$rate" -ge $((RATE / 4)) ] || fail "copy at $rate bytes/s, stalled under $RATE"
	[ "$((h1 - h0))" -gt 0 ] || fail "broker $2 held no $1 fetch"
	pass "$1 side: catch-up at $rate bytes/s under a $RATE bytes/s throttle"
}
rates "$RATE" "$MAX"
r=$(metric 1 'fluxmq_replica_throttle_rate_bytes{side="leader"}')
[ "$r" = "$RATE" ] || fail "broker 1 leader rate: '$r'"
pass "leader.replication.throttled.rate=$RATE on brokers 1-3"

KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 60 "${JS[@]}" "$(all)" alter "$T" 0 2 \
	>"$FMQ_TMP/alter.out" 2>&1 || fail "alterPartitionReassignments: $(cat "$FMQ_TMP/alter.out")"
started() { [ "$(size 2)" -gt 0 ]; }
wait_for 30 started || fail "broker 2 never started copying $T-0"
sleep 2.5
measure leader 1
rates "$RATE" "$RATE"   # the follower's first, then the leader's off
rates "$MAX" "$RATE"
sleep 2.5
measure follower 2

rates "$MAX" "$MAX"
listed_none() { l=$(timeout 30 "${JS[@]}" "$(all)" list "$T" 2>&1) && [ -z "$l" ]; }
wait_for 60 listed_none || fail "still under way after the throttle was removed: $l"
full() { [ "$(size 2)" -ge "$total" ]; }
wait_for 20 full || fail "broker 2 holds $(size 2) of $total bytes"
pass "throttle removed: the move completed, broker 2 holds $(size 2) bytes"
