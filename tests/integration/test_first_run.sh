#!/usr/bin/env bash
# First-run mistakes get a message that names the cause and the fix, not
# what DPDK makes of them (issue 19): started without root, the EAL said
# "Cannot allocate memory"; with hugepages reserved but no hugetlbfs
# mounted, "EAL init failed: Permission denied". Both must exit non-zero
# before anything is created (no TAP left behind).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd setpriv unshare

HOT=/dev/hugepages/fmq-test-$$-first
fmq_on_cleanup "rm -rf '$HOT'"
ARGS=(--set "dev.tap.name=$FMQ_TAP" --set "net.ip=$FMQ_IP/24"
	--set "dev.tap.host_ip=$FMQ_HOST_IP/24" --set "mgmt.listen=$FMQ_MGMT"
	--set "log.dirs=$FMQ_TMP/data-first" --set "log.hot.dir=$HOT")

# check NAME WANT CMD...: CMD must fail, print WANT, and create no TAP.
check() {
	local name=$1 want=$2 rc=0 out=$FMQ_TMP/first-$1.log
	shift 2
	timeout 30 "$@" >"$out" 2>&1 </dev/null || rc=$?
	[ "$rc" -ne 0 ] || fail "$name: exit status 0"
	[ "$rc" -ne 124 ] || fail "$name: still running after 30 s"
	grep -q "$want" "$out" ||
		fail "$name: no '$want' in: $(grep -v '^EAL' "$out" | tail -n 3 | tr '\n' ' ')"
	! ip link show "$FMQ_TAP" >/dev/null 2>&1 || fail "$name: left $FMQ_TAP behind"
	pass "$name: exit $rc, $(grep -m1 '^fluxmq: ' "$out" | cut -c1-100)"
}

check not-root "not running as root: .*run it with sudo" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$FMQ_BIN" "${FMQ_EAL[@]}" -- "${ARGS[@]}"

# Hugepages reserved (setup.sh reserves them) but hugetlbfs unmounted, in
# a mount namespace of the broker's own: the host keeps its mount.
[ "$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)" -gt 0 ] ||
	skip "no hugepages reserved (scripts/setup.sh reserves them)"
# shellcheck disable=SC2016 # expanded by the inner shell
check no-hugetlbfs "no hugetlbfs is mounted: mount -t hugetlbfs" \
	unshare -m --propagation private sh -c \
	'umount /dev/hugepages && exec "$@"' sh \
	"$FMQ_BIN" "${FMQ_EAL[@]}" -- "${ARGS[@]}"

# The same command line starts once the host is right.
fmq_start first-ok
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "clean stop: exit status $rc"
pass "with root and hugetlbfs the same settings start and stop cleanly"
