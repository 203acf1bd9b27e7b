#!/usr/bin/env bash
# Runs shellcheck over the project's own shell scripts (scripts/, .ci/run, the
# integration library and the scripts tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_cmd shellcheck
files=(scripts/*.sh .ci/run tests/integration/lib.sh tests/integration/test_scripts_*.sh)
shellcheck -x "${files[@]}" || fail "shellcheck found problems"
pass "shellcheck clean: ${#files[@]} files"
