#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""transaction.timeout.ms: a timeout above the broker's
transaction.max.timeout.ms is refused (INVALID_TRANSACTION_TIMEOUT); a
transaction left open past its timeout is aborted by the coordinator (its
producer fenced: the commit fails) and read_committed is not held back.

usage: ck_timeout.py BOOTSTRAP MAX_TIMEOUT_MS"""
import sys
import time

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

B, MAX = sys.argv[1], int(sys.argv[2])
T = "tmo"


def die(msg):
    print("ERROR " + msg)
    sys.exit(1)


adm = AdminClient({"bootstrap.servers": B})
for f in adm.create_topics([NewTopic(T, num_partitions=1,
                                     replication_factor=1)]).values():
    f.result(30)
p = Producer({"bootstrap.servers": B, "transactional.id": "tmo-big",
              "transaction.timeout.ms": MAX + 1000})
try:
    p.init_transactions(20)
    die("init_transactions accepted a timeout above the maximum")
except KafkaException as e:
    if e.args[0].code() != KafkaError.INVALID_TRANSACTION_TIMEOUT:
        die("init_transactions: %s, want INVALID_TRANSACTION_TIMEOUT" % e)
print("timeout above transaction.max.timeout.ms: INVALID_TRANSACTION_TIMEOUT")

p = Producer({"bootstrap.servers": B, "transactional.id": "tmo-1",
              "transaction.timeout.ms": 2000})
p.init_transactions(20)
p.begin_transaction()
for i in range(10):
    p.produce(T, value=b"tmo-%d" % i, partition=0)
p.flush(20)
time.sleep(4)
try:
    p.commit_transaction(20)
    die("a transaction past its timeout committed")
except KafkaException as e:
    print("commit after the timeout refused: %s" % e.args[0].name())
plain = Producer({"bootstrap.servers": B})
plain.produce(T, value=b"plain", partition=0)
plain.flush(20)
c = Consumer({"bootstrap.servers": B, "group.id": "tmo",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "isolation.level": "read_committed"})
c.assign([TopicPartition(T, 0, 0)])
got = []
deadline = time.time() + 15
while b"plain" not in got and time.time() < deadline:
    got += [m.value() for m in c.consume(100, 1.0) if not m.error()]
c.close()
if got != [b"plain"]:
    die("read_committed after the timeout abort: %s" % got)
print("timed-out transaction aborted; read_committed sees only the later "
      "record")
print("RESULT ok")
