#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A consume-transform-produce loop with confluent-kafka: read IN (plain
records) in group ctp, write each record transformed to OUT and the
group's offsets with send_offsets_to_transaction in one transaction; every
third transaction is aborted and the consumer rewound to the committed
offsets. OUT read_committed must hold every input exactly once, the group
offsets must be the end of IN, and offsets sent in an open transaction
must not be visible before its commit.

usage: ck_ctp.py BOOTSTRAP"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

B = sys.argv[1]
IN, OUT, NPART, N = "ctp-in", "ctp-out", 2, 600


def die(msg):
    print("ERROR " + msg)
    sys.exit(1)


adm = AdminClient({"bootstrap.servers": B})
for f in adm.create_topics([NewTopic(t, num_partitions=NPART,
                                     replication_factor=1)
                            for t in (IN, OUT)]).values():
    f.result(30)
plain = Producer({"bootstrap.servers": B})
for i in range(N):
    plain.produce(IN, value=b"in-%d" % i, partition=i % NPART)
plain.flush(30)

c = Consumer({"bootstrap.servers": B, "group.id": "ctp",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "isolation.level": "read_committed"})
c.assign([TopicPartition(IN, i, 0) for i in range(NPART)])
p = Producer({"bootstrap.servers": B, "transactional.id": "ctp-1"})
p.init_transactions(30)
peek = Consumer({"bootstrap.servers": B, "group.id": "ctp",
                 "enable.auto.commit": False})
done, n_txn, aborted, checked = 0, 0, 0, False
deadline = time.time() + 60
while done < N and time.time() < deadline:
    msgs = [m for m in c.consume(50, 1.0) if not m.error()]
    if not msgs:
        continue
    p.begin_transaction()
    for m in msgs:
        p.produce(OUT, value=b"out-" + m.value()[3:],
                  partition=m.partition())
    pos = c.position(c.assignment())
    p.send_offsets_to_transaction(pos, c.consumer_group_metadata(), 30)
    n_txn += 1
    if not checked:
        # Sent but not committed: the group still shows no offsets.
        p.flush(30)
        seen = peek.committed([TopicPartition(IN, i) for i in
                               range(NPART)], 10)
        if any(tp.offset >= 0 for tp in seen):
            die("offsets of an open transaction visible: %s" % seen)
        checked = True
    if n_txn % 3 == 0:
        p.abort_transaction(30)
        aborted += 1
        # Rewind to what the group committed.
        for tp in c.committed(c.assignment(), 10):
            c.seek(TopicPartition(IN, tp.partition,
                                  tp.offset if tp.offset >= 0 else 0))
        continue
    p.commit_transaction(30)
    done += len(msgs)
print("%d transactions (%d aborted), %d records through" %
      (n_txn, aborted, done))
if done != N:
    die("only %d of %d records went through" % (done, N))
got = peek.committed([TopicPartition(IN, i) for i in range(NPART)], 10)
if [tp.offset for tp in got] != [N // NPART] * NPART:
    die("group offsets %s, want %d each" % ([tp.offset for tp in got],
                                           N // NPART))
peek.close()
c.close()

r = Consumer({"bootstrap.servers": B, "group.id": "ctp-check",
              "auto.offset.reset": "earliest",
              "enable.auto.commit": False,
              "isolation.level": "read_committed"})
r.assign([TopicPartition(OUT, i, 0) for i in range(NPART)])
vals = []
deadline = time.time() + 20
while len(vals) < N and time.time() < deadline:
    vals += [m.value() for m in r.consume(500, 1.0) if not m.error()]
vals += [m.value() for m in r.consume(500, 1.5) if not m.error()]
r.close()
want = sorted(b"out-%d" % i for i in range(N))
if sorted(vals) != want:
    dup = len(vals) - len(set(vals))
    die("OUT read_committed: %d records (%d duplicates), want %d" %
        (len(vals), dup, N))
print("OUT read_committed: each of the %d inputs exactly once; group "
      "offsets at the end of IN" % N)
print("RESULT ok")
