#!/usr/bin/env bash
# Foundation: the broker on its embedded TAP default answers ping, serves
# /health and /metrics, survives malformed HTTP, idles under 5% of a core,
# rejects bad config with file:line: key: reason, runs two instances side by
# side, and exits 0 on SIGTERM within 2 s with the tap removed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd ping curl python3

# --- bad configuration: refused with the key and line, exit code 2 --------
printf 'node.id=1\n# comment\npoll.mode=turbo\n' >"$FMQ_TMP/bad.properties"
rc=0
"$FMQ_BIN" -- --config "$FMQ_TMP/bad.properties" >"$FMQ_TMP/bad.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bad config: exit $rc, want 2"
grep -q "bad.properties:3: poll.mode: invalid value 'turbo'" "$FMQ_TMP/bad.out" ||
	fail "bad config message: $(cat "$FMQ_TMP/bad.out")"
rc=0
"$FMQ_BIN" -- --set no.such.key=1 >"$FMQ_TMP/bad2.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--set:1: no.such.key: unknown key" "$FMQ_TMP/bad2.out" ||
	fail "unknown key: exit $rc, $(cat "$FMQ_TMP/bad2.out")"
ip link show "$FMQ_TAP" >/dev/null 2>&1 && fail "a refused start left $FMQ_TAP behind"
pass "bad configuration refused with file:line: key: reason, exit 2"

# --- start on the embedded default -----------------------------------------
fmq_start main --set poll.mode=adaptive
grep -q "FluxMQ is up on TAP $FMQ_TAP" "$FMQ_TMP/main.log" || fail "no start-up line saying how to reach it"
[ "$(fmq_health)" = 200 ] || fail "/health not 200"
pass "started; /health 200"

rx0=$(fmq_metric fluxmq_port_rx_packets_total)
icmp0=$(fmq_metric fluxmq_net_icmp_echo_total)
ping -c 3 -i 0.2 -W 2 "$FMQ_IP" >"$FMQ_TMP/ping.out" || fail "ping $FMQ_IP: $(cat "$FMQ_TMP/ping.out")"
grep -q "3 received" "$FMQ_TMP/ping.out" || fail "ping lost replies: $(tail -2 "$FMQ_TMP/ping.out")"
rx1=$(fmq_metric fluxmq_port_rx_packets_total)
icmp1=$(fmq_metric fluxmq_net_icmp_echo_total)
[ "$rx1" -ge $((rx0 + 3)) ] || fail "rx packets did not grow after ping ($rx0 -> $rx1)"
[ "$icmp1" -eq $((icmp0 + 3)) ] || fail "icmp echo counter $icmp0 -> $icmp1, want +3"
pass "ping answers; rx packets $rx0 -> $rx1, echo replies +3"

fmq_metric fluxmq_net_rx_dropped_total 'reason="ip_bad_csum"' >/dev/null ||
	fail "/metrics has no drop counters by reason"
fmq_metric fluxmq_lcore_busy_cycles_total 'lcore="0"' >/dev/null || fail "no per-lcore busy cycles"
fmq_metric fluxmq_mempool_in_use >/dev/null || fail "no mempool in-use gauge"
pass "/metrics has drops by reason, per-lcore cycles, mempool in use"

# --- malformed and oversized HTTP ------------------------------------------
http_status() {
	python3 - "$FMQ_MGMT" "$1" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
req = eval(sys.argv[2])
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(req)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    print("timeout")
    sys.exit(0)
print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed")
PY
}
st=$(http_status "b'GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'")
[ "$st" = 400 ] || fail "malformed header: got $st, want 400"
st=$(http_status "b'GET /health\r\n\r\n'")
[ "$st" = 400 ] || fail "request line without version: got $st, want 400"
st=$(http_status "b'GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 200000 + b'\r\n\r\n'")
[ "$st" = 431 ] || fail "oversized header: got $st, want 431"
st=$(http_status "b'GET /' + b'a' * 200000 + b' HTTP/1.1\r\nHost: x\r\n\r\n'")
[ "$st" = 414 ] || fail "oversized URI: got $st, want 414"
st=$(http_status "b'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'")
[ "$st" = 404 ] || fail "unknown path: got $st, want 404"
[ "$(fmq_health)" = 200 ] || fail "/health stopped answering after bad requests"
failed=$(fmq_metric fluxmq_mgmt_failed_total)
[ "$failed" -ge 4 ] || fail "fluxmq_mgmt_failed_total=$failed, want >= 4"
pass "malformed HTTP -> 400 (oversized 431/414), /health still 200, $failed counted"

# --- idle CPU in adaptive mode ----------------------------------------------
hz=$(getconf CLK_TCK)
t0=$(awk '{print $14 + $15}' "/proc/$FMQ_PID/stat")
sleep 5
t1=$(awk '{print $14 + $15}' "/proc/$FMQ_PID/stat")
pct=$(( (t1 - t0) * 100 * 100 / (5 * hz) ))   # hundredths of a percent
printf 'idle CPU over 5 s: %d.%02d%% of one core\n' $((pct / 100)) $((pct % 100))
[ "$pct" -lt 500 ] || fail "idle broker used $((pct / 100))% of a core, want < 5%"
pass "idle CPU < 5%"

# --- a second instance side by side -----------------------------------------
pid1=$FMQ_PID
save=("$FMQ_TAP" "$FMQ_IP" "$FMQ_HOST_IP" "$FMQ_MGMT")
FMQ_TAP=fmq0b FMQ_IP=10.77.1.2 FMQ_HOST_IP=10.77.1.1 FMQ_MGMT=127.0.0.1:18081
fmq_start second
ping -c 2 -i 0.2 -W 2 "$FMQ_IP" >/dev/null || fail "second instance: no ping"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "second instance exit $rc"
ip link show fmq0b >/dev/null 2>&1 && fail "second instance left fmq0b"
FMQ_TAP=${save[0]} FMQ_IP=${save[1]} FMQ_HOST_IP=${save[2]} FMQ_MGMT=${save[3]}
FMQ_PID=$pid1
ping -c 1 -W 2 "$FMQ_IP" >/dev/null || fail "first instance stopped answering"
pass "two instances side by side"

# --- SIGTERM: exit 0 within 2 s, tap removed ---------------------------------
start=$(date +%s%N)
rc=0; fmq_stop || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
[ "$ms" -lt 2000 ] || fail "took $ms ms to exit"
ip link show "$FMQ_TAP" >/dev/null 2>&1 && fail "$FMQ_TAP still exists after exit"
pass "SIGTERM: exit 0 in $ms ms, $FMQ_TAP removed"
