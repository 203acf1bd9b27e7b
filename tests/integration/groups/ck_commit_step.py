#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One step of a consumer that survives broker restarts.

  ck_commit_step.py BOOTSTRAP TOPIC GROUP N WORKDIR

Reads WORKDIR/committed.json (the offsets the previous step saw
acknowledged, if any) and checks that the broker still has them
(OffsetFetch). Then joins GROUP, consumes N messages (or up to the end),
checks that each partition resumed exactly at its committed offset, commits
synchronously, records the acknowledged offsets in WORKDIR/committed.json
and the messages in WORKDIR/seen.txt, and exits at once, without leaving
the group: the broker is stopped or killed right after. Values must be
"<partition>:<offset>".
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def main():
    bootstrap, topic, group, n, workdir = sys.argv[1:6]
    n = int(n)
    path = os.path.join(workdir, "committed.json")
    before = {}
    if os.path.exists(path):
        with open(path) as f:
            before = {int(k): v for k, v in json.load(f).items()}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000,
                  "max.partition.fetch.bytes": 1024,
                  "fetch.max.bytes": 1024, "message.max.bytes": 1024})
    if before:
        got = c.committed([TopicPartition(topic, p) for p in before], 10)
        now = {tp.partition: tp.offset for tp in got}
        if now != before:
            sys.exit("FAIL: committed offsets after the restart %s, "
                     "acknowledged before %s" % (now, before))
        print("committed offsets kept: %s" % now)
    c.subscribe([topic])
    seen = []
    first = {}
    t0 = time.time()
    while len(seen) < n and time.time() - t0 < 60:
        for m in c.consume(num_messages=min(100, n - len(seen)), timeout=0.5):
            if m.error():
                continue
            first.setdefault(m.partition(), m.offset())
            v = m.value().decode()
            if v != "%d:%d" % (m.partition(), m.offset()):
                sys.exit("FAIL: %d/%d holds %r" % (m.partition(), m.offset(),
                                                   v))
            seen.append(v)
    for p, off in first.items():
        if p in before and off != before[p]:
            sys.exit("FAIL: partition %d resumed at %d, committed %d" %
                     (p, off, before[p]))
    res = c.commit(asynchronous=False)
    after = dict(before)
    for tp in res:
        if tp.error is not None:
            sys.exit("FAIL: commit of %d: %s" % (tp.partition, tp.error))
        if tp.offset >= 0:   # partitions without a position stay out
            after[tp.partition] = tp.offset
    with open(path + ".tmp", "w") as f:
        json.dump(after, f)
    os.rename(path + ".tmp", path)
    with open(os.path.join(workdir, "seen.txt"), "a") as f:
        f.write("".join(v + "\n" for v in seen))
    print("consumed %d from %s, committed %s" % (len(seen), first, after))
    sys.stdout.flush()
    # No close: the member stays in the group as the broker goes down.
    os._exit(0)


if __name__ == "__main__":
    main()
