#!/bin/bash
# Data-lcore scaling over memif: the same produce and fetch workloads
# against a broker with 1..N data lcores, every run verified, with the
# ratio to one lcore beside the machine's ceilings from the same run.
#
#   bench/scale.sh [--quick] [--max-lcores N] [--poll busy|adaptive|both]
#                  [--workloads "produce fetch cross steer"] [--repeat R]
#                  [--runs FILE] [--no-ceilings] [--out DIR]
#
# N defaults to the CPUs left after one for the client, at least 2: on a
# 2-CPU host that is 1 and 2 data lcores, and with 2 the second data lcore
# shares its CPU with the client (said in the report). Data lcore i runs on
# CPU (i-1) % ncpu, fluxmq-bench on the last CPU, the control lcore floats.
#
# Per lcore count and poll mode, a fresh broker, then (fluxmq-bench
# --queues N, connections aimed at the broker's lcores by their flow hash):
#   produce 100 B x 1000/batch acks=1, own-lcore placement (every partition
#       owned by the lcore its connection lands on);
#   fetch of preloaded 100 B x 1000 batches, own-lcore placement;
#   produce with cross-lcore placement (every partition owned by another
#       lcore than its connection's), N > 1 only;
#   produce, own lcore, every frame sent on queue 0 (--queue-by first): the
#       broker's lcore 0 steers the other lcores' flows in software, as on a
#       port without RSS (N > 1 only).
# --workloads picks some of them (run-suite.sh --quick: produce and cross).
# --repeat R runs the whole sequence R times (rows get -r1..-rR), the lcore
# counts interleaved, so a shared machine's noise spreads over all of them;
# the table reports the median and the range.
# The same connections and partitions (2 x max lcores) in every run, so only
# the broker changes. The broker's own counters (per-lcore batches, partition
# operations sent to another lcore, packets steered) are read from /metrics
# around each run and recorded, so the report shows which case really ran.
#
# --runs FILE: append JSON lines there (run-suite.sh passes its own, with
# its ceilings; --no-ceilings then skips measuring them again). Alone, the
# script measures ceilings (memcpy, crc32c; memif 1500 B packet rate with
# dpdk-testpmd) and prints the markdown table; --out DIR also writes
# DIR/<date>-<host>-scale.md and .jsonl.
# Exit 1 when a run failed or lost a message. Run as root.
#
# Names (the suite's unless overridden by the environment): memif socket
# $FMQ_SCALE_SOCK (/tmp/fmq-memif.sock), subnet $FMQ_SCALE_NET (10.88.9),
# EAL prefixes $FMQ_SCALE_PREFIX* (fmqbench-scale), management
# $FMQ_SCALE_MGMT (127.0.0.1:18089), hot pool $FMQ_SCALE_HUGEDIR
# (/dev/hugepages/fmqbench-scale). $FMQ_SCALE_BROKER_SET: more broker
# settings, "key=value ..." (each passed as --set; e.g. a smaller
# log.hot.pool.bytes to run with the hot pool under pressure).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
BUILD=${FMQ_BUILD:-build}
BENCH=$BUILD/bench/loadgen/fluxmq-bench
BROKER=$BUILD/app/fluxmq/fluxmq
REPORT=bench/loadgen/suite_report.py

QUICK=0
MAXL=
POLLS=
WLS="produce fetch cross steer"
REPS=1
RUNS=
CEIL=1
OUT=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--max-lcores) MAXL=$2; shift ;;
	--poll) POLLS=$2; shift ;;
	--workloads) WLS=$2; shift ;;
	--repeat) REPS=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--no-ceilings) CEIL=0 ;;
	--out) OUT=$2; shift ;;
	-h|--help) sed -n "2,/^set -uo/p" "$0" | sed "\$d"; exit 0 ;;
	*) echo "scale: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

SOCK=${FMQ_SCALE_SOCK:-/tmp/fmq-memif.sock}
NET=${FMQ_SCALE_NET:-10.88.9}
PREFIX=${FMQ_SCALE_PREFIX:-fmqbench-scale}
MGMT=${FMQ_SCALE_MGMT:-127.0.0.1:18089}
HUGEDIR=${FMQ_SCALE_HUGEDIR:-/dev/hugepages/fmqbench-scale}
EXTRA_SET=()
for kv in ${FMQ_SCALE_BROKER_SET:-}; do EXTRA_SET+=(--set "$kv"); done
NCPU=$(nproc)
if [ -z "$MAXL" ]; then
	MAXL=$((NCPU - 1))
	[ "$MAXL" -lt 2 ] && MAXL=2
	[ "$MAXL" -gt 16 ] && MAXL=16
fi
case "${POLLS:-both}" in
both) POLLS="busy adaptive" ;;
busy|adaptive) ;;
*) echo "scale: --poll busy|adaptive|both" >&2; exit 2 ;;
esac
if [ $QUICK = 1 ]; then
	DUR=1; WARM=0.5; PRELOAD=300000
else
	DUR=4; WARM=1; PRELOAD=1000000
fi
CONNS=$((2 * MAXL))
BENCH_CPU=$((NCPU - 1))
TMP=$(mktemp -d /tmp/fmqbench-scale.XXXXXX)
[ -n "$RUNS" ] || RUNS=$TMP/runs.jsonl
touch "$RUNS"
FAILED=0
BROKER_PID=
T0=$(date +%s)

say() { printf '[scale %4ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }

stop_broker() {
	[ -n "$BROKER_PID" ] || return 0
	if kill -0 "$BROKER_PID" 2>/dev/null; then
		kill -INT "$BROKER_PID"
		for _ in $(seq 1 100); do
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$BROKER_PID" 2>/dev/null
	fi
	wait "$BROKER_PID" 2>/dev/null
	BROKER_PID=
}

# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
	stop_broker
	rm -f "$SOCK"
	rm -rf "$HUGEDIR"
	if [ "$FAILED" = 0 ]; then rm -rf "$TMP"; else say "logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$BENCH" ] && [ -x "$BROKER" ] || { echo "scale: build first (ninja -C $BUILD)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "scale: needs root (DPDK)" >&2; exit 1; }

record() {    # record ROW JSON [EXTRA_JSON]
	python3 -c 'import json,sys
d=json.loads(sys.argv[3]); d["system"]=sys.argv[1]; d["row"]=sys.argv[2]
if len(sys.argv) > 4 and sys.argv[4]: d["scale"]=json.loads(sys.argv[4])
print(json.dumps(d))' "$@" >> "$RUNS"
}

if [ $CEIL = 1 ]; then
	say "ceilings: memcpy, crc32_iscsi (one core)"
	record machine ceilings "$("$BENCH" --workload ceilings)"
	if command -v dpdk-testpmd >/dev/null; then
		say "ceiling: memif 1500 B packet rate (dpdk-testpmd txonly -> rxonly)"
		rm -f "$TMP/tp.sock"
		timeout 12 dpdk-testpmd --lcores=0@0,1@0 --in-memory \
			--file-prefix="$PREFIX-tps" --no-pci --log-level=error \
			--vdev=net_memif0,role=server,id=0,socket=$TMP/tp.sock,socket-abstract=no \
			-- --forward-mode=rxonly --nb-cores=1 --stats-period=1 \
			> "$TMP/tps.log" 2>&1 < /dev/null &
		tps=$!
		sleep 1.5
		(sleep 3; echo) | timeout 10 dpdk-testpmd --lcores=0@"$BENCH_CPU",1@"$BENCH_CPU" \
			--in-memory --file-prefix="$PREFIX-tpc" --no-pci --log-level=error \
			--vdev=net_memif0,role=client,id=0,socket=$TMP/tp.sock,socket-abstract=no \
			-- --forward-mode=txonly --txpkts=1500 --nb-cores=1 > "$TMP/tpc.log" 2>&1
		sleep 1
		kill -INT $tps 2>/dev/null; wait $tps 2>/dev/null
		record machine memif-1500 "$(python3 -c 'import json,re,sys
r=[int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", open(sys.argv[1], errors="replace").read()) if int(x) > 0]
print(json.dumps({"frame_bytes":1500,"pps":max(r, default=0),"samples":len(r)}))' "$TMP/tps.log")"
	fi
fi

start_broker() {   # start_broker N POLL
	local n=$1 poll=$2 lc="0@(0-$((NCPU - 1)))"
	for i in $(seq 1 "$n"); do lc="$lc,$i@$(( (i - 1) % NCPU ))"; done
	rm -f "$SOCK"; rm -rf "$HUGEDIR" "$TMP/data"; mkdir -p "$TMP/data"
	setsid "$BROKER" --lcores="$lc" --in-memory --file-prefix="$PREFIX-broker" \
		--no-pci --log-level=error \
		--vdev=net_memif0,role=server,id=0,socket=$SOCK,socket-abstract=no \
		-- --set net.ip=$NET.2/24 --set poll.mode="$poll" \
		--set lcores.data="$n" --set mgmt.listen="$MGMT" \
		--set log.hot.dir="$HUGEDIR" --set log.hot.pool.bytes=134217728 \
		--set log.dirs="$TMP/data" --set net.tcp.rcv_buf=4194304 \
		--set net.tcp.snd_buf=4194304 "${EXTRA_SET[@]}" \
		> "$TMP/broker-$n-$poll.log" 2>&1 < /dev/null &
	BROKER_PID=$!
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && [ "$(grep -c 'data lcore' "$TMP/broker-$n-$poll.log")" -ge "$n" ] && return 0
		kill -0 $BROKER_PID 2>/dev/null || break
		sleep 0.1
	done
	say "broker ($n data lcores, $poll) did not start:"; tail -5 "$TMP/broker-$n-$poll.log" >&2
	return 1
}

metrics() { curl -s --max-time 2 "http://$MGMT/metrics" > "$1" 2>/dev/null; }

# diagnose ROW: after a failed run with the broker still up, name the
# stuck part. Writes $TMP/diag-ROW/ (metrics before, after and 2 s later,
# every thread's stack, the broker log) and prints a summary on stderr
# (run-suite.sh and test_bench_quick.sh show it): per data lcore, whether
# its poll loop still turns (polls in the last 2 s), sleeps and packets;
# whether the flusher still writes (flushed bytes, syncs); the counters of
# the run that say where requests stopped (backpressure, hot chunks,
# cross-lcore rings, TCP timeouts, PMD faults); every thread's stack.
diagnose() {
	local row=$1 dir=$TMP/diag-$1
	mkdir -p "$dir"
	cp "$TMP/m0" "$dir/metrics-before" 2>/dev/null
	cp "$TMP/m1" "$dir/metrics-after" 2>/dev/null
	sleep 2
	metrics "$dir/metrics-later"
	if command -v gdb >/dev/null; then
		timeout 30 gdb -batch -p "$BROKER_PID" \
			-ex "thread apply all bt 15" > "$dir/stacks" 2>&1
	fi
	cp "$TMP/broker-$N_NOW-$POLL_NOW.log" "$dir/broker.log" 2>/dev/null
	python3 - "$dir" <<'PY' >&2
import re, sys
d = sys.argv[1]
def load(f):
    m = {}
    try:
        for line in open(f"{d}/{f}"):
            if line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            try:
                m[k] = float(v)
            except ValueError:
                pass
    except OSError:
        pass
    return m
b, a, l = load("metrics-before"), load("metrics-after"), load("metrics-later")
def fam(m, name):
    return {k: v for k, v in m.items() if k == name or k.startswith(name + "{")}
print("[scale diag] metrics in %s (before/after the run, 2 s later)" % d)
if not l:
    print("[scale diag] the management endpoint did not answer 2 s later")
for name in ("fluxmq_lcore_polls_total", "fluxmq_lcore_sleeps_total",
             "fluxmq_lcore_rx_packets_total",
             "fluxmq_lcore_doorbell_wakeups_total",
             "fluxmq_log_flushed_bytes_total", "fluxmq_log_syncs_total",
             "fluxmq_log_appends_total"):
    ks = sorted(fam(l or a, name))
    row = ", ".join("%s %+d run / %+d in 2 s" % (
        re.sub(r'.*lcore="(\d+)".*', r"lcore \1", k) if "lcore=" in k
        else "all",
        a.get(k, 0) - b.get(k, 0), l.get(k, 0) - a.get(k, 0)) for k in ks)
    print("[scale diag] %s: %s" % (name[7:], row or "-"))
for name in ("fluxmq_kafka_lcore_requests_total",
             "fluxmq_kafka_produce_batches_total",
             "fluxmq_kafka_produce_backpressure_total",
             "fluxmq_log_backpressure_total", "fluxmq_log_hot_chunks_free",
             "fluxmq_log_flush_lag_bytes",
             "fluxmq_kafka_xlcore_sent_total",
             "fluxmq_kafka_xlcore_served_total",
             "fluxmq_kafka_xlcore_ring_full_total",
             "fluxmq_kafka_forward_ring_full_total",
             "fluxmq_kafka_rx_backlog_pauses_total",
             "fluxmq_kafka_nomem_total", "fluxmq_kafka_connections_active",
             "fluxmq_tcp_timeouts_total", "fluxmq_tcp_retransmits_timeout_total",
             "fluxmq_lcore_steer_drops_total", "fluxmq_lcore_pmd_faults_total",
             "fluxmq_port_rx_missed_total", "fluxmq_port_rx_nombuf_total",
             "fluxmq_net_rx_dropped_total", "fluxmq_net_tx_dropped_total",
             "fluxmq_mempool_in_use"):
    ks = sorted(fam(l or a, name))
    if not ks:
        continue
    gauge = name.endswith(("_free", "_bytes", "_active", "_in_use"))
    vals = []
    for k in ks:
        lab = k[len(name):].strip("{}") or "all"
        if gauge:
            vals.append("%s %g" % (lab, l.get(k, a.get(k, 0))))
        elif l.get(k, 0) != b.get(k, 0) or len(ks) <= 2:
            vals.append("%s %+d" % (lab, l.get(k, 0) - b.get(k, 0)))
    print("[scale diag] %s: %s" % (name[7:], ", ".join(vals) or "+0"))
try:
    st = open(f"{d}/stacks").read()
    for th in re.split(r"\n(?=Thread )", st):
        # Every thread: the data lcores, the control lcore (flusher),
        # the EAL interrupt thread (memif), mgmt.
        if th.startswith("Thread "):
            fr = re.findall(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\w+)", th)
            name = re.search(r'"([^"]*)"', th.split("\n")[0])
            print("[scale diag] thread %s: %s" % (
                name.group(1) if name else "?", " < ".join(fr[:8])))
except OSError:
    print("[scale diag] no stacks (gdb missing)")
PY
}

# run_one N POLL ROW PLACEMENT ARGS...
# A client that could not connect at all (memif link or TCP not up within
# 10 s, seen about once in 40 runs with a busy second lcore on the client's
# CPU) is tried once more while the broker lives; the retry is recorded.
run_one() {
	local n=$1 poll=$2 row=$3 place=$4 out rc extra try retries=0
	shift 4
	for try in 1 2; do
		metrics "$TMP/m0"
		: > "$TMP/bench.err"
		out=$("$BENCH" --lcores=0@"$BENCH_CPU" --in-memory --file-prefix="$PREFIX" \
			--no-pci --log-level=error \
			--vdev=net_memif0,role=client,id=0,socket=$SOCK,socket-abstract=no \
			-- --broker $NET.2:9092 --local-ip $NET.100/24 --progress 0 \
			--queues "$n" --lcore-placement "$place" \
			--connections $CONNS --partitions $CONNS --label "$row" \
			--duration $DUR --warmup $WARM --verify "$@" 2>"$TMP/bench.err")
		rc=$?
		cat "$TMP/bench.err" >> "$TMP/bench.log"
		metrics "$TMP/m1"
		[ $rc != 0 ] && [ -z "$out" ] && [ $try = 1 ] &&
			kill -0 "$BROKER_PID" 2>/dev/null &&
			grep -qE "link down after|connections up after" "$TMP/bench.err" ||
			break
		retries=1
		say "$row: the client could not connect ($(tail -1 "$TMP/bench.err")); once more"
	done
	extra=$(python3 "$REPORT" metrics-delta "$TMP/m0" "$TMP/m1" \
		--lcores "$n" --poll "$poll" --placement "$place" \
		--bench-cpu "$BENCH_CPU" --ncpu "$NCPU" --connect-retries $retries)
	if [ -n "$out" ]; then
		record fluxmq-memif-scale "$row" "$out" "$extra"
		say "$row: $(python3 -c 'import json,sys
d=json.loads(sys.argv[1])
print(format(d["msgs_per_s"], ",.0f"), "msg/s, verified:", d.get("verify", {}).get("ok"))' "$out")"
	else
		python3 -c 'import json,sys; print(json.dumps({"system":"fluxmq-memif-scale","row":sys.argv[1],"na":"run failed (exit "+sys.argv[2]+")","scale":json.loads(sys.argv[3])}))' "$row" "$rc" "$extra" >> "$RUNS"
	fi
	if [ $rc != 0 ]; then
		say "FAILED: $row (exit $rc)"; tail -8 "$TMP/bench.log" >&2
		FAILED=1
		kill -0 "$BROKER_PID" 2>/dev/null && diagnose "$row"
	fi
	if ! kill -0 "$BROKER_PID" 2>/dev/null; then
		say "the broker died during $row"; FAILED=1
		return 1
	fi
}

say "data lcores 1..$MAXL on $NCPU CPUs, poll modes: $POLLS, $REPS time(s); $CONNS connections and partitions per run; fluxmq-bench on CPU $BENCH_CPU"
for rep in $(seq 1 "$REPS"); do
	sfx=
	[ "$REPS" -gt 1 ] && sfx=-r$rep
	for poll in $POLLS; do
		for n in $(seq 1 "$MAXL"); do
			say "broker: $n data lcore(s), poll.mode=$poll${sfx:+, run $rep of $REPS}"
			N_NOW=$n POLL_NOW=$poll
			start_broker "$n" "$poll" || { FAILED=1; continue; }
			for wl in $WLS; do
				case $wl in
				produce)
					run_one "$n" "$poll" "scale-produce-$poll-n$n$sfx" \
						own --msg-size 100 --batch 1000 --acks 1 ;;
				fetch)
					run_one "$n" "$poll" "scale-fetch-$poll-n$n$sfx" \
						own --workload fetch --msg-size 100 \
						--batch 1000 --preload $PRELOAD ;;
				cross)
					[ "$n" -gt 1 ] || continue
					run_one "$n" "$poll" \
						"scale-produce-cross-$poll-n$n$sfx" cross \
						--msg-size 100 --batch 1000 --acks 1 ;;
				steer)
					[ "$n" -gt 1 ] || continue
					run_one "$n" "$poll" \
						"scale-produce-steer-$poll-n$n$sfx" own \
						--queue-by first --msg-size 100 \
						--batch 1000 --acks 1 ;;
				*) say "unknown workload $wl"; FAILED=1; false ;;
				esac || break
			done
			stop_broker
		done
	done
done

python3 "$REPORT" scale-table --runs "$RUNS" || FAILED=1
if [ -n "$OUT" ]; then
	mkdir -p "$OUT"
	name=$(date +%Y-%m-%d)-$(hostname -s)-scale$([ $QUICK = 1 ] && echo -quick)
	cp "$RUNS" "$OUT/$name.jsonl"
	python3 "$REPORT" scale-table --runs "$RUNS" --full > "$OUT/$name.md"
	say "wrote $OUT/$name.md"
fi
python3 "$REPORT" check --runs "$RUNS" || FAILED=1
say "done in $(( $(date +%s) - T0 )) s: $([ $FAILED = 0 ] && echo OK || echo FAILED)"
exit $FAILED
