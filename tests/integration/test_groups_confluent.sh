#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Consumer groups with confluent-kafka-python (librdkafka) through the tap:
# three consumers in one group over a 6-partition topic of 300,000 messages
# with synchronous commits: every message consumed, exactly once except
# the uncommitted ones of a killed member; one member leaves cleanly and one
# is killed mid-way, and both rebalances finish in time (measured). Then
# DescribeGroups / ListGroups must show the members, assignments and state
# the clients see, and /metrics the group counters and lag.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "confluent-kafka-python is not installed"
PY=/usr/bin/python3
B=$FMQ_IP:9092

fmq_start groups
work=$FMQ_TMP/ck
mkdir -p "$work"

# --- 300,000 messages, three members, a leave and a kill -----------------
out=$FMQ_TMP/ck.out
if ! timeout 400 "$PY" tests/integration/groups/ck_exactly_once.py "$B" "$work" \
	"$FMQ_TMP/groups.log" >"$out" 2>&1; then
	tail -n 20 "$out" | sed 's/^/    | /' >&2
	fail "confluent-kafka exactly-once scenario"
fi
cat "$out"
res=$(sed -n 's/^RESULT //p' "$out")
[ -n "$res" ] || fail "no RESULT line"
pass "300,000 messages, 3 members: all consumed, duplicates only uncommitted ($res)"

# The coordinator saw it too.
commits=$(fmq_metric fluxmq_group_offset_commits_total)
rebal=$(fmq_metric fluxmq_group_rebalances_completed_total)
expired=$(fmq_metric fluxmq_group_members_expired_total)
[ "$commits" -gt 0 ] || fail "fluxmq_group_offset_commits_total=$commits"
[ "$rebal" -ge 3 ] || fail "fluxmq_group_rebalances_completed_total=$rebal, want >= 3"
[ "$expired" -ge 1 ] || fail "fluxmq_group_members_expired_total=$expired: the killed member was not expired"
lag=$(fmq_metric fluxmq_group_consumer_group_lag 'group="ck300"')
[ "$lag" = 0 ] || fail "consumer lag of ck300 is $lag after the whole topic was committed"
empty=$(fmq_metric fluxmq_group_groups 'state="Empty"')
[ "$empty" -ge 1 ] || fail "no Empty group after every member left"
pass "metrics: $commits partition commits, $rebal rebalances, $expired expired, lag 0"

# --- DescribeGroups / ListGroups against what the members see ------------
out=$FMQ_TMP/describe.out
if ! timeout 120 "$PY" tests/integration/groups/ck_describe.py "$B" "$FMQ_HOST_IP" >"$out" 2>&1; then
	tail -n 20 "$out" | sed 's/^/    | /' >&2
	fail "DescribeGroups / ListGroups"
fi
cat "$out"
pass "DescribeGroups / ListGroups match the members' view"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
