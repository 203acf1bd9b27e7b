#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetch sessions (KIP-227): full and incremental fetches, forgotten
# partitions, epochs and their errors, a parked incremental fetch (on two
# data lcores, partitions of both in one session), and the
# cache's eviction rules, checked on raw sockets
# (tests/integration/kafka/fetch_sessions.py: no client installed here uses
# sessions); the fetch session metrics; and kcat (librdkafka) and KafkaJS,
# which ask for no session, still consume and open none.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl kcat /usr/bin/python3

PY=tests/integration/kafka/fetch_sessions.py
metric() { fmq_metric "$1" || fail "no $1 in /metrics"; }

# Two data lcores: a session's partitions live on both (other lcores'
# partitions are read through the cross-lcore ring, a parked incremental
# fetch runs again from its frame).
fmq_start fs --set lcores.data=2
timeout 90 /usr/bin/python3 "$PY" "$FMQ_IP" 9092 main ||
	fail "fetch sessions (broker log: $FMQ_TMP/fs.log)"
n=$(metric fluxmq_kafka_fetch_incremental_total)
[ "$n" -ge 10 ] || fail "fluxmq_kafka_fetch_incremental_total $n, want >= 10"
n=$(metric fluxmq_kafka_fetch_incremental_partitions_omitted_total)
[ "$n" -gt 0 ] || fail "no partition omitted from incremental answers"
created=$(metric fluxmq_kafka_fetch_sessions_created_total)
[ "$created" -eq 3 ] || fail "sessions created $created, want 3"
n=$(metric fluxmq_kafka_fetch_sessions)
[ "$n" -eq 0 ] || fail "sessions open at the end: $n, want 0"
n=$(metric fluxmq_kafka_xlcore_sent_total)
[ "$n" -gt 0 ] || fail "no partition of another lcore was fetched"
pass "metrics: incremental fetches, omitted partitions, 3 sessions made, none left; $n cross-lcore reads"

# librdkafka (Fetch v11, session 0 epoch -1) consumes as before, no session.
printf 'a\nb\nc\n' | timeout 30 kcat -b "$FMQ_IP:9092" -P -t fs-kcat ||
	fail "kcat produce"
out=$(timeout 30 kcat -b "$FMQ_IP:9092" -C -t fs-kcat -o beginning -e -q) ||
	fail "kcat consume"
[ "$out" = "$(printf 'a\nb\nc')" ] || fail "kcat consumed: $out"
if command -v node >/dev/null 2>&1 &&
	[ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 60 node -e '
const { Kafka, logLevel } = require("./tests/integration/node/node_modules/kafkajs");
const k = new Kafka({ brokers: [process.argv[1]], logLevel: logLevel.NOTHING });
(async () => {
  const c = k.consumer({ groupId: "fs-kjs" });
  await c.connect();
  await c.subscribe({ topic: "fs-kcat", fromBeginning: true });
  let n = 0;
  await new Promise((res, rej) => {
    setTimeout(() => rej(new Error("timeout, got " + n)), 30000);
    c.run({ eachMessage: async () => { if (++n === 3) res(); } });
  });
  await c.disconnect();
})().catch((e) => { console.error(e.message); process.exit(1); });
' "$FMQ_IP:9092" || fail "KafkaJS consume"
	pass "KafkaJS consumed fs-kcat"
else
	printf 'SKIP: KafkaJS (no node or kafkajs)\n'
fi
n=$(metric fluxmq_kafka_fetch_sessions_created_total)
[ "$n" -eq "$created" ] || fail "sessionless clients opened $((n - created)) sessions"
pass "kcat consumed its 3 records; librdkafka and KafkaJS opened no session"
fmq_stop || fail "broker exit status $?"

fmq_start fsev --set max.incremental.fetch.session.cache.slots=2
timeout 60 /usr/bin/python3 "$PY" "$FMQ_IP" 9092 evict ||
	fail "fetch session eviction (broker log: $FMQ_TMP/fsev.log)"
n=$(metric fluxmq_kafka_fetch_session_evictions_total)
[ "$n" -eq 1 ] || fail "evictions $n, want 1"
n=$(metric fluxmq_kafka_fetch_sessions_refused_total)
[ "$n" -eq 1 ] || fail "sessions refused $n, want 1"
pass "metrics: one eviction, one session refused"
fmq_stop || fail "broker exit status $?"
pass "fetch sessions"
