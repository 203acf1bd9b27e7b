#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Produce with acks=all to replication factor 3 (min.insync.replicas=2)
# beside replication factor 1, in the same run, on a 3-broker cluster
# (scripts/dev-cluster.sh up 3, root): two 4-partition topics led by
# broker 1 (replica_assignment), fluxmq-bench --kernel (100-byte records,
# 1000 a batch, acks=all) against broker 1 for each, alternating RF 1 and
# RF 3 ROUNDS times; then the machine's ceilings (fluxmq-bench --workload
# ceilings) in the same run. Prints each figure with each broker's CPU
# seconds per million records (utime + stime from /proc, where the
# kernel's veth and bridge work of a sender lands too) and how busy the
# machine was, the medians and the ratio RF 3 / RF 1. On a small VM the
# three brokers, the bench and the kernel share the cores: the ratio
# shows what a follower's fetch and append cost there, not a network's.
#
#   bench/replication.sh [SECONDS] [ROUNDS]     (default 5 s, 3 rounds)
#
# Network resources: dev-cluster.sh's variables (FMQ_CLUSTER_NET, ...).
# FMQ_BUILD: the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
B=${FMQ_BUILD:-build}/bench/loadgen/fluxmq-bench
PY=(/usr/bin/python3 tests/integration/kafka/repl_checker.py)
[ "$(id -u)" -eq 0 ] || { echo "bench/replication.sh: needs root" >&2; exit 2; }
[ -x "$B" ] || { echo "bench/replication.sh: no $B (build it)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/fmq-bench-repl.XXXXXX)
trap '$DC down >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
$DC down >/dev/null 2>&1 || true
$DC up 3 >/dev/null
boot="$NET.11:9092,$NET.12:9092,$NET.13:9092"
timeout 60 "${PY[@]}" create rf1 "$boot" 4 1 1 1 >/dev/null
timeout 60 "${PY[@]}" create rf3 "$boot" 4 3 2 1 >/dev/null
sleep 2
pids=$($DC status | awk '$1 == "broker" { print $4 }')
cpu() { # cpu: utime + stime (ticks) of each broker, then the machine's busy
	for p in $pids; do awk '{ printf "%d ", $14 + $15 }' "/proc/$p/stat"; done
	awk '/^cpu / { printf "%d %d\n", $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat
}
run() { # run TOPIC OUT: the bench's JSON line, then a line "cpu ..." of
	# ticks (brokers, busy, idle) before and after
	local c0 c1
	c0=$(cpu)
	timeout $((secs * 6 + 60)) "$B" --kernel --broker "$NET.11:9092" \
		--topic "$1" --no-create --partitions 4 --workload produce \
		--acks all --connections 2 --duration "$secs" --warmup 1 \
		--progress 0 >"$2" 2>&1
	c1=$(cpu)
	echo "cpu $c0 $c1" >>"$2"
}
# acct FILE: each broker's CPU seconds per million records (whole run,
# warm-up included, over the records measured), and the machine's busy %.
acct() {
	python3 -c '
import json, sys, os
rate, cpu = 0, None
for l in open(sys.argv[1]):
    if l.startswith("{"):
        rate = json.loads(l)["msgs_per_s"]
    elif l.startswith("cpu "):
        cpu = [int(x) for x in l.split()[1:]]
if not rate or cpu is None:
    print("(no accounting)")
    sys.exit()
n = len(cpu) // 2
a, b = cpu[:n], cpu[n:]
hz = os.sysconf("SC_CLK_TCK")
recs = rate * float(sys.argv[2]) / 1e6
per = ["b%d %.2f" % (i + 1, (b[i] - a[i]) / hz / recs) for i in range(n - 2)]
busy = b[n - 2] - a[n - 2]
idle = b[n - 1] - a[n - 1]
print("CPU s per M records: %s; machine busy %.0f %%"
      % (", ".join(per), 100.0 * busy / max(busy + idle, 1)))' "$1" "$secs"
}
rate() { # rate FILE: records/s of its JSON line
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        print(int(json.loads(l)["msgs_per_s"]))' "$1"
}
for ((r = 1; r <= rounds; r++)); do
	run rf1 "$tmp/rf1.$r"
	run rf3 "$tmp/rf3.$r"
	printf 'round %d: acks=all RF 1 %s records/s, RF 3 %s records/s\n' \
		"$r" "$(rate "$tmp/rf1.$r")" "$(rate "$tmp/rf3.$r")"
	printf '  RF 1: %s\n  RF 3: %s\n' "$(acct "$tmp/rf1.$r")" \
		"$(acct "$tmp/rf3.$r")"
done
python3 -c '
import statistics, sys, json
def med(kind):
    v = []
    for r in range(1, int(sys.argv[2]) + 1):
        for l in open("%s/%s.%d" % (sys.argv[1], kind, r)):
            if l.startswith("{"):
                v.append(json.loads(l)["msgs_per_s"])
    return statistics.median(v)
a, b = med("rf1"), med("rf3")
print("median: RF 1 %d records/s, RF 3 %d records/s, ratio %.0f %%"
      % (a, b, 100.0 * b / a))' "$tmp" "$rounds"
echo "ceilings (same run): $("$B" --workload ceilings)"
