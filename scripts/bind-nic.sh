#!/usr/bin/env bash
# Bind a NIC to a DPDK-capable driver and back, around dpdk-devbind.py.
#
#   scripts/bind-nic.sh status
#   sudo scripts/bind-nic.sh bind <pci> [driver]    (driver: vfio-pci by default)
#   sudo scripts/bind-nic.sh restore <pci>
#
# bind remembers the kernel driver the device had in
# /var/lib/fluxmq/bind-nic.state, so restore can give it back. Without a
# remembered driver, restore asks modprobe which module claims the device's
# modalias. It refuses to touch the device behind the default route: unbinding
# it would cut the machine off the network (and your SSH session).
#
# Environment (mainly for tests): FMQ_DEVBIND (default dpdk-devbind.py),
# FMQ_BIND_STATE (state file), FMQ_SYSFS (default /sys).
set -euo pipefail

DEVBIND=${FMQ_DEVBIND:-dpdk-devbind.py}
STATE=${FMQ_BIND_STATE:-/var/lib/fluxmq/bind-nic.state}
SYS=${FMQ_SYSFS:-/sys}
# Drivers that hand the device to userspace; never remembered as "the
# kernel driver" to restore.
DPDK_DRIVERS=" vfio-pci uio_pci_generic igb_uio "

prog=$(basename "$0")
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage() {
	cat >&2 <<EOF
usage: $prog status
       $prog bind <pci> [driver]   bind to driver (default vfio-pci), remember the old one
       $prog restore <pci>         give the device back to its kernel driver
<pci> is a PCI address such as 0000:03:00.0 or 03:00.0 (see: $prog status)
EOF
	exit 2
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1 needs root: sudo $0 $*"
}

need_devbind() {
	command -v "$DEVBIND" >/dev/null 2>&1 ||
		die "$DEVBIND not found (Debian package dpdk; run scripts/setup.sh)"
}

# Normalise a PCI address to DDDD:BB:DD.F (lower case) or fail.
norm_pci() {
	local a=${1,,}
	[[ $a =~ ^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] && a=0000:$a
	[[ $a =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$ ]] ||
		die "'$1' is not a PCI address (like 0000:03:00.0 or 03:00.0)"
	[ -e "$SYS/bus/pci/devices/$a" ] ||
		die "no PCI device $a on this machine (list them with: $prog status)"
	printf '%s\n' "$a"
}

cur_driver() {
	local l
	l=$(readlink "$SYS/bus/pci/devices/$1/driver" 2>/dev/null) || return 0
	basename "$l"
}

# Kernel network interfaces backed by a PCI device (also through virtio).
netdevs_of() {
	local n real
	for n in "$SYS"/class/net/*; do
		real=$(readlink -f "$n/device" 2>/dev/null) || continue
		case "$real/" in
		*/"$1"/*) basename "$n" ;;
		esac
	done
}

# An interface and every device stacked on it (bridge, bond, VLAN, macvlan).
with_uppers() {
	local u
	printf '%s\n' "$1"
	for u in "$SYS/class/net/$1"/upper_*; do
		[ -e "$u" ] || continue
		with_uppers "${u##*/upper_}"
	done
}

route_devs() {
	{ ip -o -4 route show default; ip -o -6 route show default; } 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }' | sort -u
}

# Dies if the device carries the default route.
guard_default_route() {
	local pci=$1 n d routes
	routes=$(route_devs)
	[ -n "$routes" ] || return 0
	for n in $(netdevs_of "$pci"); do
		for d in $(with_uppers "$n"); do
			if grep -qx "$d" <<<"$routes"; then
				die "refusing: $pci is interface $n$([ "$d" != "$n" ] && printf ' (under %s)' "$d"), which carries the default route.
Unbinding it would cut this machine off the network, SSH included.
Use another port for DPDK, or move the default route off it first."
			fi
		done
	done
}

state_get() {
	[ -f "$STATE" ] && awk -v p="$1" '$1 == p { print $2 }' "$STATE" | tail -n 1
	return 0
}

state_set() { # state_set PCI DRIVER ("" removes the entry)
	local tmp
	mkdir -p "$(dirname "$STATE")"
	tmp=$(mktemp "$STATE.XXXXXX")
	[ -f "$STATE" ] && awk -v p="$1" '$1 != p' "$STATE" >"$tmp"
	[ -n "$2" ] && printf '%s %s\n' "$1" "$2" >>"$tmp"
	mv "$tmp" "$STATE"
}

load_module() {
	local drv=$1
	[ -d "$SYS/bus/pci/drivers/$drv" ] && return 0
	printf 'loading kernel module %s\n' "$drv"
	if ! modprobe "$drv"; then
		if [ "$drv" = vfio-pci ]; then
			die "cannot load vfio-pci. On a machine without an IOMMU (many VMs) use
  modprobe vfio enable_unsafe_noiommu_mode=1 && modprobe vfio-pci
or bind to uio_pci_generic instead: $prog bind <pci> uio_pci_generic"
		fi
		die "cannot load kernel module $drv"
	fi
}

cmd_status() {
	need_devbind
	local r
	"$DEVBIND" --status-dev net 2>/dev/null
	r=$(route_devs | tr '\n' ' ')
	[ -n "$r" ] && printf '\nDefault route via: %s(never bound by this script)\n' "$r"
	if [ -s "$STATE" ]; then
		printf '\nKernel drivers remembered for restore (%s):\n' "$STATE"
		sed 's/^/  /' "$STATE"
	fi
	return 0
}

cmd_bind() {
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
	local pci drv=${2:-vfio-pci} cur
	pci=$(norm_pci "$1")
	guard_default_route "$pci"
	need_root bind "$@"
	need_devbind
	cur=$(cur_driver "$pci")
	if [ "$cur" = "$drv" ]; then
		printf '%s is already bound to %s\n' "$pci" "$drv"
		return 0
	fi
	if [ "$cur" = mlx5_core ]; then
		die "refusing: $pci is an NVIDIA/Mellanox port (mlx5_core). mlx5 is bifurcated:
DPDK drives it while it stays on mlx5_core, so do not rebind it."
	fi
	if [ -n "$cur" ] && [[ $DPDK_DRIVERS != *" $cur "* ]]; then
		state_set "$pci" "$cur"
		printf 'remembered %s -> %s in %s\n' "$pci" "$cur" "$STATE"
	fi
	load_module "$drv"
	if [ "$drv" = vfio-pci ] && [ -z "$(ls -A "$SYS/kernel/iommu_groups" 2>/dev/null)" ] &&
		[ "$(cat "$SYS/module/vfio/parameters/enable_unsafe_noiommu_mode" 2>/dev/null)" != Y ]; then
		printf 'warning: no IOMMU groups and vfio no-IOMMU mode is off; binding will likely fail.\n' >&2
		printf '  echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode  (or use uio_pci_generic)\n' >&2
	fi
	printf 'binding %s (%s) to %s\n' "$pci" "${cur:-no driver}" "$drv"
	"$DEVBIND" -b "$drv" "$pci"
	cur=$(cur_driver "$pci")
	[ "$cur" = "$drv" ] || die "$pci is still on '${cur:-no driver}' (see $DEVBIND's message above)"
	printf '%s now on %s; undo with: %s restore %s\n' "$pci" "$drv" "$prog" "$pci"
}

cmd_restore() {
	[ $# -eq 1 ] || usage
	local pci want cur m d
	pci=$(norm_pci "$1")
	need_root restore "$@"
	need_devbind
	want=$(state_get "$pci")
	if [ -z "$want" ]; then
		# The module that claims the device's modalias, less userspace
		# drivers; its PCI driver name (which may differ, virtio_pci vs
		# virtio-pci) is under /sys/module/<module>/drivers/.
		for m in $(modprobe -R "$(cat "$SYS/bus/pci/devices/$pci/modalias")" 2>/dev/null); do
			[[ " vfio_pci uio_pci_generic igb_uio " == *" ${m//-/_} "* ]] && continue
			modprobe "$m" || die "cannot load kernel module $m for $pci"
			for d in "$SYS/module/$m/drivers/pci:"*; do
				[ -e "$d" ] && want=${d##*/pci:} && break
			done
			[ -n "$want" ] && break
		done
		[ -n "$want" ] || die "no remembered driver for $pci and modprobe knows no module for its modalias;
bind it back by hand: $DEVBIND -b <kernel driver> $pci"
		printf 'no remembered driver for %s; modalias says %s\n' "$pci" "$want"
	fi
	cur=$(cur_driver "$pci")
	if [ "$cur" = "$want" ]; then
		printf '%s is already on %s\n' "$pci" "$want"
		state_set "$pci" ""
		return 0
	fi
	load_module "$want"
	printf 'binding %s (%s) back to %s\n' "$pci" "${cur:-no driver}" "$want"
	"$DEVBIND" -b "$want" "$pci"
	cur=$(cur_driver "$pci")
	[ "$cur" = "$want" ] || die "$pci is on '${cur:-no driver}', not $want (see $DEVBIND's message above)"
	state_set "$pci" ""
	printf '%s restored to %s\n' "$pci" "$want"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
status) [ $# -eq 0 ] || usage; cmd_status ;;
bind) cmd_bind "$@" ;;
restore) cmd_restore "$@" ;;
-h|--help|help) usage ;;
*) printf '%s: unknown command %s\n' "$prog" "$cmd" >&2; usage ;;
esac
