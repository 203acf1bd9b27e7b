#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 13 case 6: idle connections. The broker takes 256 connections
# (broker.max.connections); an attacker on a second host address opens
# 300 and sends nothing. max.connections.per.ip=100 refuses the rest
# (RST, counted), so a well-behaved client on the usual host address
# still produces and fetches on a new connection every 0.2 s; after
# connections.max.idle.ms (3 s here) the broker closes the idle ones
# (counted as IDLE). (Before: the attacker took every slot, the client
# was refused, and no idle connection was ever closed.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/wedge_lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3 ip

wedge_keys max.connections.per.ip=100 connections.max.idle.ms=3000
fmq_start wedge-idle --set broker.max.connections=256 "${WEDGE_SET[@]}"
# The attacker's address: the host's, last byte + 100 (mod 254), on the tap.
IFS=. read -r a b c d <<<"$FMQ_HOST_IP"
ALT=$a.$b.$c.$(((d + 99) % 254 + 1))
ip addr add "$ALT/24" dev "$FMQ_TAP" || fail "cannot add $ALT to $FMQ_TAP"
base=$(fmq_metric fluxmq_mempool_in_use) || fail "no fluxmq_mempool_in_use"
wedge_run idle 8 "$ALT"
wedge_check_good
opened=$(wedge_get 'j["attack"]["opened"]')
closed=$(wedge_get 'j["attack"]["closed_by_broker"]')
[ "$opened" -le 100 ] || fail "attacker holds $opened connections (limit 100 per address)"
pass "attacker held $opened connections, $(wedge_get 'j["attack"]["refused"]') refused"
[ "$closed" -eq "$opened" ] || fail "only $closed of $opened idle connections closed by the broker"
n=$(wedge_reason IDLE)
[ "$n" -ge "$opened" ] || fail "$n closes counted as IDLE, want $opened"
pass "every idle connection closed after connections.max.idle.ms, counted"
wedge_check_mbufs "$base"
rc=0; fmq_stop || rc=$?; [ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"
