#!/usr/bin/env bash
# Build a Debian package of FluxMQ from this tree with dpkg-deb (no
# debhelper, no debian/ directory):
#
#   scripts/build-deb.sh [OUTDIR]        (default OUTDIR: build-deb/out)
#
# It configures a build directory with --prefix=/usr (FMQ_DEB_BUILD, default
# build-deb; tests are not built), installs it with --destdir into a staging
# tree, computes Depends with dpkg-shlibdeps from the ELF files it ships (or,
# without dpkg-dev, from their NEEDED libraries and `dpkg -S`), marks
# /etc/fluxmq/server.properties as a conffile and writes
# OUTDIR/fluxmq_<version>_<arch>.deb. Prints the package's path last.
#
# The broker is compiled with -march=native (meson.build): the package runs
# on CPUs with at least the build host's instruction set extensions. Build
# it on the oldest CPU generation you deploy to.
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${FMQ_DEB_BUILD:-build-deb}
out=${1:-$bdir/out}
prog=build-deb.sh
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

for c in meson ninja dpkg-deb dpkg objdump; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c (apt-get install meson ninja-build dpkg-dev binutils)"
done

# --- build and stage ---------------------------------------------------------
if [ ! -f "$bdir/build.ninja" ]; then
	meson setup "$bdir" --prefix=/usr -Dtests=false >/dev/null
else
	meson configure "$bdir" --prefix=/usr -Dtests=false >/dev/null
fi
# Only what gets installed (no micro-benchmarks).
mapfile -t targets < <(meson introspect "$bdir" --targets |
	/usr/bin/python3 -c 'import json, os, sys
b = os.path.abspath(sys.argv[1])
for t in json.load(sys.stdin):
    if t["installed"]:
        for f in t["filename"]:
            print(os.path.relpath(f, b))' "$bdir")
[ "${#targets[@]}" -gt 0 ] || die "meson introspect lists no installed targets"
ninja -C "$bdir" -j"${FMQ_DEB_JOBS:-2}" "${targets[@]}" >/dev/null
stage=$bdir/stage
rm -rf "$stage"
mkdir -p "$stage"
stage=$(cd "$stage" && pwd)
meson install -C "$bdir" --no-rebuild --destdir "$stage" >/dev/null

version=$(meson introspect "$bdir" --projectinfo |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg --print-architecture)
[ -f "$stage/etc/fluxmq/server.properties" ] ||
	die "staging has no /etc/fluxmq/server.properties (meson install did not run install-config.sh?)"

# ELF files we ship: strip debug info (symbols stay for backtraces).
mapfile -t elfs < <(find "$stage" -type f -perm -u+x -exec sh -c \
	'head -c 4 "$1" | grep -q "ELF" && echo "$1"' _ {} \;)
[ "${#elfs[@]}" -gt 0 ] || die "no executables in $stage"
for f in "${elfs[@]}"; do
	strip --strip-debug "$f"
done

# --- Depends -----------------------------------------------------------------
depends=
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
	# dpkg-shlibdeps wants a debian/control naming the package.
	sd=$bdir/shlibdeps
	rm -rf "$sd"
	mkdir -p "$sd/debian"
	sd=$(cd "$sd" && pwd)
	printf 'Source: fluxmq\n\nPackage: fluxmq\nArchitecture: any\n' >"$sd/debian/control"
	depends=$(cd "$sd" && dpkg-shlibdeps -O "${elfs[@]}" 2>"$sd/warnings" |
		sed -n 's/^shlibs:Depends=//p') ||
		die "dpkg-shlibdeps failed: $(cat "$sd/warnings")"
else
	# The packages owning every library the ELF files need, unversioned.
	depends=$(for f in "${elfs[@]}"; do
		objdump -p "$f" | awk '$1 == "NEEDED" { print $2 }'
	done | sort -u | while read -r lib; do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		[ -n "$path" ] || die "no $lib on this host"
		real=$(readlink -f "$path")
		dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null ||
			die "no package owns $path"
	done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
fi
[ -n "$depends" ] || die "could not compute Depends"
# Plugins the EAL loads from its driver directory at run time, which no
# NEEDED entry names: the default port (net_tap on the vdev bus) and the
# ring mempool every mbuf pool uses. The other PMDs and dpdk-devbind.py
# come with the dpdk package (Recommends).
depends="$depends, librte-bus-vdev23 (>= 22.11), librte-mempool-ring23 (>= 22.11), librte-net-tap23 (>= 22.11)"

# --- control files -------------------------------------------------------------
deb=$stage/DEBIAN
mkdir -p "$deb" "$stage/usr/share/doc/fluxmq"
cat >"$stage/usr/share/doc/fluxmq/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fluxmq

Files: *
Copyright: the FluxMQ authors
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0 (also shipped here as LICENSE).
EOF
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$deb/control" <<EOF
Package: fluxmq
Version: $version
Architecture: $arch
Maintainer: FluxMQ developers <fluxmq@localhost>
Installed-Size: $size
Depends: $depends
Recommends: dpdk
Section: net
Priority: optional
Description: Kafka-wire-compatible message broker on DPDK
 FluxMQ serves Kafka clients (librdkafka, kafka-python, KafkaJS, ...)
 unchanged from a userspace TCP stack on DPDK poll-mode drivers, with a
 hugepage hot pool written through to Kafka-format segment files.
 .
 This package has the broker (a systemd notify service with a watchdog),
 the fluxmq-bench load generator, fluxmq-bind-nic, the drivers-config port
 profiles, a sample /etc/fluxmq/server.properties and the documentation
 with a Grafana dashboard and Prometheus alert rules.
 Built with -march=native: it needs the build host's CPU features.
EOF
printf '/etc/fluxmq/server.properties\n' >"$deb/conffiles"
# DPKG_ROOT: set when dpkg installs into another root without chroot
# (--force-script-chrootless); the service manager is then not ours.
cat >"$deb/postinst" <<'EOF'
#!/bin/sh
set -e
case "$1" in
configure)
	mkdir -p "${DPKG_ROOT:-}/var/lib/fluxmq"
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
EOF
cat >"$deb/postrm" <<'EOF'
#!/bin/sh
set -e
# The logs in /var/lib/fluxmq are the operator's data: never removed here.
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
EOF
chmod 0755 "$deb/postinst" "$deb/postrm"

mkdir -p "$out"
pkg=$out/fluxmq_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$pkg" >/dev/null
printf 'Depends: %s\n' "$depends" >&2
printf '%s\n' "$(cd "$(dirname "$pkg")" && pwd)/$(basename "$pkg")"
