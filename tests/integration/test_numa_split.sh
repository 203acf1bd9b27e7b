#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The hot pool split over an injected 2-node layout (numa.nodes=2, two data
# lcores: lcore 1 on node 1), on any host: one pool file per node, both
# nodes' pools in use, messages round-trip; after kill -9 the broker comes
# back on ONE node (the node 1 file is recovered, then removed) with every
# message; then on two nodes again, still with every message.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl

N=20000
TOPIC=numa
POOL=67108864
ARGS=(--set lcores.data=2 --set num.partitions=4 --set "log.hot.pool.bytes=$POOL")

consume_count() {
	kcat -b "$FMQ_IP:9092" -C -t "$TOPIC" -o beginning -e -q -f '%s\n' \
		2>"$FMQ_TMP/cons.err" | sort -u | wc -l
}

fmq_start numa "${ARGS[@]}" --set numa.nodes=2
H=$FMQ_HOT
[ -f "$H/hotpool" ] && [ -f "$H/hotpool.node1" ] ||
	fail "expected hotpool and hotpool.node1 in $H: $(ls "$H")"
s0=$(stat -c %s "$H/hotpool")
s1=$(stat -c %s "$H/hotpool.node1")
[ $((s0 + s1)) -eq $POOL ] || fail "node files $s0 + $s1 bytes, pool $POOL"
pass "one pool file per node ($s0 + $s1 bytes)"

# Every partition explicitly (unkeyed messages would stick to one).
for p in 0 1 2 3; do
	seq 1 $((N / 4)) | sed "s/^/p$p-/" | kcat -b "$FMQ_IP:9092" -P -t "$TOPIC" \
		-p $p -X linger.ms=5 -X acks=all 2>"$FMQ_TMP/prod.err" ||
		fail "produce: $(tail -3 "$FMQ_TMP/prod.err")"
done
got=$(consume_count)
[ "$got" -eq $N ] || fail "consumed $got distinct messages of $N"
for n in 0 1; do
	tot=$(fmq_metric fluxmq_log_hot_node_chunks "node=\"$n\"")
	free=$(fmq_metric fluxmq_log_hot_node_chunks_free "node=\"$n\"")
	[ "${free%.*}" -lt "${tot%.*}" ] || fail "node $n pool unused ($free of $tot free)"
	printf 'node %d: %s of %s chunks free\n' "$n" "$free" "$tot"
done
pass "$N messages round-trip; both nodes' pools hold chunks"

# Crash, then come back with one node: node 1's file is read, then removed.
fmq_kill9
fmq_start numa "${ARGS[@]}" --set numa.nodes=1
got=$(consume_count)
[ "$got" -eq $N ] || fail "after kill -9 and numa.nodes=1: $got of $N messages"
[ ! -e "$H/hotpool.node1" ] || fail "hotpool.node1 still there on one node"
[ "$(stat -c %s "$H/hotpool")" -eq $POOL ] || fail "hotpool not $POOL bytes"
pass "kill -9, restart on one node: every message kept, node 1 file removed"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
fmq_start numa "${ARGS[@]}" --set numa.nodes=2
got=$(consume_count)
[ "$got" -eq $N ] || fail "back on two nodes: $got of $N messages"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "restart on two nodes again: every message kept, clean shutdown"
