#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""confluent-kafka against a compacted FluxMQ topic (test_compaction.sh).

  compaction_client.py BROKER create TOPIC
  compaction_client.py BROKER policy TOPIC delete|compact   AlterConfigs
  compaction_client.py BROKER produce TOPIC ROUNDS KEYS LOG [TOMBMOD]
      ROUNDS x KEYS keyed records (value "r<round>-<key>-<pad>"); in the
      last round every key i with i % TOMBMOD == 3 gets a tombstone; then
      waits past segment.ms and writes one "roll" record so the keyed
      data is in closed segments. Appends "offset key value|-" per
      acknowledged record to LOG.
  compaction_client.py BROKER exact TOPIC LOG      exactly the last record
      per key, at its offset (the roll records aside)
  compaction_client.py BROKER valid TOPIC LOG      every record read is the
      one written at its offset, offsets increase, every key's last
      record is there (compacted or not)
  compaction_client.py BROKER readers TOPIC LOG SECS   read the whole topic
      again and again for SECS seconds; each pass must be valid (above)

The consumer only assign()s partition 0 from the beginning and never
commits.
"""
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

B = sys.argv[1]
CMD = sys.argv[2]
TOPIC = sys.argv[3]
PAD = "x" * 40


def fail(msg):
    print(f"FAIL: compaction: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def cfg(policy):
    return {"cleanup.policy": policy, "segment.bytes": "16384",
            "segment.ms": "1000", "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "86400000"}


def create():
    a = AdminClient({"bootstrap.servers": B})
    for t, f in a.create_topics([NewTopic(TOPIC, 1, 1,
                                          config=cfg("compact"))]).items():
        f.result(timeout=30)


def policy(p):
    """AlterConfigs (whole set): the cleaner leaves a delete topic alone."""
    a = AdminClient({"bootstrap.servers": B})
    res = ConfigResource("topic", TOPIC, set_config=cfg(p))
    for r, f in a.alter_configs([res]).items():
        f.result(timeout=30)
    got = a.describe_configs([ConfigResource("topic", TOPIC)])
    for r, f in got.items():
        v = f.result(timeout=30)["cleanup.policy"].value
        if v != p:
            fail(f"cleanup.policy is {v} after setting {p}")


def produce(rounds, keys, log, tombmod):
    p = Producer({"bootstrap.servers": B, "acks": "all",
                  "linger.ms": 2, "batch.num.messages": 50,
                  "enable.idempotence": True})
    out = []

    def dr(err, m):
        if err is not None:
            fail(f"delivery: {err}")
        v = m.value()
        out.append(f"{m.offset()} {m.key().decode()} "
                   f"{'-' if v is None else v.decode()}\n")

    def send(k, v):
        while True:
            try:
                p.produce(TOPIC, key=k, value=v, on_delivery=dr)
                return
            except BufferError:
                p.poll(0.05)

    for r in range(rounds):
        for i in range(keys):
            v = f"r{r}-k{i}-{PAD}"
            if r == rounds - 1 and tombmod and i % tombmod == 3:
                v = None
            send(f"k{i}", v)
        p.poll(0)
    if p.flush(60) != 0:
        fail("produce: not everything acknowledged")
    time.sleep(1.3)                 # past segment.ms: the next append rolls
    send("roll", f"roll-{time.time()}")
    if p.flush(30) != 0:
        fail("produce: roll record not acknowledged")
    with open(log, "a") as f:
        f.writelines(out)


def load(log):
    written = {}
    for line in open(log):
        o, k, v = line.rstrip("\n").split(" ", 2)
        written[int(o)] = (k, None if v == "-" else v)
    last = {}
    for o in sorted(written):
        last[written[o][0]] = o
    return written, last


def read_all():
    c = Consumer({"bootstrap.servers": B, "group.id": "compaction-reader",
                  "enable.auto.commit": False,
                  "enable.partition.eof": True})
    lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=30)
    c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
    got = []
    deadline = time.time() + 60
    while time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if m.offset() >= hi:
                    break
                continue
            fail(f"consumer error: {m.error()}")
        v = m.value()
        got.append((m.offset(), m.key().decode(),
                    None if v is None else v.decode()))
    else:
        fail(f"did not reach the high watermark {hi}")
    c.close()
    return got, hi


def check_valid(got, written, last, what):
    prev = -1
    seen = set()
    for o, k, v in got:
        if o <= prev:
            fail(f"{what}: offset {o} after {prev}")
        prev = o
        if o not in written:
            fail(f"{what}: offset {o} was never acknowledged")
        if written[o] != (k, v):
            fail(f"{what}: offset {o} holds {k}={v}, written "
                 f"{written[o][0]}={written[o][1]}")
        seen.add(o)
    for k, o in last.items():
        if o not in seen:
            fail(f"{what}: the last record of {k} (offset {o}) is missing")


def main():
    if CMD == "create":
        create()
    elif CMD == "policy":
        policy(sys.argv[4])
    elif CMD == "produce":
        produce(int(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
                int(sys.argv[7]) if len(sys.argv) > 7 else 0)
    elif CMD in ("exact", "valid"):
        written, last = load(sys.argv[4])
        got, hi = read_all()
        check_valid(got, written, last, CMD)
        if CMD == "exact":
            keyed = [g for g in got if g[1] != "roll"]
            want = sorted(o for k, o in last.items() if k != "roll")
            if [g[0] for g in keyed] != want:
                extra = len(keyed) - len(want)
                print(f"not compacted yet: {len(keyed)} keyed records, "
                      f"want {len(want)} ({extra} more)", flush=True)
                sys.exit(3)
        print(f"{len(got)} records read up to {hi}", flush=True)
    elif CMD == "readers":
        written, last = load(sys.argv[4])
        end = time.time() + float(sys.argv[5])
        passes = 0
        sizes = []
        while time.time() < end or passes == 0:
            got, hi = read_all()
            check_valid(got, written, last, f"reader pass {passes}")
            sizes.append(len(got))
            passes += 1
        print(f"{passes} passes, records per pass {sizes}", flush=True)
    else:
        fail(f"unknown command {CMD}")


try:
    main()
except KafkaException as e:
    fail(f"{CMD}: {e}")
