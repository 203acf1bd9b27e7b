# shellcheck shell=bash
# Helpers for tests/integration/test_*.sh. Source it after cd'ing to the repo
# root:
#
#   cd "$(dirname "$0")/../.." && . tests/integration/lib.sh
#   fmq_require_root
#   fmq_start basic --set lcores.data=1
#   ping -c1 -W1 "$FMQ_IP" >/dev/null || fail "no ping reply"
#   pass "ping"
#   rc=0; fmq_stop || rc=$?; [ "$rc" -eq 0 ] || fail "exit status $rc"
#
# pass MSG prints and goes on; fail MSG prints and exits 1; skip MSG exits 77.
# Sourcing installs an EXIT trap (fmq_cleanup) that stops every broker this
# script started and removes its tap; add your own undo steps with
# fmq_on_cleanup 'command'.
#
# Variables (set them before sourcing or before fmq_start):
#   FMQ_BUILD     build directory (default build)
#   FMQ_BIN       broker binary (default $FMQ_BUILD/app/fluxmq/fluxmq)
#   FMQ_MGMT      management HTTP address (default 127.0.0.1:8080)
#   FMQ_IP        broker address on the tap (default 10.77.0.2, /24)
#   FMQ_HOST_IP   kernel side of the tap (default 10.77.0.1, /24)
#   FMQ_TAP       tap interface name (default fmq0)
#   FMQ_EAL       array of EAL options (default: from the string FMQ_EAL_ARGS)
#   FMQ_TMP       directory for logs (default: a temporary directory, removed
#                 when the test passes)
#   FMQ_START_TIMEOUT  seconds to wait for /health = 200 (default 30)

FMQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FMQ_BUILD=${FMQ_BUILD:-build}
case $FMQ_BUILD in
/*) ;;
*) FMQ_BUILD=$FMQ_ROOT/$FMQ_BUILD ;;
esac
FMQ_BIN=${FMQ_BIN:-$FMQ_BUILD/app/fluxmq/fluxmq}
FMQ_MGMT=${FMQ_MGMT:-127.0.0.1:8080}
FMQ_IP=${FMQ_IP:-10.77.0.2}
FMQ_HOST_IP=${FMQ_HOST_IP:-10.77.0.1}
FMQ_TAP=${FMQ_TAP-fmq0}
FMQ_START_TIMEOUT=${FMQ_START_TIMEOUT:-30}
if [ -z "${FMQ_EAL+x}" ]; then
	read -r -a FMQ_EAL <<<"${FMQ_EAL_ARGS:-}"
fi
FMQ_TMP_OWN=0
if [ -z "${FMQ_TMP:-}" ]; then
	FMQ_TMP=$(mktemp -d /tmp/fmq-test.XXXXXX)
	FMQ_TMP_OWN=1
fi
mkdir -p "$FMQ_TMP"
export FMQ_TMP
FMQ_PID=
FMQ_PIDS=()
FMQ_STARTED=0
FMQ_HOT_DIRS=()
FMQ_CLEANUP=()

pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

fmq_require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (tap interface, hugepages)"
}

# fmq_require_cmd CMD...: skip unless every command exists.
fmq_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

fmq_on_cleanup() { FMQ_CLEANUP+=("$1"); }

# True while PID runs (an exited but unreaped child is a zombie: not alive).
fmq_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# HTTP status of GET /health, 000 when nothing answers.
fmq_health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$FMQ_MGMT/health" || true
}

# fmq_start NAME [broker args after --]: start the broker in the background,
# wait until /health answers 200, set FMQ_PID. Fails the test otherwise.
fmq_start() {
	local name=$1 log code i
	shift
	log=$FMQ_TMP/$name.log
	[ -x "$FMQ_BIN" ] || fail "no broker binary at $FMQ_BIN (build it: scripts/setup.sh)"
	code=$(fmq_health)
	[ "$code" = 000 ] || fail "something already answers on $FMQ_MGMT (HTTP $code): another broker running?"
	if [ -n "$FMQ_TAP" ] && ip link show "$FMQ_TAP" >/dev/null 2>&1; then
		fail "interface $FMQ_TAP already exists: another broker running?"
	fi
	# Each broker name gets its own data and hot-pool directories (kept
	# across restarts of that name, removed at cleanup), so instances
	# side by side never share a log.
	FMQ_DATA=${FMQ_DATA_DIR:-$FMQ_TMP/data-$name}
	FMQ_HOT=${FMQ_HOT_DIR:-/dev/hugepages/fmq-test-$$-$name}
	FMQ_HOT_DIRS+=("$FMQ_HOT")
	"$FMQ_BIN" "${FMQ_EAL[@]}" -- \
		--set "dev.tap.name=$FMQ_TAP" \
		--set "net.ip=$FMQ_IP/24" \
		--set "dev.tap.host_ip=$FMQ_HOST_IP/24" \
		--set "mgmt.listen=$FMQ_MGMT" \
		--set "log.dirs=$FMQ_DATA" \
		--set "log.hot.dir=$FMQ_HOT" \
		"$@" >"$log" 2>&1 </dev/null &
	FMQ_PID=$!
	FMQ_PIDS+=("$FMQ_PID")
	FMQ_STARTED=1
	for ((i = 0; i < FMQ_START_TIMEOUT * 10; i++)); do
		if ! fmq_alive "$FMQ_PID"; then
			code=0
			wait "$FMQ_PID" || code=$?
			FMQ_PID=
			tail -n 30 "$log" | sed 's/^/    | /' >&2
			fail "broker '$name' exited with status $code while starting (log $log)"
		fi
		code=$(fmq_health)
		if [ "$code" = 200 ]; then
			printf 'started broker %s (pid %s, mgmt %s, log %s)\n' "$name" "$FMQ_PID" "$FMQ_MGMT" "$log"
			return 0
		fi
		sleep 0.1
	done
	tail -n 30 "$log" | sed 's/^/    | /' >&2
	fail "broker '$name' not healthy within ${FMQ_START_TIMEOUT}s (last /health: $code, log $log)"
}

# fmq_stop: SIGTERM, wait up to 5 s, return the broker's exit status. A broker
# still running after 5 s is killed and fails the test.
fmq_stop() {
	local pid=${FMQ_PID:?fmq_stop: no broker running} i rc=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		fmq_alive "$pid" || break
		sleep 0.1
	done
	FMQ_PID=
	if fmq_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		fmq_forget "$pid"
		fail "broker (pid $pid) still running 5 s after SIGTERM; killed it"
	fi
	wait "$pid" || rc=$?
	fmq_forget "$pid"
	return "$rc"
}

# fmq_kill9: crash the broker (no clean shutdown), reap it.
fmq_kill9() {
	local pid=${FMQ_PID:?fmq_kill9: no broker running}
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	fmq_forget "$pid"
	FMQ_PID=
}

# fmq_run_exit LOG ARGS...: run the broker (ARGS after --) for a start
# that must end by itself, its output in LOG: wait up to 20 s, then TERM,
# then KILL. Sets FMQ_RC to its exit status.
# shellcheck disable=SC2034 # FMQ_RC is read by the calling test
fmq_run_exit() {
	local out=$1 pid i
	shift
	FMQ_RC=0
	"$FMQ_BIN" "${FMQ_EAL[@]}" -- "$@" >"$out" 2>&1 </dev/null &
	pid=$!
	FMQ_PIDS+=("$pid")
	for ((i = 0; i < 200; i++)); do
		fmq_alive "$pid" || break
		sleep 0.1
	done
	if fmq_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		sleep 2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" || FMQ_RC=$?
	fmq_forget "$pid"
}

# fmq_last_worker N: the broker must run N data lcore threads; sets
# FMQ_WORKER (its thread name, e.g. rte-worker-2) and FMQ_WORKER_TID for
# the highest-numbered one (the last data lcore).
fmq_last_worker() {
	local workers=() t
	for t in /proc/"$FMQ_PID"/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		rte-worker-* | lcore-worker-*) workers+=("$(cat "$t/comm") ${t##*/}") ;;
		esac
	done
	[ "${#workers[@]}" -eq "$1" ] ||
		fail "want $1 data lcore threads in /proc/$FMQ_PID/task, found: ${workers[*]:-none}"
	# shellcheck disable=SC2034 # read by the calling test
	read -r FMQ_WORKER FMQ_WORKER_TID < <(printf '%s\n' "${workers[@]}" | sort -t- -k3 -n | tail -n 1)
}

# fmq_forget PID: a reaped broker leaves FMQ_PIDS. Its pid is free for
# reuse (by another test's broker, or any process) and the cleanup trap
# must never signal it.
fmq_forget() {
	local keep=() p
	for p in "${FMQ_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	FMQ_PIDS=("${keep[@]}")
}

# fmq_metric NAME [LABELFILTER]: print the value of metric NAME from
# /metrics. LABELFILTER is a substring the label set must contain, e.g.
# 'lcore="1"'. Several matching series are summed. Returns 1 if none match.
fmq_metric() {
	local name=$1 filter=${2:-} body
	body=$(curl -sf --max-time 5 "http://$FMQ_MGMT/metrics") ||
		{ printf 'fmq_metric: GET http://%s/metrics failed\n' "$FMQ_MGMT" >&2; return 1; }
	printf '%s\n' "$body" | awk -v n="$name" -v f="$filter" '
		/^#/ { next }
		substr($0, 1, length(n) + 1) == n "{" {
			i = index($0, "} ")
			if (i == 0) next
			labels = substr($0, length(n) + 2, i - length(n) - 2)
			rest = substr($0, i + 2)
		}
		substr($0, 1, length(n) + 1) == n " " { labels = ""; rest = substr($0, length(n) + 2) }
		substr($0, 1, length(n) + 1) != n "{" && substr($0, 1, length(n) + 1) != n " " { next }
		f != "" && index(labels, f) == 0 { next }
		{ split(rest, v, " "); cnt++; sum += v[1]; last = v[1] }
		END {
			if (cnt == 0) exit 1
			if (cnt == 1) print last
			else printf "%.17g\n", sum
		}'
}

# EXIT trap: undo steps (last first), stop leftover brokers, remove the tap.
fmq_cleanup() {
	local rc=$? i pid d
	for ((i = ${#FMQ_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${FMQ_CLEANUP[i]}" || true
	done
	for pid in "${FMQ_PIDS[@]}"; do
		fmq_alive "$pid" || continue
		printf 'cleanup: stopping broker pid %s\n' "$pid" >&2
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 20; i++)); do
			fmq_alive "$pid" || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# Hot pools hold their hugepages until the file is gone.
	for d in "${FMQ_HOT_DIRS[@]}"; do
		case $d in /dev/hugepages/fmq-test-*) rm -rf "$d" ;; esac
	done
	if [ "$FMQ_STARTED" = 1 ] && [ -n "$FMQ_TAP" ] &&
		ip link show "$FMQ_TAP" >/dev/null 2>&1; then
		ip link del "$FMQ_TAP" 2>/dev/null || true
	fi
	# A temporary directory of our own goes away on success; on failure it
	# holds the broker logs.
	if [ "$FMQ_TMP_OWN" = 1 ]; then
		if [ "$rc" -eq 0 ]; then
			rm -rf "$FMQ_TMP"
		else
			printf 'logs kept in %s\n' "$FMQ_TMP" >&2
		fi
	fi
	return "$rc"
}
trap fmq_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
