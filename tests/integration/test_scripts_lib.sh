#!/usr/bin/env bash
# tests/integration/lib.sh against a stand-in broker (a small Python HTTP
# server that behaves like fluxmq's management side), so the helpers every
# integration test relies on are checked without the real broker: start and
# health wait, the arguments passed, metric parsing, stop status, the 5 s
# SIGTERM limit, kill -9, the cleanup trap and fmq_require_root.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export FMQ_TAP=          # the stand-in makes no interface
. tests/integration/lib.sh
fmq_require_cmd python3 curl setpriv

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export FMQ_MGMT=127.0.0.1:$port
FMQ_BIN=$FMQ_TMP/fake-fluxmq
export FMQ_BIN

cat >"$FMQ_BIN" <<'PY'
#!/usr/bin/env python3
# Stand-in for fluxmq: records its argv, serves /health (503 for 0.3 s, then
# 200) and /metrics on mgmt.listen. FAKE_MODE: ok (exit 0 on SIGTERM), die
# (exit 3 at once), code5 (exit 5 on SIGTERM), hang (ignores SIGTERM).
import http.server, os, signal, sys, threading, time
mode = os.environ.get("FAKE_MODE", "ok")
with open(os.environ["FAKE_ARGV"], "w") as f:
    f.write("\n".join(sys.argv[1:]) + "\n")
if mode == "die":
    print("fake: config error: bad things", file=sys.stderr)
    sys.exit(3)
listen = [a.split("=", 1)[1] for a in sys.argv if a.startswith("mgmt.listen=")][-1]
host, port = listen.rsplit(":", 1)
t0 = time.monotonic()
METRICS = """# HELP fluxmq_rx_packets_total Packets received.
# TYPE fluxmq_rx_packets_total counter
fluxmq_rx_packets_total{lcore="1",port="0"} 10
fluxmq_rx_packets_total{lcore="2",port="0"} 32
fluxmq_rx_packets_total_extra 999
fluxmq_up 1
fluxmq_ratio{kind="a b"} 0.25
"""
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/health":
            ready = time.monotonic() - t0 > 0.3
            code, body = (200, "ok\n") if ready else (503, "starting\n")
        elif self.path == "/metrics":
            code, body = 200, METRICS
        else:
            code, body = 404, "no\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body.encode())
srv = http.server.ThreadingHTTPServer((host, int(port)), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
def term(*_):
    if mode == "hang":
        return
    os._exit(5 if mode == "code5" else 0)
signal.signal(signal.SIGTERM, term)
while True:
    time.sleep(1)
PY
chmod +x "$FMQ_BIN"
export FAKE_ARGV=$FMQ_TMP/argv

# --- start, arguments, metrics, clean stop ---
FMQ_EAL=(--file-prefix fmqlibtest)
FAKE_MODE=ok fmq_start ok --set lcores.data=2
if [ -z "$FMQ_PID" ] || ! fmq_alive "$FMQ_PID"; then fail "FMQ_PID not set to a running process"; fi
[ "$(fmq_health)" = 200 ] || fail "fmq_start returned before /health was 200"
pass "fmq_start waits for /health 200"

argv=$(cat "$FAKE_ARGV")
expect=$(printf '%s\n' --file-prefix fmqlibtest -- \
	--set dev.tap.name= --set net.ip=10.77.0.2/24 --set dev.tap.host_ip=10.77.0.1/24 \
	--set "mgmt.listen=$FMQ_MGMT" \
	--set "log.dirs=$FMQ_TMP/data-ok" --set "log.hot.dir=/dev/hugepages/fmq-test-$$-ok" \
	--set lcores.data=2)
[ "$argv" = "$expect" ] || fail "broker argv was:
$argv
expected:
$expect"
pass "EAL options, then --, overrides and the test's own arguments"

[ "$(fmq_metric fluxmq_up)" = 1 ] || fail "fmq_metric fluxmq_up"
[ "$(fmq_metric fluxmq_rx_packets_total 'lcore="2"')" = 32 ] || fail "label filter"
[ "$(fmq_metric fluxmq_rx_packets_total)" = 42 ] || fail "sum over series (or prefix confusion with _extra)"
[ "$(fmq_metric fluxmq_ratio 'kind="a b"')" = 0.25 ] || fail "label with a space"
if fmq_metric fluxmq_nope >/dev/null; then fail "missing metric must return 1"; fi
if fmq_metric fluxmq_rx_packets_total 'lcore="9"' >/dev/null; then fail "unmatched filter must return 1"; fi
pass "fmq_metric: plain, filtered, summed, missing"

pid=$FMQ_PID
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "fmq_stop returned $rc for a clean exit"
fmq_alive "$pid" && fail "broker still alive after fmq_stop"
[ -z "$FMQ_PID" ] || fail "FMQ_PID not cleared"
pass "fmq_stop returns 0 on a clean exit"

# --- exit status passed through ---
FAKE_MODE=code5 fmq_start code5
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 5 ] || fail "fmq_stop returned $rc, broker exited with 5"
pass "fmq_stop returns the broker's exit status"

# --- start failures fail the test with the log tail ---
out=$( (FAKE_MODE=die fmq_start dies) 2>&1) && fail "fmq_start succeeded for a broker that exits"
grep -q 'bad things' <<<"$out" || fail "no log tail in: $out"
grep -q 'exited with status 3' <<<"$out" || fail "exit status not reported: $out"
pass "fmq_start fails with the exit status and log tail"

out=$( (trap fmq_cleanup EXIT; FAKE_MODE=ok fmq_start again; FAKE_MODE=ok fmq_start twice) 2>&1) && fail "second broker on the same mgmt address started"
grep -q 'already answers' <<<"$out" || fail "no clear message: $out"
pass "fmq_start refuses a busy management address"

out=$( (FMQ_BIN=/nonexistent fmq_start x) 2>&1) && fail "fmq_start with no binary succeeded"
grep -q 'no broker binary' <<<"$out" || fail "no clear message: $out"
pass "fmq_start explains a missing binary"

# --- a broker that ignores SIGTERM: fmq_stop kills it and fails ---
t0=$(date +%s)
out=$( (FAKE_MODE=hang fmq_start hang; echo "$FMQ_PID" >"$FMQ_TMP/hang.pid"; fmq_stop) 2>&1) &&
	fail "fmq_stop succeeded on a broker that ignores SIGTERM"
dt=$(($(date +%s) - t0))
grep -q 'still running 5 s after SIGTERM' <<<"$out" || fail "no clear message: $out"
fmq_alive "$(cat "$FMQ_TMP/hang.pid")" && fail "hung broker left running"
if [ "$dt" -lt 5 ] || [ "$dt" -gt 12 ]; then fail "fmq_stop took ${dt}s, expected about 5"; fi
pass "fmq_stop kills a hung broker after 5 s and fails"

# --- kill -9 ---
FAKE_MODE=ok fmq_start k9
pid=$FMQ_PID
fmq_kill9
fmq_alive "$pid" && fail "alive after fmq_kill9"
pass "fmq_kill9"

# --- the EXIT trap stops brokers a test left behind ---
rc=0
FAKE_MODE=hang bash -c '. tests/integration/lib.sh; fmq_start left; echo "$FMQ_PID" >"$FMQ_TMP/left.pid"; exit 1' \
	>"$FMQ_TMP/left.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "the cleanup trap changed the exit status to $rc"
left=$(cat "$FMQ_TMP/left.pid")
fmq_alive "$left" && { kill -KILL "$left"; fail "fmq_cleanup left broker $left running"; }
pass "fmq_cleanup stops leftovers and keeps the exit status"

# --- fmq_require_root ---
d=$(mktemp -d)
fmq_on_cleanup "rm -rf '$d'"
mkdir -p "$d/tests/integration"
cp "$root/tests/integration/lib.sh" "$d/tests/integration/"
chmod -R a+rX "$d"
rc=0
(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
	bash -c ". '$d/tests/integration/lib.sh'; fmq_require_root; exit 0") >/dev/null 2>&1 || rc=$?
if [ "$(id -u)" -eq 0 ]; then
	[ "$rc" -eq 77 ] || fail "fmq_require_root as nobody exited $rc, want 77"
	pass "fmq_require_root skips (77) when not root"
fi
printf 'all lib.sh checks passed\n'
