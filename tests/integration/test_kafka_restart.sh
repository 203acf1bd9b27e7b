#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Restart: produce (acks=all), stop the broker (SIGTERM), start it again on
# the same data: every message is there, offsets continue where they ended,
# topics and topic configs are kept. Then the same across SIGKILL while a
# producer is streaming: everything acknowledged with acks=all survives.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
# Extra broker arguments, e.g. FMQ_KAFKA_ARGS_STR="--set lcores.data=2".
read -r -a FMQ_KAFKA_ARGS <<<"${FMQ_KAFKA_ARGS_STR:-}"
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import kafka' 2>/dev/null || skip "kafka-python not installed"

B=$FMQ_IP:9092
RC=tests/integration/kafka/restart_client.py
ACKS=$FMQ_TMP/acks.txt
: >"$ACKS"
py() { timeout 40 /usr/bin/python3 "$RC" "$B" "$@"; }

# continues OLD_ENDS NEW_ACKS: the first offset acknowledged after the
# restart on each partition is the end offset before it.
continues() {
	awk 'NR == FNR { end[$1 " " $2] = $3; next }
		{ k = $1 " " $2; if (!(k in first) || $3 < first[k]) first[k] = $3 }
		END {
			for (k in end) {
				if (!(k in first)) { print "no new message on " k; bad = 1; continue }
				if (first[k] != end[k]) { print k ": first new offset " first[k] ", end before " end[k]; bad = 1 }
			}
			exit bad
		}' "$1" "$2"
}

fmq_start rs --set log.flush.interval.ms=1000 "${FMQ_KAFKA_ARGS[@]}"
py setup || fail "creating topics"
py produce rs-a 3000 "$ACKS" >/dev/null || fail "produce to rs-a"
py produce rs-b 1000 "$ACKS" >/dev/null || fail "produce to rs-b"
py ends >"$FMQ_TMP/ends1.txt" || fail "end offsets"
pass "4000 messages acknowledged on rs-a (3 partitions, 64 KiB segments) and rs-b"

# --- clean restart -------------------------------------------------------------
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc on SIGTERM"
fmq_start rs --set log.flush.interval.ms=1000 "${FMQ_KAFKA_ARGS[@]}"
py configs || fail "after SIGTERM + start"
py verify "$ACKS" || fail "after SIGTERM + start"
py ends >"$FMQ_TMP/ends2.txt" || fail "end offsets"
cmp -s "$FMQ_TMP/ends1.txt" "$FMQ_TMP/ends2.txt" ||
	fail "end offsets changed across the restart: $(diff "$FMQ_TMP/ends1.txt" "$FMQ_TMP/ends2.txt" | tr '\n' ' ')"
: >"$FMQ_TMP/new.txt"
py produce rs-a 300 "$FMQ_TMP/new.txt" >/dev/null || fail "produce after restart"
py produce rs-b 100 "$FMQ_TMP/new.txt" >/dev/null || fail "produce after restart"
continues "$FMQ_TMP/ends2.txt" "$FMQ_TMP/new.txt" || fail "offsets do not continue after SIGTERM"
cat "$FMQ_TMP/new.txt" >>"$ACKS"
pass "SIGTERM + start: topics, configs, every message and end offset kept; offsets continue"

# --- SIGKILL while a producer streams -----------------------------------------------
py ends >"$FMQ_TMP/ends3.txt"
: >"$FMQ_TMP/stream.txt"
timeout 60 /usr/bin/python3 "$RC" "$B" stream rs-a 30 "$FMQ_TMP/stream.txt" >"$FMQ_TMP/stream.out" 2>&1 &
spid=$!
# Kill once a good number of acknowledgements came back.
for ((i = 0; i < 200; i++)); do
	[ "$(wc -l <"$FMQ_TMP/stream.txt")" -ge 3000 ] && break
	sleep 0.05
done
fmq_kill9
wait "$spid" || true
n=$(wc -l <"$FMQ_TMP/stream.txt")
[ "$n" -gt 0 ] || fail "the streaming producer got no acknowledgement before the kill: $(cat "$FMQ_TMP/stream.out")"
cat "$FMQ_TMP/stream.txt" >>"$ACKS"
fmq_start rs --set log.flush.interval.ms=1000 "${FMQ_KAFKA_ARGS[@]}"
py configs || fail "after SIGKILL + start"
py verify "$ACKS" || fail "after SIGKILL + start"
py ends >"$FMQ_TMP/ends4.txt"
: >"$FMQ_TMP/new2.txt"
py produce rs-a 30 "$FMQ_TMP/new2.txt" >/dev/null || fail "produce after SIGKILL"
py produce rs-b 20 "$FMQ_TMP/new2.txt" >/dev/null || fail "produce after SIGKILL"
continues "$FMQ_TMP/ends4.txt" "$FMQ_TMP/new2.txt" || fail "offsets do not continue after SIGKILL"
cat "$FMQ_TMP/new2.txt" >>"$ACKS"
py verify "$ACKS" >/dev/null || fail "final check"
pass "SIGKILL during acks=all production ($n acknowledged before the kill): all kept, offsets continue"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "restart"
