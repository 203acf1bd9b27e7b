#!/usr/bin/env bash
# A standalone ZooKeeper (Debian's zookeeper package) with its own data dir
# and port, for dev-cluster.sh and the tests; never the system service.
#
#   scripts/zk.sh start DIR PORT [TICK_MS]   start, wait until it answers
#   scripts/zk.sh stop DIR                   SIGTERM, then SIGKILL
#   scripts/zk.sh pid DIR                    print the pid if it runs
#
# DIR holds zoo.cfg, data/, zk.log and zk.pid. TICK_MS (default 500) bounds
# the session timeouts ZooKeeper grants: 2 to 20 ticks.
set -euo pipefail

prog=$(basename "$0")
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
JAR=${FMQ_ZK_JAR:-/usr/share/java/zookeeper.jar}

zk_pid() {
	local f=$1/zk.pid p
	[ -f "$f" ] || return 1
	p=$(cat "$f")
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
	grep -q ZooKeeperServerMain "/proc/$p/cmdline" 2>/dev/null || return 1
	echo "$p"
}

# ruok over bash's /dev/tcp: "imok" when the server serves.
zk_ok() {
	local r
	r=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf ruok >&3; cat <&3" 2>/dev/null) || true
	[ "$r" = imok ]
}

cmd=${1:-}
case $cmd in
start)
	[ $# -ge 3 ] || die "usage: $prog start DIR PORT [TICK_MS]"
	dir=$2 port=$3 tick=${4:-500}
	[ -f "$JAR" ] || die "$JAR missing: apt-get install zookeeperd (scripts/setup.sh)"
	if p=$(zk_pid "$dir"); then
		echo "zookeeper already runs in $dir (pid $p)"
		exit 0
	fi
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	cat >"$dir/zoo.cfg" <<EOF
tickTime=$tick
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=200
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,cons,mntr
EOF
	cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=${zk.log.file}
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p %c{1}: %m%n
EOF
	setsid java -Xmx128m -Xss512k -XX:+UseSerialGC \
		-Dzookeeper.log.dir="$dir" -Dzk.log.file="$dir/zk.log" \
		-Dlog4j.configuration="file:$dir/log4j.properties" \
		-Dzookeeper.admin.enableServer=false \
		-cp "$JAR" org.apache.zookeeper.server.ZooKeeperServerMain \
		"$dir/zoo.cfg" >>"$dir/zk.out" 2>&1 </dev/null &
	echo $! >"$dir/zk.pid"
	for _ in $(seq 1 120); do
		if zk_ok "$port"; then
			echo "zookeeper pid $(cat "$dir/zk.pid") 127.0.0.1:$port"
			exit 0
		fi
		kill -0 "$(cat "$dir/zk.pid")" 2>/dev/null ||
			die "zookeeper exited; see $dir/zk.out"
		sleep 0.25
	done
	die "zookeeper did not answer on 127.0.0.1:$port within 30 s; see $dir/zk.out"
	;;
stop)
	[ $# -ge 2 ] || die "usage: $prog stop DIR"
	p=$(zk_pid "$2") || exit 0
	kill "$p" 2>/dev/null || true
	for _ in $(seq 1 40); do
		kill -0 "$p" 2>/dev/null || exit 0
		sleep 0.25
	done
	kill -9 "$p" 2>/dev/null || true
	;;
pid)
	[ $# -ge 2 ] || die "usage: $prog pid DIR"
	zk_pid "$2"
	;;
*)
	die "usage: $prog start DIR PORT [TICK_MS] | stop DIR | pid DIR"
	;;
esac
