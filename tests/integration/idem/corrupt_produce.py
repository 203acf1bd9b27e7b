#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hand-built Produce v8 requests with corrupt compressed payloads and
decompression bombs (test_compression_corrupt.sh).

Every batch carries a correct CRC (recomputed after the damage), so only
decompression can tell. Expected, per topic:
  cor-default no config: the broker's default      corrupt -> CORRUPT_MESSAGE,
              validation (deep, as Kafka)          bomb -> MESSAGE_TOO_LARGE,
                                                   nothing stored
  cor-deep    validation=deep                      the same
  cor-lz4     compression.type=lz4, default        the same
              validation
  cor-shallow validation=shallow (trusted          stored as sent
              producers only)                      (offset >= 0)
and the broker answers a normal batch afterwards. On cor-default the
offsets move only for the good batches around the bad ones, and
librdkafka and kafka-python consumers read exactly those good records.

usage: corrupt_produce.py HOST PORT [--read librdkafka|kafka-python TOPIC]
"""
import gzip
import json
import os
import random
import subprocess
import socket
import struct
import sys
import time

import lz4.frame
import snappy
import zstandard
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.record.util import calc_crc32c

HOST, PORT = sys.argv[1], int(sys.argv[2])
NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
NAMES = {GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}
E_CORRUPT_MESSAGE, E_MESSAGE_TOO_LARGE, E_INVALID_RECORD = 2, 10, 87
fails = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    fails.append(msg)


def ok(msg):
    print("PASS: " + msg, flush=True)


def varint(v):
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def record(i, value, bad_len=False):
    body = (b"\x00" + varint(0) + varint(i) + varint(-1) +
            varint(len(value)) + value + varint(0))
    n = len(body) + (3 if bad_len else 0)
    return varint(n) + body


def compress(codec, raw):
    if codec == GZIP:
        return gzip.compress(raw, 1)
    if codec == SNAPPY:
        return snappy.compress(raw)            # raw snappy, as librdkafka
    if codec == LZ4:
        return lz4.frame.compress(raw)
    if codec == ZSTD:
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def batch(codec, count, section):
    """A v2 batch whose records section is `section` (already encoded)."""
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", codec, count - 1, now, now, -1, -1,
                            -1, count) + section
    crc = calc_crc32c(after_crc)
    head = struct.pack(">qiib", 0, 9 + len(after_crc), 0, 2)
    return head + struct.pack(">I", crc) + after_crc


def good_value(tag, i):
    return b'{"t":"%s","n":%d,"v":"%s"}' % (tag.encode(), i, b"y" * 200)


def good_batch(codec, n=5, tag="good"):
    raw = b"".join(record(i, good_value(tag, i)) for i in range(n))
    return batch(codec, n, compress(codec, raw))


def produce(sock, topic, b, corr=[0]):
    corr[0] += 1
    body = (struct.pack(">hih", -1, -1, 10000) + struct.pack(">i", 1) +
            struct.pack(">h", len(topic)) + topic.encode() +
            struct.pack(">i", 1) + struct.pack(">ii", 0, len(b)) + b)
    hdr = struct.pack(">hhih", 0, 8, corr[0], 3) + b"cor"
    msg = hdr + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    n = struct.unpack(">i", recv(sock, 4))[0]
    r = recv(sock, n)
    p = 4 + 4                                   # corr, topics count
    tl = struct.unpack_from(">h", r, p)[0]
    p += 2 + tl + 4                             # name, partitions count
    _, err, base = struct.unpack_from(">ihq", r, p)
    p += 4 + 2 + 8 + 8 + 8
    nrec = struct.unpack_from(">i", r, p)[0]
    p += 4
    recs = []
    for _ in range(max(nrec, 0)):
        idx, ml = struct.unpack_from(">ih", r, p)
        p += 6
        recs.append((idx, r[p:p + ml].decode() if ml >= 0 else None))
        p += max(ml, 0)
    ml = struct.unpack_from(">h", r, p)[0]
    msg = r[p + 2:p + 2 + ml].decode() if ml >= 0 else None
    return err, base, recs, msg


def recv(sock, n):
    buf = b""
    while len(buf) < n:
        c = sock.recv(n - len(buf))
        if not c:
            raise IOError("connection closed by the broker")
        buf += c
    return buf


def connect():
    s = socket.create_connection((HOST, PORT), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_rdkafka(topic):
    from confluent_kafka import Consumer, TopicPartition, KafkaError
    c = Consumer({"bootstrap.servers": "%s:%d" % (HOST, PORT),
                  "group.id": "cor-check", "enable.auto.commit": False,
                  "enable.partition.eof": True, "check.crcs": True})
    c.assign([TopicPartition(topic, 0, 0)])
    got, errs, deadline = [], [], time.time() + 20
    while time.time() < deadline and len(errs) <= 5:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                break
            errs.append(str(m.error()))
            continue
        got.append(m.value())
    return got, errs, c


def read_kafka_python(topic):
    from kafka import KafkaConsumer, TopicPartition as KTP
    k = KafkaConsumer(bootstrap_servers="%s:%d" % (HOST, PORT),
                      enable_auto_commit=False, consumer_timeout_ms=5000,
                      check_crcs=True)
    k.assign([KTP(topic, 0)])
    k.seek(KTP(topic, 0), 0)
    got, errs = [], []
    try:
        for m in k:
            got.append(m.value)
            if len(got) > 10000:
                break
    except Exception as e:          # BadGzipFile & co: a poisoned log
        errs.append(repr(e))
    return got, errs, k


def reader_main(kind, topic):
    """Child process: print what one client reads, then leave without
    closing (a client stuck on a poisoned partition may hang in close)."""
    got, errs, _ = (read_rdkafka if kind == "librdkafka"
                    else read_kafka_python)(topic)
    print(json.dumps({"values": [v.hex() for v in got], "errors": errs}),
          flush=True)
    os._exit(0)


def consume_all(topic, want):
    """Read partition 0 of topic from offset 0 with librdkafka and with
    kafka-python, each in a child bounded to 40 s (clients loop on a
    poisoned partition): both must see exactly the values in want."""
    for kind in ("librdkafka", "kafka-python"):
        try:
            r = subprocess.run([sys.executable, __file__, HOST, str(PORT),
                                "--read", kind, topic],
                               capture_output=True, timeout=40, text=True)
            d = json.loads(r.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            fail("%s reads %s: stuck for 40 s" % (kind, topic))
            continue
        except (ValueError, IndexError):
            fail("%s reads %s: reader failed: %s"
                 % (kind, topic, r.stderr[-500:]))
            continue
        got = [bytes.fromhex(v) for v in d["values"]]
        if d["errors"] or got != want:
            fail("%s reads %s: %d records (want %d), errors %r"
                 % (kind, topic, len(got), len(want), d["errors"][:3]))
        else:
            ok("%s reads %s: exactly the %d good records"
               % (kind, topic, len(got)))


def main():
    a = AdminClient({"bootstrap.servers": "%s:%d" % (HOST, PORT)})
    topics = {"cor-default": {},
              "cor-deep": {"validation": "deep"},
              "cor-shallow": {"validation": "shallow"},
              "cor-lz4": {"compression.type": "lz4"}}
    refusing = ("cor-default", "cor-deep", "cor-lz4")
    for f in a.create_topics([NewTopic(t, 1, 1, config=c)
                              for t, c in topics.items()]).values():
        f.result(30)
    time.sleep(0.5)
    s = connect()
    rnd = random.Random(7)
    # cor-default: good batches around the bad ones; the offsets must move
    # by the good records only.
    want, next_off = [], 0

    def good_default(codec):
        nonlocal next_off
        tag = "g%d" % next_off
        err, base, _, _ = produce(s, "cor-default",
                                  good_batch(codec, 5, tag))
        if err != 0 or base != next_off:
            fail("good %s batch to cor-default: error %d offset %d "
                 "(want %d)" % (NAMES.get(codec, "none"), err, base,
                                next_off))
        want.extend(good_value(tag, i) for i in range(5))
        next_off += 5

    for codec in (NONE, GZIP, SNAPPY, LZ4, ZSTD):
        good_default(codec)
    raw = b"".join(record(i, b'{"k":%d,"pad":"%s"}' % (i, b"z" * 300))
                   for i in range(20))
    for codec in (GZIP, SNAPPY, LZ4, ZSTD):
        comp = compress(codec, raw)
        damaged = {
            "truncated": comp[:len(comp) // 2],
            "random bytes": bytes(rnd.getrandbits(8)
                                  for _ in range(len(comp))),
        }
        for how, d in damaged.items():
            b = batch(codec, 20, d)
            what = "%s payload %s" % (NAMES[codec], how)
            for t in refusing:
                err, base, recs, msg = produce(s, t, b)
                if err != E_CORRUPT_MESSAGE or msg is None or base != -1:
                    fail("%s to %s: error %d offset %d msg %r (want "
                         "CORRUPT_MESSAGE, nothing stored)"
                         % (what, t, err, base, msg))
                else:
                    ok("%s to %s: CORRUPT_MESSAGE (%s)" % (what, t, msg))
            err, base, _, _ = produce(s, "cor-shallow", b)
            if err != 0 or base < 0:
                fail("%s to cor-shallow: error %d (want stored)"
                     % (what, err))
            else:
                ok("%s to cor-shallow (opt-in): stored as sent at "
                   "offset %d" % (what, base))
        good_default(codec)

    # A record whose length varint lies, inside a valid gzip section:
    # Produce v8 names the record.
    raw_bad = (record(0, b"a" * 50) + record(1, b"b" * 50, bad_len=True) +
               record(2, b"c" * 50))
    for t in ("cor-default", "cor-deep"):
        err, _, recs, msg = produce(s, t,
                                    batch(GZIP, 3, compress(GZIP, raw_bad)))
        if err != E_INVALID_RECORD or not recs or recs[0][0] != 1:
            fail("bad record 1 in gzip to %s: error %d record_errors %r "
                 "msg %r" % (t, err, recs, msg))
        else:
            ok("bad record 1 to %s: INVALID_RECORD, record_errors %r"
               % (t, recs))

    # Decompression bombs: a few hundred KiB that expand past the bound
    # (log.decompress.max.ratio x message.max.bytes = 16 MiB).
    for codec in (GZIP, SNAPPY, LZ4, ZSTD):
        size = (18 if codec == SNAPPY else 64) << 20
        comp = compress(codec, bytes(size))
        b = batch(codec, 1, comp)
        for t in refusing:
            t0 = time.time()
            err, _, _, msg = produce(s, t, b)
            if err != E_MESSAGE_TOO_LARGE:
                fail("%s bomb (%d KiB -> %d MiB) to %s: error %d msg %r"
                     % (NAMES[codec], len(comp) >> 10, size >> 20, t, err,
                        msg))
            else:
                ok("%s bomb (%d KiB -> %d MiB) to %s: MESSAGE_TOO_LARGE "
                   "in %.0f ms" % (NAMES[codec], len(comp) >> 10,
                                   size >> 20, t, (time.time() - t0) * 1e3))

    # Still serving, on the same connection and a new one.
    good_default(GZIP)
    for t in topics:
        if t == "cor-default":
            continue
        for codec in (NONE, GZIP, SNAPPY, LZ4, ZSTD):
            err, base, _, _ = produce(s, t, good_batch(codec))
            if err != 0:
                fail("good %s batch to %s after the bad ones: error %d"
                     % (NAMES.get(codec, "none"), t, err))
    s.close()
    s = connect()
    err, base, _, _ = produce(s, "cor-deep", good_batch(LZ4))
    if err != 0:
        fail("new connection after the bombs: error %d" % err)
    else:
        ok("broker keeps serving: good batches accepted afterwards")
    s.close()
    if not fails:
        ok("cor-default: the offsets moved by the %d good records only"
           % next_off)
    consume_all("cor-default", want)
    if fails:
        print("%d failure(s)" % len(fails))
        sys.exit(1)


if len(sys.argv) > 5 and sys.argv[3] == "--read":
    reader_main(sys.argv[4], sys.argv[5])
else:
    main()
