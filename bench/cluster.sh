#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Produce and fetch rates of a 3-broker cluster beside one broker, in the
# same run (root): scripts/dev-cluster.sh up 3, a 4-partition topic on each
# broker (replica_assignment), then fluxmq-bench --kernel (100-byte
# records, 1000 a batch, acks=1) against broker 1 alone, and against the
# three at once (one bench process each, its own broker's topic); the same
# for fetch. Prints records/s and MB/s for one broker and the cluster's
# sum. On a small VM the brokers, the benches and the kernel share the
# cores: the sum shows that, not the cluster's ceiling.
#
#   bench/cluster.sh [SECONDS]        (default 5 per figure)
#
# Network resources: dev-cluster.sh's variables (FMQ_CLUSTER_NET, ...).
# FMQ_BUILD: the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
B=${FMQ_BUILD:-build}/bench/loadgen/fluxmq-bench
PY=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)
[ "$(id -u)" -eq 0 ] || { echo "bench/cluster.sh: needs root" >&2; exit 2; }
[ -x "$B" ] || { echo "bench/cluster.sh: no $B (build it)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/fmq-bench-cluster.XXXXXX)
trap '$DC down >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
$DC down >/dev/null 2>&1 || true
$DC up 3 >/dev/null
for i in 1 2 3; do
	timeout 60 "${PY[@]}" create "bc$i" "$NET.11:9092" 4 "$i" >/dev/null
done
sleep 1
run() { # run WORKLOAD ID OUT
	timeout $((secs * 6 + 60)) "$B" --kernel --broker "$NET.$((10 + $2)):9092" \
		--topic "bc$2" --no-create --partitions 4 --workload "$1" \
		--connections 2 --preload 1000 --duration "$secs" --warmup 1 \
		--progress 0 >"$3" 2>&1
}
rate() { # rate FILE...: summed records/s and MB/s of the JSON lines
	python3 -c '
import json, sys
r = m = 0
for f in sys.argv[1:]:
    for l in open(f):
        if l.startswith("{"):
            j = json.loads(l); r += j["msgs_per_s"]; m += j["mb_per_s"]
print("%d records/s, %.1f MB/s" % (r, m))' "$@"
}
for w in produce fetch; do
	run "$w" 1 "$tmp/$w.one"
	for i in 1 2 3; do run "$w" "$i" "$tmp/$w.$i" & done
	wait
	printf '%-8s one broker: %s; three brokers: %s\n' "$w" \
		"$(rate "$tmp/$w.one")" "$(rate "$tmp/$w".[123])"
done
