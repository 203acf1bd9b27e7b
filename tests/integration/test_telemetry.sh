#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# FluxMQ's commands in DPDK telemetry, read with DPDK's own client
# (dpdk-telemetry.py -f <file prefix>): /fluxmq/info, /fluxmq/lcores,
# /fluxmq/topics and /fluxmq/partitions,<topic> agree with what the test
# produced (a 3-partition topic, 300 records); the EAL's own /ethdev/list
# answers beside them; an unknown topic is an error, not a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl /usr/bin/python3 dpdk-telemetry.py

# The broker's default EAL options name the runtime dir after the TAP.
PREFIX=fluxmq-$FMQ_TAP
fmq_start telemetry --set num.partitions=3

for p in 0 1 2; do
	seq 1 100 | timeout 30 kcat -b "$FMQ_IP:9092" -P -t tele -p "$p" -X linger.ms=5 ||
		fail "produce to partition $p"
done

# tel CMD...: one JSON reply per command, as the client prints them.
tel() {
	printf '%s\n' "$@" | timeout 20 dpdk-telemetry.py -f "$PREFIX" 2>&1 |
		sed -n 's/^--> //p; /^{/p' | grep '^{'
}

# The view refreshes every second: wait for the topic to show.
for _ in $(seq 1 30); do
	tel /fluxmq/topics | grep -q '"tele"' && break
	sleep 0.5
done
out=$(tel /fluxmq/info /fluxmq/lcores /fluxmq/topics /fluxmq/partitions,tele \
	/fluxmq/partitions,no-such-topic /ethdev/list) ||
	fail "dpdk-telemetry.py on $PREFIX: no reply"
printf '%s\n' "$out" >"$FMQ_TMP/telemetry.json"
/usr/bin/python3 - "$FMQ_TMP/telemetry.json" <<'PY' || fail "telemetry replies disagree with the broker (kept in $FMQ_TMP/telemetry.json)"
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
bad = []
if len(replies) != 6:
    bad.append("%d replies to 6 commands" % len(replies))
    replies += [{}] * 6
r = {}
for d in replies[:4] + replies[5:6]:
    r.update(d)
if replies[4] != {"/fluxmq/partitions": None}:
    bad.append("unknown topic: %r, want an error (null)" % replies[4])
info = r.get("/fluxmq/info") or {}
if info.get("healthy") != 1 or info.get("data_lcores", 0) < 1 or info.get("topics", 0) < 1:
    bad.append("info: %r" % info)
lc = r.get("/fluxmq/lcores") or {}
if len(lc.get("polls", [])) != info.get("data_lcores") or not all(p > 0 for p in lc.get("polls", [0])):
    bad.append("lcores: %r" % lc)
if "tele" not in (r.get("/fluxmq/topics") or []):
    bad.append("topics: %r" % r.get("/fluxmq/topics"))
p = r.get("/fluxmq/partitions") or {}
if p.get("partitions") != 3 or sorted(p.get("partition", [])) != [0, 1, 2] or \
        p.get("log_end_offset") != [100, 100, 100] or min(p.get("size_bytes", [0])) <= 0:
    bad.append("partitions,tele: %r" % p)
if not isinstance(r.get("/ethdev/list"), list) or not r["/ethdev/list"]:
    bad.append("/ethdev/list: %r" % r.get("/ethdev/list"))
for b in bad: print(b)
print("info %s; partitions %s" % (info, p))
sys.exit(1 if bad else 0)
PY
pass "dpdk-telemetry.py: /fluxmq/info, lcores, topics, partitions,tele (3 x 100 records) and /ethdev/list agree with the broker"
# An unknown topic answered with an error: the broker is still healthy.
[ "$(fmq_health)" = 200 ] || fail "health after an unknown-topic query"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "telemetry"
