#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Decode FluxMQ segment files with kafka-python's own record batch reader
(an implementation independent of lib/log) and compare every record with
what fmq-log-sample appended. Also checks the .index/.timeindex entries
against the batches they point at.

usage: check_kafka_python.py <data dir> <expect.jsonl>
"""
import glob
import json
import os
import struct
import sys

from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatch


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    data, expect_path = sys.argv[1], sys.argv[2]
    expect = {}
    with open(expect_path) as f:
        for line in f:
            r = json.loads(line)
            expect[(r["partition"], r["offset"])] = r
    seen = 0
    for part in (0, 1):
        pdir = os.path.join(data, "sample-%d" % part)
        logs = sorted(glob.glob(os.path.join(pdir, "*.log")))
        if len(logs) < 2:
            fail("%s: expected several segments, found %d" % (pdir, len(logs)))
        next_off = 0
        for path in logs:
            base = int(os.path.basename(path)[:20])
            if base != next_off:
                fail("%s: base %d, expected %d" % (path, base, next_off))
            raw = open(path, "rb").read()
            batches = {}  # position -> (last offset, max timestamp)
            pos = 0
            mr = MemoryRecords(raw)
            while True:
                batch = mr.next_batch()
                if batch is None:
                    break
                if not isinstance(batch, DefaultRecordBatch):
                    fail("%s: not a v2 batch at %d" % (path, pos))
                if not batch.validate_crc():
                    fail("%s: CRC of batch at %d" % (path, pos))
                if batch.base_offset != next_off:
                    fail("%s: batch base %d, expected %d"
                         % (path, batch.base_offset, next_off))
                last = None
                for rec in batch:
                    e = expect.pop((part, rec.offset), None)
                    if e is None:
                        fail("unexpected record %d/%d" % (part, rec.offset))
                    key = None if e["key"] is None else bytes.fromhex(e["key"])
                    hdrs = [(k, bytes.fromhex(v)) for k, v in e["headers"]]
                    if rec.key != key or rec.value != bytes.fromhex(e["value"]):
                        fail("record %d/%d: key/value differ" % (part, rec.offset))
                    if rec.timestamp != e["timestamp"]:
                        fail("record %d/%d: timestamp %s != %s"
                             % (part, rec.offset, rec.timestamp, e["timestamp"]))
                    if list(rec.headers) != hdrs:
                        fail("record %d/%d: headers %r != %r"
                             % (part, rec.offset, rec.headers, hdrs))
                    if part == 1 and batch.timestamp_type != 1:
                        fail("LogAppendTime batch without the timestamp type")
                    last = rec.offset
                    seen += 1
                size = struct.unpack(">I", raw[pos + 8:pos + 12])[0] + 12
                batches[pos] = (last, batch.max_timestamp)
                pos += size
                next_off = last + 1
            if pos != len(raw):
                fail("%s: %d trailing bytes" % (path, len(raw) - pos))
            # Offset index: (relative last offset, position of that batch).
            idx = open(path[:-4] + ".index", "rb").read()
            if len(idx) % 8:
                fail("%s.index: size %d" % (path, len(idx)))
            for i in range(0, len(idx), 8):
                rel, ipos = struct.unpack(">ii", idx[i:i + 8])
                if ipos not in batches or batches[ipos][0] != base + rel:
                    fail("%s.index entry %d -> %d/%d points nowhere"
                         % (path, i // 8, rel, ipos))
            tim = open(path[:-4] + ".timeindex", "rb").read()
            if len(tim) % 12:
                fail("%s.timeindex: size %d" % (path, len(tim)))
            lasts = {v[0]: v[1] for v in batches.values()}
            prev = -1
            for i in range(0, len(tim), 12):
                ts, rel = struct.unpack(">qi", tim[i:i + 12])
                if ts <= prev or lasts.get(base + rel) != ts:
                    fail("%s.timeindex entry %d (%d, %d) is wrong"
                         % (path, i // 12, ts, rel))
                prev = ts
            print("  %s: %d batches, %d index, %d time index entries: ok"
                  % (os.path.relpath(path, data), len(batches), len(idx) // 8,
                     len(tim) // 12))
    if expect:
        fail("%d appended records not found, e.g. %r"
             % (len(expect), next(iter(expect))))
    print("kafka-python decoded all %d records identically" % seen)


if __name__ == "__main__":
    main()
