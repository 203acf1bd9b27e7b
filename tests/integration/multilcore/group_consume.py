#!/usr/bin/python3
"""Four confluent-kafka consumers in one group read a topic until `total`
distinct messages were seen, committing synchronously after every batch and
on every revocation, so a rebalance never hands out a message twice.
Prints '<partition> <value>' lines for check.py."""
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

boot, topic, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
seen = []
count = [0]
stop = threading.Event()


def member(i):
    c = Consumer({"bootstrap.servers": boot, "group.id": "mlc-group",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 10000})
    done = {}

    def commit():
        offs = [TopicPartition(topic, p, o) for p, o in done.items()]
        if offs:
            c.commit(offsets=offs, asynchronous=False)

    def on_revoke(cons, parts):
        commit()
        for tp in parts:
            done.pop(tp.partition, None)

    c.subscribe([topic], on_revoke=on_revoke)
    local = []
    while not stop.is_set():
        msgs = c.consume(num_messages=2000, timeout=0.5)
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(str(m.error()))
                continue
            local.append("%d %s" % (m.partition(), m.value().decode()))
            done[m.partition()] = m.offset() + 1
        if msgs:
            commit()
            with lock:
                seen.extend(local)
                count[0] += len(local)
                if count[0] >= total:
                    stop.set()
            local = []
    c.close()


threads = [threading.Thread(target=member, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
deadline = time.time() + 300
while not stop.is_set() and time.time() < deadline:
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()
sys.stdout.write("\n".join(seen) + "\n")
sys.stderr.write("%d messages consumed by 4 group members\n" % len(seen))
