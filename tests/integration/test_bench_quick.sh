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
# A hang guard, not a speed target (those live in the bench's figures):
# about 2 minutes on a quiet 2-core machine, 7 while other work shares
# the cores.
[ $secs -lt 600 ] || fail "quick suite took $secs s (hang guard 600)"
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
        "produce-lz4-1m", "produce-lz4-1m-shallow", "fetch-100x1000", "produce-fetch-100x1000",
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
    if row == "produce-fetch-100x1000" and \
            not (d.get("e2e_latency_us") or {}).get("samples"):
        bad.append(f"{row}: no end-to-end latency: {d.get('e2e_latency_us')}")
for k, d in runs.items():
    if k[0] == "fluxmq-tap" and "verify" in d and d["verify"] and not d["verify"]["ok"]:
        bad.append(f"{k}: verify {d['verify']}")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "every FluxMQ workload verified: all acknowledged messages read back identical"

# Data-lcore scaling (bench/scale.sh in the quick suite): 1 and 2 data
# lcores over memif. Verified like the rest, and the placement really
# happened: with 2 lcores the connections split evenly, both lcores
# appended, own-lcore produce sent (almost) no partition operation to
# another lcore, and cross-lcore produce sent every batch across.
python3 - "$runs" <<'PY' || fail "data-lcore scaling"
import json, sys
runs = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    runs[(d["system"], d["row"])] = d
bad = []
def get(row):
    d = runs.get(("fluxmq-memif-scale", row))
    if d is None or "na" in d:
        bad.append(f"{row}: did not run ({d and d.get('na')})")
        return None
    v = d.get("verify") or {}
    if not v.get("ok") or v.get("read_back") != v.get("acknowledged"):
        bad.append(f"{row}: verify {v}")
    if not d.get("msgs_per_s"):
        bad.append(f"{row}: no throughput")
    return d
get("scale-produce-adaptive-n1")
for row, cross in (("scale-produce-adaptive-n2", False),
                   ("scale-produce-cross-adaptive-n2", True)):
    d = get(row)
    if d is None:
        continue
    ts = d.get("transport_stats", {})
    per = d.get("scale", {}).get("per_lcore", {})
    conns = ts.get("conns_per_broker_lcore")
    if conns != [2, 2]:
        bad.append(f"{row}: connections per broker lcore {conns}, want [2, 2]")
    if per.get("connections") != [2, 2]:
        bad.append(f"{row}: broker saw connections {per.get('connections')}")
    batches = per.get("produce_batches", [])
    if len(batches) != 2 or min(batches) == 0:
        bad.append(f"{row}: batches per lcore {batches}")
    x = sum(per.get("xlcore_sent", []))
    if cross and x < 0.9 * sum(batches):
        bad.append(f"{row}: only {x} cross-lcore ops for {sum(batches)} batches")
    if not cross and x > 0.1 * sum(batches):
        bad.append(f"{row}: {x} cross-lcore ops for {sum(batches)} own-lcore batches")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "data-lcore scaling: 1 and 2 lcores verified; connections and partitions on the lcores aimed at"
