#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SASL on a SASL_PLAINTEXT listener (issue 15), with every client here:
# kcat (librdkafka), confluent-kafka, kafka-python and KafkaJS, each with
# PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (unsecured tokens):
# a produce/consume round trip and a wrong password refused. Then: an
# unauthenticated Metadata closes the connection (raw client: also the
# pre-authentication size cap, SaslHandshake v0 raw tokens and an unknown
# mechanism); users come from fluxmq --add-scram before the start and
# from AlterUserScramCredentials at run time (and survive a restart); and
# KafkaJS re-authenticates over a short connections.max.reauth.ms, while
# an exchange left unfinished loses its session after 10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl /usr/bin/python3 node
[ -f tests/integration/node/node_modules/kafkajs/package.json ] ||
	skip "KafkaJS not installed (scripts/setup.sh runs npm ci in tests/integration/node)"

PY=(/usr/bin/python3 tests/integration/sasl/sasl_py.py)
JS=(node tests/integration/sasl/sasl_kafkajs.js)
export KAFKAJS_NO_PARTITIONER_WARNING=1
CREDS=$FMQ_TMP/scram-credentials
SB=$FMQ_IP:9094
MECHS=(PLAIN SCRAM-SHA-256 SCRAM-SHA-512 OAUTHBEARER)

# Users before the first start, as Kafka's storage tool does.
"$FMQ_BIN" --add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]' \
	--add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret,iterations=8192]' \
	--set "sasl.credentials.file=$CREDS" >"$FMQ_TMP/add.out" 2>&1 ||
	fail "--add-scram: $(cat "$FMQ_TMP/add.out")"
[ "$(stat -c %a "$CREDS")" = 600 ] || fail "credentials file mode $(stat -c %a "$CREDS")"
pass "fluxmq --add-scram wrote alice's SCRAM-SHA-256 and -512 credentials (mode 0600) without starting DPDK"

BROKER_ARGS=(--set "listeners=PLAINTEXT://:9092,SASL_PLAINTEXT://:9094"
	--set "sasl.credentials.file=$CREDS"
	--set "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
	--set "sasl.oauthbearer.unsecured.enable=true")
fmq_start sasl "${BROKER_ARGS[@]}"

kc() { # kcat over SASL: kc MECH USER PASSWORD kcat-args...
	local m=$1 u=$2 pw=$3
	shift 3
	if [ "$m" = OAUTHBEARER ]; then
		timeout 30 kcat -b "$SB" -X security.protocol=SASL_PLAINTEXT \
			-X sasl.mechanisms=OAUTHBEARER \
			-X enable.sasl.oauthbearer.unsecure.jwt=true \
			-X "sasl.oauthbearer.config=principal=$u" "$@"
	else
		timeout 30 kcat -b "$SB" -X security.protocol=SASL_PLAINTEXT \
			-X "sasl.mechanisms=$m" -X "sasl.username=$u" \
			-X "sasl.password=$pw" "$@"
	fi
}

kcat_checks() { # kcat_checks MECH: round trip, then a wrong password
	local m=$1 t=kcat-$1 got
	seq 1 20 | kc "$m" alice alice-secret -P -t "$t" -X linger.ms=5 2>"$FMQ_TMP/kc-$m.err" ||
		{ echo "produce: $(tail -3 "$FMQ_TMP/kc-$m.err")"; return 1; }
	got=$(kc "$m" alice alice-secret -C -t "$t" -o beginning -e -q 2>"$FMQ_TMP/kc-$m.err" | wc -l) || true
	[ "$got" = 20 ] || { echo "consumed $got of 20: $(tail -3 "$FMQ_TMP/kc-$m.err")"; return 1; }
	[ "$m" != OAUTHBEARER ] || return 0
	if kc "$m" alice wrong -L -m 4 >"$FMQ_TMP/kc-$m.bad" 2>&1; then
		echo "wrong password accepted"
		return 1
	fi
	grep -q "Authentication failed" "$FMQ_TMP/kc-$m.bad" ||
		{ echo "wrong password: no SASL error: $(tail -2 "$FMQ_TMP/kc-$m.bad")"; return 1; }
}

# The four clients of one mechanism run side by side (each checks its
# own round trip and wrong password), so the matrix fits the time limit.
for m in "${MECHS[@]}"; do
	jm=$(printf '%s' "$m" | tr '[:upper:]' '[:lower:]')
	pids=() names=()
	kcat_checks "$m" >"$FMQ_TMP/c-kcat.out" 2>&1 &
	pids+=($!) names+=(kcat)
	{ "${PY[@]}" confluent "$SB" "$m" alice alice-secret "ck-$m" 20 &&
		{ [ "$m" = OAUTHBEARER ] || "${PY[@]}" confluent-bad "$SB" "$m" alice wrong; }; } \
		>"$FMQ_TMP/c-confluent.out" 2>&1 &
	pids+=($!) names+=(confluent)
	{ "${PY[@]}" kafkapy "$SB" "$m" alice alice-secret "kp-$m" 20 &&
		{ [ "$m" = OAUTHBEARER ] || "${PY[@]}" kafkapy-bad "$SB" "$m" alice wrong; }; } \
		>"$FMQ_TMP/c-kafkapy.out" 2>&1 &
	pids+=($!) names+=(kafkapy)
	{ timeout 60 "${JS[@]}" "$SB" "$jm" alice alice-secret "js-$m" 20 &&
		{ [ "$m" = OAUTHBEARER ] || timeout 30 "${JS[@]}" "$SB" "$jm" alice '!bad'; }; } \
		>"$FMQ_TMP/c-kafkajs.out" 2>&1 &
	pids+=($!) names+=(kafkajs)
	bad=
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || bad="$bad ${names[$i]}: $(grep -v '^%' "$FMQ_TMP/c-${names[$i]}.out" | tail -3)"
	done
	[ -z "$bad" ] || fail "$m:$bad"
	pass "$m: kcat, confluent-kafka, kafka-python and KafkaJS round trips$([ "$m" = OAUTHBEARER ] || echo '; a wrong password refused by each')"
done

for m in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
	f=$(fmq_metric fluxmq_sasl_authentications_total "mechanism=\"$m\",result=\"failure\"")
	[ "${f%.*}" -ge 4 ] || fail "$m failures counted: $f (want >= 4, one per client)"
done
ok=$(fmq_metric fluxmq_sasl_authentications_total "mechanism=\"OAUTHBEARER\",result=\"success\"")
[ "${ok%.*}" -ge 4 ] || fail "OAUTHBEARER successes counted: $ok"
v0=$(fmq_metric fluxmq_kafka_requests_total 'api="SaslHandshake",version="0"') || v0=0
[ "${v0%.*}" -ge 1 ] || fail "no client used SaslHandshake v0 (kafka-python's raw tokens)"
pass "/metrics counts authentications per mechanism and result; kafka-python used SaslHandshake v0 ($v0 times)"

before=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="SASL_UNAUTHENTICATED"')
"${PY[@]}" unauth "$SB" || fail "unauthenticated requests"
after=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="SASL_UNAUTHENTICATED"')
[ "$((${after%.*} - ${before%.*}))" -ge 2 ] ||
	fail "SASL_UNAUTHENTICATED closes: $before -> $after"
timeout 20 kcat -b "$FMQ_IP:9092" -L >/dev/null 2>&1 ||
	fail "the PLAINTEXT listener beside it no longer answers"
pass "Metadata before authentication closes the connection (counted); oversized pre-auth frame, v0 raw token and unknown mechanism handled"

# A user added at run time, then used by two clients.
"${PY[@]}" alter "$SB" alice alice-secret bob bob-secret SCRAM-SHA-256 4096 ||
	fail "AlterUserScramCredentials"
seq 1 10 | kc SCRAM-SHA-256 bob bob-secret -P -t bob-topic 2>"$FMQ_TMP/kc.err" ||
	fail "bob (added at run time) cannot produce: $(tail -2 "$FMQ_TMP/kc.err")"
"${PY[@]}" kafkapy "$SB" PLAIN bob bob-secret kp-bob 5 ||
	fail "bob over PLAIN (checked against his SCRAM entry)"
pass "AlterUserScramCredentials added bob (Kafka's errors for bad upserts, Describe shows him); he logs in with SCRAM and PLAIN"

fmq_stop || fail "broker exit status $?"

# Restart: bob is still there (the file), and sessions last 2 s.
fmq_start sasl "${BROKER_ARGS[@]}" --set connections.max.reauth.ms=2000
got=$(kc SCRAM-SHA-256 bob bob-secret -C -t bob-topic -o beginning -e -q 2>/dev/null | wc -l) || true
[ "$got" = 10 ] || fail "bob after a restart read $got of 10"
pass "bob's credential survived a restart"
# Meanwhile a client that begins an exchange and goes silent loses it.
"${PY[@]}" stall "$SB" >"$FMQ_TMP/stall.out" 2>&1 &
stall=$!
timeout 90 "${JS[@]}" "$SB" scram-sha-512 alice alice-secret js-reauth 5 6 ||
	fail "KafkaJS over a 2 s session"
re=$(fmq_metric fluxmq_sasl_reauthentications_total)
[ "${re%.*}" -ge 2 ] || fail "re-authentications: $re (want >= 2 in 6 s of 2 s sessions)"
ex=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="SASL_EXPIRED"')
[ "${ex%.*}" = 0 ] || fail "KafkaJS connections closed as expired: $ex (it should re-authenticate in time)"
pass "KafkaJS re-authenticated $re times over connections.max.reauth.ms=2000, no session expired"
# librdkafka 2.0.2 does not re-authenticate (KIP-368 came in 2.2): its
# long poll past the session's end is closed, as Kafka does.
kc SCRAM-SHA-256 alice alice-secret -C -t js-reauth -o end -q >/dev/null 2>&1 &
kpid=$!
sleep 4.5
kill "$kpid" 2>/dev/null || true
wait "$kpid" 2>/dev/null || true
ex=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="SASL_EXPIRED"')
[ "${ex%.*}" -ge 1 ] || fail "a librdkafka consumer past its 2 s session was not closed"
pass "a client that does not re-authenticate is closed past its session ($ex closes)"

wait "$stall" || fail "stalled exchange: $(cat "$FMQ_TMP/stall.out")"
to=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="SASL_TIMEOUT"')
[ "${to%.*}" = 1 ] || fail "SASL_TIMEOUT closes: $to"
pass "a SASL exchange left unfinished is closed after 10 s ($(cat "$FMQ_TMP/stall.out"))"

[ "$(fmq_health)" = 200 ] || fail "health after the SASL checks"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "SASL_PLAINTEXT with four clients and four mechanisms"
