#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A broker run with a --file-prefix of its own (as scripts/fluxmq.service
# does) leaves no <prefix>map_* hugepage files behind: not after a clean
# stop (the EAL's memseg files used to stay, 33 of them, 66 MiB), and not
# after kill -9. The hot pool file stays, by design (it is how unflushed
# data survives a crash).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl
[ "$(stat -f -c %T /dev/hugepages 2>/dev/null)" = hugetlbfs ] ||
	skip "/dev/hugepages is not hugetlbfs"
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
[ "$free" -ge 300 ] || skip "needs 300 free 2 MiB hugepages, $free free"

prefix=fmqhp$$
maps() { find /dev/hugepages -maxdepth 1 -name "${prefix}map_*" | wc -l; }
fmq_on_cleanup "rm -f /dev/hugepages/${prefix}map_*"
FMQ_EAL=(--file-prefix "$prefix" "${FMQ_EAL[@]}")

fmq_start hp
during=$(maps)
rc=0; fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc"
after=$(maps)
[ "$after" -eq 0 ] || fail "$after ${prefix}map_* files left after a clean stop ($during while running)"
[ -e "$FMQ_HOT/hotpool" ] || fail "the hot pool file is gone (it must stay)"
pass "clean stop: no ${prefix}map_* files left ($during while running); hotpool kept"

fmq_start hp
fmq_kill9
after=$(maps)
[ "$after" -eq 0 ] || fail "$after ${prefix}map_* files left after kill -9"
pass "kill -9: no ${prefix}map_* files left"
