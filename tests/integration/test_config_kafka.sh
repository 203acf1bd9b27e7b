#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Operate it like Kafka (issue 19):
#  - Kafka's stock KRaft server.properties (tests/vectors/config) starts,
#    with only the values that cannot work here overridden by --set (which
#    wins over --config whatever the order: lib.sh's --set log.dirs comes
#    first on the command line): warnings only, one naming process.roles
#    with file:line; aliases broker.id=7 (Metadata's broker and controller
#    id) and log.retention.hours=2 (a topic's retention.ms in
#    DescribeConfigs: 7200000).
#  - Every log line carries an ISO 8601 date and UTC offset, DPDK's EAL
#    lines included (same format, component dpdk); with log.format=json
#    every line of the broker's output parses as JSON.
#  - A file with three errors reports all three (file:line: key: reason)
#    and exits 2; a key that is nobody's is an error, and
#    config.unknown.keys=error makes Kafka-only keys errors too.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl ip
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

KRAFT=tests/vectors/config/kafka-kraft-server.properties
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'
OVERRIDES=(--set "listeners=PLAINTEXT://0.0.0.0:9092"
	--set "advertised.listeners=PLAINTEXT://$FMQ_IP:9092"
	--set "log.retention.hours=2" --set "broker.id=7")

# run_bad NAME [args after --]: the broker must exit 2 within 20 s; its
# output is left in $FMQ_TMP/NAME.log.
run_bad() {
	local name=$1 rc=0 out
	shift
	out=$FMQ_TMP/$name.log
	fmq_run_exit "$out" \
		--set "dev.tap.name=$FMQ_TAP" --set "net.ip=$FMQ_IP/24" \
		--set "dev.tap.host_ip=$FMQ_HOST_IP/24" --set "mgmt.listen=$FMQ_MGMT" \
		--set "log.dirs=$FMQ_TMP/data-bad" \
		--set "log.hot.dir=/dev/hugepages/fmq-test-$$-bad" \
		"$@"
	rc=$FMQ_RC
	[ "$rc" -eq 2 ] || fail "$name: exit status $rc, want 2: $(tail -n 5 "$out" | tr '\n' ' ')"
}
fmq_on_cleanup "rm -rf /dev/hugepages/fmq-test-$$-bad"
# shellcheck disable=SC2016 # expanded when the cleanup runs
fmq_on_cleanup 'ip link del "$FMQ_TAP" 2>/dev/null'

# --- 1. three errors in one file: all three, then exit 2 -----------------
BAD=$FMQ_TMP/three-errors.properties
cat >"$BAD" <<'EOF'
# three errors, one Kafka-only key, good keys between them
node.id=3
lcores.data=0
num.io.threads=8
no.such.key=1
log.retention.hours=two
num.partitions=4
EOF
run_bad three --config "$BAD"
L=$FMQ_TMP/three.log
grep -qx "fluxmq: $BAD:3: lcores.data: out of range: must be 1..127" "$L" ||
	fail "three errors: no line for lcores.data: $(cat "$L")"
grep -qx "fluxmq: $BAD:5: no.such.key: unknown key" "$L" ||
	fail "three errors: no line for no.such.key: $(cat "$L")"
grep -qx "fluxmq: $BAD:6: log.retention.hours: invalid value 'two': expected an integer" "$L" ||
	fail "three errors: no line for log.retention.hours: $(cat "$L")"
grep -q "fluxmq: 3 configuration errors" "$L" || fail "three errors: no count: $(cat "$L")"
grep -Eq "WARN  config: $BAD:4: num.io.threads: Kafka broker key" "$L" ||
	fail "three errors: no warning for num.io.threads: $(cat "$L")"
! ip link show "$FMQ_TAP" >/dev/null 2>&1 || fail "three errors: left $FMQ_TAP behind"
pass "a file with three errors: all three reported as file:line: key: reason, exit 2"

# --- 2. Kafka-only keys are errors under config.unknown.keys=error --------
run_bad strict --config "$KRAFT" "${OVERRIDES[@]}" --set config.unknown.keys=error
n=$(grep -c "^fluxmq: $KRAFT:[0-9]*: .*: Kafka broker key with no meaning in FluxMQ (config.unknown.keys=error)" "$FMQ_TMP/strict.log" || true)
[ "$n" -eq 11 ] || fail "config.unknown.keys=error: $n errors for Kafka-only keys, want 11: $(head -n 5 "$FMQ_TMP/strict.log")"
pass "config.unknown.keys=error: the stock file's 11 Kafka-only keys are errors, exit 2"

# --- 3. the stock file starts ---------------------------------------------
fmq_start kraft --config "$KRAFT" "${OVERRIDES[@]}"
LOG=$FMQ_TMP/kraft.log
# (The TAP PMD logs its missing multiq qdisc at ERROR: DPDK's, not ours.)
grep -Eq "ERROR (config|main)|^fluxmq: " "$LOG" &&
	fail "errors in the log of the stock file: $(grep -E "ERROR (config|main)|^fluxmq: " "$LOG" | head -n 3)"
grep -Eq "^$ISO WARN  config: $KRAFT:25: process.roles: Kafka broker key with no meaning in FluxMQ: ignored$" "$LOG" ||
	fail "no warning naming process.roles at $KRAFT:25: $(head -n 3 "$LOG")"
n=$(grep -c "Kafka broker key with no meaning in FluxMQ: ignored" "$LOG" || true)
[ "$n" -eq 11 ] || fail "$n warnings for Kafka-only keys, want 11"
# lib.sh's --set log.dirs came before --config on the command line.
[ -e "$FMQ_DATA/.lock" ] || fail "--set log.dirs=$FMQ_DATA lost to the file's log.dirs"
pass "Kafka's stock KRaft server.properties starts: 11 warnings, none an error; --set wins over --config"

timeout 60 /usr/bin/python3 - "$FMQ_IP:9092" <<'EOF' || fail "aliases seen by clients (broker log: $LOG)"
import sys
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource

adm = AdminClient({"bootstrap.servers": sys.argv[1]})
md = adm.list_topics(timeout=15)
ids = sorted(md.brokers)
if ids != [7] or md.controller_id != 7:
    sys.exit(f"broker.id=7: Metadata brokers {ids}, controller {md.controller_id}")
for f in adm.create_topics([NewTopic("cfg-kafka", 1, 1)]).values():
    f.result(timeout=15)
for f in adm.describe_configs([ConfigResource("topic", "cfg-kafka")]).values():
    r = f.result(timeout=15)["retention.ms"].value
    if r != "7200000":
        sys.exit(f"log.retention.hours=2: retention.ms {r}, want 7200000")
print("node id 7 in Metadata, retention.ms 7200000")
EOF
pass "aliases: broker.id=7 is Metadata's broker and controller id, log.retention.hours=2 is retention.ms=7200000"

# Every stderr line starts with the ISO 8601 date and zone; EAL's too.
bad=$(grep -Ev "^$ISO (ERROR|WARN |INFO |DEBUG) [^ :]+: |^FluxMQ is up " "$LOG" | head -n 3 || true)
[ -z "$bad" ] || fail "log lines without an ISO 8601 timestamp: $bad"
n=$(grep -Ec "^$ISO (INFO |WARN |ERROR|DEBUG) dpdk: EAL: " "$LOG" || true)
[ "$n" -ge 1 ] || fail "no EAL line through the logger: $(head -n 5 "$LOG")"
pass "every log line starts with an ISO 8601 date and zone; $n EAL lines in the same format"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"

# --- 4. log.format=json ----------------------------------------------------
fmq_start json --config "$KRAFT" "${OVERRIDES[@]}" --set log.format=json
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
/usr/bin/python3 - "$FMQ_TMP/json.log" <<'EOF' || fail "log.format=json (log $FMQ_TMP/json.log)"
import json, re, sys
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
n = eal = warn = 0
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        sys.exit(f"not JSON: {line!r}")
    if set(o) != {"ts", "level", "comp", "msg"} or not iso.match(o["ts"]):
        sys.exit(f"bad object: {line!r}")
    n += 1
    eal += o["comp"] == "dpdk" and o["msg"].startswith("EAL: ")
    warn += "process.roles" in o["msg"] and o["level"] == "WARN"
if n < 10 or eal < 1 or warn != 1:
    sys.exit(f"{n} lines, {eal} EAL lines, {warn} process.roles warnings")
print(f"{n} JSON lines, {eal} from EAL")
EOF
pass "log.format=json: every line is one JSON object with an ISO 8601 ts, EAL's included"
