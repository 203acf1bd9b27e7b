#!/usr/bin/env bash
# scripts/setup.sh: refuses non-root and non-Debian with a clear message,
# rejects a bad FMQ_HUGEPAGES_MB, never lowers a larger hugepage reservation,
# and a second run on a prepared machine changes nothing and is fast.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd setpriv dpkg-query

S=$PWD/scripts/setup.sh
expect() { # expect RC PATTERN CMD...
	local want=$1 pat=$2 rc=0 out
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want; output: $out"
	grep -qE -- "$pat" <<<"$out" || fail "'$*' output lacks /$pat/: $out"
}

d=$(mktemp -d)
fmq_on_cleanup "rm -rf '$d'"
mkdir -p "$d/scripts"
cp "$S" "$d/scripts/"
chmod -R a+rX "$d"
expect 1 'must run as root' setpriv --reuid=65534 --regid=65534 --clear-groups bash "$d/scripts/setup.sh"
pass "non-root refused"

printf 'ID=fedora\nVERSION_ID=40\n' >"$d/os-release"
expect 1 'Debian 12 only.*ID=fedora' env FMQ_OS_RELEASE="$d/os-release" bash "$S"
expect 1 'libdpdk-dev' env FMQ_OS_RELEASE="$d/os-release" bash "$S"
pass "non-Debian refused with the package list"

expect 1 'FMQ_HUGEPAGES_MB must be a number' env FMQ_HUGEPAGES_MB=lots bash "$S"
pass "bad FMQ_HUGEPAGES_MB rejected"

nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
before=$(cat "$nr")
[ "$before" -gt 1 ] || skip "no hugepages reserved (run scripts/setup.sh first)"
t0=$(date +%s)
expect 0 'leaving it' env FMQ_HUGEPAGES_MB=2 bash "$S"
[ "$(cat "$nr")" = "$before" ] || fail "reservation changed from $before to $(cat "$nr")"
pass "a smaller FMQ_HUGEPAGES_MB leaves $before pages alone"

out=$(bash "$S" 2>&1) || fail "second run failed: $out"
dt=$(($(date +%s) - t0))
for p in 'packages already installed' 'hugetlbfs already mounted' 'node_modules up to date' 'nothing compiled or linked'; do
	grep -q "$p" <<<"$out" || fail "second run did not report '$p': $out"
done
if grep -qE 'apt-get (update|install)|npm ci' <<<"$out"; then fail "second run did work again: $out"; fi
[ "$dt" -le 60 ] || fail "two no-op runs took ${dt}s"
pass "second run is a no-op (${dt}s for two runs)"
