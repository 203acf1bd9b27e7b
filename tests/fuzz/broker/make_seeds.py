#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of fuzz_broker_stream (corpus/fuzz_broker_stream/):
valid request streams against the seeded topics "f" (4 partitions) and
"g", in the target's record format [flags][len u16][payload]."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../integration/kafka"))
from kwire import (cstr, hdr1, hdr2, i8, i16, i32, i64, record_batch, s16,  # noqa: E402
                   uvarint)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "fuzz_broker_stream")


def rec(payload, flags=0):
    return bytes([flags]) + struct.pack(">H", len(payload)) + payload


def produce(corr, topic, parts, acks=1, ver=7):
    body = s16(None) + i16(acks) + i32(1000) + i32(1) + s16(topic) + i32(len(parts))
    for p, batch in parts:
        body += i32(p) + i32(len(batch)) + batch
    return hdr1(0, ver, corr) + body


def fetch(corr, topic, parts, max_wait=0, min_bytes=1, max_bytes=1 << 20, ver=5):
    body = i32(-1) + i32(max_wait) + i32(min_bytes) + i32(max_bytes) + i8(0) + \
        i32(1) + s16(topic) + i32(len(parts))
    for p, off in parts:
        body += i32(p) + i64(off) + i64(-1) + i32(1 << 20)
    return hdr1(1, ver, corr) + body


def list_offsets(corr, topic, parts):
    body = i32(-1) + i32(1) + s16(topic) + i32(len(parts))
    for p, ts in parts:
        body += i32(p) + i64(ts)
    return hdr1(2, 1, corr) + body


def metadata(corr, topics):
    return hdr1(3, 1, corr) + i32(len(topics)) + b"".join(s16(t) for t in topics)


b1 = record_batch([b"a" * 20, b"b" * 30], ts=1000)
b2 = record_batch([b"c" * 200], ts=2000)
seeds = {
    "apiversions": rec(hdr1(18, 0, 1)) + rec(hdr2(18, 3, 2) + cstr("f") + cstr("1") + b"\0"),
    "metadata": rec(metadata(1, ["f", "g", "nope"])) + rec(hdr1(3, 0, 2) + i32(0)),
    "produce_fetch": rec(produce(1, "f", [(0, b1), (1, b2)])) +
        rec(fetch(2, "f", [(0, 0), (1, 0), (2, 0), (3, 0)]), 2),
    "produce_acks0": rec(produce(1, "g", [(0, b1)], acks=0)) + rec(hdr1(18, 0, 2)),
    "fetch_wait": rec(fetch(1, "f", [(0, 0), (3, 5)], max_wait=50, min_bytes=100000)),
    "list_offsets": rec(produce(1, "f", [(2, b1)])) +
        rec(list_offsets(2, "f", [(0, -1), (1, -2), (2, 1000), (3, -3)])),
    "describe": rec(hdr1(32, 1, 1) + i32(1) + i8(2) + s16("f") + i32(-1) + i8(1)) +
        rec(hdr2(60, 0, 2) + b"\0\0"),
    "alter": rec(hdr1(44, 0, 1) + i32(1) + i8(2) + s16("g") + i32(1) +
                 s16("retention.ms") + i8(0) + s16("100000") + i8(1)),
    "init_pid": rec(hdr1(22, 0, 1) + s16(None) + i32(1000)),
    "find_coordinator": rec(hdr1(10, 0, 1) + s16("grp")),
    "join_group": rec(hdr1(11, 0, 1) + s16("grp") + i32(10000) + s16("") +
                      s16("consumer") + i32(1) + s16("range") + i32(4) + b"\0\0\0\0"),
    "split": rec(produce(1, "f", [(3, b2)]), 1) + rec(fetch(2, "f", [(3, 0)]), 3),
    "produce_v9": rec(hdr2(0, 9, 1) + cstr(None) + i16(1) + i32(1000) + uvarint(2) +
                      cstr("f") + uvarint(2) + i32(0) + uvarint(len(b1) + 1) + b1 +
                      b"\0\0\0"),
    "lcore1": rec(produce(1, "f", [(0, b1), (1, b1), (2, b1), (3, b1)]), 4) +
        rec(fetch(2, "f", [(0, 0), (1, 0), (2, 0), (3, 0)], max_bytes=100)),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {OUT}")
