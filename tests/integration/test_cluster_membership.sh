#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A 3-broker cluster and ZooKeeper on this host (scripts/dev-cluster.sh,
# adaptive polling): every broker registers and lists all three in Metadata
# and DescribeCluster; one controller; SIGKILL of the controller: another
# takes over within the session timeout, and the killed broker rejoins on
# restart; a broker paused with SIGSTOP past its session timeout finds its
# session expired, registers again and leads and serves its partitions
# again; a ZooKeeper restart is a connection loss only (same session):
# while it is down every broker still answers Metadata and takes writes
# for the partitions it leads, while CreateTopics and InitProducerId fail
# with a clear, retriable error; once it is back they work. Prints the
# failover times measured.
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl java ethtool
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"
PY=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
MB=${FMQ_CLUSTER_MGMT_BASE:-18080}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
SESSION_S=$((FMQ_CLUSTER_SESSION_MS / 1000))
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true

metric() { # metric ID NAME: value of an unlabelled series, or empty
	curl -s --max-time 2 "http://127.0.0.1:$((MB + $1))/metrics" |
		awk -v n="$2" '$1 == n { print $2 }'
}
now_ms() { date +%s%3N; }
# wait_for SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
all_see() { # all_see N: every running broker lists N live brokers
	local id
	for id in $(running); do
		[ "$(metric "$id" fluxmq_cluster_brokers)" = "$1" ] || return 1
	done
}
running() { $DC status | awk '$1 == "broker" && $8 == "up" { print $2 }'; }
controller() { # the controller id every running broker agrees on
	local id c=
	for id in $(running); do
		local x
		[ "$(metric "$id" fluxmq_cluster_controller_known)" = 1 ] || return 1
		x=$(metric "$id" fluxmq_cluster_controller_id)
		[ -z "$c" ] || [ "$c" = "$x" ] || return 1
		c=$x
	done
	echo "$c"
}
kcat_brokers() { # kcat_brokers ID: broker ids in Metadata from broker ID
	timeout 10 kcat -b "$NET.$((10 + $1)):9092" -L -m 5 2>/dev/null |
		sed -n 's/^  broker \([0-9]*\) at .*/\1/p' | sort -n | tr '\n' ' '
}

# --- up 3 --------------------------------------------------------------------
$DC up 3 >"$FMQ_TMP/up.out" || fail "dev-cluster.sh up 3 failed"
st=$($DC status)
echo "$st" | grep -Eq "^zookeeper pid [0-9]+ 127\.0\.0\.1:[0-9]+$" ||
	fail "status has no zookeeper line: $st"
[ "$(echo "$st" | grep -Ec "^broker [1-3] pid [0-9]+ $NET\.1[1-3]:9092 mgmt 127\.0\.0\.1:[0-9]+ up$")" = 3 ] ||
	fail "status lines: $st"
pass "dev-cluster.sh up 3: status shows zookeeper and 3 brokers up"
wait_for 20 all_see 3 || fail "not every broker sees 3 live brokers"
for id in 1 2 3; do
	[ "$(metric "$id" fluxmq_cluster_registered)" = 1 ] || fail "broker $id not registered"
	[ "$(metric "$id" fluxmq_zk_session_state)" = 1 ] || fail "broker $id: session not connected"
	[ "$(kcat_brokers "$id")" = "1 2 3 " ] || fail "Metadata from broker $id lists '$(kcat_brokers "$id")'"
done
pass "all three registered; Metadata from each lists brokers 1 2 3"
wait_for 20 controller >/dev/null || fail "brokers disagree on the controller"
c=$(controller)
n=0
for id in 1 2 3; do n=$((n + $(metric "$id" fluxmq_cluster_controller))); done
[ "$n" = 1 ] || fail "$n brokers say they are the controller"
ep=$(metric "$c" fluxmq_cluster_controller_epoch)
timeout 10 kcat -b "$NET.11:9092" -L -m 5 2>/dev/null | grep -q "broker $c at .*(controller)" ||
	fail "Metadata does not name broker $c as controller"
pass "one controller (broker $c, epoch $ep), named in Metadata"
timeout 60 "${PY[@]}" create mt "$NET.11:9092" 6 >/dev/null || fail "CreateTopics mt failed"
led_by() { # led_by ID: partitions of mt led by broker ID, as broker 1..3 agree
	timeout 15 "${PY[@]}" partitions mt "$NET.$((10 + $2)):9092" 2>/dev/null |
		awk -v i="$1" '$2 == i { print $1 }' | tr '
' ' '
}

# --- SIGKILL of the controller -------------------------------------------------
t0=$(now_ms)
$DC kill "$c" >/dev/null
new_controller() { local x; x=$(controller) && [ "$x" != "$c" ]; }
wait_for $((SESSION_S * 3)) new_controller || fail "no new controller after killing broker $c"
t1=$(now_ms)
c2=$(controller)
ep2=$(metric "$c2" fluxmq_cluster_controller_epoch)
[ "$ep2" -gt "$ep" ] || fail "controller epoch did not grow ($ep -> $ep2)"
wait_for 10 all_see 2 || fail "the others still list the killed broker"
[ $((t1 - t0)) -le $((FMQ_CLUSTER_SESSION_MS * 2 + 3000)) ] ||
	fail "failover took $((t1 - t0)) ms (session timeout $FMQ_CLUSTER_SESSION_MS ms)"
pass "controller $c killed: broker $c2 took over in $((t1 - t0)) ms (epoch $ep -> $ep2, session timeout $FMQ_CLUSTER_SESSION_MS ms)"
$DC start "$c" >/dev/null || fail "restart of broker $c failed"
wait_for 20 all_see 3 || fail "broker $c did not rejoin"
[ "$(controller)" = "$c2" ] || fail "controller changed on rejoin"
pass "broker $c restarted and rejoined; broker $c2 stays controller"

# --- fast restart: the old session is still alive ------------------------------
v=$(running | grep -vx "$c2" | head -1)
$DC kill "$v" >/dev/null
t0=$(now_ms)
$DC start "$v" >/dev/null || fail "fast restart of broker $v failed"
t1=$(now_ms)
[ "$(metric "$v" fluxmq_cluster_registered)" = 1 ] || fail "broker $v not registered after a fast restart"
wait_for 20 all_see 3 || fail "broker $v missing after a fast restart"
pass "broker $v killed and restarted at once: registered after $((t1 - t0)) ms (conflicts $(metric "$v" fluxmq_cluster_registration_conflicts_total), the old session had to expire)"

# --- session expiry: SIGSTOP past the timeout ------------------------------------
p=$($DC status | awk -v v="$v" '$1 == "broker" && $2 == v { print $4 }')
sid=$(metric "$v" fluxmq_cluster_broker_epoch)
kill -STOP "$p"
others_see_2() { local id; for id in $(running); do [ "$id" = "$v" ] && continue; [ "$(metric "$id" fluxmq_cluster_brokers)" = 2 ] || return 1; done; }
wait_for $((SESSION_S * 3)) others_see_2 || { kill -CONT "$p"; fail "paused broker $v still listed"; }
kill -CONT "$p"
t0=$(now_ms)
reregistered() { [ "$(metric "$v" fluxmq_zk_session_expirations_total)" = 1 ] && [ "$(metric "$v" fluxmq_cluster_registered)" = 1 ] && all_see 3; }
wait_for 20 reregistered || fail "broker $v did not register again after its session expired"
t1=$(now_ms)
[ "$(metric "$v" fluxmq_cluster_broker_epoch)" -gt "$sid" ] || fail "broker epoch did not grow"
[ "$(kcat_brokers "$v")" = "1 2 3 " ] || fail "broker $v does not serve Metadata after the expiry"
pass "broker $v paused past its session: expired, registered again $((t1 - t0)) ms after SIGCONT (new broker epoch), serves"
vp=$(led_by "$v" "$c2")
[ "$(echo "$vp" | wc -w)" = 2 ] || fail "broker $v leads '$vp' of mt after its expiry, not 2 partitions"
# shellcheck disable=SC2086
bad=$(timeout 60 "${PY[@]}" produce-to mt "$NET.$((10 + v)):9092" 100 $vp) || fail "produce failed"
# shellcheck disable=SC2086
n=$(timeout 30 "${PY[@]}" count mt "$NET.$((10 + c2)):9092" $vp)
[ "$bad" = 0 ] && [ "$n" = 200 ] || fail "broker $v after its expiry: $bad writes failed, partitions $vp hold $n"
pass "broker $v leads its partitions ($vp) again after the expiry: 200 writes taken and read back"

# --- ZooKeeper restart -------------------------------------------------------------
zkdir=${FMQ_CLUSTER_DIR:-/tmp/fmq-cluster-${FMQ_CLUSTER_BRIDGE:-fmqbr0}}/zk
declare -A sess
for id in 1 2 3; do sess[$id]=$(metric "$id" fluxmq_zk_sessions_total); done
scripts/zk.sh stop "$zkdir"
lost_all() { local id; for id in 1 2 3; do [ "$(metric "$id" fluxmq_zk_session_state)" = 0 ] || return 1; done; }
wait_for 10 lost_all || fail "brokers did not notice ZooKeeper going away"
for id in 1 2 3; do
	[ "$(kcat_brokers "$id")" = "1 2 3 " ] || fail "broker $id does not answer Metadata while ZooKeeper is down"
done
pass "ZooKeeper down: every broker notices and still answers Metadata with all three"
# shellcheck disable=SC2086
bad=$(timeout 60 "${PY[@]}" produce-to mt "$NET.11:9092" 100 $(seq 0 5)) || fail "produce failed"
n=$(timeout 30 "${PY[@]}" count mt "$NET.12:9092" $(seq 0 5))
[ "$bad" = 0 ] && [ "$n" = 800 ] || fail "ZooKeeper down: $bad of 600 writes failed, mt holds $n (800 expected)"
pass "ZooKeeper down: the data path goes on (600 writes over all brokers taken, 800 read back)"
out=$(timeout 60 "${PY[@]}" create mt2 "$NET.11:9092" 3 2>&1) && fail "CreateTopics worked without ZooKeeper"
echo "$out" | grep -q "ZooKeeper is not available" || fail "CreateTopics without ZooKeeper: $out"
[ "$(timeout 20 "${PY[@]}" pids "$NET.11:9092" 1)" = "-1 error 15" ] ||
	fail "InitProducerId without ZooKeeper did not answer COORDINATOR_NOT_AVAILABLE"
pass "ZooKeeper down: CreateTopics fails with '${out##*str=}', InitProducerId with COORDINATOR_NOT_AVAILABLE"
scripts/zk.sh start "$zkdir" "${FMQ_CLUSTER_ZK_PORT:-2181}" >/dev/null
back() { local id; for id in 1 2 3; do [ "$(metric "$id" fluxmq_zk_session_state)" = 1 ] || return 1; done; }
wait_for 30 back || fail "brokers did not reconnect to ZooKeeper"
for id in 1 2 3; do
	[ "$(metric "$id" fluxmq_zk_sessions_total)" = "${sess[$id]}" ] || fail "broker $id opened a new session (a ZooKeeper restart keeps them)"
	[ "$(metric "$id" fluxmq_zk_connection_losses_total)" -ge 1 ] || fail "broker $id counted no connection loss"
done
wait_for 10 all_see 3 || fail "not all brokers listed after the ZooKeeper restart"
pass "ZooKeeper restarted: every broker reconnected with its session, all registered"
timeout 60 "${PY[@]}" create mt2 "$NET.12:9092" 3 >/dev/null || fail "CreateTopics after ZooKeeper came back failed"
p=$(timeout 20 "${PY[@]}" pids "$NET.13:9092" 1)
[ "$p" -ge 0 ] 2>/dev/null || fail "InitProducerId after ZooKeeper came back: $p"
pass "ZooKeeper back: CreateTopics and InitProducerId work again"

$DC down >/dev/null
pass "dev-cluster.sh down"
