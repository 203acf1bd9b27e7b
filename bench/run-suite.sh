#!/bin/bash
# FluxMQ benchmark suite: our figures beside the machine's ceilings and the
# peers', all measured in the same run.
#
#   bench/run-suite.sh [--quick] [--out DIR] [--no-peers] [--no-testpmd]
#                      [--no-scale]
#
# 1. Ceilings: single-core memcpy / crc32_iscsi / lz4 (fluxmq-bench
#    --workload ceilings), memif packet rate with dpdk-testpmd (64 B and
#    1500 B frames), and TCP-lite over memif (the broker's echo service).
# 2. FluxMQ on memif (broker data lcore on CPU 0, fluxmq-bench on CPU 1):
#    produce 100 B x 1000 records/batch with acks 0, 1, -1; 100 B x 1 record
#    per request; 1 KiB x 100; LZ4 1 MiB batches; fetch; produce and fetch
#    together; latency at 10/50/90 % of the measured maximum rate.
#    Every run verifies: each acknowledged message is fetched back and
#    compared byte for byte.
#    Data-lcore scaling (bench/scale.sh): produce and fetch with 1..N data
#    lcores, busy and adaptive polling (--quick: adaptive, produce and
#    cross-lcore produce only).
# 3. Peers with the same message sizes: rdkafka_performance (built from the
#    example librdkafka-dev ships) and fluxmq-bench --kernel, against
#    FluxMQ through its TAP interface and against librdkafka's mock cluster
#    on loopback.
# 4. bench/results/<date>-<host>.md (table: figure, ceiling, ratio) and PNG
#    plots (throughput per workload, latency CDFs) with gnuplot.
#
# --quick: every step, shorter (under 3 minutes), broker in poll.mode=
# adaptive; results go to a temporary directory unless --out is given.
# Exit status: 0, or 1 when a FluxMQ run failed or lost a message.
# Run as root (DPDK, TAP). Uses only its own names: memif socket
# /tmp/fmq-memif.sock, subnets 10.88.9.0/24 (memif) and 10.88.10.0/24
# (tap fmqbench0), file prefixes fmqbench*, hugepage dir
# /dev/hugepages/fmqbench, management 127.0.0.1:18089.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${FMQ_BUILD:-build}
BENCH=$BUILD/bench/loadgen/fluxmq-bench
BROKER=$BUILD/app/fluxmq/fluxmq
MOCK=$BUILD/bench/loadgen/fluxmq-mock-cluster

QUICK=0
PEERS=1
TESTPMD=1
SCALE=1
OUT=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--no-peers) PEERS=0 ;;
	--no-testpmd) TESTPMD=0 ;;
	--no-scale) SCALE=0 ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "run-suite: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

SOCK=/tmp/fmq-memif.sock
MNET=10.88.9
TNET=10.88.10
TAP=fmqbench0
HUGEDIR=/dev/hugepages/fmqbench
MGMT=127.0.0.1:18089
TMP=$(mktemp -d /tmp/fmqbench-suite.XXXXXX)
RUNS=$TMP/runs.jsonl
: > "$RUNS"
FAILED=0
BROKER_PID=
MOCK_PID=
T0=$(date +%s)

if [ $QUICK = 1 ]; then
	DUR=1; WARM=0.5; PRELOAD=300000; PEER_N=300000; TP_SECS=2
	POLL=adaptive
else
	DUR=5; WARM=1; PRELOAD=3000000; PEER_N=2000000; TP_SECS=4
	POLL=busy
fi
HOST=$(hostname -s)
DATE=$(date +%Y-%m-%d)
if [ -z "$OUT" ]; then
	if [ $QUICK = 1 ]; then OUT=$TMP/results; else OUT=bench/results; fi
fi
mkdir -p "$OUT"
NAME=$DATE-$HOST$([ $QUICK = 1 ] && echo -quick)

say() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }

stop_pid() {
	local pid=$1 sig=${2:-INT}
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
	stop_pid "$BROKER_PID"
	stop_pid "$MOCK_PID" TERM
	pkill -f "file-prefix=fmqbench-tp" 2>/dev/null
	rm -f "$SOCK" /tmp/fmqbench-tp.sock
	rm -rf "$HUGEDIR"
	ip link del "$TAP" 2>/dev/null
	if [ "$FAILED" = 0 ]; then rm -rf "$TMP"; else say "logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$BENCH" ] || { echo "run-suite: $BENCH not built (ninja -C $BUILD)" >&2; exit 1; }
[ -x "$BROKER" ] || { echo "run-suite: $BROKER not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run-suite: needs root (DPDK, TAP)" >&2; exit 1; }
HAVE_KAFKA=0
[ -f lib/broker/meson.build ] && HAVE_KAFKA=1
say "suite $NAME: quick=$QUICK, broker Kafka layer: $([ $HAVE_KAFKA = 1 ] && echo yes || echo 'not in this build')"

# Record one JSON line under a row name.
record() {    # record SYSTEM ROW JSON
	python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d["system"]=sys.argv[1]; d["row"]=sys.argv[2]; print(json.dumps(d))' "$1" "$2" "$3" >> "$RUNS"
}
record_na() {  # record SYSTEM ROW REASON
	python3 -c 'import json,sys; print(json.dumps({"system":sys.argv[1],"row":sys.argv[2],"na":sys.argv[3]}))' "$1" "$2" "$3" >> "$RUNS"
}

# ---------------------------------------------------------------- ceilings
say "ceilings: memcpy, crc32_iscsi, lz4 (one core)"
record machine ceilings "$("$BENCH" --workload ceilings)"

testpmd_rate() {   # testpmd_rate FRAME_BYTES -> JSON
	local len=$1 slog=$TMP/testpmd-server-$1.log clog=$TMP/testpmd-client-$1.log
	rm -f /tmp/fmqbench-tp.sock
	timeout $((TP_SECS + 8)) dpdk-testpmd --lcores=0@0,1@0 --in-memory \
		--file-prefix=fmqbench-tps --no-pci --log-level=error \
		--vdev=net_memif0,role=server,id=0,socket=/tmp/fmqbench-tp.sock,socket-abstract=no \
		-- --forward-mode=rxonly --nb-cores=1 --stats-period=1 \
		> "$slog" 2>&1 < /dev/null &
	local spid=$!
	sleep 1.5
	# The client transmits for TP_SECS, then Enter stops it; the server
	# keeps running until the client is gone (memif must see the traffic
	# stop before a side leaves).
	(sleep "$TP_SECS"; echo) | timeout $((TP_SECS + 6)) dpdk-testpmd \
		--lcores=0@1,1@1 --in-memory --file-prefix=fmqbench-tpc --no-pci \
		--log-level=error \
		--vdev=net_memif0,role=client,id=0,socket=/tmp/fmqbench-tp.sock,socket-abstract=no \
		-- --forward-mode=txonly --txpkts="$len" --nb-cores=1 \
		> "$clog" 2>&1
	sleep 1
	stop_pid $spid
	# Best per-second receive rate at the server while the client ran (a
	# ceiling: the second least disturbed by other work on the machine).
	python3 - "$slog" "$len" <<'EOF'
import json, re, sys
rates = [int(m) for m in re.findall(r"Rx-pps:\s+(\d+)", open(sys.argv[1], errors="replace").read())]
rates = [r for r in rates if r > 0]
print(json.dumps({"frame_bytes": int(sys.argv[2]), "pps": max(rates, default=0),
                  "samples": len(rates), "all_pps": rates}))
EOF
}
if [ $TESTPMD = 1 ] && command -v dpdk-testpmd >/dev/null; then
	say "ceilings: memif packet rate with dpdk-testpmd (64 B, 1500 B)"
	record machine memif-64 "$(testpmd_rate 64)"
	record machine memif-1500 "$(testpmd_rate 1500)"
else
	record_na machine memif-64 "dpdk-testpmd not run"
	record_na machine memif-1500 "dpdk-testpmd not run"
fi

# ------------------------------------------------------------ broker on memif
start_broker_memif() {   # start_broker_memif [--set KEY=VALUE ...]
	rm -f "$SOCK"
	rm -rf "$HUGEDIR" "$TMP/data"
	mkdir -p "$TMP/data"
	# Data lcore 1 on CPU 0, the control lcore floats; the bench takes
	# CPU 1.
	setsid "$BROKER" --lcores='0@(0-1),1@0' --in-memory \
		--file-prefix=fmqbench-broker --no-pci --log-level=error \
		--vdev=net_memif0,role=server,id=0,socket=$SOCK,socket-abstract=no \
		-- --set net.ip=$MNET.2/24 --set poll.mode=$POLL \
		--set net.services=echo:7,discard:9 --set mgmt.listen=$MGMT \
		--set log.hot.dir=$HUGEDIR --set log.dirs="$TMP/data" \
		--set net.tcp.rcv_buf=4194304 --set net.tcp.snd_buf=4194304 \
		"$@" > "$TMP/broker-memif.log" 2>&1 < /dev/null &
	BROKER_PID=$!
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && grep -q "data lcore" "$TMP/broker-memif.log" && return 0
		kill -0 $BROKER_PID 2>/dev/null || break
		sleep 0.1
	done
	say "broker on memif did not start:"; tail -5 "$TMP/broker-memif.log" >&2
	return 1
}

# bench_memif ROW ARGS...: one fluxmq-bench run on memif; its JSON line
# is recorded and left in $LAST. A broker that died is restarted (fresh),
# and a run it died under is tried once more: DPDK 22.11's memif server
# can crash when a client disconnects while its data lcore polls (see
# dpdk-notes.md), which says nothing about FluxMQ's Kafka layer. Each
# restart is counted and printed in the report.
LAST=$TMP/last.json
BROKER_RESTARTS=0
bench_memif() {
	local row=$1; shift
	local out rc _try
	: > "$LAST"
	for _try in 1 2; do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then
			BROKER_RESTARTS=$((BROKER_RESTARTS + 1))
			say "the broker on memif died ($(dmesg 2>/dev/null | grep -a 'segfault' | tail -1 | sed 's/.*\] //' | cut -c1-80)); restarting it"
			cp "$TMP/broker-memif.log" "$TMP/broker-memif.$BROKER_RESTARTS.log" 2>/dev/null
			if ! start_broker_memif; then
				record_na fluxmq-memif "$row" "run failed: the broker could not be restarted"
				FAILED=1
				return 0
			fi
		fi
		out=$("$BENCH" --lcores=0@1 --in-memory --file-prefix=fmqbench --no-pci \
			--log-level=error \
			--vdev=net_memif0,role=client,id=0,socket=$SOCK,socket-abstract=no \
			-- --broker $MNET.2:9092 --local-ip $MNET.100/24 --progress 0 \
			--label "$row" "$@" 2>>"$TMP/bench.log")
		rc=$?
		[ $rc = 0 ] && break
		kill -0 "$BROKER_PID" 2>/dev/null && break
		say "$row: the broker died during the run; once more"
	done
	if [ -n "$out" ]; then
		record fluxmq-memif "$row" "$out"
		echo "$out" > "$LAST"
	else
		record_na fluxmq-memif "$row" "run failed (exit $rc)"
	fi
	if [ $rc != 0 ]; then
		say "FAILED: $row (exit $rc)"; tail -5 "$TMP/bench.log" >&2
		# The echo rows measure a ceiling of TCP-lite; a failure
		# there is reported in the table but is not a lost message.
		case $row in echo-*) ;; *) FAILED=1 ;; esac
	fi
}

jget() {   # jget JSON EXPR (python expression over d)
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

say "broker on memif (poll.mode=$POLL)"
if start_broker_memif; then
	say "TCP-lite ceilings over memif: echo RTT, echo throughput"
	bench_memif echo-rtt --workload echo --broker $MNET.2:7 --echo-size 64 --inflight 1 \
		--duration $DUR --warmup $WARM --cdf "$TMP/cdf-echo-rtt.txt"
	bench_memif echo-64k --workload echo --broker $MNET.2:7 --echo-size 65536 --inflight 8 \
		--duration $DUR --warmup $WARM
	if [ $HAVE_KAFKA = 1 ]; then
		V=--verify
		say "produce 100 B x 1000, acks 1 / 0 / -1"
		bench_memif produce-100x1000-acks1 --msg-size 100 --batch 1000 \
			--acks 1 --duration $DUR --warmup $WARM $V \
			--cdf "$TMP/cdf-produce-closed.txt"
		max=$(cat "$LAST")
		bench_memif produce-100x1000-acks0 --msg-size 100 --batch 1000 \
			--acks 0 --duration $DUR --warmup $WARM $V
		bench_memif produce-100x1000-acksall --msg-size 100 --batch 1000 \
			--acks -1 --duration $DUR --warmup $WARM $V
		say "produce 100 B x 1 per request; 1 KiB x 100; LZ4 1 MiB batches"
		bench_memif produce-100x1 --msg-size 100 --batch 1 --inflight 32 \
			--duration $DUR --warmup $WARM $V
		bench_memif produce-1kx100 --msg-size 1024 --batch 100 \
			--duration $DUR --warmup $WARM $V
		bench_memif produce-lz4-1m --msg-size 1024 --batch 1024 \
			--compression lz4 --duration $DUR --warmup $WARM $V
		say "fetch; produce and fetch together"
		bench_memif fetch-100x1000 --workload fetch --msg-size 100 \
			--batch 1000 --preload $PRELOAD --duration $DUR --warmup $WARM \
			$V
		bench_memif produce-fetch-100x1000 --workload produce-fetch \
			--msg-size 100 --batch 1000 --duration $DUR --warmup $WARM \
			$V
		rate=$(jget "$max" 'int(d["msgs_per_s"])')
		if [ -n "$rate" ] && [ "$rate" -gt 0 ]; then
			for pct in 10 50 90; do
				say "latency at $pct % of $rate msg/s (open loop)"
				bench_memif latency-$pct --msg-size 100 --batch 1000 \
					--rate $(( rate * pct / 100 )) --inflight 64 \
					--duration $DUR --warmup $WARM $V \
					--cdf "$TMP/cdf-open-$pct.txt"
			done
		else
			for pct in 10 50 90; do
				record_na fluxmq-memif latency-$pct "no maximum rate measured"
			done
		fi
	else
		for row in produce-100x1000-acks1 produce-100x1000-acks0 \
			   produce-100x1000-acksall produce-100x1 produce-1kx100 \
			   produce-lz4-1m fetch-100x1000 produce-fetch-100x1000 \
			   latency-10 latency-50 latency-90; do
			record_na fluxmq-memif $row "broker Kafka layer (lib/broker) not in this build"
		done
	fi
	# The bench has exited (its connections closed): now the broker.
	stop_pid "$BROKER_PID"; BROKER_PID=
	# The same LZ4 workload with validation=shallow (the opt-in that
	# stores compressed batches unchecked), on a fresh broker: what deep
	# validation, the default, costs.
	if [ $HAVE_KAFKA = 1 ]; then
		say "LZ4 1 MiB batches with validation=shallow (beside deep above)"
		if start_broker_memif --set validation=shallow; then
			bench_memif produce-lz4-1m-shallow --msg-size 1024 \
				--batch 1024 --compression lz4 --duration $DUR \
				--warmup $WARM $V
			stop_pid "$BROKER_PID"; BROKER_PID=
		else
			record_na fluxmq-memif produce-lz4-1m-shallow "broker did not start"
			FAILED=1
		fi
	fi
	record machine broker-restarts "{\"count\": $BROKER_RESTARTS}"
else
	FAILED=1
fi

# ------------------------------------------------------- data-lcore scaling
if [ $SCALE = 1 ] && [ $HAVE_KAFKA = 1 ]; then
	say "data-lcore scaling over memif (bench/scale.sh)"
	if [ $QUICK = 1 ]; then
		scale_args=(--quick --poll adaptive --workloads "produce cross")
	else
		scale_args=(--poll both)
	fi
	# Its table goes to the log; the report renders it from $RUNS.
	if ! FMQ_BUILD=$BUILD bench/scale.sh "${scale_args[@]}" --runs "$RUNS" \
		--no-ceilings >"$TMP/scale.out" 2>&1; then
		FAILED=1
		# All of it: the client's own lines and the broker diagnosis.
		grep -v '^|' "$TMP/scale.out" >&2
	else
		grep '^\[scale' "$TMP/scale.out" >&2
	fi
fi

# -------------------------------------------------------------------- peers
peer_rdkafka() {   # peer_rdkafka SYSTEM BROKERS TOPIC
	local sys=$1 brokers=$2 topic=$3 out
	[ -x "$PEERDIR/rdkafka_performance" ] || return 0
	for shape in "100 1000" "1024 100"; do
		read -r size batch <<< "$shape"
		out=$(timeout 120 "$PEERDIR/rdkafka_performance" -P -t "$topic" -p 0 \
			-s "$size" -c "$PEER_N" -b "$brokers" -a 1 -u \
			-X linger.ms=5 -X batch.num.messages="$batch" \
			-X queue.buffering.max.messages=1000000 2>&1 | tr -d '\r')
		record "$sys" "rdkafka-produce-${size}x$batch" "$(python3 "$ROOT/bench/loadgen/suite_report.py" parse-rdkafka produce "$size" <<< "$out")"
	done
	out=$(timeout 120 "$PEERDIR/rdkafka_performance" -C -t "$topic" -p 0 \
		-o beginning -e -c "$PEER_N" -b "$brokers" -u 2>&1 | tr -d '\r')
	record "$sys" "rdkafka-fetch" "$(python3 "$ROOT/bench/loadgen/suite_report.py" parse-rdkafka fetch 1024 <<< "$out")"
}

peer_kernel_bench() {   # peer_kernel_bench SYSTEM HOST:PORT
	local sys=$1 bp=$2 out verify=
	# FluxMQ keeps everything: verify there; the mock keeps a bounded log.
	[ "$sys" = fluxmq-tap ] && verify=--verify
	for shape in "100 1000" "1024 100"; do
		read -r size batch <<< "$shape"
		out=$("$BENCH" --kernel --broker "$bp" --msg-size "$size" --batch "$batch" \
			--duration $DUR --warmup $WARM --progress 0 $verify \
			--label "kernel-produce-${size}x$batch" 2>>"$TMP/bench.log")
		if [ -n "$out" ]; then record "$sys" "kernel-produce-${size}x$batch" "$out"
		else record_na "$sys" "kernel-produce-${size}x$batch" "run failed"; fi
		[ "$sys" = fluxmq-tap ] && [ -z "$out" ] && FAILED=1
	done
	out=$("$BENCH" --kernel --broker "$bp" --workload fetch --msg-size 100 \
		--batch 1000 --preload $PEER_N --duration $DUR --warmup $WARM \
		--progress 0 $verify --label kernel-fetch 2>>"$TMP/bench.log")
	if [ -n "$out" ]; then record "$sys" kernel-fetch "$out"
	else record_na "$sys" kernel-fetch "run failed"; fi
}

if [ $PEERS = 1 ]; then
	PEERDIR=$TMP/peers
	say "peers: building rdkafka_performance from librdkafka-dev's example"
	if ! bench/peers/build-peers.sh "$PEERDIR" > "$TMP/build-peers.log" 2>&1; then
		say "rdkafka_performance could not be built (see $TMP/build-peers.log)"
	fi
	# librdkafka's mock cluster on loopback.
	if [ -x "$MOCK" ]; then
		say "peers: librdkafka mock cluster on loopback"
		setsid "$MOCK" --topic fmqbench-peer:1 > "$TMP/mock.out" 2>"$TMP/mock.err" < /dev/null &
		MOCK_PID=$!
		for _ in $(seq 1 50); do grep -q bootstrap "$TMP/mock.out" && break; sleep 0.1; done
		MOCKBS=$(awk '/bootstrap/{print $2}' "$TMP/mock.out" | cut -d, -f1)
		if [ -n "$MOCKBS" ]; then
			peer_rdkafka mock-loopback "$MOCKBS" fmqbench-peer
			peer_kernel_bench mock-loopback "$MOCKBS"
		fi
		stop_pid "$MOCK_PID" TERM; MOCK_PID=
	else
		record_na mock-loopback rdkafka-produce-100x1000 "fluxmq-mock-cluster not built (librdkafka-dev missing)"
	fi
	# FluxMQ through its TAP interface.
	if [ $HAVE_KAFKA = 1 ]; then
		say "peers: FluxMQ through TAP $TAP"
		rm -rf "$HUGEDIR" "$TMP/data"; mkdir -p "$TMP/data"
		setsid "$BROKER" --lcores='0@(0-1),1@0' --log-level=error -- \
			--set dev.tap.name=$TAP --set net.ip=$TNET.2/24 \
			--set dev.tap.host_ip=$TNET.1/24 --set poll.mode=$POLL \
			--set mgmt.listen=$MGMT --set log.hot.dir=$HUGEDIR \
			--set log.dirs="$TMP/data" > "$TMP/broker-tap.log" 2>&1 < /dev/null &
		BROKER_PID=$!
		for _ in $(seq 1 100); do grep -q "FluxMQ is up" "$TMP/broker-tap.log" && break; sleep 0.1; done
		if grep -q "FluxMQ is up" "$TMP/broker-tap.log"; then
			peer_rdkafka fluxmq-tap $TNET.2:9092 fmqbench-peer
			peer_kernel_bench fluxmq-tap $TNET.2:9092
		else
			say "broker on TAP did not start"; FAILED=1
		fi
		stop_pid "$BROKER_PID"; BROKER_PID=
	else
		record_na fluxmq-tap rdkafka-produce-100x1000 "broker Kafka layer (lib/broker) not in this build"
	fi
fi

# ------------------------------------------------------------------- report
say "writing $OUT/$NAME.md"
cp "$RUNS" "$OUT/$NAME.jsonl"
python3 bench/loadgen/suite_report.py report --runs "$RUNS" --cdf-dir "$TMP" \
	--out "$OUT" --name "$NAME" --quick $QUICK --poll $POLL \
	--kafka $HAVE_KAFKA || FAILED=1
# Correctness: every FluxMQ run that verified must have read back all.
if ! python3 bench/loadgen/suite_report.py check --runs "$RUNS"; then
	FAILED=1
fi
say "done in $(( $(date +%s) - T0 )) s: $([ $FAILED = 0 ] && echo OK || echo FAILED)"
exit $FAILED
