#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Traffic for the console test (confluent-kafka).

    console_client.py BOOTSTRAP setup TOPIC:PARTS... GROUP
        create the topics, write 100 messages to every partition, consume
        half of the first topic's in GROUP and commit (so it has lag)
    console_client.py BOOTSTRAP commit GROUP TOPIC OFFSET
        commit OFFSET on partition 0 of TOPIC for GROUP (any id)
    console_client.py BOOTSTRAP produce TOPIC SECONDS
        produce to TOPIC for SECONDS at about 500 messages a second
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def setup(bs, args):
    group = args[-1]
    topics = [(t.split(":")[0], int(t.split(":")[1])) for t in args[:-1]]
    admin = AdminClient({"bootstrap.servers": bs})
    fs = admin.create_topics([NewTopic(t, n, 1) for t, n in topics],
                             operation_timeout=10)
    for t, f in fs.items():
        f.result(20)
    p = Producer({"bootstrap.servers": bs, "acks": "all", "linger.ms": 5})
    for t, n in topics:
        for part in range(n):
            for i in range(100):
                p.produce(t, b"m%d" % i, partition=part)
    if p.flush(30) != 0:
        sys.exit("setup: messages left unsent")
    first, nparts = topics[0]
    c = Consumer({"bootstrap.servers": bs, "group.id": group,
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(first, part, 0) for part in range(nparts)])
    c.commit(offsets=[TopicPartition(first, part, 50)
                      for part in range(nparts)], asynchronous=False)
    c.close()
    print("setup: %s, group %s committed offset 50 on %s" %
          (", ".join("%s (%d partitions)" % x for x in topics), group, first))


def commit(bs, group, topic, offset):
    c = Consumer({"bootstrap.servers": bs, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, int(offset))],
             asynchronous=False)
    c.close()


def produce(bs, topic, secs):
    p = Producer({"bootstrap.servers": bs, "acks": "all", "linger.ms": 5})
    end, n = time.time() + float(secs), 0
    while time.time() < end:
        for _ in range(50):
            p.produce(topic, b"x" * 200)
            n += 1
        p.poll(0)
        time.sleep(0.1)
    p.flush(20)
    print("produce: %d messages to %s" % (n, topic))


if __name__ == "__main__":
    bs, cmd = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        setup(bs, sys.argv[3:])
    elif cmd == "commit":
        commit(bs, sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "produce":
        produce(bs, sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)
