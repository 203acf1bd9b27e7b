#!/usr/bin/python3
"""Check consumed messages 'P<producer>-<seq>' printed by kcat as
'<partition> <value>': every message exactly once, and each producer's
messages in increasing order within each partition."""
import collections
import sys

nprod, per = int(sys.argv[1]), int(sys.argv[2])
seen = set()
last = {}
dups = 0
for line in sys.stdin:
    part, val = line.split()
    prod, seq = val[1:].split("-")
    key = (int(prod), int(seq))
    if key in seen:
        dups += 1
        continue
    seen.add(key)
    k = (part, prod)
    if k in last and last[k] >= int(seq):
        sys.exit("order broken in partition %s for producer %s: %d after %d"
                 % (part, prod, int(seq), last[k]))
    last[k] = int(seq)
missing = nprod * per - len(seen)
if dups or missing:
    sys.exit("%d duplicates, %d missing" % (dups, missing))
print("%d messages, each once, in order per partition" % len(seen))
