#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check a consumed stream (kcat -f '%p %s\\n', value "<n> <padding>"):
every n in 0..N-1 exactly once (no duplicates, no gaps) and increasing
within each partition (order kept).  usage: check_stream.py N < lines"""
import sys

n = int(sys.argv[1])
seen = bytearray(n)
last = {}
dups = bad_order = extra = total = 0
for line in sys.stdin.buffer:
    parts = line.split(None, 2)
    if len(parts) < 2:
        continue
    p, v = int(parts[0]), int(parts[1])
    total += 1
    if v < 0 or v >= n:
        extra += 1
        continue
    if seen[v]:
        dups += 1
    seen[v] = 1
    if last.get(p, -1) >= v:
        bad_order += 1
    last[p] = v
gaps = n - sum(seen)
print("consumed %d records: %d duplicates, %d missing, %d out of order, "
      "%d unexpected, %d partitions" % (total, dups, gaps, bad_order, extra,
                                       len(last)))
sys.exit(0 if dups == gaps == bad_order == extra == 0 else 1)
