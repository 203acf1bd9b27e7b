#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""AlterPartitionReassignments (API 45 v0) as raw requests, for what the
admin clients here cannot send (null replicas: a cancel).

  reassign_raw.py HOST:PORT TOPIC:P=R1,R2|null [...]

All requests go on one connection, one after the other. Prints, per
request, "top E" and one line "TOPIC PARTITION ERROR" per partition.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import Reader, Script, connect, cstr, frame, hdr2, i32, uvarint  # noqa


def request(corr, topic, part, replicas):
    body = i32(30000) + uvarint(2) + cstr(topic) + uvarint(2) + i32(part)
    if replicas is None:
        body += uvarint(0)
    else:
        body += uvarint(len(replicas) + 1)
        for r in replicas:
            body += i32(r)
    body += b"\x00" + b"\x00" + b"\x00"
    return frame(hdr2(45, 0, corr, "reassign") + body)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    sc = Script("AlterPartitionReassignments")
    s = connect(host, int(port))
    s.settimeout(40)
    for a in sys.argv[2:]:
        tp, reps = a.split("=", 1)
        t, p = tp.rsplit(":", 1)
        replicas = None if reps == "null" else \
            [int(x) for x in reps.split(",")]
        r = Reader(sc.call(s, request(sc.next_corr(), t, int(p),
                                      replicas)))
        r.tags()
        r.i32()
        print("top %d" % r.i16())
        r.cstr()
        for _ in range(r.uvarint() - 1):
            name = r.cstr()
            for _ in range(r.uvarint() - 1):
                pi = r.i32()
                e = r.i16()
                r.cstr()
                r.tags()
                print("%s %d %d" % (name, pi, e))
            r.tags()
        sys.stdout.flush()
    s.close()


if __name__ == "__main__":
    main()
