#!/usr/bin/env bash
# Test networks for net_af_packet: a veth pair with one end (NAME) left in the
# root namespace for DPDK and the other (NAME-k, the kernel client side) in a
# network namespace with an address.
#
#   sudo scripts/dev-net.sh create NAME [--ns NS] [--ip CIDR]
#   sudo scripts/dev-net.sh destroy NAME
#   scripts/dev-net.sh list
#
# create also switches off TX checksum offload on the kernel-side peer
# (ethtool -K NAME-k tx off). Otherwise the kernel hands partially
# checksummed TCP segments over the veth, net_af_packet passes them on as
# they are, and TCP fails while ping works.
#
# Defaults: NS = NAME, CIDR = 10.78.0.1/24 (the broker then takes
# 10.78.0.2/24). Pairs made here carry the interface alias
# "fluxmq-dev-net ..."; destroy refuses interfaces without it.
set -euo pipefail

prog=$(basename "$0")
TAG=fluxmq-dev-net
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage() {
	cat >&2 <<EOF
usage: $prog create NAME [--ns NS] [--ip CIDR]   veth NAME <-> NAME-k in netns NS
       $prog destroy NAME
       $prog list
NAME: up to 13 characters [A-Za-z0-9_-]; defaults NS=NAME, CIDR=10.78.0.1/24
EOF
	exit 2
}
need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root: sudo $0 $1 ..."; }
check_name() {
	[[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{0,12}$ ]] ||
		die "bad name '$1': 1-13 characters of [A-Za-z0-9_-] (the peer adds -k, Linux allows 15)"
}

# alias_field NAME KEY: a key=value from the tag alias of interface NAME.
alias_field() {
	tr ' ' '\n' <"/sys/class/net/$1/ifalias" | sed -n "s/^$2=//p"
}
is_ours() {
	[ -r "/sys/class/net/$1/ifalias" ] && [[ $(cat "/sys/class/net/$1/ifalias") == "$TAG "* ]]
}

cmd_create() {
	[ $# -ge 1 ] || usage
	local name=$1 ns="" cidr=10.78.0.1/24 peer addr plen o4 bro
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--ns) [ $# -ge 2 ] || usage; ns=$2; shift 2 ;;
		--ip) [ $# -ge 2 ] || usage; cidr=$2; shift 2 ;;
		*) printf '%s: unknown option %s\n' "$prog" "$1" >&2; usage ;;
		esac
	done
	check_name "$name"
	ns=${ns:-$name}
	[[ $ns =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "bad namespace name '$ns'"
	[[ $cidr =~ ^([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] ||
		die "bad --ip '$cidr': want an IPv4 address/prefix such as 10.78.0.1/24"
	addr=${cidr%/*}
	plen=${BASH_REMATCH[3]}
	o4=${BASH_REMATCH[2]}
	need_root create
	peer=$name-k
	[ ! -e "/sys/class/net/$name" ] || die "interface $name already exists (remove it: $prog destroy $name)"
	[ ! -e "/sys/class/net/$peer" ] || die "interface $peer already exists"
	[ ! -e "/run/netns/$ns" ] || die "network namespace $ns already exists"

	printf 'creating veth %s <-> %s, %s in namespace %s with %s\n' "$name" "$peer" "$peer" "$ns" "$cidr"
	ip netns add "$ns"
	if ! ip link add "$name" type veth peer name "$peer"; then
		ip netns del "$ns"
		die "cannot create veth pair $name/$peer"
	fi
	ip link set "$name" alias "$TAG ns=$ns peer=$peer ip=$cidr"
	ip link set "$peer" netns "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$cidr" dev "$peer"
	# IPv6 would only add router solicitations and MLD noise to captures.
	sysctl -qw "net.ipv6.conf.$name.disable_ipv6=1" 2>/dev/null || true
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$peer.disable_ipv6=1" 2>/dev/null || true
	# The af_packet trap: full checksums from the kernel side (this also
	# turns off TSO there), and no GRO merging on the DPDK side.
	ip netns exec "$ns" ethtool -K "$peer" tx off >/dev/null
	ethtool -K "$name" gro off >/dev/null 2>&1 || true
	ip -n "$ns" link set "$peer" up
	ip link set "$name" up

	bro=$addr
	if [ "$o4" -lt 254 ]; then
		bro=${addr%.*}.$((o4 + 1))
	fi
	cat <<EOF
ready. Run the broker on $name, for example:
  build/app/fluxmq/fluxmq --vdev=net_af_packet0,iface=$name -- --set net.ip=$bro/$plen
and the clients inside the namespace:
  ip netns exec $ns ping $bro
  ip netns exec $ns kcat -b $bro:9092 -L
remove it with: $prog destroy $name
EOF
}

cmd_destroy() {
	[ $# -eq 1 ] || usage
	local name=$1 ns
	check_name "$name"
	need_root destroy
	if [ ! -e "/sys/class/net/$name" ]; then
		printf 'no interface %s, nothing to do\n' "$name"
		return 0
	fi
	is_ours "$name" || die "refusing: $name was not created by $prog (no '$TAG' alias)"
	ns=$(alias_field "$name" ns)
	ip link del "$name"
	if [ -n "$ns" ] && [ -e "/run/netns/$ns" ]; then
		ip netns del "$ns"
	fi
	printf 'removed %s%s\n' "$name" "${ns:+ and namespace $ns}"
}

cmd_list() {
	[ $# -eq 0 ] || usage
	local n name found=0
	for n in /sys/class/net/*; do
		name=${n##*/}
		is_ours "$name" || continue
		[ "$found" = 1 ] || printf '%-14s %-6s %-14s %-16s %s\n' NAME STATE PEER NAMESPACE PEER-IP
		found=1
		printf '%-14s %-6s %-14s %-16s %s\n' "$name" "$(cat "$n/operstate")" \
			"$(alias_field "$name" peer)" "$(alias_field "$name" ns)" "$(alias_field "$name" ip)"
	done
	[ "$found" = 1 ] || printf 'no test networks (create one: %s create NAME)\n' "$prog"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
create) cmd_create "$@" ;;
destroy) cmd_destroy "$@" ;;
list) cmd_list "$@" ;;
-h|--help|help) usage ;;
*) printf '%s: unknown command %s\n' "$prog" "$cmd" >&2; usage ;;
esac
