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
#  4. DescribeTransactions / ListTransactions (raw requests: no client
#     here has them) against an open, then committed, transaction.
#  5. SIGKILL of the broker mid-transaction: at restart the open
#     transaction is aborted, read_committed consumers are not stuck, the
#     aborted records stay hidden (the aborted index survives), and the
#     producer's next init_transactions works.
#  7. The authorizer: WRITE on the transactional id and on each topic.
#  6. A consume-transform-produce loop SIGKILLed (broker and client) in
#     the middle, then run again to the end: each input exactly once.
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

fmq_start txn --set lcores.data=2 --set transaction.max.timeout.ms=60000 \
	--set transaction.abort.timed.out.transaction.cleanup.interval.ms=500
run ck_txn 90 "$PY" tests/integration/txn/ck_txn.py "$B" txn-ck
pass "confluent-kafka: commit/abort interleaved, read_committed exact, LSO"

run kp_read 60 "$PY" tests/integration/txn/kp_read.py "$B" txn-ck 3
pass "kafka-python reads a topic with transaction markers"

run raw_describe 60 "$PY" tests/integration/txn/raw_describe.py "$FMQ_IP" 9092 txn-ck "$FMQ_MGMT"
pass "DescribeTransactions and ListTransactions (raw protocol)"

c=$(fmq_metric fluxmq_transactions_committed_total)
a=$(fmq_metric fluxmq_transactions_aborted_total)
if [ "$c" -lt 5 ] || [ "$a" -lt 2 ]; then
	fail "metrics: committed=$c aborted=$a"
fi
pass "metrics: $c committed, $a aborted"

if command -v node >/dev/null &&
	[ -f tests/integration/node/node_modules/kafkajs/package.json ]; then
	KAFKAJS_NO_PARTITIONER_WARNING=1 run kafkajs 90 node tests/integration/txn/kafkajs_txn.js "$B"
	pass "KafkaJS: commit/abort interleaved, read_committed exact, sendOffsets"
else
	printf 'SKIP: KafkaJS not installed (npm ci in tests/integration/node)\n'
fi

run ck_ctp 90 "$PY" tests/integration/txn/ck_ctp.py "$B"
pass "consume-transform-produce with send_offsets_to_transaction: exactly once"

run ck_timeout 60 "$PY" tests/integration/txn/ck_timeout.py "$B" 60000
t=$(fmq_metric fluxmq_transactions_timed_out_total)
[ "$t" -ge 1 ] || fail "fluxmq_transactions_timed_out_total=$t"
pass "transaction.timeout.ms: refused above the maximum, abandoned one aborted"

# --- SIGKILL mid-transaction -----------------------------------------------
out=$FMQ_TMP/ck_kill_open.out
"$PY" tests/integration/txn/ck_kill.py "$B" open >"$out" 2>&1 &
cpid=$!
fmq_on_cleanup "kill $cpid 2>/dev/null || true"
for ((i = 0; i < 300; i++)); do
	grep -q '^OPEN' "$out" && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^OPEN' "$out" || { sed 's/^/    | /' "$out" >&2; fail "no open transaction"; }
fmq_kill9
kill -KILL "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
pass "broker and client SIGKILLed with a transaction open"
fmq_start txn --set lcores.data=2 \
	--set transaction.abort.timed.out.transaction.cleanup.interval.ms=500
run ck_kill 90 "$PY" tests/integration/txn/ck_kill.py "$B" check
r=$(fmq_metric fluxmq_transactions_recovered_total)
[ "$r" -ge 1 ] || fail "fluxmq_transactions_recovered_total=$r"
pass "restart: the open transaction aborted, read_committed not stuck"

# --- consume-transform-produce across SIGKILL of broker and client -------
run ctpk_seed 60 "$PY" tests/integration/txn/ck_ctp_kill.py "$B" seed
out=$FMQ_TMP/ctpk_run1.out
"$PY" tests/integration/txn/ck_ctp_kill.py "$B" run >"$out" 2>&1 &
cpid=$!
fmq_on_cleanup "kill $cpid 2>/dev/null || true"
for ((i = 0; i < 600; i++)); do
	[ "$(grep -c '^PROGRESS' "$out")" -ge 25 ] && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
n1=$(grep -c '^PROGRESS' "$out" || true)
[ "$n1" -ge 25 ] || { tail -n 20 "$out" | sed 's/^/    | /' >&2; fail "the loop did not get going ($n1 commits)"; }
fmq_kill9
kill -KILL "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
fmq_start txn --set lcores.data=2
run ctpk_run2 120 "$PY" tests/integration/txn/ck_ctp_kill.py "$B" run
run ctpk_check 60 "$PY" tests/integration/txn/ck_ctp_kill.py "$B" check
pass "consume-transform-produce exactly once across SIGKILL of broker and client ($n1 transactions before the kill)"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"

# --- the authorizer ---------------------------------------------------------
fmq_start txnacl --set lcores.data=2 --set authorizer.enabled=true \
	--set super.users=User:ANONYMOUS
run ck_acl_setup 60 "$PY" tests/integration/txn/ck_txn_acl.py "$B" setup
fmq_stop || fail "broker exit status $?"
fmq_start txnacl --set lcores.data=2 --set authorizer.enabled=true
run ck_acl 60 "$PY" tests/integration/txn/ck_txn_acl.py "$B" check
pass "ACLs: WRITE on the transactional id and on each topic, as Kafka"
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
