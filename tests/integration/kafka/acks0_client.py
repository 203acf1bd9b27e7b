#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""acks=0 with one record per request from a real client.

confluent-kafka (librdkafka) produces N records with acks=0, linger.ms=0
and batch.num.messages=1, so every record travels in a Produce request of
its own and the broker never answers one. Then a consumer reads the
partition back: every record must be there exactly once, in order (acks=0
may lose data only when a connection fails, and none does here).

usage: acks0_client.py BOOTSTRAP N
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def main():
    bs, n = sys.argv[1], int(sys.argv[2])
    topic = "acks0-real-%d" % int(time.time() * 1000)
    admin = AdminClient({"bootstrap.servers": bs})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=20)

    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)

    p = Producer({"bootstrap.servers": bs, "acks": 0, "linger.ms": 0,
                  "batch.num.messages": 1,
                  "queue.buffering.max.messages": 1000000})
    t0 = time.time()
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=b"acks0-%08d" % i, partition=0,
                          on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.01)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(30)
    t1 = time.time()
    if left:
        fail("%d records still queued in the producer after 30 s" % left)
    if errors:
        fail("%d delivery errors, first: %s" % (len(errors), errors[0]))
    print("produced %d one-record requests with acks=0 in %.2f s "
          "(%.0f/s)" % (n, t1 - t0, n / (t1 - t0)), flush=True)

    c = Consumer({"bootstrap.servers": bs, "group.id": "g-" + topic,
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    tp = TopicPartition(topic, 0)
    # No answer says when the last request was appended: wait for the
    # high watermark (the broker has every byte once flush returned).
    deadline = time.time() + 10
    while True:
        lo, hi = c.get_watermark_offsets(tp, timeout=5)
        if hi >= n or time.time() > deadline:
            break
        time.sleep(0.05)
    print("high watermark %d, %.2f s after the producer's flush"
          % (hi, time.time() - t1), flush=True)
    if hi != n:
        fail("high watermark %d, want %d" % (hi, n))
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = time.time() + 60
    while got < n and time.time() < deadline:
        for m in c.consume(10000, timeout=1.0):
            if m.error() is not None:
                fail("consume error: %s" % m.error())
            want = b"acks0-%08d" % got
            if m.offset() != got or m.value() != want:
                fail("offset %d: got %r at offset %d, want %r"
                     % (got, m.value(), m.offset(), want))
            got += 1
    c.close()
    if got != n:
        fail("read back %d of %d records" % (got, n))
    print("read back all %d records, in order" % n, flush=True)


if __name__ == "__main__":
    main()
