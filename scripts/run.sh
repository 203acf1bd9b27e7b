#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running broker:
#
#   sudo scripts/run.sh [EAL options] [-- [--config FILE] [--set key=value]...]
#
# Runs scripts/setup.sh (packages, hugepages, build; fast when already done),
# then replaces itself with the broker, passing every argument through. With
# no port in the EAL options the broker creates the tap interface fmq0, takes
# 10.77.0.2/24 and gives the kernel side 10.77.0.1/24: try `ping 10.77.0.2`.
# Ctrl-C stops it cleanly. FMQ_SKIP_SETUP=1 skips the setup step.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${FMQ_SKIP_SETUP:-0}" != 1 ]; then
	bash scripts/setup.sh
fi
bin=${FMQ_BUILD:-build}/app/fluxmq/fluxmq
[ -x "$bin" ] || { printf 'run.sh: %s was not built (see scripts/setup.sh output)\n' "$bin" >&2; exit 1; }
exec "$bin" "$@"
