#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Codec x client matrix against a running broker (test_compression_clients.sh).

For every topic compression.type (producer, uncompressed, gzip, snappy, lz4,
zstd) one topic is created. Every client produces the same kind of records
with every codec it supports into every topic; then each topic is read back
whole by librdkafka (confluent-kafka) and kafka-python and compared byte for
byte (key, value, order) with what was produced, and the batches stored on
disk are checked to carry the topic's codec (or, for compression.type=
producer, the codec each producer used).

usage: compress_matrix.py BOOTSTRAP DATA_DIR [--kafkajs NODE_SCRIPT]
"""
import json
import os
import struct
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
import kafka
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd

TARGETS = ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]
CODEC_ID = {"none": 0, "uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3,
            "zstd": 4}
N = 150          # records per (client, codec, topic)

BOOT = sys.argv[1]
DATA = sys.argv[2]
KAFKAJS = sys.argv[sys.argv.index("--kafkajs") + 1] \
    if "--kafkajs" in sys.argv else None

fails = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    fails.append(msg)


def records(tag):
    """N deterministic JSON-like records of 100 B - 1 KiB."""
    out = []
    for i in range(N):
        body = {"tag": tag, "i": i, "user": "u%05d" % (i * 7919 % 10007),
                "event": ["click", "view", "buy", "scroll"][i % 4],
                "pad": "x" * ((i * 37) % 900)}
        out.append((("%s-%d" % (tag, i)).encode(),
                    json.dumps(body, sort_keys=True).encode()))
    return out


def topic(t):
    return "cmx-" + t


def create_topics():
    a = AdminClient({"bootstrap.servers": BOOT})
    fs = a.create_topics([NewTopic(topic(t), 1, 1,
                                   config={"compression.type": t})
                          for t in TARGETS])
    for t, f in fs.items():
        f.result(30)
    time.sleep(0.5)


expected = {t: [] for t in TARGETS}     # (key, value) in produce order
stored_codecs = {t: [] for t in TARGETS}  # producer codecs per batch run


def note(codec, recs):
    for t in TARGETS:
        expected[t].extend(recs)
        stored_codecs[t].append(codec)


def produce_confluent(codec):
    tag = "ck-" + codec
    recs = records(tag)
    p = Producer({"bootstrap.servers": BOOT, "compression.type": codec,
                  "linger.ms": 50, "acks": "all",
                  "enable.idempotence": True})
    errs = []

    def dr(err, msg):
        if err is not None:
            errs.append(str(err))
    for t in TARGETS:
        for k, v in recs:
            p.produce(topic(t), v, k, partition=0, on_delivery=dr)
        p.flush(30)
    if errs or len(p) != 0:
        fail("confluent-kafka %s: %d errors (%s)" % (codec, len(errs),
                                                     errs[:3]))
    note(codec, recs)


def produce_kafka_python(codec):
    tag = "kp-" + codec
    recs = records(tag)
    p = kafka.KafkaProducer(bootstrap_servers=BOOT,
                            compression_type=None if codec == "none"
                            else codec, linger_ms=50, acks="all",
                            batch_size=1 << 20)
    futs = []
    for t in TARGETS:
        for k, v in recs:
            futs.append(p.send(topic(t), value=v, key=k, partition=0))
        p.flush(30)
    for f in futs:
        try:
            f.get(30)
        except Exception as e:   # noqa: BLE001 (report any client error)
            fail("kafka-python %s: %r" % (codec, e))
            break
    p.close(10)
    note(codec, recs)


def produce_kcat(codec):
    tag = "kc-" + codec
    recs = records(tag)
    data = b"".join(k + b"\t" + v + b"\n" for k, v in recs)
    for t in TARGETS:
        r = subprocess.run(["kcat", "-P", "-b", BOOT, "-t", topic(t), "-p",
                            "0", "-K", "\t", "-z", codec, "-X",
                            "linger.ms=50", "-X", "enable.idempotence=true"],
                           input=data, capture_output=True, timeout=60)
        if r.returncode != 0:
            fail("kcat -z %s -> %s: rc %d %s" % (codec, t, r.returncode,
                                                  r.stderr[-300:]))
    note(codec, recs)


def produce_kafkajs():
    tag = "kj-gzip"
    recs = records(tag)
    payload = json.dumps({"brokers": [BOOT],
                          "topics": [topic(t) for t in TARGETS],
                          "records": [[k.decode(), v.decode()]
                                      for k, v in recs]})
    r = subprocess.run(["node", KAFKAJS, "produce"], input=payload.encode(),
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        fail("kafkajs produce gzip: rc %d %s" % (r.returncode,
                                                  r.stderr[-500:]))
    note("gzip", recs)


def read_confluent(t):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "cmx-ck-" + t,
                  "enable.auto.commit": False, "check.crcs": True,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic(t), 0, 0)])
    out = []
    want = len(expected[t])
    deadline = time.time() + 60
    while len(out) < want and time.time() < deadline:
        for m in c.consume(1000, 1.0):
            if m.error():
                fail("confluent consume %s: %s" % (t, m.error()))
                return out
            out.append((m.key(), m.value()))
    c.close()
    return out


def read_kafka_python(t):
    c = kafka.KafkaConsumer(bootstrap_servers=BOOT, check_crcs=True,
                            enable_auto_commit=False,
                            consumer_timeout_ms=5000,
                            max_partition_fetch_bytes=4 << 20)
    tp = kafka.TopicPartition(topic(t), 0)
    c.assign([tp])
    c.seek(tp, 0)
    out = []
    want = len(expected[t])
    for m in c:
        out.append((m.key, m.value))
        if len(out) >= want:
            break
    c.close()
    return out


def read_kafkajs(t):
    payload = json.dumps({"brokers": [BOOT], "topic": topic(t),
                          "count": len(expected[t])})
    r = subprocess.run(["node", KAFKAJS, "consume"], input=payload.encode(),
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        fail("kafkajs consume %s: rc %d %s" % (t, r.returncode,
                                               r.stderr[-500:]))
        return []
    return [(k.encode(), v.encode()) for k, v in json.loads(r.stdout)]


def disk_codecs(t):
    """Codec of every batch stored for topic t, in offset order."""
    d = os.path.join(DATA, topic(t) + "-0")
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            buf = f.read()
        pos = 0
        while pos + 61 <= len(buf):
            blen = struct.unpack_from(">i", buf, pos + 8)[0]
            attrs = struct.unpack_from(">h", buf, pos + 21)[0]
            out.append(attrs & 7)
            pos += 12 + blen
    return out


def compare(who, t, got):
    want = expected[t]
    if got == want:
        print("PASS: %s reads %s back byte-exact (%d records)"
              % (who, topic(t), len(got)), flush=True)
        return
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            fail("%s %s: record %d differs: %r vs %r" % (who, t, i, g[:1],
                                                         w[:1]))
            return
    fail("%s %s: %d records read, %d produced" % (who, t, len(got),
                                                  len(want)))


def main():
    create_topics()
    kp = [c for c, ok in (("none", True), ("gzip", has_gzip()),
                          ("snappy", has_snappy()), ("lz4", has_lz4()),
                          ("zstd", has_zstd())) if ok]
    if "lz4" not in kp:
        fail("kafka-python has no lz4 (install python3-lz4)")
    matrix = []
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        produce_confluent(codec)
        matrix.append(("confluent-kafka", codec))
    for codec in kp:
        produce_kafka_python(codec)
        matrix.append(("kafka-python", codec))
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        produce_kcat(codec)
        matrix.append(("kcat", codec))
    if KAFKAJS:
        produce_kafkajs()
        matrix.append(("kafkajs", "gzip"))
    print("produced: " + ", ".join("%s/%s" % m for m in matrix), flush=True)
    time.sleep(1.5)     # the flusher writes through every millisecond

    for t in TARGETS:
        compare("librdkafka", t, read_confluent(t))
        compare("kafka-python", t, read_kafka_python(t))
        # KafkaJS decodes gzip only: the topics whose batches it can read.
        if KAFKAJS and t in ("uncompressed", "gzip"):
            got = read_kafkajs(t)
            if got is not None:
                compare("kafkajs", t, got)
        codecs = disk_codecs(t)
        if not codecs:
            fail("%s: no batches on disk" % t)
        elif t == "producer":
            used = {CODEC_ID[c] for c in stored_codecs[t]}
            if set(codecs) != used:
                fail("producer mode stored codecs %s, producers used %s"
                     % (sorted(set(codecs)), sorted(used)))
            else:
                print("PASS: compression.type=producer stores %d batches "
                      "as sent (codecs %s)" % (len(codecs),
                                               sorted(set(codecs))))
        elif set(codecs) != {CODEC_ID[t]}:
            fail("compression.type=%s stored codecs %s" % (t,
                                                           sorted(set(codecs))))
        else:
            print("PASS: compression.type=%s: all %d stored batches are %s"
                  % (t, len(codecs), t), flush=True)
    if fails:
        print("%d failure(s)" % len(fails))
        sys.exit(1)
    print("matrix: %d producer runs x %d topics, all read back"
          % (len(matrix), len(TARGETS)))


main()
