#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The log cleaner's throughput beside the machine's ceilings, in one run:
#   memcpy (fluxmq-bench --workload ceilings, one core, 64 MiB buffers),
#   sequential disk write into the log directory (dd, O_DIRECT, fsync),
#   the cleaner compacting a topic filled with keyed records: bytes it
#   read and wrote per second of wall time from its first read to the end
#   of its round (fluxmq_log_cleaner_*_bytes_total polled every 50 ms;
#   the cleaner runs on the control lcore in ~1 MiB slices).
# The topic is filled with cleanup.policy=delete (no cleaning while the
# data goes in: kcat through the TAP, 16 MiB segments), then switched to
# compact with min.cleanable.dirty.ratio=0.01.
#
#   bench/cleaner.sh [RECORDS] [KEYS]     (root; default 2000000 100000)
#
# Records are 100-byte values under KEYS distinct keys, so every key is
# overwritten RECORDS/KEYS times and the clean keeps about KEYS records.
# The broker's network names are tests/integration/lib.sh's (FMQ_TAP,
# FMQ_IP, FMQ_HOST_IP, FMQ_MGMT). FMQ_BUILD: the build directory (build).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-2000000}
keys=${2:-100000}
FMQ_BIN=${FMQ_BUILD:-build}/app/fluxmq/fluxmq
bench=${FMQ_BUILD:-build}/bench/loadgen/fluxmq-bench
[ -x "$bench" ] || { echo "no $bench: build first" >&2; exit 1; }
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd kcat curl dd /usr/bin/python3
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	fail "confluent-kafka not installed"
T=cleaner-bench

ceil=$("$bench" --workload ceilings)
memcpy=$(printf '%s' "$ceil" | /usr/bin/python3 -c \
	'import json,sys; print(json.load(sys.stdin)["memcpy_64mib_gb_per_s"])')

fmq_start cleanerbench --set log.flush.interval.ms=100
# Disk: 512 MiB written sequentially where the segments go.
dd_out=$(dd if=/dev/zero of="$FMQ_DATA/dd.bench" bs=1M count=512 \
	oflag=direct conv=fsync 2>&1 | tail -n 1)
rm -f "$FMQ_DATA/dd.bench"
disk=$(printf '%s\n' "$dd_out" | /usr/bin/python3 -c '
import re, sys
m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", sys.stdin.read())
print("%.0f" % (int(m.group(1)) / float(m.group(2)) / 1e6))')

admin() {   # admin create|compact
	/usr/bin/python3 - "$FMQ_IP:9092" "$T" "$1" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
b, t, what = sys.argv[1:]
a = AdminClient({"bootstrap.servers": b})
cfg = {"cleanup.policy": "delete" if what == "create" else "compact",
       "segment.bytes": str(16 << 20), "min.cleanable.dirty.ratio": "0.01",
       "min.compaction.lag.ms": "0", "retention.ms": "-1"}
if what == "create":
    a.create_topics([NewTopic(t, 1, 1, config=cfg)])[t].result(timeout=30)
else:
    r = ConfigResource("topic", t, set_config=cfg)
    a.alter_configs([r])[r].result(timeout=30)
PY
}
admin create
/usr/bin/python3 -c '
import sys
n, k = int(sys.argv[1]), int(sys.argv[2])
v = "v" * 100
w = sys.stdout.write
for i in range(n):
    w("k%d:%s\n" % (i % k, v))' "$records" "$keys" > "$FMQ_TMP/records.txt"
t0=$(date +%s.%N)
kcat -b "$FMQ_IP:9092" -P -t "$T" -p 0 -K : -X linger.ms=20 \
	-X batch.num.messages=10000 -X queue.buffering.max.kbytes=262144 \
	-l "$FMQ_TMP/records.txt" || fail "kcat produce"
t1=$(date +%s.%N)
sleep 1   # flushed (log.flush.interval.ms=100): segments are cleanable

m() { fmq_metric "$1" || echo 0; }
runs0=$(m fluxmq_log_cleaner_runs_total)
read0=$(m fluxmq_log_cleaner_read_bytes_total)
wr0=$(m fluxmq_log_cleaner_written_bytes_total)
rm0=$(m fluxmq_log_cleaner_records_removed_total)
admin compact
start=
for ((i = 0; i < 6000; i++)); do     # at most 5 minutes
	now=$(date +%s.%N)
	rd=$(m fluxmq_log_cleaner_read_bytes_total)
	if [ -z "$start" ] && [ "$rd" != "$read0" ]; then
		start=$now
	fi
	[ "$(m fluxmq_log_cleaner_runs_total)" != "$runs0" ] && break
	sleep 0.05
done
end=$(date +%s.%N)
[ -n "$start" ] || fail "the cleaner never read anything"
rd=$(m fluxmq_log_cleaner_read_bytes_total)
wr=$(m fluxmq_log_cleaner_written_bytes_total)
rmv=$(m fluxmq_log_cleaner_records_removed_total)
fmq_stop || true
/usr/bin/python3 - "$start" "$end" "$read0" "$rd" "$wr0" "$wr" "$rm0" "$rmv" \
	"$memcpy" "$disk" "$t0" "$t1" "$records" "$keys" <<'PY'
import json, sys
a = sys.argv[1:]
s, e = float(a[0]), float(a[1])
rd, wr = float(a[3]) - float(a[2]), float(a[5]) - float(a[4])
removed = float(a[7]) - float(a[6])
secs = max(e - s, 1e-3)
print(json.dumps({
    "tool": "bench/cleaner.sh", "records": int(a[12]), "keys": int(a[13]),
    "fill_s": round(float(a[11]) - float(a[10]), 2),
    "cleaner_s": round(secs, 2), "cleaner_read_mb": round(rd / 1e6, 1),
    "cleaner_written_mb": round(wr / 1e6, 1),
    "cleaner_records_removed": int(removed),
    "cleaner_read_mb_per_s": round(rd / secs / 1e6, 1),
    "cleaner_written_mb_per_s": round(wr / secs / 1e6, 1),
    "memcpy_gb_per_s": float(a[8]), "disk_write_mb_per_s": float(a[9])}))
print("cleaner: %.0f MB read, %.0f MB written, %d records removed in "
      "%.2f s: %.0f MB/s read, %.0f MB/s written; memcpy %.1f GB/s, "
      "disk write %s MB/s" % (rd / 1e6, wr / 1e6, removed, secs,
                              rd / secs / 1e6, wr / secs / 1e6,
                              float(a[8]), a[9]))
PY
