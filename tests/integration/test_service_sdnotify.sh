#!/usr/bin/env bash
# systemd notify protocol against a real listener socket standing in for
# systemd ($NOTIFY_SOCKET, $WATCHDOG_USEC as systemd sets them): READY=1
# arrives once /health is 200 (the listener asks /health when READY comes),
# WATCHDOG=1 keeps arriving while every data lcore runs and stops while one
# data lcore thread is held (ptrace-interrupted, the others running), then
# resumes; STOPPING=1 on SIGTERM and exit 0. Also fluxmq_build_info.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3

sock=$FMQ_TMP/notify.sock
log=$FMQ_TMP/notify.log
/usr/bin/python3 tests/integration/service/sd_listen.py "$sock" "$log" \
	"$FMQ_MGMT" >"$FMQ_TMP/listen.out" 2>&1 &
lpid=$!
fmq_on_cleanup "kill $lpid 2>/dev/null; wait $lpid 2>/dev/null"
for ((i = 0; i < 50; i++)); do
	grep -q '^listening' "$log" 2>/dev/null && break
	sleep 0.1
done
grep -q '^listening' "$log" || fail "notify listener did not start: $(cat "$FMQ_TMP/listen.out")"

# What systemd's WatchdogSec=1 would set: checks every 1/3 s.
export NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000
unset WATCHDOG_PID
# Two data lcores: one held must stop the pings though the other runs.
fmq_start sd --set lcores.data=2
unset NOTIFY_SOCKET WATCHDOG_USEC

# --- READY=1, after /health is 200 ------------------------------------------
for ((i = 0; i < 50; i++)); do
	grep -q 'READY=1' "$log" && break
	sleep 0.1
done
ready=$(grep 'READY=1' "$log" || true)
[ -n "$ready" ] || fail "no READY=1 within 5 s of /health 200 (got: $(tail -n +2 "$log" | head -5))"
[ "$(printf '%s\n' "$ready" | wc -l)" -eq 1 ] || fail "READY=1 sent more than once: $ready"
[ "$(printf '%s' "$ready" | awk '{print $2}')" = 200 ] ||
	fail "READY=1 came while /health was $(printf '%s' "$ready" | awk '{print $2}'), not 200"
pass "READY=1 once, /health 200 when it came ($(printf '%s' "$ready" | cut -d' ' -f3-))"

# --- WATCHDOG=1 keeps arriving ------------------------------------------------
w0=$(grep -c 'WATCHDOG=1' "$log" || true)
sleep 3
w1=$(grep -c 'WATCHDOG=1' "$log" || true)
[ $((w1 - w0)) -ge 5 ] || fail "only $((w1 - w0)) WATCHDOG=1 in 3 s with WATCHDOG_USEC=1000000 (want >= 5)"
m=$(fmq_metric fluxmq_systemd_watchdog_pings_total)
[ "$m" -ge "$w1" ] || fail "fluxmq_systemd_watchdog_pings_total=$m, listener saw $w1"
[ "$(fmq_metric fluxmq_systemd_watchdog_withheld_total)" -eq 0 ] ||
	fail "watchdog withheld with every lcore running"
iv=$(fmq_metric fluxmq_systemd_watchdog_interval_seconds)
awk -v v="$iv" 'BEGIN { exit !(v > 0.3 && v < 0.4) }' ||
	fail "fluxmq_systemd_watchdog_interval_seconds=$iv, want 1/3"
pass "WATCHDOG=1: $((w1 - w0)) in 3 s, pings_total $m, none withheld, interval $iv s"

# --- one hung data lcore stops the pings ---------------------------------------
# The second data lcore: data lcore 1 runs on the EAL's second worker.
fmq_last_worker 2
wname=$FMQ_WORKER
tid=$FMQ_WORKER_TID
eal=${wname##*-}
p0a=$(fmq_metric fluxmq_lcore_polls_total 'lcore="0"')
/usr/bin/python3 tests/integration/service/sd_stall.py "$tid" 5 >"$FMQ_TMP/stall.out" 2>&1 &
spid=$!
for ((i = 0; i < 30; i++)); do
	grep -q stopped "$FMQ_TMP/stall.out" && break
	sleep 0.1
done
grep -q stopped "$FMQ_TMP/stall.out" || fail "could not stop thread $tid: $(cat "$FMQ_TMP/stall.out")"
# The check in flight may still see the last polls: skip one interval.
sleep 0.7
s0=$(grep -c 'WATCHDOG=1' "$log" || true)
sleep 2
# The control lcore still answers, and /health (liveness) names the lcore
# once it has not polled for 3 s (the hold lasts 5).
for ((i = 0; i < 15; i++)); do
	hb=$(curl -s -w ' %{http_code}' --max-time 2 "http://$FMQ_MGMT/health" || true)
	case $hb in *"data lcore 1 "*) break ;; esac
	sleep 0.1
done
case $hb in
*"data lcore 1 (EAL lcore $eal) has not polled"*" 503") ;;
*) fail "/health with data lcore 1 held: '$hb' (want 503 naming it)" ;;
esac
s1=$(grep -c 'WATCHDOG=1' "$log" || true)
ps1=$(fmq_metric fluxmq_systemd_watchdog_pings_total)
p0b=$(fmq_metric fluxmq_lcore_polls_total 'lcore="0"')
wait "$spid" || fail "stall helper: $(cat "$FMQ_TMP/stall.out")"
[ "$s1" -eq "$s0" ] || fail "$((s1 - s0)) WATCHDOG=1 sent while data lcore thread $tid was held"
held=$(fmq_metric fluxmq_systemd_watchdog_withheld_total)
[ "$held" -ge 5 ] || fail "fluxmq_systemd_watchdog_withheld_total=$held after 2 s of a held lcore"
grep -q "data lcore 1 (EAL lcore $eal) has not polled" "$FMQ_TMP/sd.log" ||
	fail "no log line naming the stalled lcore (data lcore 1, EAL lcore $eal): $(grep sdnotify "$FMQ_TMP/sd.log")"
if grep -q "data lcore 0 .* has not polled" "$FMQ_TMP/sd.log"; then
	fail "data lcore 0 reported stalled though it ran"
fi
[ "$p0b" -gt "$p0a" ] || fail "data lcore 0 did not poll while lcore 1 was held ($p0a -> $p0b)"
sleep 2
ps2=$(fmq_metric fluxmq_systemd_watchdog_pings_total)
[ $((ps2 - ps1)) -ge 2 ] || fail "WATCHDOG=1 did not resume after the lcore was released ($((ps2 - ps1)) in 2 s)"
pass "data lcore 1 ($wname, thread $tid) held, lcore 0 polling ($p0a -> $p0b): /health 503 naming it, no WATCHDOG=1 for 2 s (withheld $held), resumed after ($((ps2 - ps1)) in 2 s)"

# --- build info ----------------------------------------------------------------
ver=$(sed -n "s/^  version: '\(.*\)',$/\1/p" meson.build)
bi=$(curl -sf "http://$FMQ_MGMT/metrics" | grep '^fluxmq_build_info{' || true)
case $bi in
"fluxmq_build_info{version=\"$ver\",commit=\""?*"\"} 1") ;;
*) fail "fluxmq_build_info: '$bi' (want version $ver and a commit)" ;;
esac
"$FMQ_BIN" --version | grep -qx "fluxmq $ver" || fail "--version: $("$FMQ_BIN" --version)"
pass "fluxmq_build_info and --version report $ver: $bi"

# --- STOPPING=1 on SIGTERM -----------------------------------------------------
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
sleep 0.3
grep -q 'STOPPING=1' "$log" || fail "no STOPPING=1 on SIGTERM"
pass "STOPPING=1 on SIGTERM, exit 0"
