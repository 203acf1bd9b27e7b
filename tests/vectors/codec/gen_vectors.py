#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerate the codec test vectors in this directory.

  /usr/bin/python3 tests/vectors/codec/gen_vectors.py

Real clients make the batches:
  rdkafka_<codec>.batch   one v2 record batch as librdkafka 2.0.2 (through
                          confluent-kafka) produced it, captured by a mock
                          broker (kmock.py); codec none/gzip/snappy/lz4/zstd.
  kpython_<codec>.batch   the same records built by kafka-python 2.0.2's
                          DefaultRecordBatchBuilder (Debian's build has gzip
                          only; none and gzip).
The reference CLI tools make other framings of the same records section
(records.raw = the uncompressed records of rdkafka_none.batch):
  records.gz*             gzip(1) with and without a file name, 2 members
  records.lz4.*           lz4(1): 64 KiB / 4 MiB blocks, linked blocks,
                          block checksums, content size, no frame checksum
  records.zst.*           zstd(1) with/without checksum and content size,
                          2 frames
  records.xerial          xerial framing (Java's SnappyOutputStream) around
                          librdkafka's raw snappy, as Java would frame it
                          (one block; Java cuts 32 KiB blocks, any size reads)
Records follow records_spec(): keys, values and headers the C test knows.
"""
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kmock  # noqa: E402

NREC = 1000


def records_spec():
    """(key, value, headers) of record i; the C test rebuilds the same."""
    out = []
    for i in range(NREC):
        key = None if i % 7 == 3 else b"key-%05d" % i
        pad = b"x" * (i % 97)
        value = (b'{"id":%d,"user":"user-%d","event":"click","page":"/p/%d",'
                 b'"pad":"%s"}' % (i, i * 7919 % 1000, i % 13, pad))
        if i % 11 == 5:
            value = None
        headers = []
        if i % 5 == 0:
            headers = [("trace", b"t-%d" % i), ("empty", None)]
        out.append((key, value, headers))
    return out


def produce_with_rdkafka(codec):
    """One batch of all records; librdkafka sometimes cuts two (a batch
    leaves before linger.ms when the partition becomes ready), so retry."""
    for _ in range(5):
        got = produce_once(codec)
        if len(got) == 1:
            return got[0]
    raise SystemExit("librdkafka %s: never got all records in one batch" % codec)


def produce_once(codec):
    from confluent_kafka import Producer
    mock = kmock.MockBroker("vectors")
    p = Producer({
        "bootstrap.servers": mock.bootstrap,
        "compression.codec": codec,
        "linger.ms": 1000,
        "batch.num.messages": 100000,
        "enable.idempotence": False,
        "acks": 1,
        "api.version.request": True,
        "broker.version.fallback": "2.8.0",
    })
    for key, value, headers in records_spec():
        p.produce("vectors", value=value, key=key, partition=0,
                  headers=headers or None)
    left = p.flush(30)
    mock.close()
    if left or mock.errors:
        raise SystemExit("librdkafka %s: %d undelivered, mock errors %s" %
                         (codec, left, mock.errors))
    return mock.captured


def build_with_kafka_python(codec_id):
    from kafka.record.default_records import DefaultRecordBatchBuilder
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec_id,
                                  is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 30)
    ts = int(time.time() * 1000)
    for i, (key, value, headers) in enumerate(records_spec()):
        b.append(i, timestamp=ts + i, key=key, value=value, headers=headers)
    return bytes(b.build())


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    print("  %-28s %7d bytes" % (name, len(data)))


def tool(args, data):
    return subprocess.run(args, input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def main():
    print("librdkafka batches:")
    batches = {}
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        b = produce_with_rdkafka(codec)
        attr = struct.unpack(">h", b[21:23])[0]
        want = ["none", "gzip", "snappy", "lz4", "zstd"].index(codec)
        if attr & 7 != want:
            raise SystemExit("librdkafka sent codec %d for %s (feature "
                             "negotiation failed?)" % (attr & 7, codec))
        batches[codec] = b
        write("rdkafka_%s.batch" % codec, b)
    print("kafka-python batches:")
    write("kpython_none.batch", build_with_kafka_python(0))
    write("kpython_gzip.batch", build_with_kafka_python(1))

    records = batches["none"][61:]
    print("CLI framings of records.raw:")
    write("records.raw", records)
    with open("/tmp/fmq-codec-records", "wb") as f:
        f.write(records)
    write("records.gz", tool(["gzip", "-9", "-n", "-c"], records))
    gz_named = subprocess.run(["gzip", "-c", "/tmp/fmq-codec-records"],
                              stdout=subprocess.PIPE, check=True).stdout
    os.unlink("/tmp/fmq-codec-records")
    write("records.gz.fname", gz_named)
    half = len(records) // 2
    write("records.gz.2members",
          tool(["gzip", "-1", "-n", "-c"], records[:half]) +
          tool(["gzip", "-1", "-n", "-c"], records[half:]))
    write("records.lz4.64k", tool(["lz4", "-q", "-B4", "-BI", "--no-frame-crc", "-c"], records))
    write("records.lz4.4m.crc", tool(["lz4", "-q", "-B7", "-c"], records))
    write("records.lz4.linked.bx", tool(["lz4", "-q", "-B4", "-BD", "-BX", "-c"], records))
    write("records.lz4.csize", tool(["lz4", "-q", "-B5", "--content-size", "-c"], records))
    write("records.zst", tool(["zstd", "-q", "-3", "-c"], records))
    write("records.zst.nocheck", tool(["zstd", "-q", "-19", "--no-check", "-c"], records))
    # Streaming from a pipe: no content size in the frame header, as
    # zstd-jni and librdkafka write.
    write("records.zst.2frames",
          tool(["zstd", "-q", "-1", "-c"], records[:half]) +
          tool(["zstd", "-q", "-1", "-c"], records[half:]))
    raw_snappy = batches["snappy"][61:]
    if raw_snappy[:8] == b"\x82SNAPPY\x00":
        raise SystemExit("librdkafka sent xerial snappy; expected raw")
    write("records.xerial",
          b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1) +
          struct.pack(">i", len(raw_snappy)) + raw_snappy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
