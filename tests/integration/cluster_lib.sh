# shellcheck shell=bash disable=SC2034 # variables for the scripts that source it
# SPDX-License-Identifier: Apache-2.0
# Helpers for the cluster fault tests (test_cluster_fault_*.sh) and
# bench/failover.sh, on scripts/dev-cluster.sh's 3 brokers. Source it
# after tests/integration/lib.sh. Addresses come from dev-cluster.sh's
# variables (defaults for CI): FMQ_CLUSTER_NET, FMQ_CLUSTER_BRIDGE,
# FMQ_CLUSTER_ZK_PORT, FMQ_CLUSTER_MGMT_BASE, FMQ_CLUSTER_DIR.
#
#   cl_up TOPIC PARTITIONS [--set k=v ...]   cluster up, topic with
#       replication factor 3 and min.insync.replicas=2, full ISR on
#       partition 0; sets CL_LEADER
#   leader_of PARTITION BROKER               "LEADER ISR" from BROKER
#   cl_kill_round ID MARKS                   SIGKILL leader ID, append
#       the kill time to MARKS (the probe's), wait for a new leader from
#       the survivors (CL_FAILOVER_MS), restart ID, wait until it is back
#       in the ISR (CL_REJOIN_MS)
#   cl_dist N...                             "min M median M p90 M max M"
#   cl_start [--set k=v ...]                 a fresh cluster of 3, with
#       replica.lag.time.max.ms=4000 and no preferred-leader rebalance
#   cl_create TOPIC ARGS...                  repl_checker.py create TOPIC
#       (all brokers) ARGS..., retried while the brokers register
#   cl_controller                            wait for the controller; its
#       id in CL_CTRL
#   cl_stop ID / cl_cont ID                  SIGSTOP / SIGCONT broker ID
#       (every stopped broker is continued on exit)
#   cl_led_by BROKER VIA                     partitions 0 and 1 both led by
#       BROKER with 3 in sync, as VIA sees them
#   cl_cut L [oneway]                        ebtables: drop every frame the
#       bridge forwards between broker L's veth and the others' (oneway:
#       only L's frames to them); clients on the host and ZooKeeper
#       still reach every broker. cl_heal removes the rules (also on
#       exit)
#   cl_zk_kill / cl_zk_start                 SIGKILL ZooKeeper / start it
#       again on the same data (sessions survive in its log)
#   cl_kill_preferred                        the preferred-leader tests'
#       opening on CL_T (2 partitions, preferred replica P, controller
#       C): both led by P, a producer started (its pid in CL_PPID, acks
#       in FMQ_TMP/acks.txt), P SIGKILLed, another leader seen

DC=scripts/dev-cluster.sh
NET=${FMQ_CLUSTER_NET:-10.77.0}
BR=${FMQ_CLUSTER_BRIDGE:-fmqbr0}
ZKPORT=${FMQ_CLUSTER_ZK_PORT:-2181}
MB=${FMQ_CLUSTER_MGMT_BASE:-18080}
DIR=${FMQ_CLUSTER_DIR:-/tmp/fmq-cluster-$BR}
export FMQ_CLUSTER_SESSION_MS=${FMQ_CLUSTER_SESSION_MS:-6000}
PY=(/usr/bin/python3 tests/integration/kafka/repl_checker.py)
CL_T=${CL_T:-fault}

b() { echo "$NET.$((10 + $1)):9092"; }
all() { echo "$(b 1),$(b 2),$(b 3)"; }
others() { # others ID: the two other brokers' addresses
	local i s=
	for i in 1 2 3; do
		[ "$i" = "$1" ] || s=$s${s:+,}$(b "$i")
	done
	echo "$s"
}
now_ms() { date +%s%3N; }
metric() { # metric ID NAME: first sample of NAME on broker ID
	curl -s --max-time 2 "http://127.0.0.1:$((MB + $1))/metrics" |
		awk -v n="$2" '$1 == n && !d { print $2; d = 1 }'
}
metric_sum() { # metric_sum ID NAME: NAME summed over its labels on broker ID
	curl -s --max-time 2 "http://127.0.0.1:$((MB + $1))/metrics" |
		awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 }
			END { print s + 0 }'
}
wait_for() { # wait_for SECONDS CMD...: poll CMD every 0.2 s
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
leader_of() { timeout 15 "${PY[@]}" leader "$CL_T" "$(b "$2")" "$1" 2>/dev/null; }
pid_of_broker() { $DC status | awk -v i="$1" '$1 == "broker" && $2 == i { print $4 }'; }
full_isr() { # full_isr ID: partition 0 led by someone with 3 in sync, seen from ID
	local x
	x=$(leader_of 0 "$1") && [ "${x%% *}" != -1 ] &&
		[ "$(echo "${x#* }" | tr ',' '\n' | wc -l)" = 3 ]
}
in_isr() { # in_isr ID FROM: ID is in partition 0's ISR as FROM sees it
	local x
	x=$(leader_of 0 "$2") && echo ",${x#* }," | grep -q ",$1,"
}
# On exit: the brokers' logs into FMQ_TMP (kept when the test fails),
# producers told to stop, the cluster down.
cl_down() {
	local d
	[ -z "${FMQ_TMP:-}" ] || touch "$FMQ_TMP/stop"
	# Our own producers only (this shell's jobs): left running, they
	# would write into the next run's cluster at the same addresses.
	for d in $(jobs -p); do
		kill "$d" 2>/dev/null || true
	done
	for d in "$DIR"/b*; do
		[ -f "$d/broker.log" ] && cp "$d/broker.log" "$FMQ_TMP/broker-${d##*/b}.log"
	done 2>/dev/null || true
	$DC down >/dev/null 2>&1 || true
}
fmq_on_cleanup cl_down
acked() { awk 'NF == 3 && $2 != "FAILED"' "$@" | wc -l; }

cl_start() {
	$DC down >/dev/null 2>&1 || true
	# The failover put each leader where the checks expect it: no
	# preferred-leader rebalance moving it back meanwhile.
	$DC up 3 -- --set replica.lag.time.max.ms=4000 \
		--set auto.leader.rebalance.enable=false "$@" >"$FMQ_TMP/up.out" ||
		fail "dev-cluster.sh up 3 failed"
}

cl_create() {
	local topic=$1 i
	shift
	for ((i = 0; i < 20; i++)); do
		timeout 60 "${PY[@]}" create "$topic" "$(all)" "$@" \
			>"$FMQ_TMP/create.out" 2>&1 && return 0
		# an attempt that timed out may have created it
		grep -q TOPIC_ALREADY_EXISTS "$FMQ_TMP/create.out" && return 0
		sleep 0.5
	done
	fail "CreateTopics $topic failed: $(cat "$FMQ_TMP/create.out")"
}

cl_controller() {
	local c i
	for ((i = 0; i < 100; i++)); do
		c=$(metric 1 fluxmq_cluster_controller_id)
		if [ -n "$c" ] && [ "$c" -ge 1 ]; then
			CL_CTRL=$c
			return 0
		fi
		sleep 0.2
	done
	fail "no controller"
}

CL_STOPPED=()
cl_stop() {
	local p
	p=$(pid_of_broker "$1")
	kill -STOP "$p"
	CL_STOPPED+=("$p")
}
cl_cont() { kill -CONT "$(pid_of_broker "$1")"; }
# shellcheck disable=SC2016 # expanded when the cleanup runs
fmq_on_cleanup 'for p in "${CL_STOPPED[@]}"; do kill -CONT "$p" 2>/dev/null || true; done'

cl_led_by() {
	local p x
	for p in 0 1; do
		x=$(leader_of "$p" "$2") || return 1
		[ "${x%% *}" = "$1" ] || return 1
		[ "$(echo "${x#* }" | tr ',' '\n' | wc -l)" = 3 ] || return 1
	done
}

CL_RULES=()
cl_cut() {
	local l=$1 f r dirs
	for f in 1 2 3; do
		[ "$f" != "$l" ] || continue
		dirs=("-i ${BR}v${l}k -o ${BR}v${f}k")
		[ "${2:-}" = oneway ] || dirs+=("-i ${BR}v${f}k -o ${BR}v${l}k")
		for r in "${dirs[@]}"; do
			# shellcheck disable=SC2086 # two options and their values
			ebtables -A FORWARD $r -j DROP || fail "ebtables -A FORWARD $r"
			CL_RULES+=("$r")
		done
	done
}
cl_heal() {
	local r
	for r in "${CL_RULES[@]}"; do
		# shellcheck disable=SC2086
		ebtables -D FORWARD $r -j DROP 2>/dev/null || true
	done
	CL_RULES=()
}
fmq_on_cleanup cl_heal

cl_zk_kill() {
	local p
	p=$(scripts/zk.sh pid "$DIR/zk") || fail "ZooKeeper does not run"
	kill -KILL "$p"
	while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
}
cl_zk_start() { scripts/zk.sh start "$DIR/zk" "$ZKPORT" >/dev/null || fail "ZooKeeper did not start again"; }

cl_moved_from() { # cl_moved_from P: partition 0 led by a live broker other than P
	local x
	x=$(leader_of 0 "$C") && [ "${x%% *}" != "$1" ] && [ "${x%% *}" != -1 ]
}

cl_kill_preferred() {
	wait_for 30 cl_led_by "$P" "$C" ||
		fail "partitions not led by $P with 3 in sync: $(leader_of 0 "$C")"
	pass "controller $C; topic $CL_T: 2 partitions, replication factor 3, preferred replica $P"
	"${PY[@]}" produce "$CL_T" "$(all)" 600 "$FMQ_TMP/acks.txt" "$FMQ_TMP/stop" \
		>"$FMQ_TMP/produce.out" 2>"$FMQ_TMP/produce.err" &
	CL_PPID=$!
	sleep 3
	$DC kill "$P" >/dev/null
	wait_for $((FMQ_CLUSTER_SESSION_MS * 3 / 1000)) cl_moved_from "$P" ||
		fail "no new leader after killing $P: $(leader_of 0 "$C")"
	pass "preferred replica $P killed: partition 0 led by $(leader_of 0 "$C")"
}

cl_up() {
	local topic=$1 parts=$2
	shift 2
	CL_T=$topic
	cl_start "$@"
	cl_create "$topic" "$parts" 3 2
	wait_for 30 full_isr 1 ||
		fail "partition 0 has no leader with 3 in-sync replicas: $(leader_of 0 1)"
	CL_LEADER=$(leader_of 0 1)
	CL_LEADER=${CL_LEADER%% *}
}

cl_kill_round() {
	local l=$1 marks=$2 t0 x s
	s=$((l % 3 + 1))
	t0=$(now_ms)
	$DC kill "$l" >/dev/null || fail "kill of broker $l failed"
	[ -z "$marks" ] || echo "$t0" >>"$marks"
	x=$(timeout $((FMQ_CLUSTER_SESSION_MS * 4 / 1000 + 10)) "${PY[@]}" \
		wait-leader "$CL_T" "$(others "$l")" 0 "$l" "$t0" \
		$((FMQ_CLUSTER_SESSION_MS * 2 / 1000 + 3))) ||
		fail "no new leader within 2 session timeouts + 3 s after killing broker $l: $x"
	CL_NEW_LEADER=${x%% *}
	CL_FAILOVER_MS=${x##* }
	t0=$(now_ms)
	$DC start "$l" >/dev/null || fail "restart of broker $l failed"
	wait_for 60 in_isr "$l" "$s" ||
		fail "broker $l did not rejoin the ISR: $(leader_of 0 "$s")"
	CL_REJOIN_MS=$(($(now_ms) - t0))
}

cl_dist() {
	printf '%s\n' "$@" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "none"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)
			p = int(0.9 * NR + 0.999999); if (p < 1) p = 1
			printf "min %d median %d p90 %d max %d (n %d)\n", v[1], m, v[p], v[NR], NR
		}'
}
