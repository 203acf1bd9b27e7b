#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SASL_SSL (issue 15): SASL inside TLS on one listener, with every client
# here: kcat (librdkafka), confluent-kafka, kafka-python and KafkaJS, each
# checking the broker's certificate against the test CA, logging in with
# SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, producing and reading back; a
# wrong password is refused, and a plaintext SASL client on the SASL_SSL port is closed
# (counted as a TLS failure) while the SASL_PLAINTEXT listener beside it
# still serves. Then ACLs on SASL principals: with the authorizer on and
# carol a super user, dave (no ACL) is refused; carol grants him WRITE and
# READ on one topic with kafka-python's create_acls over SASL_SSL, and he
# produces and consumes there and nowhere else.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/sec_lib.sh
fmq_require_root
fmq_require_cmd kcat curl openssl /usr/bin/python3 node
[ -f tests/integration/node/node_modules/kafkajs/package.json ] ||
	skip "KafkaJS not installed (scripts/setup.sh runs npm ci in tests/integration/node)"

D=$FMQ_TMP/pki
fmq_sec_certs "$D"
CREDS=$FMQ_TMP/scram-credentials
"$FMQ_BIN" --add-scram 'SCRAM-SHA-256=[name=carol,password=carol-secret]' \
	--add-scram 'SCRAM-SHA-512=[name=carol,password=carol-secret]' \
	--add-scram 'SCRAM-SHA-512=[name=dave,password=dave-secret]' \
	--set "sasl.credentials.file=$CREDS" >"$FMQ_TMP/add.out" 2>&1 ||
	fail "--add-scram: $(cat "$FMQ_TMP/add.out")"

ARGS=(--set "listeners=PLAINTEXT://:9092,SASL_SSL://:9095,SASL_PLAINTEXT://:9094"
	--set "ssl.keystore.location=$D/broker.pem"
	--set "sasl.credentials.file=$CREDS")
fmq_start saslssl "${ARGS[@]}"
SB=$FMQ_IP:9095
PY=(/usr/bin/python3 tests/integration/sasl/sasl_py.py)
JS=(node tests/integration/sasl/sasl_kafkajs.js)
export KAFKAJS_NO_PARTITIONER_WARNING=1
export FMQ_SASL_CA=$D/ca.pem

kc() { # kc MECH USER PASSWORD kcat-args...
	local m=$1 u=$2 pw=$3
	shift 3
	timeout 30 kcat -b "$SB" -X security.protocol=SASL_SSL \
		-X "ssl.ca.location=$D/ca.pem" -X "sasl.mechanisms=$m" \
		-X "sasl.username=$u" -X "sasl.password=$pw" "$@"
}

for m in SCRAM-SHA-512 SCRAM-SHA-256 PLAIN; do
	jm=$(printf '%s' "$m" | tr '[:upper:]' '[:lower:]')
	seq 1 25 | kc "$m" carol carol-secret -P -t "kc-$m" 2>"$FMQ_TMP/kc.err" ||
		fail "kcat $m produce: $(tail -3 "$FMQ_TMP/kc.err")"
	got=$(kc "$m" carol carol-secret -C -t "kc-$m" -o beginning -e -q 2>"$FMQ_TMP/kc.err" | wc -l) || true
	[ "$got" = 25 ] || fail "kcat $m consumed $got of 25: $(tail -3 "$FMQ_TMP/kc.err")"
	if kc "$m" carol wrong -L -m 4 >"$FMQ_TMP/kc.bad" 2>&1; then
		fail "kcat $m: a wrong password was accepted"
	fi
	grep -q "Authentication failed" "$FMQ_TMP/kc.bad" ||
		fail "kcat $m wrong password: no SASL error: $(tail -2 "$FMQ_TMP/kc.bad")"
	"${PY[@]}" confluent "$SB" "$m" carol carol-secret "ck-$m" 20 ||
		fail "confluent-kafka $m over SASL_SSL"
	"${PY[@]}" confluent-bad "$SB" "$m" carol wrong ||
		fail "confluent-kafka $m: wrong password not refused"
	"${PY[@]}" kafkapy "$SB" "$m" carol carol-secret "kp-$m" 20 ||
		fail "kafka-python $m over SASL_SSL"
	timeout 60 "${JS[@]}" "$SB" "$jm" carol carol-secret "js-$m" 20 ||
		fail "KafkaJS $m over SASL_SSL"
	timeout 30 "${JS[@]}" "$SB" "$jm" carol '!bad' ||
		fail "KafkaJS $m: wrong password not refused"
	pass "SASL_SSL $m: kcat, confluent-kafka, kafka-python and KafkaJS round trips, certificate checked; wrong passwords refused"
done

hs=$(fmq_metric fluxmq_tls_handshakes_total 'version="TLSv1.3",result="ok"') || hs=0
[ "${hs%.*}" -ge 8 ] || fail "TLS 1.3 handshakes counted: $hs (want >= 8)"
ok=$(fmq_metric fluxmq_sasl_authentications_total 'mechanism="SCRAM-SHA-512",result="success"')
[ "${ok%.*}" -ge 4 ] || fail "SCRAM-SHA-512 successes: $ok"
pass "/metrics: $hs TLS 1.3 handshakes, $ok SCRAM-SHA-512 logins over them"

# A SASL client that forgot TLS: the SASL_SSL port closes it, counted.
before=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="TLS"') || before=0
if timeout 30 kcat -b "$SB" -X security.protocol=SASL_PLAINTEXT \
	-X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=carol \
	-X sasl.password=carol-secret -L -m 4 >"$FMQ_TMP/clear.out" 2>&1; then
	fail "a plaintext SASL client got metadata from the SASL_SSL port"
fi
after=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="TLS"')
[ "${after%.*}" -gt "${before%.*}" ] || fail "TLS closes: $before -> $after"
timeout 30 kcat -b "$FMQ_IP:9094" -X security.protocol=SASL_PLAINTEXT \
	-X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=carol \
	-X sasl.password=carol-secret -L -m 10 >/dev/null 2>&1 ||
	fail "the SASL_PLAINTEXT listener beside it no longer answers"
pass "a plaintext SASL client on the SASL_SSL port is closed (reason TLS); SASL_PLAINTEXT beside it serves"

fmq_stop || fail "broker exit status $?"

# ACLs decided on the SASL user.
fmq_start saslssl "${ARGS[@]}" --set authorizer.enabled=true \
	--set super.users=User:carol
seq 1 5 | kc SCRAM-SHA-512 carol carol-secret -P -t dave-t 2>"$FMQ_TMP/kc.err" ||
	fail "super user carol cannot produce: $(tail -2 "$FMQ_TMP/kc.err")"
if seq 1 5 | kc SCRAM-SHA-512 dave dave-secret -P -t dave-t >"$FMQ_TMP/dave.out" 2>&1; then
	fail "dave produced with no ACL"
fi
grep -qi "authoriz" "$FMQ_TMP/dave.out" ||
	fail "dave's refusal is not an authorization error: $(tail -2 "$FMQ_TMP/dave.out")"
/usr/bin/python3 - "$SB" "$D/ca.pem" <<'PY' || fail "create_acls over SASL_SSL as carol"
import sys
from kafka.admin import (ACL, ACLOperation, ACLPermissionType, KafkaAdminClient,
                         ResourcePattern, ResourceType)
from kafka.admin.acl_resource import ACLResourcePatternType
a = KafkaAdminClient(bootstrap_servers=sys.argv[1], security_protocol="SASL_SSL",
                     ssl_cafile=sys.argv[2], sasl_mechanism="SCRAM-SHA-512",
                     sasl_plain_username="carol", sasl_plain_password="carol-secret")
res = a.create_acls([ACL("User:dave", "*", op, ACLPermissionType.ALLOW,
                         ResourcePattern(ResourceType.TOPIC, "dave-t",
                                         ACLResourcePatternType.LITERAL))
                     for op in (ACLOperation.WRITE, ACLOperation.READ)] +
                    [ACL("User:dave", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                         ResourcePattern(ResourceType.GROUP, "*",
                                         ACLResourcePatternType.LITERAL))])
if res["failed"]:
    sys.exit("create_acls failed: %r" % (res["failed"],))
PY
seq 6 10 | kc SCRAM-SHA-512 dave dave-secret -P -t dave-t 2>"$FMQ_TMP/kc.err" ||
	fail "dave cannot produce after the grant: $(tail -2 "$FMQ_TMP/kc.err")"
got=$(kc SCRAM-SHA-512 dave dave-secret -C -t dave-t -o beginning -e -q 2>"$FMQ_TMP/kc.err" | wc -l) || true
[ "$got" = 10 ] || fail "dave read $got of 10 on dave-t: $(tail -2 "$FMQ_TMP/kc.err")"
if seq 1 3 | kc SCRAM-SHA-512 dave dave-secret -P -t kc-PLAIN >"$FMQ_TMP/dave.out" 2>&1; then
	fail "dave produced to kc-PLAIN, where he has no ACL"
fi
pass "ACLs on SASL principals: dave refused, granted WRITE/READ on dave-t by carol (kafka-python over SASL_SSL), then writes and reads only there"
fmq_stop || fail "broker exit status $?"
