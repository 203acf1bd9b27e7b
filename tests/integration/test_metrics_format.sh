#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# /metrics as Prometheus reads it: after real traffic (kcat produce,
# consume through a group, a bad request that closes a connection), the
# scrape is parsed by the Prometheus project's own parser
# (python3-prometheus-client) and checked strictly by
# tests/integration/mgmt/check_metrics.py: HELP and TYPE once per family
# before its samples, no duplicate family or series, counters *_total and
# never negative, histogram buckets cumulative up to le="+Inf" = _count,
# and the families the Grafana dashboard and alert rules use present.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl /usr/bin/python3
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
	fail "python3-prometheus-client is not installed (scripts/setup.sh installs it)"

fmq_start metrics --set num.partitions=2

B=$FMQ_IP:9092
seq 1 2000 | timeout 30 kcat -b "$B" -P -t mf -X linger.ms=5 || fail "produce"
n=$(timeout 40 kcat -b "$B" -G mf-group mf -o beginning -e -q \
	-X session.timeout.ms=6000 2>/dev/null | wc -l) || true
[ "$n" = 2000 ] || fail "group consume read $n of 2000"
# A request with an unknown API key: the broker closes that connection.
printf '\0\0\0\x0a\x7f\x00\0\0\0\0\0\1\xff\xff' |
	timeout 5 bash -c "cat >/dev/tcp/$FMQ_IP/9092" 2>/dev/null || true
sleep 0.5

curl -sf --max-time 5 "http://$FMQ_MGMT/metrics" >"$FMQ_TMP/metrics.txt" ||
	fail "GET /metrics"
# Families every dashboard panel and alert rule in docs/ reads.
mapfile -t need < <(grep -oh 'fluxmq_[a-z0-9_]*' docs/grafana-dashboard.json \
	docs/prometheus-alerts.yml | grep -v '_$' |
	sed -E 's/_(bucket|sum|count)$//; s/_total$//' | sort -u)
out=$(/usr/bin/python3 tests/integration/mgmt/check_metrics.py \
	"$FMQ_TMP/metrics.txt" "${need[@]}") || {
	printf '%s\n' "$out" | head -30 >&2
	fail "/metrics is not clean Prometheus text (scrape kept in $FMQ_TMP/metrics.txt)"
}
pass "/metrics: $(printf '%s\n' "$out" | tail -1); the ${#need[@]} families the dashboard and alerts use are there"

# What the test did, as /metrics counts it: 2,000 records into topic mf
# (two partitions), all read back; the latency histogram counts every
# Produce and Fetch request.
/usr/bin/python3 - "$FMQ_TMP/metrics.txt" <<'PY' || fail "per-topic counters or the latency histogram disagree with the traffic"
import sys
from prometheus_client.parser import text_string_to_metric_families
s = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for x in f.samples:
        s.setdefault(x.name, []).append((x.labels, x.value))
def one(name, **lab):
    v = [val for l, val in s.get(name, []) if all(l.get(k) == w for k, w in lab.items())]
    return sum(v), len(v)
bad = []
msgs, _ = one("fluxmq_topic_messages_in_total", topic="mf")
ends, n = one("fluxmq_partition_log_end_offset", topic="mf")
pin, _ = one("fluxmq_partition_messages_in_total", topic="mf")
bin_t, _ = one("fluxmq_topic_bytes_in_total", topic="mf")
bin_p, _ = one("fluxmq_partition_bytes_in_total", topic="mf")
bout, _ = one("fluxmq_topic_bytes_out_total", topic="mf")
size, _ = one("fluxmq_topic_size_bytes", topic="mf")
if msgs != 2000 or pin != 2000: bad.append("messages in: topic %d, partitions %d, want 2000" % (msgs, pin))
if ends != 2000 or n != 2: bad.append("log end offsets sum %d over %d partitions, want 2000 over 2" % (ends, n))
if bin_t <= 2000 * 4 or bin_t != bin_p: bad.append("bytes in: topic %d, partitions %d" % (bin_t, bin_p))
if bout < bin_t: bad.append("bytes out %d < bytes in %d after reading everything" % (bout, bin_t))
if size != bin_t: bad.append("size %d != bytes appended %d (nothing deleted)" % (size, bin_t))
for api in ("Produce", "Fetch"):
    req, _ = one("fluxmq_kafka_requests_total", api=api)
    cnt, _ = one("fluxmq_kafka_request_duration_seconds_count", api=api)
    inf, _ = one("fluxmq_kafka_request_duration_seconds_bucket", api=api, le="+Inf")
    if req == 0 or cnt != req or inf != req: bad.append("%s: %d requests, histogram count %d, +Inf %d" % (api, req, cnt, inf))
for b in bad: print(b)
print("topic mf: %d messages, %d bytes in, %d bytes out, %d bytes on disk" % (msgs, bin_t, bout, size))
sys.exit(1 if bad else 0)
PY
pass "per-topic and per-partition counters match the 2,000 records produced and read; latency histogram counts every Produce and Fetch"

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "metrics format"
