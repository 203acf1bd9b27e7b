#!/usr/bin/env bash
# Run every FluxMQ test suite and print one line per result, then
# "N passed, N failed[, N skipped]" as the last line. Exit status 0 only when
# nothing failed.
#
#   sudo scripts/test.sh [--quick]
#
# Order: scripts/setup.sh (as root; a plain build otherwise), the CUnit suite
# (meson test --suite unit: the suites fast and slow), the same suite in a
# sanitize build (build-asan),
# every libFuzzer target of a fuzz build (build-fuzz), then every
# tests/integration/test_*.sh. Each meson test, fuzz target and integration
# script is one result. Logs go to $FMQ_BUILD/test-logs/.
#
#   --quick            run only the fast unit suite (meson test --suite fast:
#                      each test under a second) and the integration
#                      scripts; skip the slow unit tests and the sanitize and
#                      fuzz builds (for developers; CI runs everything)
#   FMQ_TEST_FILTER    run only results whose name contains this substring;
#                      names look like unit/unit-util, asan/unit-util,
#                      fuzz/<target>, integration/test_<name>.sh
#   FMQ_FUZZ_SECONDS   time per fuzz target (default 30)
#   FMQ_TEST_TIMEOUT   time per integration script in seconds (default 900)
#   FMQ_BUILD          main build directory (default build)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

usage() {
	sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

QUICK=0
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	-h|--help) usage; exit 0 ;;
	*) printf 'test.sh: unknown argument %s (try --help)\n' "$a" >&2; exit 2 ;;
	esac
done

BUILD=${FMQ_BUILD:-build}
ASAN_BUILD=build-asan
FUZZ_BUILD=build-fuzz
FILTER=${FMQ_TEST_FILTER:-}
UNIT_SUITE=unit
[ "$QUICK" = 1 ] && UNIT_SUITE=fast
FUZZ_SECONDS=${FMQ_FUZZ_SECONDS:-30}
TIMEOUT=${FMQ_TEST_TIMEOUT:-900}
for v in FUZZ_SECONDS TIMEOUT; do
	case ${!v} in
	''|*[!0-9]*) printf 'test.sh: FMQ_%s must be a number of seconds\n' "$v" >&2; exit 2 ;;
	esac
done

npass=0
nfail=0
nskip=0
failed=()

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1fs", ms / 1000 }'; }
matches() { [ -z "$FILTER" ] || [[ $1 == *"$FILTER"* ]]; }
any_match() {
	local n
	for n in "$@"; do matches "$n" && return 0; done
	return 1
}

# result NAME pass|fail|skip LOG DETAIL
result() {
	local name=$1 st=$2 log=$3 detail=$4
	case $st in
	pass)
		npass=$((npass + 1))
		printf 'PASS  %s (%s)\n' "$name" "$detail" ;;
	skip)
		nskip=$((nskip + 1))
		printf 'SKIP  %s (%s)\n' "$name" "$detail" ;;
	*)
		nfail=$((nfail + 1))
		failed+=("$name")
		printf 'FAIL  %s (%s) log: %s\n' "$name" "$detail" "$log"
		if [ -s "$log" ]; then
			tail -n 40 "$log" | sed 's/^/    | /'
		fi ;;
	esac
}

finish() {
	if [ $((npass + nfail + nskip)) -eq 0 ]; then
		printf 'no test ran (FMQ_TEST_FILTER=%s matched nothing?)\n' "$FILTER"
		nfail=1
	fi
	if [ ${#failed[@]} -gt 0 ]; then
		printf 'failed: %s\n' "${failed[*]}"
	fi
	if [ "$nskip" -gt 0 ]; then
		printf '%d passed, %d failed, %d skipped\n' "$npass" "$nfail" "$nskip"
	else
		printf '%d passed, %d failed\n' "$npass" "$nfail"
	fi
	[ "$nfail" -eq 0 ]
	exit
}

stage() { printf '== %s\n' "$*"; }

# build DIR LOG: ninja, counting a broken build as one failed result.
build() {
	local dir=$1 log=$2
	shift 2
	if ninja -C "$dir" -j "$(nproc)" "$@" >"$log" 2>&1; then
		return 0
	fi
	result "$dir/build" fail "$log" "ninja failed"
	return 1
}

# configure DIR LOG [meson options]: set up a build directory, or reconfigure
# an existing one. Reconfiguring is cheap and needed: lib/ and tests/ find
# their subdirectories with fs.is_file(), which meson does not watch, so a new
# library or test directory is invisible to an old configuration.
configure() {
	local dir=$1 log=$2
	shift 2
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" >"$log" 2>&1 && return 0
	elif meson setup "$dir" "$@" >"$log" 2>&1; then
		return 0
	fi
	result "$dir/setup" fail "$log" "meson setup failed"
	return 1
}

# suite_tests BUILDDIR SUITE: the names of the meson tests in SUITE (a test
# is in unit and in one of fast and slow, so `meson test --list` shows
# decorated names; introspection gives the plain ones).
suite_tests() {
	meson introspect "$1" --tests 2>/dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if any(s.split(":")[-1] == sys.argv[1] for s in t["suite"]):
        print(t["name"])' "$2"
}

# meson_suite BUILDDIR PREFIX [meson test args]: run the unit tests of one
# build ($UNIT_SUITE) and report each test as PREFIX/<name>.
meson_suite() {
	local dir=$1 prefix=$2
	shift 2
	local names=() sel=() n st dur log t0
	mapfile -t names < <(suite_tests "$dir" "$UNIT_SUITE")
	for n in "${names[@]}"; do
		matches "$prefix/$n" && sel+=("$n")
	done
	if [ ${#sel[@]} -eq 0 ]; then
		printf '(no %s test selected)\n' "$prefix"
		return 0
	fi
	mkdir -p "$LOGS/$prefix"
	log=$LOGS/$prefix/meson-test.log
	rm -f "$dir/meson-logs/testlog.json"
	t0=$(now_ms)
	meson test -C "$dir" --no-rebuild "$@" "${sel[@]}" >"$log" 2>&1
	if [ ! -s "$dir/meson-logs/testlog.json" ]; then
		result "$prefix/meson-test" fail "$log" "meson test wrote no results, $(secs $(($(now_ms) - t0)))"
		return 0
	fi
	# One line per test: name, result, duration; its output goes to a log.
	local got=0
	while IFS=$'\t' read -r n st dur; do
		got=$((got + 1))
		case $st in
		OK|EXPECTEDFAIL) result "$prefix/$n" pass "" "${dur}s" ;;
		SKIP) result "$prefix/$n" skip "" "${dur}s" ;;
		*) result "$prefix/$n" fail "$LOGS/$prefix/$n.log" "$st, ${dur}s" ;;
		esac
	done < <(python3 - "$dir/meson-logs/testlog.json" "$LOGS/$prefix" <<'PY'
import json, sys
path, outdir = sys.argv[1], sys.argv[2]
for raw in open(path, encoding="utf-8", errors="replace"):
    t = json.loads(raw)
    # "fluxmq:unit+fast / unit-util" when a test is in several suites
    name = t["name"].split(" / ")[-1].replace("/", "_").replace(" ", "_")
    with open(f"{outdir}/{name}.log", "w") as f:
        f.write("$ " + " ".join(t.get("command") or []) + "\n")
        f.write(t.get("stdout") or "")
        f.write(t.get("stderr") or "")
    print(f"{name}\t{t['result']}\t{t['duration']:.1f}")
PY
)
	if [ "$got" -lt ${#sel[@]} ]; then
		result "$prefix/meson-test" fail "$log" "only $got of ${#sel[@]} tests reported a result"
	fi
}

LOGS=$BUILD/test-logs
mkdir -p "$BUILD"
rm -rf "$LOGS"
mkdir -p "$LOGS"

# --- setup / build ------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	stage "setup (scripts/setup.sh, log $LOGS/setup.log)"
	if ! bash scripts/setup.sh >"$LOGS/setup.log" 2>&1; then
		result setup fail "$LOGS/setup.log" "scripts/setup.sh failed"
		finish
	fi
	grep -E '^\[setup\] (step|  )' "$LOGS/setup.log" | sed 's/^\[setup\]/  /'
else
	stage "not root: skipping scripts/setup.sh, building $BUILD/ only (integration tests will skip)"
	configure "$BUILD" "$LOGS/meson-setup.log" || finish
	build "$BUILD" "$LOGS/build.log" || finish
fi

# --- unit ---------------------------------------------------------------------
stage "unit suite $UNIT_SUITE ($BUILD)"
meson_suite "$BUILD" unit

# --- sanitize build -----------------------------------------------------------
if [ "$QUICK" = 1 ]; then
	stage "sanitize and fuzz builds skipped (--quick)"
else
	stage "unit suite with ASan+UBSan ($ASAN_BUILD)"
	mapfile -t unit_names < <(suite_tests "$BUILD" "$UNIT_SUITE")
	if any_match "${unit_names[@]/#/asan/}"; then
		if configure "$ASAN_BUILD" "$LOGS/asan-setup.log" -Dsanitize=true &&
			build "$ASAN_BUILD" "$LOGS/asan-build.log"; then
			meson_suite "$ASAN_BUILD" asan --timeout-multiplier 4
		fi
	else
		printf '(no asan test selected)\n'
	fi

	# --- fuzz build -------------------------------------------------------
	stage "libFuzzer targets ($FUZZ_BUILD, ${FUZZ_SECONDS}s each)"
	# -Dfuzz=true instruments the libraries too (see meson.build).
	if CC=clang configure "$FUZZ_BUILD" "$LOGS/fuzz-setup.log" -Dfuzz=true; then
		# name, build-relative output file, source dir of each executable
		# defined under tests/fuzz.
		mapfile -t fuzzers < <(meson introspect "$FUZZ_BUILD" --targets | python3 -c '
import json, os, sys
root = os.path.realpath(sys.argv[1])
bdir = os.path.realpath(sys.argv[2])
for t in json.load(sys.stdin):
    src = os.path.dirname(os.path.realpath(t["defined_in"]))
    if t["type"] == "executable" and src.startswith(os.path.join(root, "tests", "fuzz") + os.sep):
        out = os.path.relpath(t["filename"][0], bdir)
        print("\t".join((t["name"], out, src)))
' "$PWD" "$FUZZ_BUILD" | sort)
		sel=()
		for f in "${fuzzers[@]}"; do
			matches "fuzz/${f%%$'\t'*}" && sel+=("$f")
		done
		if [ ${#fuzzers[@]} -eq 0 ]; then
			printf '(no fuzz targets under tests/fuzz yet)\n'
		elif [ ${#sel[@]} -eq 0 ]; then
			printf '(no fuzz target selected)\n'
		else
			outs=()
			for f in "${sel[@]}"; do
				IFS=$'\t' read -r _ out _ <<<"$f"
				outs+=("$out")
			done
			if build "$FUZZ_BUILD" "$LOGS/fuzz-build.log" "${outs[@]}"; then
				mkdir -p "$LOGS/fuzz"
				for f in "${sel[@]}"; do
					IFS=$'\t' read -r name out src <<<"$f"
					# Corpus kept across runs in the build dir; a
					# checked-in seed corpus (corpus/<name>/ beside
					# the target's meson.build) is read too, and
					# <name>.dict there is used as the dictionary.
					corpus=$FUZZ_BUILD/corpus/$name
					mkdir -p "$corpus"
					extra=()
					[ -d "$src/corpus/$name" ] && extra+=("$src/corpus/$name")
					[ -f "$src/$name.dict" ] && extra=("-dict=$src/$name.dict" "${extra[@]}")
					log=$LOGS/fuzz/$name.log
					t0=$(now_ms)
					if timeout -k 10 $((FUZZ_SECONDS + 120)) "$FUZZ_BUILD/$out" \
						-max_total_time="$FUZZ_SECONDS" -timeout=10 \
						-print_final_stats=1 \
						-artifact_prefix="$LOGS/fuzz/$name-" \
						"$corpus" "${extra[@]}" >"$log" 2>&1 </dev/null; then
						result "fuzz/$name" pass "$log" \
							"$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}') execs, $(secs $(($(now_ms) - t0)))"
					else
						rc=$?
						why="exit $rc"
						[ "$rc" = 77 ] && why="crash or leak found (libFuzzer exit 77), reproducer $LOGS/fuzz/$name-*"
						[ "$rc" = 124 ] && why="hung"
						result "fuzz/$name" fail "$log" "$why, $(secs $(($(now_ms) - t0)))"
					fi
				done
			fi
		fi
	fi
fi

# --- integration --------------------------------------------------------------
stage "integration tests (tests/integration, ${TIMEOUT}s each)"
mapfile -t scripts < <(find tests/integration -maxdepth 1 -name 'test_*.sh' -type f | LC_ALL=C sort)
mkdir -p "$LOGS/integration"
ran=0
for t in "${scripts[@]}"; do
	name=integration/$(basename "$t")
	matches "$name" || continue
	ran=1
	log=$LOGS/$name.log
	tmp=$LOGS/$name.d
	mkdir -p "$tmp"
	t0=$(now_ms)
	FMQ_TMP=$(realpath "$tmp") FMQ_BUILD=$BUILD timeout -k 10 "$TIMEOUT" bash "$t" >"$log" 2>&1 </dev/null
	rc=$?
	dt=$(secs $(($(now_ms) - t0)))
	case $rc in
	0) result "$name" pass "$log" "$dt" ;;
	77) result "$name" skip "$log" "$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | cut -c1-100)" ;;
	124|137) result "$name" fail "$log" "timed out after ${TIMEOUT}s" ;;
	*) result "$name" fail "$log" "exit $rc, $dt" ;;
	esac
done
[ "$ran" = 1 ] || printf "(no integration test selected out of %d)\n" "${#scripts[@]}"

finish
