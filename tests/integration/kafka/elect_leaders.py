#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ElectLeaders (API 43) as a raw request, for the cluster tests.

  elect_leaders.py HOST:PORT VERSION TYPE all|TOPIC:P[,P...] [...]

VERSION 0-2 (v0 has no election type: preferred). Prints the top-level
error ("top E"; v1+) and one line "TOPIC PARTITION ERROR" per result.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import (Reader, Script, connect, cstr, frame, hdr1, hdr2, i8,  # noqa
                   i16, i32, s16, uvarint)


def request(corr, ver, etype, parts):
    flex = ver >= 2

    def arr(n):
        return uvarint(n + 1) if flex else i32(n)

    def st(s):
        return cstr(s) if flex else s16(s)
    body = i8(etype) if ver >= 1 else b""
    if parts is None:
        body += uvarint(0) if flex else i32(-1)
    else:
        body += arr(len(parts))
        for t, ps in parts:
            body += st(t) + arr(len(ps))
            for p in ps:
                body += i32(p)
            if flex:
                body += b"\x00"
    body += i32(60000)
    if flex:
        body += b"\x00"
    h = hdr2(43, ver, corr, "elect") if flex else hdr1(43, ver, corr, "elect")
    return frame(h + body)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    ver, etype = int(sys.argv[2]), int(sys.argv[3])
    if sys.argv[4] == "all":
        parts = None
    else:
        parts = []
        for a in sys.argv[4:]:
            t, ps = a.rsplit(":", 1)
            parts.append((t, [int(p) for p in ps.split(",")]))
    sc = Script("ElectLeaders")
    s = connect(host, int(port))
    s.settimeout(70)
    body = sc.call(s, request(sc.next_corr(), ver, etype, parts))
    r = Reader(body)
    flex = ver >= 2
    if flex:
        r.tags()                      # response header v1
    r.i32()                           # throttle
    if ver >= 1:
        print("top %d" % r.i16())
    nt = r.uvarint() - 1 if flex else r.i32()
    for _ in range(nt):
        t = r.cstr() if flex else r.s16()
        np = r.uvarint() - 1 if flex else r.i32()
        for _ in range(np):
            p = r.i32()
            e = r.i16()
            _ = r.cstr() if flex else r.s16()
            if flex:
                r.tags()
            print("%s %d %d" % (t, p, e))
        if flex:
            r.tags()
    s.close()


if __name__ == "__main__":
    main()
