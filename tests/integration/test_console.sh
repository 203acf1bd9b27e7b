#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The web console and the health endpoints (issue 19):
#  - GET / and /dashboard serve the console; /v1/status, /v1/topics,
#    /v1/groups, /v1/history answer JSON with the documented fields, and
#    a group id with a quote, a backslash, a control character and "<b>"
#    stays valid JSON and shows on the page as text;
#  - in headless Chromium (DevTools protocol) the page loads without a
#    console error, shows the topics, partitions and group this test
#    created, and its messages chart gains points while a producer runs;
#    a screenshot is kept (path printed);
#  - /ready turns 503 naming the log dir while it is offline (a tmpfs
#    filled up) and back to 200 when space is freed, /health stays 200;
#  - /health (liveness) turns 503 naming the data lcore whose thread is
#    held (ptrace) for 3 s, and back to 200 when it runs again.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl mount umount /usr/bin/python3
CHROME=${FMQ_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROME" ] || skip "needs chromium (apt-get install chromium)"
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "python3-confluent-kafka not installed"

B=$FMQ_IP:9092
M=http://$FMQ_MGMT
SHOTS=${FMQ_SHOT_DIR:-$FMQ_BUILD/test-logs/console}
mkdir -p "$SHOTS"
py() { timeout 60 /usr/bin/python3 tests/integration/mgmt/console_client.py "$B" "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$M$1" || true; }
body() { curl -s --max-time 3 "$M$1" || true; }
# jget URL EXPR: evaluate a Python expression over the JSON at URL (j).
jget() {
	curl -sf --max-time 5 "$M$1" | /usr/bin/python3 -c \
		"import json,sys; j=json.load(sys.stdin); print($2)"
}

# The log dir is a small tmpfs, so that it can be filled.
DISK=$FMQ_TMP/disk
mkdir -p "$DISK"
mount -t tmpfs -o size=48m fmq-console "$DISK" || skip "cannot mount a tmpfs"
fmq_on_cleanup "umount -l '$DISK'"
export FMQ_DATA_DIR=$DISK/data
fmq_start console --set lcores.data=2 --set log.hot.pool.bytes=33554432 \
	--set log.hot.chunk.bytes=1048576 --set log.hot.bytes=1048576 \
	--set message.max.bytes=262144 --set log.flush.interval.ms=100

# --- the page and the JSON views ------------------------------------------
for u in / /dashboard; do
	[ "$(code "$u")" = 200 ] || fail "GET $u: HTTP $(code "$u")"
	ct=$(curl -s -o /dev/null -w '%{content_type}' "$M$u")
	case $ct in text/html*) ;; *) fail "GET $u: Content-Type $ct" ;; esac
done
size=$(curl -s "$M/" | wc -c)
body / | grep -q '<canvas id="chart-msgs"' || fail "GET / is not the console"
if body / | grep -Eq '(src|href)="(https?:)?//'; then
	fail "the console loads something from elsewhere: $(body / | grep -Eo '(src|href)="(https?:)?//[^"]*' | head -3)"
fi
st=$(jget /v1/status '" ".join(str(x) for x in (j["version"], j["live"], j["ready"], len(j["lcores"]), j["partitions"], len(j["log_dirs"]), j["log_dirs"][0]["online"], j["process"]["rss_bytes"] > 0, j["process"]["open_fds"] > 0, j["uptime_s"] > 0, j["mgmt"]))') ||
	fail "/v1/status: $(body /v1/status | head -c 300)"
ver=$(sed -n "s/^  version: '\(.*\)',$/\1/p" meson.build)
[ "$st" = "$ver True True 2 0 1 True True True True $FMQ_MGMT" ] ||
	fail "/v1/status: '$st' (want version $ver, live, ready, 2 lcores, 0 partitions, 1 log dir online, rss, fds, uptime, mgmt $FMQ_MGMT)"
for m in fluxmq_process_resident_memory_bytes fluxmq_process_cpu_seconds_total fluxmq_process_open_fds fluxmq_lcore_stalled; do
	fmq_metric "$m" >/dev/null || fail "no $m in /metrics"
done
[ "$(code /v1/nothing)" = 404 ] || fail "/v1/nothing: HTTP $(code /v1/nothing)"
[ "$(code '/v1/history?since=x')" = 400 ] || fail "/v1/history?since=x: HTTP $(code '/v1/history?since=x')"
pass "/ and /dashboard serve the console ($size bytes, no outside asset); /v1/status: $st; process metrics"

py setup cons-alpha:3 cons-beta:1 cons-group >"$FMQ_TMP/setup.out" 2>&1 ||
	fail "setup traffic: $(tail -n 5 "$FMQ_TMP/setup.out")"
cat "$FMQ_TMP/setup.out"
tj=$(jget /v1/topics '" ".join("%s:%d:%d:%s" % (t["name"], len(t["partitions"]), sum(p["end"] for p in t["partitions"]), all((p["bytes"] or 0) > 0 for p in t["partitions"])) for t in j["topics"])') ||
	fail "/v1/topics: $(body /v1/topics | head -c 300)"
[ "$tj" = "cons-alpha:3:300:True cons-beta:1:100:True" ] ||
	fail "/v1/topics: '$tj' (want cons-alpha:3:300:True cons-beta:1:100:True)"
gj=$(jget /v1/groups '" ".join("%s:%s:%d" % (g["id"], ",".join("%s-%d=%s" % (o["topic"], o["partition"], o["lag"]) for o in sorted(g["offsets"], key=lambda o: o["partition"])), g["lag"]) for g in j["groups"])') ||
	fail "/v1/groups: $(body /v1/groups | head -c 300)"
[ "$gj" = "cons-group:cons-alpha-0=50,cons-alpha-1=50,cons-alpha-2=50:150" ] ||
	fail "/v1/groups: '$gj' (want lag 50 on each of cons-alpha's 3 partitions)"
pass "/v1/topics: $tj; /v1/groups: $gj"
# A group id JSON must escape (quote, backslash, control character).
odd=$(printf 'odd"id\\\001<b>')
py commit "$odd" cons-beta 7 >/dev/null 2>&1 || fail "commit for group $odd"
oj=$(curl -sf "$M/v1/groups" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
print([(g["id"], g["offsets"][0]["lag"]) for g in j["groups"] if g["id"].startswith("odd")] == [(sys.argv[1], 93)])' "$odd") ||
	fail "/v1/groups is not JSON with an odd group id: $(body /v1/groups | head -c 300)"
[ "$oj" = True ] || fail "/v1/groups does not show group $(printf '%q' "$odd") with lag 93: $(body /v1/groups | head -c 400)"
pass "/v1/groups escapes group id $(printf '%q' "$odd")"

# --- the console in headless Chromium ----------------------------------------
py produce cons-beta 25 >"$FMQ_TMP/produce.out" 2>&1 &
ppid=$!
fmq_on_cleanup "kill $ppid 2>/dev/null; wait $ppid 2>/dev/null"
# Let the history hold a few seconds of the producer's rate.
sleep 2
shot=$SHOTS/console.png
rm -f "$shot"
prof=$FMQ_TMP/chromium-profile
rm -rf "$prof"
rc=0
# shellcheck disable=SC1003 # a backslash inside the group id, not an escape
timeout 90 /usr/bin/python3 tests/integration/mgmt/console_cdp.py "$CHROME" \
	"$M/" "$shot" "$prof" cons-alpha cons-alpha-2 cons-beta-0 cons-group \
	'odd"id\' '<b>' \
	>"$FMQ_TMP/cdp.out" 2>&1 || rc=$?
cat "$FMQ_TMP/cdp.out"
[ "$rc" = 0 ] || fail "the console in headless Chromium (exit $rc; chromium log $prof.stderr)"
[ -s "$shot" ] || fail "no screenshot at $shot"
wait "$ppid" 2>/dev/null || true
pass "console in headless Chromium: no errors, topics, partitions and group shown, chart live; screenshot $shot"

# --- /ready while a log dir is offline ------------------------------------------
dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null || true
for ((i = 0; i < 50; i++)); do
	timeout 5 /usr/bin/python3 -c '
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "acks": "all", "message.timeout.ms": 2000})
for i in range(200):
    p.produce("cons-beta", b"y" * 1000)
p.flush(3)' "$B" >/dev/null 2>&1 || true
	[ "$(code /ready)" = 503 ] && break
	sleep 0.1
done
rcode=$(code /ready)
rbody=$(body /ready)
hcode=$(code /health)
sready=$(jget /v1/status '"%s %s" % (j["ready"], j["log_dirs"][0]["online"])') ||
	sready=missing
[ "$rcode" = 503 ] || fail "/ready with the log dir full: HTTP $rcode '$rbody' (want 503)"
case $rbody in *"log dir offline: $DISK/data"*) ;; *) fail "/ready does not name the dir: '$rbody'" ;; esac
[ "$hcode" = 200 ] || fail "/health with the log dir full: HTTP $hcode (want 200: the process works)"
[ "$sready" = "False False" ] || fail "/v1/status with the log dir full: ready/online '$sready'"
rm -f "$DISK/filler"
for ((i = 0; i < 100; i++)); do
	[ "$(code /ready)" = 200 ] && break
	sleep 0.1
done
[ "$(code /ready)" = 200 ] || fail "/ready after freeing space: HTTP $(code /ready) '$(body /ready)'"
pass "log dir full: /ready 503 '$(printf '%s' "$rbody" | head -n 1)', /health 200; space freed: /ready 200 after $((i / 10)).$((i % 10)) s"

# --- /health while a data lcore is held ------------------------------------------
# Start from every lcore polling (a loaded machine may have delayed one).
for ((i = 0; i < 100; i++)); do
	[ "$(code /health)" = 200 ] && break
	sleep 0.1
done
[ "$(code /health)" = 200 ] || fail "/health before holding an lcore: $(body /health)"
fmq_last_worker 2
wname=$FMQ_WORKER
tid=$FMQ_WORKER_TID
eal=${wname##*-}
/usr/bin/python3 tests/integration/service/sd_stall.py "$tid" 6 >"$FMQ_TMP/stall.out" 2>&1 &
spid=$!
fmq_on_cleanup "kill $spid 2>/dev/null; wait $spid 2>/dev/null"
for ((i = 0; i < 30; i++)); do
	grep -q stopped "$FMQ_TMP/stall.out" && break
	sleep 0.1
done
grep -q stopped "$FMQ_TMP/stall.out" || fail "could not stop thread $tid: $(cat "$FMQ_TMP/stall.out")"
t0=$(date +%s%N)
# 503 naming the held lcore once it has not polled for 3 s.
for ((i = 0; i < 50; i++)); do
	case $(body /health) in *"data lcore 1 "*) break ;; esac
	sleep 0.1
done
hlat=$((($(date +%s%N) - t0) / 1000000))
hcode=$(code /health)
hbody=$(body /health)
rcode=$(code /ready)
stalled=$(fmq_metric fluxmq_lcore_stalled || echo missing)
slc=$(jget /v1/status '" ".join(str(l["stalled"]) for l in j["lcores"])') ||
	slc=missing
wait "$spid" || fail "stall helper: $(cat "$FMQ_TMP/stall.out")"
[ "$hcode" = 503 ] || fail "/health with data lcore 1 held: HTTP $hcode '$hbody' (want 503)"
case $hbody in *"data lcore 1 (EAL lcore $eal) has not polled"*) ;;
*) fail "/health does not name data lcore 1 (EAL lcore $eal): '$hbody'" ;; esac
[ "$rcode" = 503 ] || fail "/ready with data lcore 1 held: HTTP $rcode (want 503)"
# (>= 1 and "* True": on a loaded machine the other lcore may be late too)
case $stalled in [1-9]*) ;; *) fail "fluxmq_lcore_stalled=$stalled with one lcore held" ;; esac
case $slc in *" True") ;; *) fail "/v1/status lcores stalled: '$slc' (want data lcore 1 True)" ;; esac
for ((i = 0; i < 50; i++)); do
	[ "$(code /health)" = 200 ] && break
	sleep 0.1
done
[ "$(code /health)" = 200 ] || fail "/health after the lcore was released: HTTP $(code /health) '$(body /health)'"
[ "$(code /ready)" = 200 ] || fail "/ready after the lcore was released: HTTP $(code /ready)"
pass "data lcore 1 ($wname) held: /health 503 within $hlat ms '$hbody', /ready 503, fluxmq_lcore_stalled 1; released: both 200"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "console and health"
