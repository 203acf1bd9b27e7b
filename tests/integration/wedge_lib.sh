# shellcheck shell=bash
# Shared by tests/integration/test_wedge_*.sh (issue 13: one client must
# never wedge the broker). Source after lib.sh.
#
# FMQ_WEDGE_NO_KEYS=1 leaves out the keys these tests set that older
# brokers do not know (to show a test failing on code before the fix).

# wedge_keys KEY=VALUE...: --set arguments, unless FMQ_WEDGE_NO_KEYS=1.
wedge_keys() {
	local kv
	WEDGE_SET=()
	[ "${FMQ_WEDGE_NO_KEYS:-0}" = 1 ] && return 0
	for kv in "$@"; do
		WEDGE_SET+=(--set "$kv")
	done
}

# wedge_run MODE SECONDS [SRC]: the attack and the good client; sets
# WEDGE_OUT (JSON) and prints it.
wedge_run() {
	local sampler
	: >"$FMQ_TMP/in_use"
	(
		while :; do
			fmq_metric fluxmq_mempool_in_use >>"$FMQ_TMP/in_use" 2>/dev/null || true
			sleep 0.2
		done
	) &
	sampler=$!
	fmq_on_cleanup "kill $sampler 2>/dev/null"
	WEDGE_OUT=$(timeout 100 /usr/bin/python3 tests/integration/kafka/wedge.py \
		"$FMQ_IP" 9092 "$@" 2>"$FMQ_TMP/wedge.err") ||
		{ kill "$sampler" 2>/dev/null; fail "wedge.py $1: $(tail -5 "$FMQ_TMP/wedge.err")"; }
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	printf '%s\n' "$WEDGE_OUT"
	printf 'mbufs in use: peak %s of %s during the test\n' \
		"$(sort -n "$FMQ_TMP/in_use" | tail -1)" \
		"$(fmq_metric fluxmq_mempool_size 2>/dev/null || echo '?')"
}

# wedge_get EXPR: a value of WEDGE_OUT (python expression on j).
wedge_get() {
	/usr/bin/python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' \
		"$WEDGE_OUT" "$1"
}

# wedge_check_good: the good client produced and fetched during the
# attack and after it, never waiting more than 5 s for a round.
wedge_check_good() {
	local p ok gap
	[ "$(wedge_get '"error" in j')" = False ] || fail "$(wedge_get 'j["error"]')"
	for p in during after; do
		ok=$(wedge_get "j['$p']['ok']")
		gap=$(wedge_get "j['$p']['max_gap']")
		[ "$ok" -ge 1 ] || fail "good client: no round produced and fetched $p the attack"
		awk -v g="$gap" 'BEGIN { exit !(g <= 5) }' ||
			fail "good client: ${gap}s without a round $p the attack (bound 5 s)"
		pass "good client $p the attack: $ok rounds, longest gap ${gap}s"
	done
}

# wedge_check_mbufs BASE: mbufs in use return to BASE (+64 for the good
# client's in-flight traffic) within 10 s.
wedge_check_mbufs() {
	local base=$1 now i
	for ((i = 0; i < 100; i++)); do
		now=$(fmq_metric fluxmq_mempool_in_use) || now=999999
		[ "$now" -le $((base + 64)) ] && break
		sleep 0.1
	done
	[ "$now" -le $((base + 64)) ] ||
		fail "mbufs in use $now, baseline $base: not released"
	pass "mbufs in use back to $now (baseline $base)"
}

# wedge_reason NAME: closes counted under reason NAME.
wedge_reason() {
	fmq_metric fluxmq_kafka_connection_closes_total "reason=\"$1\"" || echo 0
}
