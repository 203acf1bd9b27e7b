#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Client quotas (issue 15): AlterClientQuotas / DescribeClientQuotas on raw
# sockets (tests/integration/kafka/client_quotas.py: bad entries refused
# one by one, validate_only, the match types, strict, v0 and v1), then
# two confluent-kafka producers side by side for FMQ_QUOTA_SECONDS: the
# one whose client-id has producer_byte_rate slows to within 10 % of it
# and hears throttle_time_ms (librdkafka's throttle callback), the other
# keeps at least 0.3 of the rate it had alone just before (a loose bound:
# the machine is shared; the figures are printed) and FMQ_QUOTA_FREE_MIN
# times the quota.
# A consumer with consumer_byte_rate reads at it within 10 %; a Metadata
# loop under request_percentage is held back, another client-id's is not.
# Then a restart: the quota is still described and still throttles.
#
# The windows are quota.window.num=2 samples of 1 s so that a short run
# measures the steady state: a new rate counts (num - 1) empty samples,
# which lets a new client burst (num - 1) seconds' worth first, as in
# Kafka; the rate is taken from FMQ_QUOTA_SKIP seconds on.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || skip "confluent-kafka not installed"

RATE=${FMQ_QUOTA_RATE:-1000000}
SECS=${FMQ_QUOTA_SECONDS:-10}
SKIP=${FMQ_QUOTA_SKIP:-2}
FREE_MIN=${FMQ_QUOTA_FREE_MIN:-4}
CQ=tests/integration/kafka/client_quotas.py
ARGS=(--set lcores.data=1 --set quota.window.num=2
	--set quota.window.size.seconds=1)

fmq_start quota "${ARGS[@]}"
timeout 60 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 set slowpoke "$RATE" \
	2>"$FMQ_TMP/set.err" ||
	fail "AlterClientQuotas: $(tail -5 "$FMQ_TMP/set.err") (broker log: $FMQ_TMP/quota.log)"
pass "AlterClientQuotas refuses bad entries, validate_only applies nothing, DescribeClientQuotas returns what was set"
n=$(fmq_metric fluxmq_quota_entities) || fail "no fluxmq_quota_entities"
[ "$n" -eq 1 ] || fail "fluxmq_quota_entities = $n, want 1"

solo=$(timeout 90 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 solo \
	quota-t slowpoke "$RATE" 4 1 2>"$FMQ_TMP/solo.err") ||
	fail "producer alone: $(grep -v '^%' "$FMQ_TMP/solo.err" | tail -5)"
out=$(timeout $((SECS + 90)) /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 race \
	quota-t slowpoke "$RATE" "$SECS" "$SKIP" 2>"$FMQ_TMP/race.err") ||
	fail "producers: $(grep -v '^%' "$FMQ_TMP/race.err" | tail -5)"
printf '%s\n' "$out"
/usr/bin/python3 - "$out" "$RATE" "$FREE_MIN" "$solo" <<'EOF' || fail "rates: $out"
import json, sys
r = json.loads(sys.argv[1]); rate = float(sys.argv[2]); fmin = float(sys.argv[3])
alone = json.loads(sys.argv[4])["slowpoke-free"]["rate"]
slow, free = r["slowpoke"], r["slowpoke-free"]
ok = True
if abs(slow["rate"] - rate) > 0.10 * rate:
    print(f"throttled producer at {slow['rate']:.0f} B/s, quota {rate:.0f}", file=sys.stderr); ok = False
if slow["throttle_events"] == 0:
    print("the throttled producer never heard throttle_time_ms", file=sys.stderr); ok = False
if free["rate"] < fmin * rate or free["rate"] < 0.3 * alone:
    print(f"unthrottled producer at {free['rate']:.0f} B/s", file=sys.stderr); ok = False
if free["throttle_events"] != 0:
    print("the unthrottled producer was throttled", file=sys.stderr); ok = False
print(f"throttled {slow['rate']/1e6:.3f} MB/s ({100*slow['rate']/rate:.1f} % of its quota, "
      f"{slow['throttle_events']} throttle events, max {slow['max_throttle_s']} s); "
      f"unthrottled {free['rate']/1e6:.3f} MB/s beside it, {alone/1e6:.3f} MB/s alone")
sys.exit(0 if ok else 1)
EOF
pass "throttled producer within 10 % of its quota, the other unthrottled"
n=$(fmq_metric fluxmq_quota_throttled_requests_total 'quota="producer_byte_rate"') ||
	fail "no throttled-requests metric"
ms=$(fmq_metric fluxmq_quota_throttle_time_ms_total 'quota="producer_byte_rate"') ||
	fail "no throttle-time metric"
[ "$n" -gt 0 ] && [ "$ms" -gt 0 ] || fail "metrics: $n throttled, $ms ms"
pass "metrics: $n produce requests throttled, $ms ms in all"

# A consumer reading what the producers wrote, with consumer_byte_rate.
FRATE=$((RATE * 2))
timeout 60 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 setfetch slowreader "$FRATE" \
	2>"$FMQ_TMP/setfetch.err" || fail "consumer_byte_rate: $(tail -5 "$FMQ_TMP/setfetch.err")"
out=$(timeout 90 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 consume quota-t \
	slowreader 8 2 2>"$FMQ_TMP/consume.err") ||
	fail "consumer: $(grep -v '^%' "$FMQ_TMP/consume.err" | tail -5)"
/usr/bin/python3 - "$out" "$FRATE" <<'EOF' || fail "consumer: $out"
import json, sys
r = json.loads(sys.argv[1]); rate = float(sys.argv[2])
print(f"throttled consumer {r['rate']/1e6:.3f} MB/s ({100*r['rate']/rate:.1f} % of "
      f"consumer_byte_rate {rate/1e6:.1f} MB/s), {r['throttle_events']} throttle events")
sys.exit(0 if abs(r["rate"] - rate) <= 0.10 * rate and r["throttle_events"] > 0 else 1)
EOF
n=$(fmq_metric fluxmq_quota_throttled_requests_total 'quota="consumer_byte_rate"')
[ "$n" -gt 0 ] || fail "no fetch throttled"
pass "throttled consumer within 10 % of consumer_byte_rate ($n fetches throttled)"

# request_percentage: handling time on the data lcore. 0.01 % of one lcore
# is 0.1 ms a second: a few Metadata requests, then muted.
out=$(timeout 60 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 reqpct hasty 0.01 3 \
	2>"$FMQ_TMP/reqpct.err") || fail "request_percentage: $(tail -3 "$FMQ_TMP/reqpct.err")"
n=$(fmq_metric fluxmq_quota_throttled_requests_total 'quota="request_percentage"')
[ "$n" -gt 0 ] || fail "no request throttled by request_percentage ($out)"
pass "request_percentage holds a Metadata loop back: $out ($n requests throttled)"
closes=$(fmq_metric fluxmq_kafka_connection_closes_total)
[ "$closes" -eq 0 ] || fail "the broker closed $closes client connections"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"

fmq_start quota "${ARGS[@]}"
timeout 60 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 describe slowpoke "$RATE" \
	2>"$FMQ_TMP/desc.err" ||
	fail "after restart: $(tail -5 "$FMQ_TMP/desc.err")"
out=$(timeout 60 /usr/bin/python3 "$CQ" "$FMQ_IP" 9092 burst quota-t slowpoke \
	$((RATE * 3)) 2>"$FMQ_TMP/burst.err") ||
	fail "burst after restart: $(grep -v '^%' "$FMQ_TMP/burst.err" | tail -5)"
n=$(fmq_metric fluxmq_quota_throttled_requests_total 'quota="producer_byte_rate"')
[ "$n" -gt 0 ] || fail "after restart, $((RATE * 3)) bytes were not throttled ($out)"
pass "the quota survives a restart ($n requests throttled after it, client: $out)"
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "client quotas"
