#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One instance per resource. With a broker running, a second one started
# with the same TAP name, the same log dir, the same mgmt address, the same
# hot pool directory or the same data-plane subnet must refuse with exit 2
# and a message naming the key, before it touches anything: the first
# broker's TAP keeps its address and stays up, its /health says ok, and
# kcat still produces and consumes through it.
#
# The second instance's own resources come from the first's: the TAP name
# with a "b", net.ip and dev.tap.host_ip one /24 up (third octet + 1), the
# mgmt port + 100. Override with FMQ_TAP2, FMQ_IP2, FMQ_HOST_IP2, FMQ_MGMT2.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl kcat ip

next24() { local a b c d; IFS=. read -r a b c d <<<"$1"; echo "$a.$b.$((c + 1)).$d"; }
TAP2=${FMQ_TAP2:-${FMQ_TAP}b}
IP2=${FMQ_IP2:-$(next24 "$FMQ_IP")}
HOST_IP2=${FMQ_HOST_IP2:-$(next24 "$FMQ_HOST_IP")}
MGMT2=${FMQ_MGMT2:-${FMQ_MGMT%:*}:$((${FMQ_MGMT##*:} + 100))}
HOT2=/dev/hugepages/fmq-test-$$-second
DATA2=$FMQ_TMP/data-second
fmq_on_cleanup "rm -rf '$HOT2'"
# Should a second instance come up after all (the bug), stop it and its TAP.
fmq_on_cleanup "ip link del '$TAP2' 2>/dev/null"

fmq_start first --set num.partitions=2
B=$FMQ_IP:9092
addr0=$(ip -4 -o addr show dev "$FMQ_TAP" | awk '{print $4}')
[ "$addr0" = "$FMQ_HOST_IP/24" ] || fail "first TAP has '$addr0'"

# second WHAT KEY [overrides...]: start a second broker with the second
# instance's resources except for the overrides; it must exit 2 within
# 20 s, print a line naming KEY, and leave the first broker as it was.
second() {
	local what=$1 key=$2 rc=0 out
	shift 2
	out=$FMQ_TMP/second-${what// /_}.log
	fmq_run_exit "$out" \
		--set "dev.tap.name=$TAP2" --set "net.ip=$IP2/24" \
		--set "dev.tap.host_ip=$HOST_IP2/24" --set "mgmt.listen=$MGMT2" \
		--set "log.dirs=$DATA2" --set "log.hot.dir=$HOT2" \
		"$@"
	rc=$FMQ_RC
	[ "$rc" -eq 2 ] || fail "$what: second instance exit status $rc, want 2 ($(tail -n 3 "$out" | tr '\n' ' '))"
	grep -q "fluxmq: .*$key: " "$out" ||
		fail "$what: no message naming $key: $(tail -n 3 "$out" | tr '\n' ' ')"
	[ "$(fmq_health)" = 200 ] || fail "$what: first broker's /health is $(fmq_health)"
	ip link show "$FMQ_TAP" | grep -q ',UP' || fail "$what: first TAP is down"
	[ "$(ip -4 -o addr show dev "$FMQ_TAP" | awk '{print $4}')" = "$addr0" ] ||
		fail "$what: first TAP readdressed: $(ip -4 -o addr show dev "$FMQ_TAP")"
	pass "$what: exit 2, '$(grep -m1 'fluxmq: ' "$out" | cut -c1-120)'"
}

second "same TAP" dev.tap.name --set "dev.tap.name=$FMQ_TAP"
second "same log dir" log.dirs --set "log.dirs=$FMQ_DATA"
second "same mgmt address" mgmt.listen --set "mgmt.listen=$FMQ_MGMT"
second "same hot pool dir" log.hot.dir --set "log.hot.dir=$FMQ_HOT"
second "same net.ip and host side" dev.tap.host_ip \
	--set "net.ip=$FMQ_IP/24" --set "dev.tap.host_ip=$FMQ_HOST_IP/24"
ip link show "$TAP2" >/dev/null 2>&1 && fail "a refused instance left $TAP2"
[ ! -e "$DATA2/meta.properties" ] || fail "a refused instance opened its log"

# The first broker still serves: produce and consume through it.
seq 1 500 | sed 's/^/m-/' >"$FMQ_TMP/in.txt"
timeout 30 kcat -b "$B" -P -t excl -p 0 -X acks=all <"$FMQ_TMP/in.txt" ||
	fail "kcat produce through the first broker"
timeout 30 kcat -b "$B" -C -t excl -p 0 -o beginning -e -q >"$FMQ_TMP/out.txt" ||
	fail "kcat consume through the first broker"
cmp -s "$FMQ_TMP/in.txt" "$FMQ_TMP/out.txt" ||
	fail "consumed $(wc -l <"$FMQ_TMP/out.txt") lines, not the 500 produced"
pass "first broker serves: 500 messages produced and consumed with kcat"

rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "first broker exit status $rc"
pass "first broker stopped cleanly"
