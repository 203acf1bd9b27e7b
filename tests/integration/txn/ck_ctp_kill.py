#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Exactly-once consume-transform-produce across SIGKILLs of the broker
and of the client (confluent-kafka): IN holds N plain records; a loop
(group ctpk, transactional id ctpk-1) copies them to OUT 20 at a time,
each batch with its offsets in one transaction.

ck_ctp_kill.py BOOTSTRAP seed    create IN and OUT, write the N inputs
ck_ctp_kill.py BOOTSTRAP run     the loop; PROGRESS after each commit,
                                 until IN is consumed (or killed)
ck_ctp_kill.py BOOTSTRAP check   OUT read_committed holds each input
                                 exactly once; the group is at IN's end"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

B, MODE = sys.argv[1], sys.argv[2]
IN, OUT, NPART, N = "ctpk-in", "ctpk-out", 2, 2000


def die(msg):
    print("ERROR " + msg, flush=True)
    sys.exit(1)


if MODE == "seed":
    adm = AdminClient({"bootstrap.servers": B})
    for f in adm.create_topics([NewTopic(t, num_partitions=NPART,
                                         replication_factor=1)
                                for t in (IN, OUT)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": B})
    for i in range(N):
        p.produce(IN, value=b"%d" % i, partition=i % NPART)
    p.flush(30)
    print("RESULT ok")
    sys.exit(0)

if MODE == "run":
    c = Consumer({"bootstrap.servers": B, "group.id": "ctpk",
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    c.assign([TopicPartition(IN, i) for i in range(NPART)])
    p = Producer({"bootstrap.servers": B, "transactional.id": "ctpk-1"})
    p.init_transactions(60)
    deadline = time.time() + 100
    while time.time() < deadline:
        msgs = [m for m in c.consume(20, 1.0) if not m.error()]
        if not msgs:
            ends = [c.get_watermark_offsets(TopicPartition(IN, i))[1]
                    for i in range(NPART)]
            pos = [tp.offset for tp in
                   c.position([TopicPartition(IN, i) for i in
                               range(NPART)])]
            if pos == ends:
                break
            continue
        p.begin_transaction()
        for m in msgs:
            p.produce(OUT, value=b"out-" + m.value(),
                      partition=m.partition())
        p.send_offsets_to_transaction(c.position(c.assignment()),
                                      c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        print("PROGRESS %d" % len(msgs), flush=True)
        time.sleep(0.01)
    print("RESULT ok", flush=True)
    sys.exit(0)

# check
r = Consumer({"bootstrap.servers": B, "group.id": "ctpk-check",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "isolation.level": "read_committed"})
r.assign([TopicPartition(OUT, i, 0) for i in range(NPART)])
vals = []
deadline = time.time() + 30
while len(vals) < N and time.time() < deadline:
    vals += [m.value() for m in r.consume(500, 1.0) if not m.error()]
vals += [m.value() for m in r.consume(500, 1.5) if not m.error()]
r.close()
if sorted(vals) != sorted(b"out-%d" % i for i in range(N)):
    die("OUT read_committed: %d records, %d distinct, want each of %d once"
        % (len(vals), len(set(vals)), N))
peek = Consumer({"bootstrap.servers": B, "group.id": "ctpk"})
got = [tp.offset for tp in
       peek.committed([TopicPartition(IN, i) for i in range(NPART)], 10)]
peek.close()
if got != [N // NPART] * NPART:
    die("group ctpk at %s, want %d each" % (got, N // NPART))
print("OUT read_committed: each of the %d inputs exactly once; group ctpk "
      "at the end of IN" % N)
print("RESULT ok")
