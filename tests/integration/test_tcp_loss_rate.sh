#!/usr/bin/env bash
# TCP-lite's sender recovery under loss (issue 14): one echo connection
# moves 16 MiB clean, then with 2% of what TCP-lite sends dropped
# (iptables INPUT on the tap), then with 2% dropped each way, each step
# the better of two echoes. An echo counts when it comes back byte-exact
# with no stall longer than 1 s (five times the 200 ms RTO floor); a step
# fails when neither of its two does. RACK must have repaired holes
# (before it, a short
# flight waited for the tail loss probe and the RTO). The share of the
# clean rate is printed; it is asserted only when FMQ_LOSS_MIN_SHARE is
# set (percent; 28 passes here, 17 before RACK), since a rate is a
# benchmark figure and a shared CI machine makes it noisy.
# The kernel-side rule (OUTPUT) loses nothing of the kernel's data on the
# wire: its TCP sees the transmit fail and sends the segment again at the
# next ACK. It loses the kernel's pure ACKs, which are not retried, so
# "each way" is TCP-lite's sender with its data and ACKs lost (see
# docs/tcp.md, Tests); net.impair.rx.loss loses the kernel's data.
set -euo pipefail
# echo_rate's fail runs inside $(...): without this a stalled or corrupt
# echo printed FAIL and the test went on (and passed) with a rate of 0.
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl iptables

CLIENT=tests/integration/tcp/tcp_client.py
LOSS="-m statistic --mode random --probability 0.02 -j DROP"
BYTES=$((16 << 20))
MIN_SHARE=${FMQ_LOSS_MIN_SHARE:-0}

# echo_rate LABEL: one connection, byte-exact, stall < 1 s; prints MB/s
# (x10, integer). Returns 1 (after printing why on stderr) when the echo
# failed, stalled or came back wrong.
echo_rate() {
	local out r
	if ! out=$(timeout 60 /usr/bin/python3 "$CLIENT" echo --host "$FMQ_IP" \
		--port 7 --conns 1 --bytes "$BYTES" --max-stall 1); then
		printf 'NOTE: %s failed: %s\n' "$1" "$out" >&2
		return 1
	fi
	r=$(printf '%s' "$out" | sed -n 's/.*"MBps": \([0-9.]*\).*/\1/p')
	[ -n "$r" ] || fail "$1: no rate in $out"
	printf '%s: %s\n' "$1" "$out" >&2
	awk -v r="$r" 'BEGIN { printf "%d\n", r * 10 }'
}

# best_of_two LABEL: the better of two echoes. One failed echo of two is
# tolerated and said (a shared machine sometimes stops the broker's
# thread for about a second, clean or lossy, on main's build as on
# this one: docs/tcp.md, Tests); both failing fails the test.
best_of_two() {
	local a b
	a=$(echo_rate "$1 (1)") || a=
	b=$(echo_rate "$1 (2)") || b=
	[ -n "$a$b" ] || fail "$1: both echoes failed (see the NOTE lines above)"
	[ -n "$a" ] && [ -n "$b" ] ||
		echo "NOTE: $1: one of two echoes failed, the other counted" >&2
	if [ -z "$b" ] || { [ -n "$a" ] && [ "$a" -gt "$b" ]; }; then
		echo "$a"
	else
		echo "$b"
	fi
}

fmq_start tcp-loss-rate --set poll.mode=adaptive --set net.services=echo:7

clean=$(best_of_two clean)
pass "clean: $((clean / 10)).$((clean % 10)) MB/s, byte-exact"

# shellcheck disable=SC2086
iptables -I INPUT -i "$FMQ_TAP" $LOSS || fail "iptables INPUT rule"
fmq_on_cleanup "iptables -D INPUT -i '$FMQ_TAP' $LOSS"
rto0=$(fmq_metric fluxmq_tcp_retransmits_timeout_total)
lossy=$(best_of_two "2% of TCP-lite's output dropped")
share=$((lossy * 100 / clean))
[ "$share" -ge "$MIN_SHARE" ] ||
	fail "2% loss of what TCP-lite sends: $((lossy / 10)).$((lossy % 10)) MB/s, $share% of clean (want >= $MIN_SHARE%)"
pass "2% of TCP-lite's output dropped: $((lossy / 10)).$((lossy % 10)) MB/s, $share% of clean, byte-exact, no stall over 1 s"
rack=$(fmq_metric fluxmq_tcp_rack_recoveries_total || echo 0)
rto=$(fmq_metric fluxmq_tcp_retransmits_timeout_total)
[ "${rack%.*}" -gt 0 ] || fail "no RACK recovery counted"
pass "recoveries: $rack by RACK, $((${rto%.*} - ${rto0%.*})) by timeout"

# shellcheck disable=SC2086
iptables -I OUTPUT -o "$FMQ_TAP" $LOSS || fail "iptables OUTPUT rule"
fmq_on_cleanup "iptables -D OUTPUT -o '$FMQ_TAP' $LOSS"
both=$(best_of_two "2% dropped each way")
pass "2% dropped each way: $((both / 10)).$((both % 10)) MB/s, $((both * 100 / clean))% of clean, byte-exact, no stall over 1 s"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "clean shutdown"
