#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Several Kafka listeners: each client is told the endpoint of the listener
# it connected through (Metadata, FindCoordinator), as Kafka does with
# advertised.listeners per listener name. Two PLAINTEXT listeners, the
# second named INTERNAL and advertised on a port the broker does not
# listen on: kcat -L through each port must show that listener's endpoint,
# and a consumer group through the first (FindCoordinator) must work.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl /usr/bin/python3

fmq_start listeners \
	--set "listeners=PLAINTEXT://:9092,INTERNAL://0.0.0.0:9095" \
	--set "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT" \
	--set "advertised.listeners=INTERNAL://$FMQ_IP:9096"

timeout 30 kcat -b "$FMQ_IP:9092" -L >"$FMQ_TMP/a.txt" 2>&1 || fail "kcat -L on 9092: $(cat "$FMQ_TMP/a.txt")"
grep -q "broker 1 at $FMQ_IP:9092 " "$FMQ_TMP/a.txt" ||
	fail "through PLAINTEXT (9092) the broker is not advertised at :9092: $(cat "$FMQ_TMP/a.txt")"
pass "kcat -L through PLAINTEXT://:9092 sees broker 1 at $FMQ_IP:9092"

# Through INTERNAL, kcat is told :9096 (where nothing listens): -L shows it.
timeout 30 kcat -b "$FMQ_IP:9095" -L -m 5 >"$FMQ_TMP/b.txt" 2>&1 || true
grep -q "broker 1 at $FMQ_IP:9096" "$FMQ_TMP/b.txt" ||
	fail "through INTERNAL (9095) the broker is not advertised at :9096: $(cat "$FMQ_TMP/b.txt")"
pass "kcat -L through INTERNAL://:9095 sees broker 1 at $FMQ_IP:9096 (its advertised.listeners entry)"

# A consumer group through 9092: FindCoordinator must name 9092 too.
seq 1 500 | timeout 30 kcat -b "$FMQ_IP:9092" -P -t lst -X linger.ms=5 ||
	fail "produce through 9092"
got=$(timeout 40 kcat -b "$FMQ_IP:9092" -G lst-group lst -o beginning -e -q \
	-X session.timeout.ms=6000 2>"$FMQ_TMP/g.err" | wc -l) || true
[ "$got" = 500 ] || fail "group consumer through 9092 read $got of 500: $(tail -3 "$FMQ_TMP/g.err")"
pass "consumer group through 9092: 500 of 500 (coordinator advertised on 9092)"

[ "$(fmq_health)" = 200 ] || fail "health after the listener checks"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "two listeners, each advertised as configured"
