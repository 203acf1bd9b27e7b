#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configuration errors found at start exit 2 with "src:line: key: reason",
# and create nothing (no TAP): listeners=garbage, a log.dirs that cannot
# be written (read-only mount), that cannot be created, or that names a
# file; a hot pool larger than the free hugepages; log.hot.chunk.bytes not
# above message.max.bytes + 512 (its documented constraint), and the other
# constraints between keys. A chunk just above the bound starts.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl ip

HOT=/dev/hugepages/fmq-test-$$-cfg
DATA=$FMQ_TMP/data-cfg
fmq_on_cleanup "rm -rf '$HOT'"
fmq_on_cleanup "ip link del '$FMQ_TAP' 2>/dev/null"

# bad NAME KEY [overrides...]: must exit 2 within 20 s naming KEY.
bad() {
	local name=$1 key=$2 rc=0 out
	shift 2
	out=$FMQ_TMP/bad-${name// /_}.log
	fmq_run_exit "$out" \
		--set "dev.tap.name=$FMQ_TAP" --set "net.ip=$FMQ_IP/24" \
		--set "dev.tap.host_ip=$FMQ_HOST_IP/24" --set "mgmt.listen=$FMQ_MGMT" \
		--set "log.dirs=$DATA" --set "log.hot.dir=$HOT" \
		"$@"
	rc=$FMQ_RC
	[ "$rc" -eq 2 ] || fail "$name: exit status $rc, want 2 ($(grep -v '^EAL' "$out" | tail -n 2 | tr '\n' ' '))"
	grep -q "^fluxmq: .*$key: " "$out" ||
		fail "$name: no 'fluxmq: ... $key: reason' line: $(tail -n 2 "$out" | tr '\n' ' ')"
	! ip link show "$FMQ_TAP" >/dev/null 2>&1 || fail "$name: left $FMQ_TAP behind"
	pass "$name: exit 2, $(grep -m1 '^fluxmq: ' "$out" | cut -c1-110)"
}

bad "listeners=garbage" listeners --set listeners=garbage
bad "listeners on another address" listeners --set listeners=PLAINTEXT://192.0.2.77:9092
bad "listener name not in the protocol map" listeners --set listeners=PLAINTEXT://:9092,CLIENT://:9094
bad "protocol map with an unknown protocol" listener.security.protocol.map \
	--set listeners=CLIENT://:9094 --set listener.security.protocol.map=CLIENT:TLS
bad "advertised listener with no listener" advertised.listeners \
	--set advertised.listeners=SSL://broker.example:9093

RO=$FMQ_TMP/ro
mkdir -p "$RO"
if mount -t tmpfs -o ro,size=1m fmq-ro "$RO" 2>/dev/null; then
	fmq_on_cleanup "umount '$RO'"
	bad "log.dirs on a read-only mount" log.dirs --set "log.dirs=$RO"
	bad "log.dirs under a read-only mount" log.dirs --set "log.dirs=$RO/sub"
else
	printf 'note: cannot mount tmpfs read-only here; unwritable log.dirs via /proc only\n'
fi
bad "log.dirs not creatable" log.dirs --set "log.dirs=/proc/fmq-test-$$"
: >"$FMQ_TMP/afile"
bad "log.dirs naming a file" log.dirs --set "log.dirs=$DATA,$FMQ_TMP/afile"

free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$(stat -f -c %T /dev/hugepages 2>/dev/null)" = hugetlbfs ] && [ "$free" -gt 0 ]; then
	bad "hot pool larger than the free hugepages" log.hot.pool.bytes \
		--set "log.hot.pool.bytes=$(( (free + 64) * 2 * 1024 * 1024 ))"
else
	printf 'note: no free 2 MiB hugepages on hugetlbfs: pool size check skipped\n'
fi

bad "chunk 65536 <= message.max.bytes + 512" log.hot.chunk.bytes \
	--set log.hot.chunk.bytes=65536
bad "chunk == message.max.bytes + 512" log.hot.chunk.bytes \
	--set message.max.bytes=126464 --set log.hot.chunk.bytes=126976
bad "chunk not a multiple of 4 KiB" log.hot.chunk.bytes \
	--set log.hot.chunk.bytes=4195000
bad "pool smaller than a chunk" log.hot.pool.bytes \
	--set log.hot.pool.bytes=4194304 --set log.hot.chunk.bytes=8388608
bad "rto_min above rto_max" net.tcp.rto_min_ms \
	--set net.tcp.rto_min_ms=5000 --set net.tcp.rto_max_ms=1000
bad "min session timeout above max" group.min.session.timeout.ms \
	--set group.min.session.timeout.ms=9000 --set group.max.session.timeout.ms=8000
bad "host side off net.ip's subnet" dev.tap.host_ip \
	--set "dev.tap.host_ip=192.0.2.250/24"

# Just above the bound: message.max.bytes 126463 + 512 < 126976.
fmq_start cfg-ok --set message.max.bytes=126463 --set log.hot.chunk.bytes=126976
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc"
pass "log.hot.chunk.bytes = message.max.bytes + 513 starts and stops cleanly"
