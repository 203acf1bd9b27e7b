#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions with confluent-kafka (librdkafka): commit and abort
interleaved over several partitions; read_committed sees exactly the
committed records in order, read_uncommitted sees all; an open transaction
holds read_committed back (LSO) until it commits.

usage: ck_txn.py BOOTSTRAP TOPIC"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

B, TOPIC = sys.argv[1], sys.argv[2]
NPART = 3
PER = 40       # records per partition per transaction


def die(msg):
    print("ERROR " + msg)
    sys.exit(1)


adm = AdminClient({"bootstrap.servers": B})
fs = adm.create_topics([NewTopic(TOPIC, num_partitions=NPART,
                                 replication_factor=1)])
for f in fs.values():
    f.result(30)

p = Producer({"bootstrap.servers": B, "transactional.id": "ck-txn-1",
              "transaction.timeout.ms": 60000, "linger.ms": 5})
t0 = time.time()
p.init_transactions(30)
print("init_transactions %.2f s" % (time.time() - t0))

committed = {i: [] for i in range(NPART)}
everything = {i: [] for i in range(NPART)}
# Five transactions: commit, abort, commit, abort, commit; a few
# non-transactional records from another producer in between.
plain = Producer({"bootstrap.servers": B})
for n, commit in enumerate([True, False, True, False, True]):
    p.begin_transaction()
    for i in range(PER):
        for part in range(NPART):
            v = ("t%d-%s-%d-%d" % (n, "c" if commit else "a", part, i))
            p.produce(TOPIC, value=v.encode(), partition=part)
            everything[part].append(v)
            if commit:
                committed[part].append(v)
    p.flush(30)
    v = "plain-%d" % n
    plain.produce(TOPIC, value=v.encode(), partition=n % NPART)
    plain.flush(30)
    everything[n % NPART].append(v)
    committed[n % NPART].append(v)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)
print("5 transactions done (3 commit, 2 abort)")


def consume(isolation, want):
    c = Consumer({"bootstrap.servers": B, "group.id": "g-" + isolation,
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": False,
                  "isolation.level": isolation})
    c.assign([TopicPartition(TOPIC, i, 0) for i in range(NPART)])
    got = {i: [] for i in range(NPART)}
    total = sum(len(v) for v in want.values())
    deadline = time.time() + 30
    n = 0
    while n < total and time.time() < deadline:
        for m in c.consume(500, 1.0):
            if m.error():
                die("consume: %s" % m.error())
            got[m.partition()].append(m.value().decode())
            n += 1
    # nothing more arrives
    for m in c.consume(500, 1.5):
        if not m.error():
            got[m.partition()].append(m.value().decode())
    c.close()
    return got


got = consume("read_committed", committed)
if got != committed:
    for part in range(NPART):
        if got[part] != committed[part]:
            extra = [x for x in got[part] if x not in committed[part]]
            miss = [x for x in committed[part] if x not in got[part]]
            die("read_committed partition %d: %d records, want %d; "
                "extra %s missing %s" % (part, len(got[part]),
                                         len(committed[part]), extra[:3],
                                         miss[:3]))
print("read_committed: exactly the %d committed records, in order"
      % sum(len(v) for v in committed.values()))
got = consume("read_uncommitted", everything)
if got != everything:
    die("read_uncommitted: %s records, want %s" %
        ([len(got[i]) for i in range(NPART)],
         [len(everything[i]) for i in range(NPART)]))
print("read_uncommitted: all %d records" %
      sum(len(v) for v in everything.values()))

# An open transaction holds read_committed back at the LSO.
c = Consumer({"bootstrap.servers": B, "group.id": "g-lso",
              "enable.auto.commit": False,
              "isolation.level": "read_committed"})
tp = TopicPartition(TOPIC, 0)
lo, hi = c.get_watermark_offsets(tp, 10)
p.begin_transaction()
p.produce(TOPIC, value=b"open-0", partition=0)
p.flush(30)
plain.produce(TOPIC, value=b"after-open", partition=0)
plain.flush(30)
c.assign([TopicPartition(TOPIC, 0, hi)])
early = [m.value() for m in c.consume(10, 2.0) if not m.error()]
if early:
    die("read_committed read %s past the LSO of an open transaction"
        % early)
# ListOffsets for read_committed answers the LSO (librdkafka's high
# watermark query uses the consumer's isolation level).
lso = c.get_watermark_offsets(tp, 10, cached=False)[1]
if lso != hi:
    die("read_committed high offset %d while open, want the LSO %d"
        % (lso, hi))
p.commit_transaction(30)
late = []
deadline = time.time() + 10
while len(late) < 2 and time.time() < deadline:
    late += [m.value() for m in c.consume(10, 1.0) if not m.error()]
if late != [b"open-0", b"after-open"]:
    die("after the commit read_committed got %s" % late)
c.close()
print("open transaction held read_committed at the LSO %d; released on "
      "commit" % hi)
print("RESULT ok")
