#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One transactional producer across a SIGKILL of the broker (issue 17).

ck_seq_restart.py BOOTSTRAP GOFILE: commit 3 transactions of 10 records
  to partition 0, print COMMITTED, wait for GOFILE (the broker killed and
  restarted meanwhile), then commit 3 more with the SAME producer: its
  sequence goes on after the markers, so the restarted broker, whose
  producer state was replayed from the log, must take them in sequence
  (no OUT_OF_ORDER_SEQUENCE_NUMBER, no fatal error). read_committed then
  sees the 60 records once each, in order. Prints RESULT ok."""
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, \
    TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

B, GO = sys.argv[1], sys.argv[2]
T, PER = "txseq", 10


def die(msg):
    print("RESULT fail " + msg, flush=True)
    sys.exit(1)


def txn(p, k):
    p.begin_transaction()
    for i in range(PER):
        p.produce(T, value=b"v-%d-%d" % (k, i), partition=0)
    p.flush(30)
    p.commit_transaction(60)


adm = AdminClient({"bootstrap.servers": B})
for _, f in adm.create_topics([NewTopic(T, 1, 1)]).items():
    f.result(30)
p = Producer({"bootstrap.servers": B, "transactional.id": "seq-restart",
              "transaction.timeout.ms": 60000, "linger.ms": 5})
p.init_transactions(60)
for k in range(3):
    txn(p, k)
print("COMMITTED", flush=True)
deadline = time.time() + 90
while not os.path.exists(GO):
    if time.time() > deadline:
        die("no go")
    time.sleep(0.1)
try:
    for k in range(3, 6):
        txn(p, k)
except KafkaException as e:
    die("after the restart: %s" % e.args[0].str())
c = Consumer({"bootstrap.servers": B, "group.id": "seq-restart",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "isolation.level": "read_committed"})
c.assign([TopicPartition(T, 0, 0)])
got = []
deadline = time.time() + 30
while len(got) < 6 * PER and time.time() < deadline:
    got += [m.value() for m in c.consume(100, 1.0) if not m.error()]
c.close()
want = [b"v-%d-%d" % (k, i) for k in range(6) for i in range(PER)]
if got != want:
    die("read_committed: %d records, expected the %d in order"
        % (len(got), len(want)))
print("RESULT ok", flush=True)
