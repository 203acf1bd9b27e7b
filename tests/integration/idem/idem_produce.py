#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Idempotent librdkafka producer for test_idempotence_impair.sh: N keyed
records "<n> <padding>" (997 keys, so every partition gets an increasing
subsequence), enable.idempotence=true, lz4. Unlike kcat it rides out
"all brokers down" while the broker restarts. Exits 0 when every record was
acknowledged without error; prints delivery errors otherwise.

usage: idem_produce.py BOOTSTRAP TOPIC N"""
import sys
import time

from confluent_kafka import KafkaException, Producer

boot, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = []
acked = [0]


def dr(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        acked[0] += 1


def on_error(err):
    # Transport errors while the broker restarts are expected; a fatal
    # one (idempotence state lost) ends the run.
    if err.fatal():
        print("FATAL: %s" % err, flush=True)
        errors.append("fatal: %s" % err)


p = Producer({"bootstrap.servers": boot, "enable.idempotence": True,
              "compression.type": "lz4", "linger.ms": 20,
              "batch.size": 1000000, "message.timeout.ms": 600000,
              "socket.timeout.ms": 10000, "error_cb": on_error,
              "queue.buffering.max.messages": 200000})
pad = b"x" * 80
t0 = time.time()
for i in range(n):
    while True:
        try:
            p.produce(topic, b"%d %s" % (i, pad), b"k%d" % (i % 997),
                      on_delivery=dr)
            break
        except BufferError:
            p.poll(0.05)
    if i % 1000 == 0:
        p.poll(0)
    if any(e.startswith("fatal") for e in errors):
        break
left = p.flush(600)
print("produced %d, acknowledged %d, %d errors, %d left, %.1f s"
      % (n, acked[0], len(errors), left, time.time() - t0), flush=True)
for e in errors[:5]:
    print("error: " + e)
sys.exit(0 if not errors and left == 0 and acked[0] == n else 1)
