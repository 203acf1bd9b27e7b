#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kafka-python group consumer: join, consume, commit, restart, resume.

  kp_resume.py BOOTSTRAP TOPIC GROUP FIRST TOTAL

Run 1 joins GROUP, consumes about FIRST messages of TOPIC, commits them
synchronously and closes. Run 2 (a new consumer in the same group) must
start on each partition exactly at the offset run 1 committed, and consume
the rest: TOTAL messages over both runs, none twice, none missing.
Message values are "<partition>:<offset>" as produced by the test.
"""
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def run(bootstrap, topic, group, limit, deadline_s):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      client_id="kp-" + group, auto_offset_reset="earliest",
                      enable_auto_commit=False, session_timeout_ms=10000,
                      heartbeat_interval_ms=1000, max_poll_records=200,
                      # small fetches: the runs interleave the partitions
                      # and stop in the middle of them
                      max_partition_fetch_bytes=1024, fetch_max_bytes=4096)
    got = []
    first = {}
    t0 = time.time()
    while len(got) < limit and time.time() - t0 < deadline_s:
        batch = c.poll(timeout_ms=500)
        for tp, msgs in batch.items():
            for m in msgs:
                first.setdefault(tp.partition, m.offset)
                got.append((tp.partition, m.offset, m.value.decode()))
        if batch:
            c.commit()   # synchronous
    parts = sorted(c.assignment(), key=lambda tp: tp.partition)
    committed = {tp.partition: c.committed(tp) for tp in parts}
    c.close(autocommit=False)
    return got, first, committed


def main():
    bootstrap, topic, group = sys.argv[1:4]
    first_n, total = int(sys.argv[4]), int(sys.argv[5])
    got1, _, committed = run(bootstrap, topic, group, first_n, 60)
    if len(got1) < first_n:
        sys.exit("run 1 consumed %d < %d" % (len(got1), first_n))
    print("run 1: %d messages, committed %s" % (len(got1), committed))
    got2, first2, _ = run(bootstrap, topic, group, total - len(got1), 60)
    print("run 2: %d messages, first offsets %s" % (len(got2), first2))
    for p, off in first2.items():
        if committed.get(p) is not None and off != committed[p]:
            sys.exit("partition %d: run 2 started at %d, committed %s" %
                     (p, off, committed[p]))
    per = total // len(committed) if committed else total
    if not any(c is not None and 0 < c < per for c in committed.values()):
        sys.exit("run 1 did not stop inside a partition: %s" % committed)
    seen = {}
    for p, o, v in got1 + got2:
        if v != "%d:%d" % (p, o):
            sys.exit("partition %d offset %d holds %r" % (p, o, v))
        seen[(p, o)] = seen.get((p, o), 0) + 1
    dups = [k for k, n in seen.items() if n > 1]
    if dups or len(seen) != total:
        sys.exit("%d distinct of %d, %d twice (e.g. %s)" %
                 (len(seen), total, len(dups), dups[:3]))
    print("kafka-python: %d + %d = %d messages, resumed at the committed "
          "offsets" % (len(got1), len(got2), total))


if __name__ == "__main__":
    main()
