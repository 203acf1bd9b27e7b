#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kafka-python (no transaction support: read_uncommitted, Fetch v4) reads
a topic holding transaction markers: the same records as a confluent-kafka
read_uncommitted consumer, no error. kafka-python 2.0.2 does not skip
control batches (its fetcher never looks at the control bit), so it also
returns each marker as a record (key: version 0 and type, value: version
0 and coordinator epoch), as it does against Apache Kafka: those must be
exactly the markers.

usage: kp_read.py BOOTSTRAP TOPIC NPART"""
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KTP

B, T, NP = sys.argv[1], sys.argv[2], int(sys.argv[3])


def die(msg):
    print("ERROR " + msg)
    sys.exit(1)


c = Consumer({"bootstrap.servers": B, "group.id": "kp-ref",
              "enable.auto.commit": False,
              "isolation.level": "read_uncommitted"})
c.assign([TopicPartition(T, i, 0) for i in range(NP)])
ref = []
deadline = time.time() + 10
while time.time() < deadline:
    ms = [m for m in c.consume(500, 0.5) if not m.error()]
    if not ms and ref:
        break
    ref += [(m.partition(), m.offset(), m.value()) for m in ms]
c.close()
k = KafkaConsumer(bootstrap_servers=B, enable_auto_commit=False,
                  consumer_timeout_ms=3000)
k.assign([KTP(T, i) for i in range(NP)])
k.seek_to_beginning()
got, markers = [], 0
for m in k:
    if m.key in (b"\0\0\0\0", b"\0\0\0\1") and \
            m.value == b"\0\0\0\0\0\0":
        markers += 1
    else:
        got.append((m.partition, m.offset, m.value))
k.close()
if sorted(got) != sorted(ref):
    die("kafka-python read %d records, confluent-kafka %d" %
        (len(got), len(ref)))
if markers == 0:
    die("no markers among kafka-python's records")
print("kafka-python reads the %d records of %s (and, as a kafka-python "
      "2.0.2 bug, its %d markers)" % (len(got), T, markers))
print("RESULT ok")
