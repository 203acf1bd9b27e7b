#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Synchronous OffsetCommit latency (confluent-kafka, one partition, N
# commits one after the other): a single node (offset journal, one
# fdatasync per group commit) against the coordinator of a 3-broker cluster
# (scripts/dev-cluster.sh: the commit is acknowledged once ZooKeeper took
# it). Same run, same machine. Prints "single-node ..." and "cluster ...":
# median, p99 and mean in ms.
#
#   sudo bench/offsets_commit.sh [N]        (default 300)
#
# Uses lib.sh's FMQ_TAP/FMQ_IP/FMQ_HOST_IP/FMQ_MGMT for the single node and
# dev-cluster.sh's FMQ_CLUSTER_* for the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
fmq_require_root
N=${1:-300}
PY=(/usr/bin/python3 tests/integration/kafka/zk_offsets.py)
CC=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)
DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"

fmq_start bench
B="$FMQ_IP:9092"
timeout 60 "${PY[@]}" create lat "$B" 1 1
echo "single-node $(timeout 300 "${PY[@]}" latency lat-g "$B" lat "$N")"
fmq_stop

$DC up 3 >"$FMQ_TMP/up.out"
sleep 3
b() { echo "$NET.$((10 + $1)):9092"; }
timeout 60 "${PY[@]}" create lat "$(b 1)" 1 3
co=$(timeout 20 "${CC[@]}" coordinators "$(b 1)" lat-g | awk '{ print $2 }')
echo "cluster (coordinator $co) $(timeout 300 "${PY[@]}" latency lat-g "$(b "$co")" lat "$N")"
# ZooKeeper's share: the multis' round trips as the coordinator saw them.
curl -s "http://127.0.0.1:$((${FMQ_CLUSTER_MGMT_BASE:-18080} + co))/metrics" |
	awk '$1 == "fluxmq_group_zk_multis_total" { n = $2 }
	     $1 == "fluxmq_group_zk_multi_seconds_total" { s = $2 }
	     END { printf "cluster multis %d, mean ZooKeeper round trip %.2f ms\n", n, n ? s * 1000 / n : 0 }'
$DC down >/dev/null
