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

rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "broker exit status $rc"
pass "metrics format"
