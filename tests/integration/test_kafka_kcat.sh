#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kcat (librdkafka 2.0.2) through the tap: -L metadata; produce 200,000
# messages of 0 B..4 KiB (keys, empty and null keys/values, headers incl.
# empty and null ones, uncompressed and lz4/zstd batches) plus 200 of up to
# 900 KiB; consume everything back from the beginning and compare every
# offset, key, value, header and timestamp; again through a consumer group
# (-G, each offset once, commits honoured); -Q offsets by timestamp.
# Prints the produce and fetch rates it measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
# Extra broker arguments, e.g. FMQ_KAFKA_ARGS_STR="--set lcores.data=2".
read -r -a FMQ_KAFKA_ARGS <<<"${FMQ_KAFKA_ARGS_STR:-}"
fmq_require_root
fmq_require_cmd kcat curl /usr/bin/python3

B=$FMQ_IP:9092
DATA=tests/integration/kafka/kcat_data.py
FMT=$(/usr/bin/python3 "$DATA" format)
# Fast batching through a tap that passes ~100k packets/s kernel->broker.
PROD=(-X linger.ms=20 -X batch.num.messages=10000 -X batch.size=1000000
	-X queue.buffering.max.kbytes=262144 -X message.max.bytes=1000000)
now_ms() { date +%s%3N; }

# Three partitions for the kcat topic, so each message group gets its own
# and is compared in order.
fmq_start kcat --set num.partitions=3 "${FMQ_KAFKA_ARGS[@]}"

# --- -L: metadata ------------------------------------------------------------
timeout 30 kcat -b "$B" -L >"$FMQ_TMP/L0.txt" 2>&1 || fail "kcat -L: $(cat "$FMQ_TMP/L0.txt")"
grep -q "broker 1 at $FMQ_IP:9092 (controller)" "$FMQ_TMP/L0.txt" ||
	fail "kcat -L does not show this broker as controller: $(cat "$FMQ_TMP/L0.txt")"
pass "kcat -L: broker 1 at $FMQ_IP:9092 (controller)"

# --- produce ---------------------------------------------------------------------
# produce GROUP PARTITION [kcat options]: pipe GROUP into partition
# PARTITION, remember the run's time window for the timestamp check.
declare -A T0 T1
produce() {
	local g=$1 p=$2 rc=0
	shift 2
	T0[$g]=$(now_ms)
	/usr/bin/python3 "$DATA" gen "$g" |
		timeout 300 kcat -b "$B" -P -t kc -p "$p" -K '\t' "${PROD[@]}" "$@" \
			2>"$FMQ_TMP/produce-$g.err" || rc=$?
	T1[$g]=$(now_ms)
	[ "$rc" -eq 0 ] || fail "kcat -P group $g: exit $rc: $(tail -5 "$FMQ_TMP/produce-$g.err")"
	if grep -qi 'fail\|error' "$FMQ_TMP/produce-$g.err"; then
		fail "kcat -P group $g reported errors: $(grep -i 'fail\|error' "$FMQ_TMP/produce-$g.err" | head -5)"
	fi
}
bytes0=$(fmq_metric fluxmq_kafka_produce_bytes_total)
t0=$(now_ms)
produce A 0 -H app=fluxmq -H grp=A
produce B 1 -Z -H grp=B -H empty= -H nul -z lz4
produce C 2 -X compression.codec=zstd
t1=$(now_ms)
produce D 0 -H grp=D
t2=$(now_ms)
bytes1=$(fmq_metric fluxmq_kafka_produce_bytes_total)
rate=$(awk -v n=200000 -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }')
pass "produced 200,000 small messages in $((t1 - t0)) ms ($rate msgs/s) and 200 large in $((t2 - t1)) ms; $(((bytes1 - bytes0) / 1048576)) MiB of batches appended"

# The D group followed A on partition 0: offsets continue after A's.
timeout 30 kcat -b "$B" -L -t kc >"$FMQ_TMP/L1.txt" 2>&1 || fail "kcat -L -t kc"
grep -q 'topic "kc" with 3 partitions' "$FMQ_TMP/L1.txt" || fail "kcat -L -t kc: $(cat "$FMQ_TMP/L1.txt")"
for p in 0 1 2; do
	grep -q "partition $p, leader 1, replicas: 1, isrs: 1" "$FMQ_TMP/L1.txt" ||
		fail "partition $p not led by broker 1: $(cat "$FMQ_TMP/L1.txt")"
done
pass "kcat -L -t kc: 3 partitions, leader 1"

# --- consume and compare -------------------------------------------------------
# check GROUP PARTITION [kcat options]: consume PARTITION from the start and
# compare it with GROUP (for D: from offset 100000, after A).
check() {
	local g=$1 p=$2
	shift 2
	timeout 300 kcat -b "$B" -C -t kc -p "$p" -e -q -f "$FMT" "$@" \
		2>"$FMQ_TMP/consume-$g.err" |
		/usr/bin/python3 "$DATA" check "$g" "${T0[$g]}" "${T1[$g]}" ||
		fail "group $g differs (kcat stderr: $(tail -3 "$FMQ_TMP/consume-$g.err"))"
}
out0=$(fmq_metric fluxmq_kafka_response_bytes_total)
t0=$(now_ms)
check A 0 -o beginning -c 100000
check B 1 -o beginning
check C 2 -o beginning
t1=$(now_ms)
out1=$(fmq_metric fluxmq_kafka_response_bytes_total)
mb=$(awk -v b=$((out1 - out0)) -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", b / 1048576 / (ms / 1000) }')
pass "consumed and compared 200,000 messages in $((t1 - t0)) ms (fetch $mb MiB/s incl. the compare)"
# Large ones: offsets 100000..100199 of partition 0; the check wants them
# numbered from 0, so renumber through a small filter.
timeout 300 kcat -b "$B" -C -t kc -p 0 -o 100000 -e -q -f "$FMT" 2>"$FMQ_TMP/consume-D.err" |
	/usr/bin/python3 -c '
import sys
i, o = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = i.readline()
    if not line:
        break
    f = line.split(b" ", 4)
    f[0] = str(int(f[0]) - 100000).encode()
    o.write(b" ".join(f))
    for n in (int(f[2]), int(f[3])):
        if n > 0:
            o.write(i.read(n))
    o.write(i.read(1))
' | /usr/bin/python3 "$DATA" check D "${T0[D]}" "${T1[D]}" ||
	fail "group D differs (kcat stderr: $(tail -3 "$FMQ_TMP/consume-D.err"))"
pass "200 large messages (up to 900 KiB) identical at offsets 100000..100199"

zc=$(fmq_metric fluxmq_kafka_fetch_zero_copy_bytes_total)
cp=$(fmq_metric fluxmq_kafka_fetch_copied_bytes_total)
[ "$zc" -gt 0 ] || fail "no fetch byte was sent zero-copy"
pass "fetch bytes: $((zc / 1048576)) MiB zero-copy from the hot pool, $((cp / 1048576)) MiB copied from segment files"

# --- -G: the same through a consumer group --------------------------------------
# Every partition from the start, each offset once; the group's commits make
# a second run of the same group read nothing.
timeout 300 kcat -b "$B" -G kc-group -X auto.offset.reset=earliest -e -q \
	-f '%p %o\n' kc >"$FMQ_TMP/group.txt" 2>"$FMQ_TMP/group.err" ||
	fail "kcat -G: $(tail -3 "$FMQ_TMP/group.err")"
sort -u -k1,1n -k2,2n "$FMQ_TMP/group.txt" | awk '{ n[$1]++; if ($2 != n[$1] - 1) bad = 1 }
	END { if (bad || n[0] != 100200 || n[1] != 60000 || n[2] != 40000) {
		print "partition counts " n[0] " " n[1] " " n[2]; exit 1 } }' ||
	fail "kcat -G did not read every offset of every partition once"
[ "$(wc -l <"$FMQ_TMP/group.txt")" -eq 200200 ] || fail "kcat -G read duplicates"
timeout 120 kcat -b "$B" -G kc-group -X auto.offset.reset=earliest -e -q \
	-f '%p %o\n' kc >"$FMQ_TMP/group2.txt" 2>"$FMQ_TMP/group2.err" ||
	fail "kcat -G again: $(tail -3 "$FMQ_TMP/group2.err")"
[ ! -s "$FMQ_TMP/group2.txt" ] || fail "kcat -G again read $(wc -l <"$FMQ_TMP/group2.txt") messages after committing"
pass "kcat -G: 200,200 messages once each through a group; a second run starts at the committed offsets"

# --- -Q: offset for a timestamp --------------------------------------------------
# The first message of D is the first one at or after D's start.
q=$(timeout 30 kcat -b "$B" -Q -t "kc:0:${T0[D]}" 2>&1) || fail "kcat -Q: $q"
off=$(printf '%s\n' "$q" | awk '/offset/ { for (i = 1; i < NF; i++) if ($i == "offset") print $(i + 1) }')
[ "$off" = 100000 ] || fail "kcat -Q kc:0:${T0[D]}: '$q', want offset 100000"
q=$(timeout 30 kcat -b "$B" -Q -t "kc:1:$((T1[D] + 60000))" 2>&1) || fail "kcat -Q: $q"
printf '%s\n' "$q" | grep -q 'offset -1' || fail "kcat -Q past the end: '$q', want offset -1"
pass "kcat -Q: timestamp -> offset 100000; past the last message -> -1"

# --- counters -----------------------------------------------------------------
for api in Produce Fetch Metadata ListOffsets ApiVersions; do
	n=$(fmq_metric fluxmq_kafka_requests_total "api=\"$api\"") || fail "no $api requests counted"
	[ "$n" -gt 0 ] || fail "$api requests counted: $n"
done
closes=$(fmq_metric fluxmq_kafka_connection_closes_total)
[ "$closes" -eq 0 ] || fail "the broker closed $closes connections during a clean run"
pass "requests counted per API; no connection closed by the broker"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "kcat round trip"
