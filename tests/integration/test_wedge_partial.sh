#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 13 case 5: held partial requests must not stall produce. 20
# connections each send a 1 MB Produce but its last byte and hold it
# (10 s); a well-behaved client produces and fetches a record on a new
# connection every 0.2 s meanwhile and after. Unfinished requests
# reserve their mbufs from a per-lcore budget (half the pool): those that
# do not fit wait, paused, instead of filling the pool, and the window of
# an admitted one stays open. broker.request.receive.timeout.ms (4 s
# here) resets the holders (counted as REQUEST_TIMEOUT) and mbufs in use
# return to the baseline. (Before: produce stalled for everyone until the
# holders closed.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/wedge_lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3

wedge_keys broker.request.receive.timeout.ms=4000
fmq_start wedge-partial "${WEDGE_SET[@]}"
base=$(fmq_metric fluxmq_mempool_in_use) || fail "no fluxmq_mempool_in_use"
wedge_run partial 10
wedge_check_good
reset=$(wedge_get 'j["attack"]["reset"]')
[ "$reset" -eq 20 ] || fail "only $reset of 20 held requests were reset by the broker"
n=$(wedge_reason REQUEST_TIMEOUT)
[ "$n" -ge 20 ] || fail "$n closes counted as REQUEST_TIMEOUT, want 20"
pass "20 held requests reset by the receive timeout, counted"
waits=$(fmq_metric fluxmq_kafka_rx_budget_waits_total) || waits=0
pass "requests that waited for the receive budget: $waits"
wedge_check_mbufs "$base"
rc=0; fmq_stop || rc=$?; [ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
