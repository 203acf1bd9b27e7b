#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Log compaction with confluent-kafka: a compacted topic (16 KiB segments,
# segment.ms=1000, min.cleanable.dirty.ratio=0.01) gets overwrites and
# tombstones; once the cleaner ran, a consumer from the beginning sees
# exactly the last record per key at its original offset. Consumers that
# read the topic again and again while the cleaner rewrites it see no
# error and never miss a latest record. A SIGKILL of the broker while a
# clean is under way (many segments make it long) restarts into a valid
# log with every latest record, which the cleaner then finishes.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

B=$FMQ_IP:9092
T=cmp-t
LOG=$FMQ_TMP/written.txt
: >"$LOG"
py() { timeout 90 /usr/bin/python3 tests/integration/kafka/compaction_client.py "$B" "$@"; }
ARGS=(--set log.flush.interval.ms=100 --set message.max.bytes=65536
	--set log.hot.chunk.bytes=131072)

# wait_exact: the cleaner has compacted everything closed (up to 30 s).
wait_exact() {
	local i out
	for ((i = 0; i < 60; i++)); do
		if out=$(py exact "$T" "$LOG" 2>&1); then
			printf '%s\n' "$out"
			return 0
		fi
		case $out in *"not compacted yet"*) ;; *) printf '%s\n' "$out" >&2; return 1 ;; esac
		sleep 0.5
	done
	printf '%s\n' "$out" >&2
	return 1
}

fmq_start cmp "${ARGS[@]}"
py create "$T" || fail "create a compacted topic"

# --- overwrites and tombstones --------------------------------------------------
py produce "$T" 8 300 "$LOG" 10 || fail "produce round 1"
wait_exact || fail "not compacted to the last record per key within 30 s"
removed=$(fmq_metric fluxmq_log_cleaner_records_removed_total)
[ "${removed%.*}" -ge 2000 ] || fail "cleaner removed only $removed records"
pass "8 x 300 keyed records, 30 tombstones: a consumer sees exactly the last record per key at its offset ($removed removed)"

# --- readers while the cleaner runs ----------------------------------------------
# The policy is delete while round 2 is written, compact again once the
# readers run: the cleaner then rewrites the whole round under them.
py policy "$T" delete || fail "cleanup.policy=delete"
py produce "$T" 40 300 "$LOG" || fail "produce round 2"
segs0=$(fmq_metric fluxmq_log_cleaner_segments_total)
py readers "$T" "$LOG" 8 >"$FMQ_TMP/readers.out" 2>&1 &
rpid=$!
sleep 1
py policy "$T" compact || fail "cleanup.policy=compact"
wait "$rpid" || fail "a reader saw an error or a gap while the cleaner ran: $(cat "$FMQ_TMP/readers.out")"
segs1=$(fmq_metric fluxmq_log_cleaner_segments_total)
[ "${segs1%.*}" -gt "${segs0%.*}" ] ||
	fail "the cleaner did not run while the readers did ($segs0 -> $segs1 segments)"
wait_exact || fail "round 2 not compacted"
pass "readers during a clean ($((${segs1%.*} - ${segs0%.*})) segments rewritten meanwhile; $(cat "$FMQ_TMP/readers.out")): no error, no latest record missing"

# --- SIGKILL during a clean ----------------------------------------------------
py policy "$T" delete || fail "cleanup.policy=delete"
py produce "$T" 60 400 "$LOG" 7 || fail "produce round 3"
runs0=$(fmq_metric fluxmq_log_cleaner_runs_total)
py policy "$T" compact >"$FMQ_TMP/policy.out" 2>&1 &
ppid=$!
killed=0
for ((i = 0; i < 3000; i++)); do
	if compgen -G "$FMQ_DATA/$T-0/*.cleaned" >/dev/null ||
		compgen -G "$FMQ_DATA/$T-0/*.swap" >/dev/null; then
		fmq_kill9
		killed=1
		break
	fi
	sleep 0.002
done
wait "$ppid" || true
[ "$killed" -eq 1 ] || fail "could not catch the cleaner in the middle of a round"
pass "SIGKILL while the cleaner was rewriting segments (rounds finished before: $runs0) ($(ls "$FMQ_DATA/$T-0/" | grep -c -e '\.cleaned$' -e '\.swap$' || true) .cleaned/.swap files left)"
fmq_start cmp "${ARGS[@]}"
py valid "$T" "$LOG" || fail "after SIGKILL during a clean: invalid log or a latest record missing"
pass "restart after SIGKILL: valid log, every record where it was written, every latest record there"
wait_exact || fail "not compacted after the restart"
[ -z "$(ls "$FMQ_DATA/$T-0/" | grep -e '\.cleaned$' -e '\.swap$')" ] || fail "leftover .cleaned/.swap files"
pass "the cleaner finished the job after the restart"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "clean stop"
