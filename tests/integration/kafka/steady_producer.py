#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A well-behaved producer that keeps going while other connections misbehave
(test_kafka_badinput.sh).

  steady_producer.py BROKER TOPIC STOPFILE

Produces numbered messages with acks=all (confluent-kafka / librdkafka)
until STOPFILE exists, then flushes and prints
"delivered N failed F errors E seconds S": F delivery failures and E client
errors (disconnects included) must both be 0.
"""
import os
import sys
import time

from confluent_kafka import Producer

B, TOPIC, STOP = sys.argv[1:4]
st = {"ok": 0, "failed": 0, "errors": []}


def dr(err, msg):
    if err:
        st["failed"] += 1
    else:
        st["ok"] += 1


def on_error(err):
    st["errors"].append(str(err))


p = Producer({"bootstrap.servers": B, "acks": "all", "linger.ms": 5,
              "error_cb": on_error, "log_level": 3})
t0 = time.time()
i = 0
while not os.path.exists(STOP):
    try:
        p.produce(TOPIC, value=b"steady-%d" % i, on_delivery=dr)
        i += 1
    except BufferError:
        pass
    p.poll(0.0005 if i % 100 else 0.005)
left = p.flush(30)
dt = time.time() - t0
print(f"delivered {st['ok']} failed {st['failed'] + left} errors "
      f"{len(st['errors'])} seconds {dt:.1f} {st['errors'][:3]}")
