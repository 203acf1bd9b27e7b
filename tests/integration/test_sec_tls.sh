#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS on an SSL listener (issue 15), with certificates made by the openssl
# CLI (tests/integration/sec_lib.sh; the broker's carries
# subjectAltName=IP:$FMQ_IP and every client verifies it):
#  - a bad keystore path exits 2 naming ssl.keystore.location;
#  - produce/consume round trips over TLS through kcat, confluent-kafka,
#    kafka-python and KafkaJS, beside a PLAINTEXT listener;
#  - a plaintext client on the TLS port is refused (close reason TLS) while
#    a TLS connection opened before goes on;
#  - SIGHUP with a new broker certificate: that connection stays open on
#    the old one, a new connection gets the new one;
#  - a bad keystore at SIGHUP is logged and the old certificate stays;
#  - ssl.client.auth=required: kcat, confluent-kafka, kafka-python and
#    KafkaJS with a client certificate round trip (the principal, mapped by
#    ssl.principal.mapping.rules, is in the debug log), without one kcat is
#    refused; a handshake stalled halfway is reset after
#    broker.request.receive.timeout.ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/sec_lib.sh
fmq_require_root
fmq_require_cmd kcat curl openssl /usr/bin/python3

D=$FMQ_TMP/certs
fmq_sec_certs "$D"
TLS="$FMQ_IP:9093"
KC_TLS=(-X security.protocol=SSL -X "ssl.ca.location=$D/ca.pem")
KC_MTLS=("${KC_TLS[@]}" -X "ssl.certificate.location=$D/client.crt"
	-X "ssl.key.location=$D/client.key")
LISTEN=(--set "listeners=PLAINTEXT://:9092,SSL://:9093")

# A keystore that is not there: exit 2, the key named.
BADHOT=/dev/hugepages/fmq-test-$$-bad
FMQ_HOT_DIRS+=("$BADHOT")
fmq_run_exit "$FMQ_TMP/badks.log" --set "dev.tap.name=$FMQ_TAP" \
	--set "net.ip=$FMQ_IP/24" --set "dev.tap.host_ip=$FMQ_HOST_IP/24" \
	--set "mgmt.listen=$FMQ_MGMT" --set "log.dirs=$FMQ_TMP/data-bad" \
	--set "log.hot.dir=$BADHOT" "${LISTEN[@]}" \
	--set "ssl.keystore.location=$D/nonexistent.pem"
rm -rf "$BADHOT"   # its hot pool holds hugepages until removed
[ "$FMQ_RC" -eq 2 ] && grep -q "ssl.keystore.location" "$FMQ_TMP/badks.log" ||
	fail "bad keystore: exit $FMQ_RC, log: $(tail -3 "$FMQ_TMP/badks.log")"
pass "a missing keystore exits 2 naming ssl.keystore.location"

fmq_start tls "${LISTEN[@]}" --set "ssl.keystore.location=$D/broker.pem"

# kcat (librdkafka): out and back.
seq 1 300 | timeout 30 kcat -b "$TLS" "${KC_TLS[@]}" -P -t tls-kcat \
	-X linger.ms=5 2>"$FMQ_TMP/kcat.err" || fail "kcat produce over TLS: $(tail -3 "$FMQ_TMP/kcat.err")"
got=$(timeout 30 kcat -b "$TLS" "${KC_TLS[@]}" -C -t tls-kcat -o beginning \
	-e -q 2>>"$FMQ_TMP/kcat.err" | wc -l) || true
[ "$got" = 300 ] || fail "kcat read $got of 300 over TLS: $(tail -3 "$FMQ_TMP/kcat.err")"
pass "kcat: 300 records out and back over TLS"

# A large fetch (zero-copy chains, many 16 KiB records) out and back.
head -c 3000000 /dev/urandom | base64 -w 2000 >"$FMQ_TMP/big.txt"
timeout 30 kcat -b "$TLS" "${KC_TLS[@]}" -P -t tls-big -X linger.ms=5 -l \
	"$FMQ_TMP/big.txt" 2>>"$FMQ_TMP/kcat.err" ||
	fail "kcat large produce over TLS: $(tail -3 "$FMQ_TMP/kcat.err")"
timeout 30 kcat -b "$TLS" "${KC_TLS[@]}" -C -t tls-big -o beginning -e -q \
	>"$FMQ_TMP/big.back" 2>>"$FMQ_TMP/kcat.err" || true
cmp -s "$FMQ_TMP/big.txt" "$FMQ_TMP/big.back" ||
	fail "4 MB through TLS came back different ($(wc -c <"$FMQ_TMP/big.back") bytes)"
pass "kcat: 4 MB of records out and back over TLS, byte for byte"

/usr/bin/python3 tests/integration/kafka/tls_clients.py confluent "$TLS" \
	"$D/ca.pem" tls-confluent 200 || fail "confluent-kafka over TLS"
pass "confluent-kafka: round trip over TLS"
/usr/bin/python3 tests/integration/kafka/tls_clients.py kafka-python "$TLS" \
	"$D/ca.pem" tls-kpy 200 || fail "kafka-python over TLS"
pass "kafka-python: round trip over TLS"
if [ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 60 node \
		tests/integration/kafka/kafkajs_tls.js "$TLS" "$D/ca.pem" \
		tls-kafkajs 200 || fail "KafkaJS over TLS"
	pass "KafkaJS: round trip over TLS"
else
	echo "KafkaJS not installed: skipped (scripts/setup.sh)"
fi
# The PLAINTEXT listener beside it still speaks plaintext.
echo plain | timeout 20 kcat -b "$FMQ_IP:9092" -P -t tls-plain ||
	fail "PLAINTEXT listener beside the SSL one"
pass "PLAINTEXT://:9092 beside SSL://:9093"

# One TLS connection held open across what follows.
rm -f "$FMQ_TMP/go"
/usr/bin/python3 tests/integration/kafka/tls_probe.py "$TLS" "$D/ca.pem" \
	"$FMQ_TMP/go" >"$FMQ_TMP/probe.out" 2>&1 &
probe=$!
fmq_on_cleanup "kill $probe 2>/dev/null || true"
for ((i = 0; i < 100; i++)); do
	grep -q '^ready' "$FMQ_TMP/probe.out" && break
	sleep 0.1
done
grep -q '^ready broker$' "$FMQ_TMP/probe.out" ||
	fail "TLS probe did not connect: $(cat "$FMQ_TMP/probe.out")"

# Plaintext Kafka and random bytes on the TLS port: refused.
tls0=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="TLS"')
if timeout 15 kcat -b "$TLS" -L -m 3 >"$FMQ_TMP/plain.out" 2>&1 &&
	grep -q "broker 1 at" "$FMQ_TMP/plain.out"; then
	fail "a plaintext client got Metadata from the TLS port"
fi
head -c 4096 /dev/urandom | timeout 5 /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 9093), timeout=3)
s.sendall(sys.stdin.buffer.read())
try:
    s.recv(100)
except OSError:
    pass' "$FMQ_IP" || true
sleep 0.5
tls1=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="TLS"')
[ "$tls1" -gt "$tls0" ] || fail "no connection closed for reason TLS ($tls0 -> $tls1)"
failed=$(fmq_metric fluxmq_tls_handshakes_total 'result="failed"')
[ "$failed" -ge 2 ] || fail "failed handshakes counted: $failed"
pass "plaintext Kafka and garbage on the TLS port refused ($((tls1 - tls0)) closed, reason TLS)"

# SIGHUP with a new certificate in the same file.
fmq_sec_broker_cert "$D" broker2
cp "$D/broker2.pem" "$D/broker.pem"
kill -HUP "$FMQ_PID"
sleep 1
grep -q "SIGHUP: TLS key and certificates read again" "$FMQ_TMP/tls.log" ||
	fail "no reload in the log: $(tail -3 "$FMQ_TMP/tls.log")"
touch "$FMQ_TMP/go"
wait "$probe" || fail "the TLS connection opened before the reload: $(cat "$FMQ_TMP/probe.out")"
grep -q '^again ok broker$' "$FMQ_TMP/probe.out" ||
	fail "the connection opened before the reload: $(cat "$FMQ_TMP/probe.out")"
pass "a TLS connection opened before the refused plaintext clients and the SIGHUP went on, on its old certificate"
subj=$(timeout 10 openssl s_client -connect "$TLS" -CAfile "$D/ca.pem" \
	-verify_return_error </dev/null 2>/dev/null | grep -m1 '^subject=' || true)
case $subj in
*CN*=*broker2*) ;;
*) fail "a new connection after SIGHUP got '$subj', not broker2" ;;
esac
echo again | timeout 20 kcat -b "$TLS" "${KC_TLS[@]}" -P -t tls-kcat ||
	fail "kcat after SIGHUP"
pass "after SIGHUP new connections get the new certificate ($subj)"
# A bad file at SIGHUP: logged, the certificate in use stays.
cp "$D/broker.pem" "$D/broker.good"
echo "not a PEM file" >"$D/broker.pem"
kill -HUP "$FMQ_PID"
sleep 1
grep -q "SIGHUP: .*ssl.keystore.location.*the certificates in use stay" "$FMQ_TMP/tls.log" ||
	fail "a bad keystore at SIGHUP was not reported: $(tail -3 "$FMQ_TMP/tls.log")"
echo still | timeout 20 kcat -b "$TLS" "${KC_TLS[@]}" -P -t tls-kcat ||
	fail "kcat after a failed reload"
cp "$D/broker.good" "$D/broker.pem"
pass "a bad keystore at SIGHUP is logged, naming the key, and the broker serves on"
ok=$(fmq_metric fluxmq_tls_handshakes_total 'result="ok"')
[ "$ok" -ge 5 ] || fail "handshakes counted ok: $ok"
dec=$(fmq_metric fluxmq_tls_bytes_total 'direction="decrypted"')
enc=$(fmq_metric fluxmq_tls_bytes_total 'direction="encrypted"')
[ "$enc" -gt 3000000 ] || fail "encrypted bytes counted: $enc"
pass "/metrics: $ok handshakes, $dec bytes decrypted, $enc encrypted"
[ "$(fmq_health)" = 200 ] || fail "health after the TLS checks"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"

# mTLS: a certificate from our CA is required.
fmq_start mtls "${LISTEN[@]}" --set "ssl.keystore.location=$D/broker.pem" \
	--set "ssl.truststore.location=$D/ca.pem" --set ssl.client.auth=required \
	--set broker.request.receive.timeout.ms=2000 --set log.level=debug \
	--set "ssl.principal.mapping.rules=RULE:^CN=([^,]*),OU=eng,O=acme$/\$1@eng/,DEFAULT"
# Half a handshake, then silence: reset once the receive timeout is over.
t0=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="REQUEST_TIMEOUT"')
timeout 10 /usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 9093), timeout=8)
s.sendall(bytes([22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3]))
s.settimeout(8)
t = time.time()
try:
    while s.recv(100):
        pass
except OSError:
    pass
sys.exit(0 if time.time() - t < 7 else 1)' "$FMQ_IP" || fail "a stalled handshake was not ended"
t1=$(fmq_metric fluxmq_kafka_connection_closes_total 'reason="REQUEST_TIMEOUT"')
[ "$t1" -gt "$t0" ] || fail "the stalled handshake was not counted as request_timeout"
pass "a handshake stalled halfway is reset after broker.request.receive.timeout.ms"
seq 1 50 | timeout 30 kcat -b "$TLS" "${KC_MTLS[@]}" -P -t mtls ||
	fail "kcat with a client certificate"
got=$(timeout 30 kcat -b "$TLS" "${KC_MTLS[@]}" -C -t mtls -o beginning -e -q | wc -l) || true
[ "$got" = 50 ] || fail "kcat with a client certificate read $got of 50"
pass "mTLS: kcat with a client certificate, 50 out and back"
/usr/bin/python3 tests/integration/kafka/tls_clients.py confluent "$TLS" \
	"$D/ca.pem" mtls-confluent 50 "$D/client.crt" "$D/client.key" ||
	fail "confluent-kafka with a client certificate"
pass "mTLS: confluent-kafka with a client certificate"
/usr/bin/python3 tests/integration/kafka/tls_clients.py kafka-python "$TLS" \
	"$D/ca.pem" mtls-kpy 50 "$D/client.crt" "$D/client.key" ||
	fail "kafka-python with a client certificate"
pass "mTLS: kafka-python with a client certificate"
if [ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 60 node \
		tests/integration/kafka/kafkajs_tls.js "$TLS" "$D/ca.pem" \
		mtls-kafkajs 50 "$D/client.crt" "$D/client.key" ||
		fail "KafkaJS with a client certificate"
	pass "mTLS: KafkaJS with a client certificate"
fi
grep -q "tls: .*TLSv1.3, principal User:alice@eng$" "$FMQ_TMP/mtls.log" ||
	fail "no connection with principal User:alice@eng in the log: $(grep -m3 'tls:' "$FMQ_TMP/mtls.log")"
pass "mTLS: the certificate CN=alice,OU=eng,O=acme maps to User:alice@eng"
f0=$(fmq_metric fluxmq_tls_handshakes_total 'result="failed"')
if echo x | timeout 15 kcat -b "$TLS" "${KC_TLS[@]}" -P -t mtls \
	-X message.timeout.ms=5000 2>"$FMQ_TMP/nocert.err"; then
	fail "a client without a certificate produced under ssl.client.auth=required"
fi
f1=$(fmq_metric fluxmq_tls_handshakes_total 'result="failed"')
[ "$f1" -gt "$f0" ] || fail "the refused handshake was not counted ($f0 -> $f1)"
got=$(timeout 30 kcat -b "$TLS" "${KC_MTLS[@]}" -C -t mtls -o beginning -e -q | wc -l) || true
[ "$got" = 50 ] || fail "after the refused client, $got of 50"
pass "mTLS: a client without a certificate refused ($((f1 - f0)) handshakes failed), nothing stored"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "TLS listener"
