#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 13 case 3: one large request must not wedge everyone. A Produce
# whose size prefix says 20 MB (under socket.request.max.bytes, 100 MB) is
# streamed as fast as the broker takes it; a well-behaved client produces
# and fetches a record on a new connection every 0.2 s meanwhile and
# after. The request needs more than a connection may hold of the mbuf
# pool (an eighth): it is refused at its size prefix (RST, counted as
# TOO_LARGE) before it pins anything, and mbufs in use return to the
# baseline. (Before: three quarters of the pool pinned, no client
# answered, still after the sender closed.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/wedge_lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3

WEDGE_SET=()   # no key of its own
fmq_start wedge-oversized "${WEDGE_SET[@]}"
base=$(fmq_metric fluxmq_mempool_in_use) || fail "no fluxmq_mempool_in_use"
wedge_run oversized 8
wedge_check_good
[ "$(wedge_get 'j["attack"]["reset"]')" = True ] ||
	fail "the 20 MB request was not refused (sent $(wedge_get 'j["attack"]["sent"]') bytes)"
n=$(wedge_reason TOO_LARGE)
[ "$n" -ge 1 ] || fail "no close counted as TOO_LARGE"
pass "20 MB request refused after $(wedge_get 'j["attack"]["sent"]') bytes sent, counted ($n)"
grep -q "closed $FMQ_HOST_IP:[0-9]*: TOO_LARGE" "$FMQ_TMP/wedge-oversized.log" ||
	fail "the refusal is not in the broker log"
pass "the refusal is logged"
wedge_check_mbufs "$base"
rc=0; fmq_stop || rc=$?; [ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
