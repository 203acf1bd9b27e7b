#!/usr/bin/env bash
# A FluxMQ cluster on one host for development and tests: ZooKeeper
# (standalone, Debian's package, its own data dir and port) and N brokers
# (ids 1..N), each on net_af_packet over a veth pair whose kernel end joins
# one Linux bridge. Broker ID is at NET.(10+ID), the host at NET.1 on the
# bridge; each broker has its own EAL file prefix, hot pool, log dir and
# management port.
#
#   sudo scripts/dev-cluster.sh up N [-- --set k=v ...]   start ZooKeeper + N brokers
#   sudo scripts/dev-cluster.sh down                      stop all, remove the bridge
#   scripts/dev-cluster.sh status                         one line per process
#   sudo scripts/dev-cluster.sh kill ID                   SIGKILL broker ID
#   sudo scripts/dev-cluster.sh start ID                  restart broker ID, same data
#
# status prints, for scripts to act on:
#   zookeeper pid PID 127.0.0.1:PORT
#   broker ID pid PID IP:9092 mgmt HOST:PORT up|down
#
# Environment (defaults in brackets):
#   FMQ_BUILD                 build directory [build]
#   FMQ_CLUSTER_NET           first three octets of the subnet [10.77.0]
#   FMQ_CLUSTER_BRIDGE        bridge name [fmqbr0]
#   FMQ_CLUSTER_ZK_PORT       ZooKeeper client port [2181]
#   FMQ_CLUSTER_MGMT_BASE     broker ID's mgmt port is BASE+ID [18080]
#   FMQ_CLUSTER_DIR           state: pids, logs, data [/tmp/fmq-cluster-BRIDGE]
#   FMQ_CLUSTER_HOT_BYTES     hot pool per broker [134217728]
#   FMQ_CLUSTER_SESSION_MS    zookeeper.session.timeout.ms [6000]
#   FMQ_CLUSTER_CGROUP        1: start broker ID in its own cgroup v2,
#                             /fmqc-BRIDGE-ID under the cgroup2 mount, so
#                             that iptables -m cgroup --path can single out
#                             its sockets (e.g. to ZooKeeper) [0]
set -euo pipefail

prog=$(basename "$0")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

NET=${FMQ_CLUSTER_NET:-10.77.0}
BR=${FMQ_CLUSTER_BRIDGE:-fmqbr0}
ZKPORT=${FMQ_CLUSTER_ZK_PORT:-2181}
MGMT_BASE=${FMQ_CLUSTER_MGMT_BASE:-18080}
DIR=${FMQ_CLUSTER_DIR:-/tmp/fmq-cluster-$BR}
HOT_BYTES=${FMQ_CLUSTER_HOT_BYTES:-134217728}
SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
BUILD=${FMQ_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/app/fluxmq/fluxmq
CGROUP=${FMQ_CLUSTER_CGROUP:-0}
TAG=fluxmq-dev-cluster

usage() {
	sed -n '9,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root"; }
[[ $BR =~ ^[A-Za-z0-9_-]{1,9}$ ]] || die "bridge name '$BR': 1-9 of [A-Za-z0-9_-]"
[[ $NET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "FMQ_CLUSTER_NET '$NET': three octets"

veth() { echo "${BR}v$1"; }           # DPDK side (net_af_packet)
ip_of() { echo "$NET.$((10 + $1))"; }
mgmt_of() { echo "127.0.0.1:$((MGMT_BASE + $1))"; }
pid_of() {
	local f=$DIR/b$1/pid p
	[ -f "$f" ] || return 1
	p=$(cat "$f")
	[ -n "$p" ] && [ -d "/proc/$p" ] || return 1
	local st
	st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ] || return 1
	echo "$p"
}
# cgroup_of ID: broker ID's cgroup v2 directory (FMQ_CLUSTER_CGROUP=1).
cgroup_of() {
	local m
	m=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$m" ] || die "FMQ_CLUSTER_CGROUP=1: no cgroup2 mount"
	echo "$m/fmqc-$BR-$1"
}
health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$(mgmt_of "$1")/health" || true
}
brokers() {
	local d
	for d in "$DIR"/b*/; do
		[ -d "$d" ] || continue
		d=${d%/}
		echo "${d##*/b}"
	done | sort -n
}

bridge_up() {
	if ! ip link show "$BR" >/dev/null 2>&1; then
		ip link add "$BR" type bridge
		ip link set "$BR" alias "$TAG"
		ip addr add "$NET.1/24" dev "$BR"
		echo 1 >"/proc/sys/net/ipv6/conf/$BR/disable_ipv6" 2>/dev/null || true
	fi
	ip link set "$BR" up
	# Partially checksummed TCP from the host would reach af_packet as
	# it is (see scripts/dev-net.sh): full checksums on the host side.
	ethtool -K "$BR" tx off >/dev/null 2>&1 || true
}

veth_up() {
	local v
	v=$(veth "$1")
	if ! ip link show "$v" >/dev/null 2>&1; then
		ip link add "$v" type veth peer name "${v}k"
		ip link set "$v" alias "$TAG"
		ip link set "${v}k" master "$BR"
		for i in "$v" "${v}k"; do
			echo 1 >"/proc/sys/net/ipv6/conf/$i/disable_ipv6" 2>/dev/null || true
			ethtool -K "$i" tx off >/dev/null 2>&1 || true
		done
	fi
	ip link set "$v" up
	ip link set "${v}k" up
}

# start_broker ID: start it in the background with the options saved by up.
start_broker() {
	local id=$1 d=$DIR/b$1 i code extra=()
	[ -x "$BIN" ] || die "no broker binary at $BIN (build it first)"
	mkdir -p "$d/data"
	veth_up "$id"
	if [ -f "$DIR/extra" ]; then
		mapfile -t extra <"$DIR/extra"
	fi
	# A socket belongs to the cgroup its process was in when it was
	# made: the broker joins its cgroup before it starts.
	local in_cg=(env)
	if [ "$CGROUP" = 1 ]; then
		mkdir -p "$(cgroup_of "$id")"
		# shellcheck disable=SC2016 # for the inner shell
		in_cg=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"'
			"$(cgroup_of "$id")")
	fi
	# DPDK 22.11's af_packet names its fanout group (getpid() ^ ifindex)
	# & 0xffff, one namespace-wide id space: a broker whose id meets
	# another broker's group (on another veth) fails its probe with
	# "could not set PACKET_FANOUT" (EINVAL). A new process has another
	# pid, so that start is tried again, up to 3 times.
	local try from
	for try in 1 2 3; do
		from=$(stat -c %s "$d/broker.log" 2>/dev/null || echo 0)
		"${in_cg[@]}" "$BIN" "--vdev=net_af_packet0,iface=$(veth "$id")" \
			"--file-prefix=fmqc-$BR-$id" -- \
			--set "node.id=$id" \
			--set "net.ip=$(ip_of "$id")/24" \
			--set "mgmt.listen=$(mgmt_of "$id")" \
			--set "log.dirs=$d/data" \
			--set "log.hot.dir=/dev/hugepages/fmqc-$BR-$id" \
			--set "log.hot.pool.bytes=$HOT_BYTES" \
			--set "poll.mode=adaptive" \
			--set "zookeeper.connect=127.0.0.1:$ZKPORT/fluxmq" \
			--set "zookeeper.session.timeout.ms=$SESSION_MS" \
			"${extra[@]}" >>"$d/broker.log" 2>&1 </dev/null &
		echo $! >"$d/pid"
		for ((i = 0; i < 600; i++)); do
			if ! pid_of "$id" >/dev/null; then
				if [ "$try" -lt 3 ] && tail -c +"$((from + 1))" \
					"$d/broker.log" | grep -q "could not set PACKET_FANOUT"; then
					echo "broker $id: af_packet fanout id taken (pid ^ ifindex), starting it again" >&2
					continue 2
				fi
				tail -n 20 "$d/broker.log" >&2
				die "broker $id exited while starting (log $d/broker.log)"
			fi
			code=$(health "$id")
			if [ "$code" = 200 ]; then
				echo "broker $id pid $(cat "$d/pid") $(ip_of "$id"):9092 mgmt $(mgmt_of "$id") up"
				return 0
			fi
			sleep 0.1
		done
		die "broker $id not healthy within 60 s (log $d/broker.log)"
	done
}

stop_broker() {
	local id=$1 p i
	p=$(pid_of "$id") || return 0
	kill -CONT "$p" 2>/dev/null || true
	kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		pid_of "$id" >/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	sleep 0.2
}

status() {
	local p id st
	if p=$("$ROOT/scripts/zk.sh" pid "$DIR/zk" 2>/dev/null); then
		echo "zookeeper pid $p 127.0.0.1:$ZKPORT"
	else
		echo "zookeeper pid - 127.0.0.1:$ZKPORT"
	fi
	for id in $(brokers); do
		if p=$(pid_of "$id"); then
			st=down
			[ "$(health "$id")" = 200 ] && st=up
		else
			p=- st=down
		fi
		echo "broker $id pid $p $(ip_of "$id"):9092 mgmt $(mgmt_of "$id") $st"
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
up)
	need_root up
	if [ $# -lt 1 ] || ! [[ $1 =~ ^[1-9][0-9]?$ ]]; then
		usage
	fi
	n=$1
	shift
	if [ $# -gt 0 ]; then
		[ "$1" = -- ] || usage
		shift
	fi
	mkdir -p "$DIR"
	: >"$DIR/extra"
	for a in "$@"; do printf '%s\n' "$a" >>"$DIR/extra"; done
	"$ROOT/scripts/zk.sh" start "$DIR/zk" "$ZKPORT"
	bridge_up
	for ((id = 1; id <= n; id++)); do
		mkdir -p "$DIR/b$id"
		start_broker "$id"
	done
	;;
down)
	need_root down
	for id in $(brokers); do
		stop_broker "$id"
		v=$(veth "$id")
		ip link del "$v" 2>/dev/null || true
		rm -rf "/dev/hugepages/fmqc-$BR-$id"
		[ "$CGROUP" != 1 ] || rmdir "$(cgroup_of "$id")" 2>/dev/null || true
	done
	"$ROOT/scripts/zk.sh" stop "$DIR/zk"
	if ip link show "$BR" >/dev/null 2>&1 &&
		grep -q "$TAG" "/sys/class/net/$BR/ifalias" 2>/dev/null; then
		ip link del "$BR"
	fi
	rm -rf "$DIR"
	;;
status)
	status
	;;
kill)
	need_root kill
	[ $# -eq 1 ] || usage
	p=$(pid_of "$1") || die "broker $1 is not running"
	kill -KILL "$p"
	for ((i = 0; i < 50; i++)); do
		pid_of "$1" >/dev/null || break
		sleep 0.1
	done
	echo "broker $1 pid $p killed"
	;;
start)
	need_root start
	[ $# -eq 1 ] || usage
	[ -d "$DIR/b$1" ] || die "no broker $1 (up N first)"
	pid_of "$1" >/dev/null && die "broker $1 is running"
	start_broker "$1"
	;;
*)
	usage
	;;
esac
