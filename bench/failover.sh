#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Failover time over N kills on a 3-broker cluster (scripts/dev-cluster.sh
# up 3, root): a topic with replication factor 3, min.insync.replicas=2;
# a probe (an idempotent acks=all producer writing partition 0 every
# 10 ms, tests/integration/kafka/repl_checker.py probe) runs all along.
# N times: SIGKILL partition 0's leader, measure
#   - kill -> a new leader in the survivors' Metadata (polled every 0.1 s)
#   - kill -> the probe's first acknowledged write produced after the kill
# then restart the killed broker and wait until it is back in the ISR.
# Prints each kill, then min/median/p90/max of both, with the session
# timeout and the machine's state (cores, load average before and after).
#
#   bench/failover.sh [N]            (default 5 kills)
#
# Network resources: dev-cluster.sh's variables (FMQ_CLUSTER_NET, ...);
# FMQ_CLUSTER_SESSION_MS (default 6000). FMQ_BUILD: the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench/failover.sh: needs root" >&2; exit 2; }
. tests/integration/lib.sh
. tests/integration/cluster_lib.sh
load() { cut -d' ' -f1-3 /proc/loadavg; }
load0=$(load)
cl_up fo 1
M=$FMQ_TMP/marks
: >"$M"
"${PY[@]}" probe fo "$(all)" 0 $((n * 60 + 60)) "$FMQ_TMP/probe-acks.txt" "$M" \
	"$FMQ_TMP/stop" >"$FMQ_TMP/probe.out" 2>"$FMQ_TMP/probe.err" &
qpid=$!
sleep 3
meta=()
for ((k = 1; k <= n; k++)); do
	x=$(leader_of 0 1) || x=$(leader_of 0 2) || x=$(leader_of 0 3)
	l=${x%% *}
	cl_kill_round "$l" "$M"
	meta+=("$CL_FAILOVER_MS")
	printf 'kill %d: leader %d -> %d in Metadata after %d ms (rejoined %d ms after restart), load %s\n' \
		"$k" "$l" "$CL_NEW_LEADER" "$CL_FAILOVER_MS" "$CL_REJOIN_MS" "$(load)"
done
sleep 1
touch "$FMQ_TMP/stop"
wait "$qpid" || true
first=()
while read -r m ms; do
	[ "$m" = probe ] || first+=("$ms")
done <"$FMQ_TMP/probe.out"
echo "machine: $(nproc) cores, load average $load0 before, $(load) after; session timeout $FMQ_CLUSTER_SESSION_MS ms, replica.lag.time.max.ms 4000"
echo "kill -> new leader in Metadata (ms):       $(cl_dist "${meta[@]}")"
echo "kill -> first acks=all write acked (ms):   $(cl_dist "${first[@]}")"
echo "probe: $(grep '^probe ' "$FMQ_TMP/probe.out" || echo 'no summary')"
