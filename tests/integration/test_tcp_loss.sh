#!/usr/bin/env bash
# TCP-lite under loss: the kernel drops 2% both ways (iptables statistic on
# the tap) and the port impairment reorders 5%, duplicates 1% and delays
# 1 ms both ways. 256 MiB through the echo service (4 connections x 64 MiB)
# must come back byte-exact with no stall longer than 5 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd python3 curl iptables

CLIENT=tests/integration/tcp/tcp_client.py
LOSS="-m statistic --mode random --probability 0.02 -j DROP"

fmq_start tcp-loss --set poll.mode=adaptive --set net.services=echo:7 \
	--set net.impair.rx.reorder=0.05 --set net.impair.tx.reorder=0.05 \
	--set net.impair.rx.duplicate=0.01 --set net.impair.tx.duplicate=0.01 \
	--set net.impair.rx.delay_us=1000 --set net.impair.tx.delay_us=1000 \
	--set net.impair.seed=42

# shellcheck disable=SC2086
iptables -I OUTPUT -o "$FMQ_TAP" $LOSS || fail "iptables OUTPUT rule"
fmq_on_cleanup "iptables -D OUTPUT -o '$FMQ_TAP' $LOSS"
# shellcheck disable=SC2086
iptables -I INPUT -i "$FMQ_TAP" $LOSS || fail "iptables INPUT rule"
fmq_on_cleanup "iptables -D INPUT -i '$FMQ_TAP' $LOSS"

out=$(timeout 480 "$CLIENT" echo --host "$FMQ_IP" --port 7 --conns 4 \
	--bytes $((64 << 20)) --max-stall 5) || fail "256 MiB echo under loss: $out"
pass "256 MiB echo under 2% loss + reorder/duplicate/delay, byte-exact: $out"

for k in reorder duplicate delay; do
	for d in rx tx; do
		v=$(fmq_metric fluxmq_net_impair_total "dir=\"$d\",kind=\"$k\"")
		[ "${v%.*}" -gt 0 ] || fail "impairment $d $k not counted"
	done
done
rto=$(fmq_metric fluxmq_tcp_retransmits_timeout_total)
fast=$(fmq_metric fluxmq_tcp_retransmits_fast_total)
ooo=$(fmq_metric fluxmq_tcp_out_of_order_total)
if [ "$fast" -eq 0 ] || [ "$ooo" -eq 0 ]; then
	fail "no recovery seen (fast $fast, ooo $ooo)"
fi
pass "impairment counted in /metrics; retransmits: $fast fast, $rto timeout; $ooo out-of-order"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "clean shutdown"
