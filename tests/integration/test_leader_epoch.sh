#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Leader epochs on one broker (issue 17/18, KIP-101/320): after a few
# produces, OffsetForLeaderEpoch v2 and v3 answer epoch 0 ends at the log
# end, an epoch above every one is unknown (-1, -1), and the current
# leader epoch is checked (UNKNOWN_LEADER_EPOCH above 0); the partition's
# leader-epoch-checkpoint holds Kafka's "0 / 1 / 0 0"; the answers survive
# a restart (the cache rebuilt from the checkpoint and the log).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl
OFLE=(/usr/bin/python3 tests/integration/kafka/ofle.py)
T=ep
fmq_start epoch --set lcores.data=1
B="$FMQ_IP:9092"
for i in $(seq 1 30); do echo "m$i"; done |
	timeout 30 kcat -P -b "$B" -t "$T" -p 0 -X topic.request.required.acks=-1 ||
	fail "produce failed"
for i in $(seq 31 50); do echo "m$i"; done |
	timeout 30 kcat -P -b "$B" -t "$T" -p 0 || fail "produce failed"
end=$(timeout 20 kcat -Q -b "$B" -t "$T:0:-1" | awk '{ print $NF }')
[ "$end" = 50 ] || fail "log end $end, want 50"

check() { # check VERSION CUR EPOCH WANT
	local r
	r=$(timeout 20 "${OFLE[@]}" "$B" "$T" 0 "$2" "$3" "$1") ||
		fail "OffsetForLeaderEpoch v$1 failed"
	[ "$r" = "$4" ] || fail "OffsetForLeaderEpoch v$1 (current $2, epoch $3): '$r', want '$4'"
}
check 2 -1 0 "0 0 50"
check 3 0 0 "0 0 50"
check 3 -1 7 "0 -1 -1"
check 3 1 0 "75 -1 -1"
r=$(timeout 20 "${OFLE[@]}" "$B" nosuch 0 -1 0 3)
[ "${r%% *}" = 3 ] || fail "unknown topic: '$r', want error 3"
pass "OffsetForLeaderEpoch: epoch 0 ends at 50 (v2, v3), epoch 7 unknown (-1 -1), current epoch 1 UNKNOWN_LEADER_EPOCH, unknown topic 3"
ck="$FMQ_DATA/$T-0/leader-epoch-checkpoint"
wait_ck() { [ -f "$ck" ] && [ "$(cat "$ck")" = "$(printf '0\n1\n0 0')" ]; }
for ((i = 0; i < 50; i++)); do wait_ck && break; sleep 0.1; done
wait_ck || fail "leader-epoch-checkpoint: '$(cat "$ck" 2>/dev/null)'"
n=$(fmq_metric fluxmq_kafka_offset_for_leader_epoch_total)
[ "${n:-0}" -ge 3 ] || fail "fluxmq_kafka_offset_for_leader_epoch_total $n"
pass "leader-epoch-checkpoint is Kafka's (0, 1 entry, epoch 0 at 0); $n lookups counted"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
fmq_start epoch --set lcores.data=1
check 3 0 0 "0 0 50"
pass "after a restart: epoch 0 still ends at 50"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
