#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""confluent-kafka client for test_log_diskfull.sh.

  diskfull_client.py BROKER create TOPIC PARTITIONS
  diskfull_client.py BROKER produce TOPIC FIRST COUNT SIZE ACKFILE TIMEOUT_S [RATE]
  diskfull_client.py BROKER verify TOPIC ACKFILE

produce: an idempotent producer (acks=all) sends COUNT messages with ids
FIRST.. (SIZE bytes each, the id inside) and appends "id partition offset"
to ACKFILE for each message whose delivery report came back WITHOUT an
error, and only for those. Messages still unacknowledged after TIMEOUT_S
seconds fail (message.timeout.ms) and are not recorded. RATE: messages
per second (default: as fast as it can). Prints
"acked=N failed=M errors={name: count}".

verify: reads every partition from the start to its end and checks that
each acknowledged id is at the offset it was acknowledged with. Prints
"acked=N missing=M moved=K reused=R" and exits 1 unless all three are 0
(reused: two acknowledgements for one offset).
"""
import collections
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

B = sys.argv[1]
CMD = sys.argv[2]


def create(topic, nparts):
    a = AdminClient({"bootstrap.servers": B})
    f = a.create_topics([NewTopic(topic, nparts, 1)], operation_timeout=10)
    for _, fut in f.items():
        fut.result(timeout=30)


def produce(topic, first, count, size, ackfile, timeout_s, rate=0):
    acked = 0
    errors = collections.Counter()
    out = open(ackfile, "a")

    def cb(err, msg):
        nonlocal acked
        if err is not None:
            errors[err.name()] += 1
            return
        out.write(f"{msg.key().decode()} {msg.partition()} {msg.offset()}\n")
        acked += 1

    p = Producer({
        "bootstrap.servers": B,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "batch.size": 131072,       # under the broker's message.max.bytes
        "message.max.bytes": 200000,
        "message.timeout.ms": int(timeout_s * 1000),
        "retry.backoff.ms": 100,
        "queue.buffering.max.messages": 200000,
        "queue.buffering.max.kbytes": 1048576,
    })
    t0 = time.time()
    for i in range(first, first + count):
        if rate > 0:
            while time.time() < t0 + (i - first) / rate:
                p.poll(0.01)
        key = str(i).encode()
        val = (b"%010d|" % i) * (size // 11 + 1)
        while True:
            try:
                p.produce(topic, val[:size], key, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(timeout_s + 30)
    out.close()
    print(f"acked={acked} failed={sum(errors.values())} "
          f"unfinished={left} errors={dict(errors)}", flush=True)
    return 0 if left == 0 else 1


def verify(topic, ackfile):
    want = {}
    dup = 0
    for line in open(ackfile):
        i, part, off = line.split()
        if (int(part), int(off)) in want:
            dup += 1
            print(f"offset {part}/{off} acknowledged twice: ids "
                  f"{want[(int(part), int(off))]} and {i}", file=sys.stderr)
        want[(int(part), int(off))] = i
    c = Consumer({"bootstrap.servers": B, "group.id": "diskfull-verify",
                  "enable.auto.commit": False,
                  "fetch.message.max.bytes": 1048576})
    md = c.list_topics(topic, timeout=10).topics[topic]
    got = {}
    for part in md.partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, part),
                                         timeout=10)
        if hi <= lo:
            continue
        c.assign([TopicPartition(topic, part, OFFSET_BEGINNING)])
        deadline = time.time() + 60
        nxt = lo
        while nxt < hi and time.time() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error() is not None:
                raise KafkaException(m.error())
            got[(part, m.offset())] = m.key().decode()
            val = m.value()
            if val[:10] != b"%010d" % int(m.key()):
                print(f"bad value at {part}/{m.offset()}", file=sys.stderr)
                return 1
            nxt = m.offset() + 1
        c.unassign()
    c.close()
    missing = sum(1 for k in want if k not in got)
    moved = sum(1 for k, v in want.items() if k in got and got[k] != v)
    print(f"acked={len(want) + dup} missing={missing} moved={moved} "
          f"reused={dup}", flush=True)
    return 0 if missing == 0 and moved == 0 and dup == 0 else 1


if CMD == "create":
    create(sys.argv[3], int(sys.argv[4]))
    sys.exit(0)
if CMD == "produce":
    sys.exit(produce(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                     int(sys.argv[6]), sys.argv[7], float(sys.argv[8]),
                     float(sys.argv[9]) if len(sys.argv) > 9 else 0))
if CMD == "verify":
    sys.exit(verify(sys.argv[3], sys.argv[4]))
print(f"unknown command {CMD}", file=sys.stderr)
sys.exit(2)
