#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""SIGKILL of the broker mid-transaction, in two phases.

ck_kill.py BOOTSTRAP open: commit a transaction of "keep" records, then
  open one with "lost" records over both partitions (flushed), print OPEN
  and wait to be killed with the broker.
ck_kill.py BOOTSTRAP check: after the restart: read_committed reaches the
  end without getting stuck and sees the keep records only; the same
  transactional id initializes again and commits "after" records, which
  read_committed sees after the keep ones; read_uncommitted sees all."""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

B, PHASE = sys.argv[1], sys.argv[2]
T, NPART, PER = "kill", 2, 25


def die(msg):
    print("ERROR " + msg)
    sys.exit(1)


def producer():
    p = Producer({"bootstrap.servers": B, "transactional.id": "kill-1",
                  "transaction.timeout.ms": 60000})
    p.init_transactions(60)
    return p


def txn(p, tag, commit):
    p.begin_transaction()
    for i in range(PER):
        for part in range(NPART):
            p.produce(T, value=b"%s-%d-%d" % (tag, part, i), partition=part)
    p.flush(30)
    if commit:
        p.commit_transaction(30)


def read(isolation, n):
    c = Consumer({"bootstrap.servers": B, "group.id": "k-" + isolation,
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": False,
                  "isolation.level": isolation})
    c.assign([TopicPartition(T, i, 0) for i in range(NPART)])
    got = []
    deadline = time.time() + 20
    while len(got) < n and time.time() < deadline:
        got += [m.value() for m in c.consume(500, 1.0) if not m.error()]
    got += [m.value() for m in c.consume(500, 1.5) if not m.error()]
    c.close()
    return got


if PHASE == "open":
    adm = AdminClient({"bootstrap.servers": B})
    for f in adm.create_topics([NewTopic(T, num_partitions=NPART,
                                         replication_factor=1)]).values():
        f.result(30)
    p = producer()
    txn(p, b"keep", True)
    txn(p, b"lost", False)
    print("OPEN", flush=True)
    time.sleep(600)
    sys.exit(0)

keep = sorted(b"keep-%d-%d" % (part, i) for part in range(NPART)
              for i in range(PER))
t0 = time.time()
got = read("read_committed", len(keep))
if sorted(got) != keep:
    die("read_committed after the restart: %d records (%d lost ones), "
        "want the %d keep records" % (len(got),
                                      sum(g.startswith(b"lost") for g in got),
                                      len(keep)))
print("read_committed after restart: the %d committed records, not stuck "
      "(%.1f s)" % (len(keep), time.time() - t0))
p = producer()
txn(p, b"after", True)
after = sorted(b"after-%d-%d" % (part, i) for part in range(NPART)
               for i in range(PER))
got = read("read_committed", 2 * len(keep))
if sorted(got) != sorted(keep + after):
    die("read_committed with a new transaction: %d records, want %d"
        % (len(got), 2 * len(keep)))
allv = read("read_uncommitted", 3 * len(keep))
if sum(v.startswith(b"lost") for v in allv) != len(keep):
    die("read_uncommitted: %d lost records, want %d (written, aborted)"
        % (sum(v.startswith(b"lost") for v in allv), len(keep)))
print("same transactional id commits again; the aborted records stay "
      "hidden (read_uncommitted sees them: written, then aborted)")
print("RESULT ok")
