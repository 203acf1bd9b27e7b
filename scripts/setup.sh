#!/usr/bin/env bash
# Prepare a Debian 12 machine to build, run and test FluxMQ. Idempotent: every
# step checks first and only acts on what is missing, so a second run is fast.
#
#   sudo scripts/setup.sh
#
# Environment:
#   FMQ_HUGEPAGES_MB  2 MiB hugepages to reserve, in MiB (default 1024). An
#                     existing larger reservation is never lowered.
#   FMQ_BUILD         build directory (default build)
#   FMQ_SETUP_FORCE=1 go on even on a distribution that is not Debian (the
#                     package step is then skipped: install the packages
#                     listed below yourself)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${FMQ_BUILD:-build}
HUGE_MB=${FMQ_HUGEPAGES_MB:-1024}
OS_RELEASE=${FMQ_OS_RELEASE:-/etc/os-release}

# Debian 12 packages the project needs (build, tests, clients, benchmarks).
PACKAGES=(
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	dpdk dpdk-dev libdpdk-dev libisal-dev liblz4-dev libnuma-dev
	libcunit1-dev libmicrohttpd-dev libzstd-dev libsnappy-dev
	kcat librdkafka-dev python3 python3-kafka python3-confluent-kafka
	python3-lz4 python3-snappy python3-zstandard iputils-ping
	iptables iproute2 curl ethtool gnuplot-nox shellcheck dpkg-dev python3-yaml
	chromium libssl-dev openssl python3-prometheus-client
	zookeeperd libzookeeper-st-dev
)

step=0
say() { printf '[setup] %s\n' "$*"; }
stepn() { step=$((step + 1)); printf '[setup] step %d: %s\n' "$step" "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 0. where are we ---------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	die "must run as root (it installs packages and reserves hugepages): sudo $0"
fi
# KEY=value or KEY="value" from os-release, without sourcing it.
osr() {
	local v
	v=$(sed -n "s/^$1=//p" "$OS_RELEASE" 2>/dev/null | head -n 1 | tr -d '"'"'")
	printf '%s' "${v:-unknown}"
}
os_id=$(osr ID)
os_ver=$(osr VERSION_ID)
skip_packages=0
if [ "$os_id" != debian ]; then
	if [ "${FMQ_SETUP_FORCE:-0}" != 1 ]; then
		die "this script supports Debian 12 only (found ID=$os_id VERSION_ID=$os_ver).
  Install the equivalents of these Debian packages yourself:
    ${PACKAGES[*]} nodejs npm
  then rerun with FMQ_SETUP_FORCE=1 to do the remaining steps
  (hugepages, npm dependencies, build)."
	fi
	say "not Debian ($os_id $os_ver), FMQ_SETUP_FORCE=1: skipping the package step"
	skip_packages=1
elif [ "$os_ver" != 12 ]; then
	say "warning: made for Debian 12, this is Debian $os_ver; package names may differ"
fi

# --- 1. packages -------------------------------------------------------------
stepn "Debian packages"
if [ "$skip_packages" = 0 ]; then
	want=("${PACKAGES[@]}")
	# Node may come from outside apt (e.g. a vendor repackage that ships npm
	# itself); Debian's npm would conflict with it, so only add the pair when
	# either command is missing.
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		say "  node $(node --version) and npm $(npm --version) already present, not installing nodejs/npm"
	else
		want+=(nodejs npm)
	fi
	missing=()
	for p in "${want[@]}"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "  all ${#want[@]} packages already installed"
	else
		say "  missing: ${missing[*]}"
		say "  apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -q
		say "  apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}"
	fi
	# zookeeperd's own service (port 2181 for everyone) stays off: the
	# cluster scripts run ZooKeeper with their own data dir and port.
	if command -v systemctl >/dev/null 2>&1 &&
		systemctl is-enabled zookeeper >/dev/null 2>&1; then
		say "  disabling the Debian zookeeper service (scripts/zk.sh runs our own)"
		systemctl disable --now zookeeper >/dev/null 2>&1 || true
	fi
fi

# --- 2. hugepages ------------------------------------------------------------
stepn "hugepages (2 MiB pages, want ${HUGE_MB} MiB)"
case $HUGE_MB in
''|*[!0-9]*) die "FMQ_HUGEPAGES_MB must be a number of MiB, got '$HUGE_MB'" ;;
esac
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ -e "$nr" ] || die "this kernel has no 2 MiB hugepages ($nr missing)"
want_pages=$(((HUGE_MB + 1) / 2))
have_pages=$(cat "$nr")
if [ "$have_pages" -ge "$want_pages" ]; then
	say "  $have_pages pages ($((have_pages * 2)) MiB) reserved already, leaving it"
else
	say "  raising the reservation from $have_pages to $want_pages pages"
	if ! echo "$want_pages" >"$nr" 2>/dev/null; then
		die "cannot write $nr (read-only /sys in a container? run on the host:
  echo $want_pages > $nr)"
	fi
	got=$(cat "$nr")
	if [ "$got" -lt "$want_pages" ]; then
		say "  warning: the kernel reserved only $got of $want_pages pages (memory is fragmented or short);"
		say "           reserve them at boot instead: hugepages=$want_pages on the kernel command line"
	else
		say "  $got pages reserved"
	fi
fi
if [ "$(findmnt -n -o FSTYPE /dev/hugepages 2>/dev/null || true)" = hugetlbfs ]; then
	say "  hugetlbfs already mounted at /dev/hugepages"
else
	mkdir -p /dev/hugepages
	mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	say "  mounted hugetlbfs at /dev/hugepages"
fi

# --- 3. node dependencies for the KafkaJS integration tests ------------------
stepn "npm dependencies (tests/integration/node)"
node_dir=$ROOT/tests/integration/node
if [ ! -f "$node_dir/package-lock.json" ]; then
	say "  no package-lock.json, nothing to install"
elif ! command -v npm >/dev/null 2>&1; then
	die "npm is missing (install nodejs and npm)"
elif [ -f "$node_dir/node_modules/.package-lock.json" ] &&
	[ ! "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ] &&
	(cd "$node_dir" && npm ls --depth=0 >/dev/null 2>&1); then
	say "  node_modules up to date with package-lock.json"
else
	say "  npm ci"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- 4. build -----------------------------------------------------------------
stepn "build into $BUILD/"
# An existing build directory is reconfigured (about a second): lib/ and
# tests/ discover their subdirectories with fs.is_file(), which meson does not
# watch, so an old configuration would not see a newly added library.
log=$BUILD/setup-meson.log
mkdir -p "$BUILD"
if [ -f "$BUILD/build.ninja" ]; then
	say "  meson setup --reconfigure $BUILD"
	set -- --reconfigure
else
	say "  meson setup $BUILD"
	set --
fi
if ! meson setup "$@" "$BUILD" >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "meson setup failed (full log: $log)"
fi
say "  ninja -C $BUILD"
log=$BUILD/setup-ninja.log
if ! ninja -C "$BUILD" -j "$(nproc)" >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "build failed (full log: $log)"
fi
# The build's commit id (version.h, vcs_tag) is checked on every run, so
# ninja never says "no work to do": report whether anything was rebuilt.
if grep -qE '(Compiling|Linking) ' "$log"; then
	say "  $(tail -n 1 "$log")"
else
	say "  up to date: nothing compiled or linked"
fi
say "done: broker at $BUILD/app/fluxmq/fluxmq (run it with scripts/run.sh)"
