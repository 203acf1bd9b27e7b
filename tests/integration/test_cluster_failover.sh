#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Failures in a 3-broker cluster (scripts/dev-cluster.sh, adaptive
# polling), replication factor 1:
# - SIGKILL of a broker that is not the controller: once its session
#   expires every survivor shows its partitions offline (leader -1,
#   LEADER_NOT_AVAILABLE, the dead broker in offline_replicas) while the
#   other partitions keep taking writes; restarted, it leads them again
#   with every message it had acknowledged.
# - SIGKILL of the controller: another broker takes over within the
#   session timeout (plus a margin) and CreateTopics works again, placing
#   the new topic over the live brokers.
# Prints the failover times measured (kill -> offline seen, kill -> new
# controller, kill -> first topic created, restart -> partitions back).
#
# Cluster addresses come from dev-cluster.sh's variables (defaults for CI):
# FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE, FMQ_CLUSTER_ZK_PORT,
# FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl java ethtool
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
MB=${FMQ_CLUSTER_MGMT_BASE:-18080}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
PY=(/usr/bin/python3 tests/integration/kafka/cluster_client.py)
fmq_on_cleanup "$DC down >/dev/null 2>&1 || true"
$DC down >/dev/null 2>&1 || true
b() { echo "$NET.$((10 + $1)):9092"; }
now_ms() { date +%s%3N; }
metric() {
	curl -s --max-time 2 "http://127.0.0.1:$((MB + $1))/metrics" |
		awk -v n="$2" '$1 == n { print $2 }'
}
wait_for() { # wait_for SECONDS CMD...: poll CMD every 0.2 s
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
running() { $DC status | awk '$1 == "broker" && $8 == "up" { print $2 }'; }
controller() { # the controller every running broker agrees on
	local id c='' x
	for id in $(running); do
		[ "$(metric "$id" fluxmq_cluster_controller_known)" = 1 ] || return 1
		x=$(metric "$id" fluxmq_cluster_controller_id)
		[ -z "$c" ] || [ "$c" = "$x" ] || return 1
		c=$x
	done
	[ -n "$c" ] && echo "$c"
}
parts() { timeout 15 "${PY[@]}" partitions "$1" "$(b "$2")" 2>/dev/null; }
led_by() { # led_by TOPIC VIA ID: partitions VIA says ID leads
	parts "$1" "$2" | awk -v i="$3" '$2 == i { print $1 }' | tr '\n' ' '
}

$DC up 3 >"$FMQ_TMP/up.out" || fail "dev-cluster.sh up 3 failed"
wait_for 20 controller >/dev/null || fail "no agreed controller"
c=$(controller)
v=$((c % 3 + 1))                 # a broker that is not the controller
w=$((v % 3 + 1))                 # and a third one
[ "$w" != "$c" ] || w=$((w % 3 + 1))
timeout 60 "${PY[@]}" create fo "$(b "$v")" 12 >/dev/null || fail "CreateTopics failed"
got_spread() { [ "$(led_by fo "$w" "$v" | wc -w)" = 4 ]; }
wait_for 10 got_spread || fail "broker $v does not lead 4 partitions of fo: $(parts fo "$w" | tr '\n' ',')"
vparts=$(led_by fo "$w" "$v")
oparts=$(parts fo "$w" | awk -v i="$v" '$2 != i { print $1 }' | tr '\n' ' ')
N=200
# shellcheck disable=SC2086
bad=$(timeout 60 "${PY[@]}" produce-to fo "$(b "$w")" "$N" $(seq 0 11)) || fail "produce failed"
[ "$bad" = 0 ] || fail "$bad of $((N * 12)) writes failed with all brokers up"
# shellcheck disable=SC2086
before=$(timeout 30 "${PY[@]}" count fo "$(b "$w")" $vparts)
[ "$before" = $((N * 4)) ] || fail "broker $v's partitions hold $before, not $((N * 4))"
pass "controller $c; topic fo (12 partitions), broker $v leads $vparts and holds $before acknowledged messages"

# --- SIGKILL of a broker: its partitions go offline, the rest keep working ----
t0=$(now_ms)
$DC kill "$v" >/dev/null
offline_seen() { # every survivor: v's partitions leader -1, error 5, v offline
	local id x
	for id in $c $w; do
		x=$(parts fo "$id" | awk -v i="$v" '$2 == -1 && $3 == 5 && $4 == i { print $1 }' |
			tr '\n' ' ')
		[ "$x" = "$vparts" ] || return 1
		[ "$(parts fo "$id" | awk '$2 != -1 { print $1 }' | tr '\n' ' ')" = "$oparts" ] || return 1
	done
}
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) offline_seen ||
	fail "survivors do not show broker $v's partitions offline: $(parts fo "$c" | tr '\n' ',')"
t1=$(now_ms)
pass "broker $v killed: its partitions ($vparts) offline on brokers $c and $w after $((t1 - t0)) ms (session timeout $FMQ_CLUSTER_SESSION_MS ms)"
# shellcheck disable=SC2086
bad=$(timeout 60 "${PY[@]}" produce-to fo "$(b "$w")" "$N" $oparts) || fail "produce failed"
[ "$bad" = 0 ] || fail "$bad writes to live partitions failed while broker $v is down"
# shellcheck disable=SC2086
n=$(timeout 30 "${PY[@]}" count fo "$(b "$c")" $oparts)
[ "$n" = $((N * 16)) ] || fail "live partitions hold $n, not $((N * 16))"
pass "the 8 other partitions keep taking writes ($n messages) while broker $v is down"

# --- restart: it leads its partitions again, with its data ----------------------
t0=$(now_ms)
$DC start "$v" >/dev/null || fail "restart of broker $v failed"
back() { local id; for id in 1 2 3; do [ "$(led_by fo "$id" "$v")" = "$vparts" ] || return 1; done; }
wait_for 30 back || fail "broker $v does not lead $vparts again: $(parts fo "$c" | tr '\n' ',')"
t1=$(now_ms)
# shellcheck disable=SC2086
after=$(timeout 30 "${PY[@]}" count fo "$(b "$c")" $vparts)
[ "$after" = "$before" ] || fail "broker $v's partitions hold $after after the restart, $before before"
# shellcheck disable=SC2086
bad=$(timeout 60 "${PY[@]}" produce-to fo "$(b "$c")" "$N" $vparts) || fail "produce failed"
[ "$bad" = 0 ] || fail "$bad writes to broker $v's partitions failed after its restart"
pass "broker $v restarted: leads $vparts again $((t1 - t0)) ms after start (incl. start-up), all $after messages kept, takes writes"

# --- SIGKILL of the controller: another takes over, topics can be created -------
ep=$(metric "$w" fluxmq_cluster_controller_epoch)
t0=$(now_ms)
$DC kill "$c" >/dev/null
new_controller() { local x; x=$(controller) && [ "$x" != "$c" ]; }
wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) new_controller || fail "no new controller after killing broker $c"
t1=$(now_ms)
c2=$(controller)
[ "$(metric "$c2" fluxmq_cluster_controller_epoch)" -gt "$ep" ] || fail "controller epoch did not grow"
[ $((t1 - t0)) -le $((FMQ_CLUSTER_SESSION_MS + 3000)) ] ||
	fail "takeover took $((t1 - t0)) ms, session timeout $FMQ_CLUSTER_SESSION_MS ms"
created=0
for ((i = 0; i < 20; i++)); do
	if timeout 40 "${PY[@]}" create fo2 "$(b "$w")" 6 >"$FMQ_TMP/create.out" 2>&1; then
		created=1
		break
	fi
	sleep 0.5
done
t2=$(now_ms)
[ "$created" = 1 ] || fail "CreateTopics after the controller's death: $(cat "$FMQ_TMP/create.out")"
spread2() {
	local l
	l=$(parts fo2 "$w" | awk '{ print $2 }' | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')
	[ "$(parts fo2 "$w" | grep -c .)" = 6 ] && [ "$(echo "$l" | wc -w)" = 2 ] &&
		! parts fo2 "$w" | awk -v i="$c" '$2 == i || $2 == -1' | grep -q .
}
wait_for 10 spread2 || fail "fo2 not placed over the live brokers: $(parts fo2 "$w" | tr '\n' ',')"
pass "controller $c killed: broker $c2 took over in $((t1 - t0)) ms (epoch $ep -> $(metric "$c2" fluxmq_cluster_controller_epoch)); topic fo2 created $((t2 - t0)) ms after the kill, over brokers $(parts fo2 "$w" | awk '{ print $2 }' | sort -u | tr '\n' ' ')"
$DC start "$c" >/dev/null || fail "restart of broker $c failed"
wait_for 20 back || fail "broker $v lost its partitions when $c came back"
pass "broker $c restarted and rejoined"

$DC down >/dev/null
pass "dev-cluster.sh down"
