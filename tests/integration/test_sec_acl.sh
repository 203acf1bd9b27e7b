#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ACLs (issue 15): Kafka's authorizer model with real clients
# (kafka-python's create/describe/delete_acls and protocol requests,
# confluent-kafka's producer). The principal of a PLAINTEXT connection is
# User:ANONYMOUS and its address is real, so the ACLs tell requests apart
# by host and by User:* against User:ANONYMOUS.
#  1. super.users=User:ANONYMOUS: topics, records, the ACLs created.
#  2. restarted without super.users (the ACLs come back from disk): every
#     API answers Kafka's error; a denied produce stores nothing.
#  3. super user: nothing stored or created by denied requests; DeleteAcls.
#  4. without super.users: what the deleted ACLs allowed is refused.
#  5. no authorizer: the ACL APIs answer SECURITY_DISABLED.
#  6. an unknown authorizer.class.name, a super.users entry without a
#     type: exit 2 naming the key.
# The checks are in tests/integration/kafka/acl_client.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python not installed"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

ON=(--set authorizer.enabled=true --set lcores.data=2)
SUPER=(--set super.users=User:ANONYMOUS)

phase() {
	local p=$1
	timeout 90 /usr/bin/python3 tests/integration/kafka/acl_client.py \
		"$FMQ_IP" 9092 "$p" "$FMQ_HOST_IP" 2>"$FMQ_TMP/acl-$p.err" ||
		fail "phase $p: $(grep -v '^%' "$FMQ_TMP/acl-$p.err" | tail -20) (broker log: $FMQ_TMP/acl.log)"
}

stop() {
	local rc=0
	fmq_stop || rc=$?
	[ "$rc" -eq 0 ] || fail "broker exit status $rc"
}

fmq_start acl "${ON[@]}" "${SUPER[@]}"
phase setup
n=$(fmq_metric fluxmq_acls) || fail "no fluxmq_acls gauge"
[ "$n" -eq 6 ] || fail "fluxmq_acls $n, want 6"
[ -f "$FMQ_DATA/__fluxmq/acls" ] || fail "no ACL file in $FMQ_DATA/__fluxmq"
stop

fmq_start acl "${ON[@]}"
grep -q "authorizer on: 6 ACL(s) loaded" "$FMQ_TMP/acl.log" ||
	fail "the restarted broker did not load 6 ACLs"
phase denied
n=$(fmq_metric fluxmq_acl_decisions_total 'operation="WRITE",result="denied"') ||
	fail "no denied WRITE decision counted"
[ "$n" -gt 0 ] || fail "denied WRITE decisions: $n"
n=$(fmq_metric fluxmq_ctrl_acl_decisions_total 'result="denied"') ||
	fail "no denied decision counted on the control lcore"
[ "$n" -gt 0 ] || fail "control lcore denied decisions: $n"
pass "decisions counted in /metrics"
stop

fmq_start acl "${ON[@]}" "${SUPER[@]}"
phase verify
stop

fmq_start acl "${ON[@]}"
phase after
n=$(fmq_metric fluxmq_acls) || fail "no fluxmq_acls gauge"
[ "$n" -eq 4 ] || fail "fluxmq_acls $n after deleting 2, want 4"
stop

fmq_start acl --set lcores.data=2
phase disabled
stop

BADHOT=/dev/hugepages/fmq-test-$$-bad
FMQ_HOT_DIRS+=("$BADHOT")
fmq_run_exit "$FMQ_TMP/badclass.log" --set "dev.tap.name=$FMQ_TAP" \
	--set "net.ip=$FMQ_IP/24" --set "dev.tap.host_ip=$FMQ_HOST_IP/24" \
	--set "mgmt.listen=$FMQ_MGMT" --set "log.dirs=$FMQ_TMP/data-bad" \
	--set "log.hot.dir=$BADHOT" \
	--set authorizer.class.name=com.example.MyAuthorizer
rm -rf "$BADHOT"   # its hot pool holds hugepages until removed
[ "$FMQ_RC" -eq 2 ] || fail "unknown authorizer.class.name: exit $FMQ_RC, want 2"
grep -q 'authorizer.class.name' "$FMQ_TMP/badclass.log" ||
	fail "the error does not name authorizer.class.name: $(tail -3 "$FMQ_TMP/badclass.log")"
pass "unknown authorizer.class.name refused (exit 2, key named)"
fmq_run_exit "$FMQ_TMP/badsuper.log" --set "dev.tap.name=$FMQ_TAP" \
	--set "net.ip=$FMQ_IP/24" --set "dev.tap.host_ip=$FMQ_HOST_IP/24" \
	--set "mgmt.listen=$FMQ_MGMT" --set "log.dirs=$FMQ_TMP/data-bad" \
	--set "log.hot.dir=$BADHOT" \
	--set authorizer.enabled=true --set 'super.users=User:admin;bob'
rm -rf "$BADHOT"
[ "$FMQ_RC" -eq 2 ] || fail "super.users entry without a type: exit $FMQ_RC, want 2"
grep -q 'super.users' "$FMQ_TMP/badsuper.log" ||
	fail "the error does not name super.users: $(tail -3 "$FMQ_TMP/badsuper.log")"
pass "a super.users entry that is not Type:name refused (exit 2, key named)"
pass "ACLs: decisions, APIs, persistence, SECURITY_DISABLED"
