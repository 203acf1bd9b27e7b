#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 13 case 4: tiny segments must not wedge everyone. 200 connections
# each send the size prefix of a 1000-byte request, then 75 one-byte
# segments of it (TCP_NODELAY, paced), hold them for a while and close.
# A well-behaved client produces and fetches a record on a new
# connection every 0.2 s meanwhile and after. Small segments are copied
# together (one mbuf per connection instead of 75), and a closed
# connection releases everything: mbufs in use return to the baseline.
# (Before: 14,336 mbufs pinned, every client locked out, still after the
# sender closed: the peer's FIN was dropped while the window was shut.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/wedge_lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3

WEDGE_SET=()   # no key of its own
fmq_start wedge-tiny "${WEDGE_SET[@]}"
base=$(fmq_metric fluxmq_mempool_in_use) || fail "no fluxmq_mempool_in_use"
wedge_run tiny 8
wedge_check_good
[ "$(wedge_get 'j["attack"]["conns"]')" -eq 200 ] ||
	fail "attacker opened only $(wedge_get 'j["attack"]["conns"]') connections"
pass "attacker sent $(wedge_get 'j["attack"]["bytes"]') one-byte segments on 200 connections"
wedge_check_mbufs "$base"
active=$(fmq_metric fluxmq_kafka_connections_active) || active=-1
[ "$active" -eq 0 ] || fail "$active connections still open after the attacker closed"
pass "every attacker connection closed"
rc=0; fmq_stop || rc=$?; [ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
