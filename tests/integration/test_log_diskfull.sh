#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Disk full never loses an acknowledged message (issue 13, cases 1 and 2).
# log.dirs is a 24 MiB tmpfs, mostly taken by a filler file. An idempotent
# confluent-kafka producer (acks=all) records exactly which messages came
# back without error while the disk fills. Then:
#  - the log dir goes offline: fluxmq_log_dir_offline 1, write errors
#    counted, /ready 503 naming the dir (/health stays 200: the process
#    works), the error logged a few times (not
#    once per flusher pass); produce is refused (KAFKA_STORAGE_ERROR);
#  - space freed while running: the dir comes back by itself, produce works;
#  - full again, SIGTERM: a start while still full is refused or recovers,
#    and discards nothing; after freeing space every acknowledged message
#    is read back at its offset;
#  - full again, SIGKILL while producing: the same;
#  - offsets are never reused (no two acknowledgements for one offset).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl mount umount /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "python3-confluent-kafka not installed"

B=$FMQ_IP:9092
C=tests/integration/kafka/diskfull_client.py
T=dfull
DISK=$FMQ_TMP/disk
ACKS=$FMQ_TMP/acks.txt
: >"$ACKS"
py() { timeout 90 /usr/bin/python3 "$C" "$B" "$@"; }

mkdir -p "$DISK"
mount -t tmpfs -o size=24m fmq-diskfull "$DISK" || skip "cannot mount a tmpfs"
fmq_on_cleanup "umount -l '$DISK'"
export FMQ_DATA_DIR=$DISK/data
export FMQ_HOT_DIR=/dev/hugepages/fmq-test-$$-df
ARGS=(--set log.hot.pool.bytes=33554432 --set log.hot.chunk.bytes=1048576
	--set log.hot.bytes=1048576 --set message.max.bytes=262144
	--set log.flush.interval.ms=200)

# fill: take every free byte of the tmpfs with FILE.
fill() { dd if=/dev/zero of="$DISK/$1" bs=64k 2>/dev/null || true; }

health_body() { curl -s --max-time 2 "http://$FMQ_MGMT/health" || true; }
ready_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$FMQ_MGMT/ready" || true; }
ready_body() { curl -s --max-time 2 "http://$FMQ_MGMT/ready" || true; }

# try_start NAME: start as fmq_start does; 0 once up (FMQ_PID set): /health
# 200, or 503 for an offline log dir only; 1 if the broker exits first
# (its status in START_RC).
try_start() {
	local log=$FMQ_TMP/$1.log i
	FMQ_HOT_DIRS+=("$FMQ_HOT_DIR")
	"$FMQ_BIN" "${FMQ_EAL[@]}" -- \
		--set "dev.tap.name=$FMQ_TAP" --set "net.ip=$FMQ_IP/24" \
		--set "dev.tap.host_ip=$FMQ_HOST_IP/24" \
		--set "mgmt.listen=$FMQ_MGMT" --set "log.dirs=$FMQ_DATA_DIR" \
		--set "log.hot.dir=$FMQ_HOT_DIR" "${ARGS[@]}" \
		>"$log" 2>&1 </dev/null &
	FMQ_PID=$!
	FMQ_PIDS+=("$FMQ_PID")
	FMQ_STARTED=1
	for ((i = 0; i < FMQ_START_TIMEOUT * 10; i++)); do
		if ! fmq_alive "$FMQ_PID"; then
			START_RC=0
			wait "$FMQ_PID" || START_RC=$?
			fmq_forget "$FMQ_PID"
			FMQ_PID=
			return 1
		fi
		[ "$(fmq_health)" = 200 ] && return 0
		case $(health_body) in "log dir offline: "*) return 0 ;; esac
		sleep 0.1
	done
	fail "broker '$1' neither healthy nor exited in ${FMQ_START_TIMEOUT}s"
}

# Chunks the hot pool said it holds for recovery, in log NAME (0 if none).
pool_chunks() {
	sed -n 's/.*: \([0-9]*\) of [0-9]* chunks hold data to recover.*/\1/p' \
		"$FMQ_TMP/$1.log" | tail -n 1 | grep . || echo 0
}

# start_while_full NAME: a start on the full disk either recovers (then
# everything acknowledged must be there) or is refused; a refused start
# must keep every hot chunk for the next one.
start_while_full() {
	if try_start "$1"; then
		py verify "$T" "$ACKS" || fail "$1: started on the full disk but lost acknowledged messages"
		fmq_stop || true
		pass "$1: started on the full disk with every acknowledged message"
		return
	fi
	grep -q 'No space left on device' "$FMQ_TMP/$1.log" ||
		fail "$1: refused start (status $START_RC) does not say why: $(tail -n 5 "$FMQ_TMP/$1.log")"
	REFUSED_CHUNKS=$(pool_chunks "$1")
	pass "$1: start on the full disk refused (status $START_RC, $REFUSED_CHUNKS hot chunks to recover)"
}

# after_refused NAME: the start after a refused one found as many chunks.
after_refused() {
	local n
	[ -n "${REFUSED_CHUNKS:-}" ] || return 0
	n=$(pool_chunks "$1")
	[ "$n" -ge "$REFUSED_CHUNKS" ] ||
		fail "$1: the refused start discarded hot chunks ($REFUSED_CHUNKS before, $n after)"
	REFUSED_CHUNKS=
}

dd if=/dev/zero of="$DISK/filler" bs=1M count=14 2>/dev/null
fmq_start df "${ARGS[@]}"
py create "$T" 2 || fail "create topic"

# --- 1. the disk fills while producing -----------------------------------
py produce "$T" 0 16000 1000 "$ACKS" 6 >"$FMQ_TMP/pa.out" || true
cat "$FMQ_TMP/pa.out"
na=$(wc -l <"$ACKS")
off=$(fmq_metric fluxmq_log_dir_offline || echo missing)
werr=$(fmq_metric fluxmq_log_dir_write_errors_total || echo missing)
hcode=$(ready_code)
hbody=$(ready_body)
lcode=$(fmq_health)
nlog=$(grep -c 'No space left on device' "$FMQ_TMP/df.log" || true)
echo "disk full: $na acknowledged; offline=$off write_errors=$werr health=$hcode '$hbody' log_lines=$nlog"

# --- 2. space freed while running: back online by itself ---------------------
rm -f "$DISK/filler"
for ((i = 0; i < 100; i++)); do
	[ "$(fmq_metric fluxmq_log_dir_offline || echo 1)" = 0 ] && break
	sleep 0.1
done
on=$(fmq_metric fluxmq_log_dir_offline || echo missing)
hcode2=$(ready_code)
py produce "$T" 16000 1000 1000 "$ACKS" 20 >"$FMQ_TMP/pb.out" || true
cat "$FMQ_TMP/pb.out"
grep -q '^acked=1000 failed=0' "$FMQ_TMP/pb.out" ||
	fail "after freeing space, produce still fails: $(cat "$FMQ_TMP/pb.out")"

# --- 3. full again, SIGTERM --------------------------------------------------
fill filler2
py produce "$T" 17000 3000 1000 "$ACKS" 5 >"$FMQ_TMP/pc.out" || true
cat "$FMQ_TMP/pc.out"
rc=0
fmq_stop || rc=$?
echo "SIGTERM with the disk full: exit status $rc, $(wc -l <"$ACKS") acknowledged so far"
start_while_full df-full1
rm -f "$DISK/filler2"
fmq_start df2 "${ARGS[@]}"
after_refused df2
py verify "$T" "$ACKS" || fail "after SIGTERM on a full disk and a restart"
pass "SIGTERM on a full disk, space freed, restart: every acknowledged message read back"

# Observability of step 1, checked now so that the data checks above run
# (and report figures) on any build.
[ "$na" -gt 0 ] || fail "nothing acknowledged before the disk filled"
[ "$off" = 1 ] || fail "fluxmq_log_dir_offline while full: $off (want 1)"
if [ "$werr" = missing ] || [ "$werr" -eq 0 ]; then
	fail "fluxmq_log_dir_write_errors_total while full: $werr"
fi
[ "$hcode" = 503 ] || fail "/ready while full: HTTP $hcode (want 503)"
case $hbody in *"$DISK/data"*) ;; *) fail "/ready does not name the dir: '$hbody'" ;; esac
[ "$lcode" = 200 ] || fail "/health while full: HTTP $lcode (want 200: the process works)"
[ "$nlog" -le 10 ] || fail "'No space left on device' logged $nlog times"
if [ "$on" != 0 ] || [ "$hcode2" != 200 ]; then
	fail "after freeing space: offline=$on /ready=$hcode2 (want 0, 200)"
fi
pass "disk full: offline gauge, write errors, /ready 503 naming the dir (/health 200), $nlog log lines; back online by itself"

# --- 4. the disk fills while producing, SIGKILL ---------------------------------
# The producer starts first (its producer id needs the disk), then the
# disk fills under it; the broker is killed while it still produces.
: >"$FMQ_TMP/stream.txt"
py produce "$T" 20000 12000 1000 "$FMQ_TMP/stream.txt" 5 2000 >"$FMQ_TMP/pd.out" 2>&1 &
ppid=$!
sleep 1.5
fill filler3
for ((i = 0; i < 50; i++)); do
	[ "$(fmq_metric fluxmq_log_dir_offline || echo 0)" = 1 ] && break
	sleep 0.1
done
sleep 1
fmq_kill9
wait "$ppid" || true
tail -n 1 "$FMQ_TMP/pd.out"
nb=$(wc -l <"$FMQ_TMP/stream.txt")
[ "$nb" -gt 0 ] || fail "nothing acknowledged before the SIGKILL"
cat "$FMQ_TMP/stream.txt" >>"$ACKS"
echo "SIGKILL with the disk full: $nb acknowledged by this producer"
start_while_full df-full2
rm -f "$DISK/filler3"
fmq_start df3 "${ARGS[@]}"
after_refused df3
py verify "$T" "$ACKS" || fail "after SIGKILL on a full disk and a restart"
py produce "$T" 26000 500 1000 "$ACKS" 20 >"$FMQ_TMP/pe.out" || true
grep -q '^acked=500 failed=0' "$FMQ_TMP/pe.out" ||
	fail "produce after the restart: $(cat "$FMQ_TMP/pe.out")"
py verify "$T" "$ACKS" || fail "offsets reused after the restart"
pass "SIGKILL on a full disk, space freed, restart: every acknowledged message read back, offsets not reused"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "log dir full"
