#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The consumer group protocol (KIP-848: ConsumerGroupHeartbeat and
# ConsumerGroupDescribe) with raw requests (tests/integration/groups/
# kip848.py), since no installed client speaks it: two and three members,
# uniform and range, revocation before reassignment (no partition ever held
# by two members), leave, fencing, invalid joins, static members, regex
# subscriptions, describe,
# ListGroups, OffsetCommit with the member epoch, a classic JoinGroup
# refused; then session expiry. /metrics must count what happened.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "confluent-kafka-python is not installed"
PY=/usr/bin/python3

fmq_start kip848 --set group.consumer.session.timeout.ms=3000 \
	--set group.consumer.heartbeat.interval.ms=500

"$PY" - "$FMQ_IP:9092" <<'PY' || fail "creating topics k6 and k3"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for t, f in a.create_topics([NewTopic("k6", 6, 1), NewTopic("k3", 3, 1)]).items():
    f.result(10)
PY

HB_MS=500 timeout 60 "$PY" tests/integration/groups/kip848.py "$FMQ_IP" 9092 main ||
	fail "consumer group protocol scenarios (above)"
timeout 60 "$PY" tests/integration/groups/kip848.py "$FMQ_IP" 9092 expire ||
	fail "session expiry (above)"

# One snapshot, so that the gauges and counters agree with each other.
curl -sf --max-time 5 "http://$FMQ_MGMT/metrics" >"$FMQ_TMP/metrics" ||
	fail "GET /metrics"
m() { awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print "missing" }' "$FMQ_TMP/metrics"; }
hb=$(m fluxmq_group_consumer_heartbeats_total)
exp=$(m fluxmq_group_consumer_members_expired_total)
reb=$(m fluxmq_group_consumer_rebalances_total)
grp=$(m fluxmq_group_consumer_protocol_groups)
mem=$(m fluxmq_group_consumer_protocol_members)
fen=$(m fluxmq_group_consumer_fenced_total)
lv=$(m fluxmq_group_consumer_leaves_total)
echo "metrics: heartbeats=$hb expired=$exp rebalances=$reb groups=$grp members=$mem fenced=$fen leaves=$lv"
[ "$hb" != missing ] && [ "$hb" -gt 30 ] || fail "heartbeats counter $hb"
# 12 members joined, 1 left, 1 static member was replaced; every other
# one still in a group when the expiry scenario starts (g1: 2, g-range: 2,
# g-uni: 2, g-static: 1, g-rx: 1, g-exp: 1) expires, and g-exp's A as
# well once the scenario stops heartbeating.
[ "$exp" = 9 ] || [ "$exp" = 10 ] || fail "members expired $exp, expected 9 or 10"
[ $((exp + mem)) = 10 ] || fail "members $mem + expired $exp, expected 10"
[ "$reb" != missing ] && [ "$reb" -ge 8 ] || fail "rebalances $reb"
[ "$grp" = 6 ] || fail "consumer-protocol groups $grp, expected 6"
[ "$fen" = 2 ] || fail "fenced answers $fen, expected 2"
[ "$lv" = 1 ] || fail "leaves $lv, expected 1"
pass "/metrics: heartbeats, rebalances, groups, members, fenced, leaves, expiry"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
