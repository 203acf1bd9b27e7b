#!/usr/bin/env bash
# The benchmark suite end to end in its quick mode (bench/run-suite.sh
# --quick), so the bench cannot rot: ceilings, every FluxMQ workload over
# memif with verification on, the peers, the report and the plots. It
# asserts correctness, not speed: every FluxMQ run exits 0 and every
# acknowledged message is read back identical; it must finish in under
# 3 minutes.
# Skips (77) only while the broker's Kafka layer (lib/broker) is not in the
# build.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd python3 ip
[ -f lib/broker/meson.build ] || skip "the broker's Kafka layer (lib/broker) is not in this build yet"
[ -x "$FMQ_BUILD/bench/loadgen/fluxmq-bench" ] || fail "fluxmq-bench not built"

OUT=$FMQ_TMP/results
t0=$(date +%s)
rc=0
FMQ_BUILD=$FMQ_BUILD bench/run-suite.sh --quick --out "$OUT" >"$FMQ_TMP/suite.log" 2>&1 || rc=$?
secs=$(( $(date +%s) - t0 ))
cat "$FMQ_TMP/suite.log"
[ $rc = 0 ] || fail "run-suite.sh --quick exited $rc"
[ $secs -lt 180 ] || fail "quick suite took $secs s (limit 180)"
pass "run-suite.sh --quick finished in $secs s"

md=$(ls "$OUT"/*.md)
runs=$(ls "$OUT"/*.jsonl)
[ -s "$md" ] || fail "no results table"
for png in "$OUT"/*-throughput.png "$OUT"/*-latency.png; do
	[ -s "$png" ] || fail "plot $png missing"
done
pass "results table and plots written"

# Every FluxMQ Kafka workload ran, verified, and lost nothing.
python3 - "$runs" <<'PY' || fail "verification"
import json, sys
want = ["produce-100x1000-acks1", "produce-100x1000-acks0",
        "produce-100x1000-acksall", "produce-100x1", "produce-1kx100",
        "produce-lz4-1m", "fetch-100x1000", "produce-fetch-100x1000",
        "latency-10", "latency-50", "latency-90"]
runs = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    runs[(d["system"], d["row"])] = d
bad = []
for row in want:
    d = runs.get(("fluxmq-memif", row))
    if d is None or "na" in d:
        bad.append(f"{row}: did not run ({d and d.get('na')})")
        continue
    v = d.get("verify") or {}
    if not v.get("ok") or v.get("missing") != 0 or v.get("corrupt") != 0 \
            or v.get("deleted_by_retention") != 0 or not v.get("read_back") \
            or v["read_back"] != v["acknowledged"]:
        bad.append(f"{row}: verify {v}")
    if d.get("kafka_errors") or d.get("protocol_errors"):
        bad.append(f"{row}: errors {d.get('kafka_errors')}/{d.get('protocol_errors')}")
    if not d.get("msgs_per_s"):
        bad.append(f"{row}: no throughput")
for k, d in runs.items():
    if k[0] == "fluxmq-tap" and "verify" in d and d["verify"] and not d["verify"]["ok"]:
        bad.append(f"{k}: verify {d['verify']}")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "every FluxMQ workload verified: all acknowledged messages read back identical"
