#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OffsetForLeaderEpoch (API 23) by hand, for the leader epoch tests.

ofle.py HOST:PORT TOPIC PARTITION CURRENT_EPOCH EPOCH [VERSION]
prints "error leader_epoch end_offset" (VERSION 2 or 3; default 3, whose
replica_id is -1, a consumer's)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire as k  # noqa: E402


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    topic, part = sys.argv[2], int(sys.argv[3])
    cur, ep = int(sys.argv[4]), int(sys.argv[5])
    ver = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    body = k.i32(-1) if ver >= 3 else b""
    body += k.i32(1) + k.s16(topic) + k.i32(1)
    body += k.i32(part) + k.i32(cur) + k.i32(ep)
    s = k.connect(host, int(port))
    sc = k.Script("ofle")
    r = k.Reader(sc.call(s, k.frame(k.hdr1(23, ver, sc.next_corr(),
                                           "ofle") + body)))
    r.i32()                        # throttle
    assert r.i32() == 1
    r.s16()
    assert r.i32() == 1
    err = r.i16()
    r.i32()
    print(err, r.i32(), r.i64())


if __name__ == "__main__":
    main()
