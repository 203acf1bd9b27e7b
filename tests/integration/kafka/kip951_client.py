#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""KIP-951 leader discovery in a cluster (test_cluster_clients.sh), with
raw requests: a Produce v10 and a Fetch v16 for partition 0 of TOPIC sent
to a broker that does not lead it answer NOT_LEADER_OR_FOLLOWER with
CurrentLeader = the leader and leader epoch Metadata names, and the
answer's NodeEndpoints lists that leader's host and port.

Usage: kip951_client.py TOPIC BOOT(host:port)
Prints one line; exits 1 on failure.
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from kwire import (Reader, Script, connect, cstr, frame, hdr2, i8, i16,  # noqa
                   i32, i64, record_batch, uvarint)

sc = Script("kip951")


def carray(items, enc):
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def rd_carray(rd, dec):
    n = rd.uvarint()
    return None if n == 0 else [dec(rd) for _ in range(n - 1)]


def tags(rd):
    out = {}
    for _ in range(rd.uvarint()):
        t = rd.uvarint()
        out[t] = rd.take(rd.uvarint())
    return out


def rpc(s, key, ver, body):
    rd = Reader(sc.call(s, frame(hdr2(key, ver, sc.next_corr(), "kip951") +
                                 body)))
    rd.tags()
    return rd


def metadata(s, topic):
    body = carray([topic], lambda n: b"\x00" * 16 + cstr(n) + b"\x00") + \
        i8(0) + i8(0) + b"\x00"
    rd = rpc(s, 3, 12, body)
    rd.i32()
    brokers = {b[0]: (b[1], b[2]) for b in rd_carray(
        rd, lambda r: (r.i32(), r.cstr(), r.i32(), r.cstr(), r.tags()))}
    rd.cstr()
    rd.i32()

    def topic_(r):
        err, name, tid = r.i16(), r.cstr(), r.take(16)
        r.i8()
        parts = rd_carray(r, lambda q: (q.i16(), q.i32(), q.i32(), q.i32(),
                                        rd_carray(q, lambda x: x.i32()),
                                        rd_carray(q, lambda x: x.i32()),
                                        rd_carray(q, lambda x: x.i32()),
                                        q.tags()))
        r.i32()
        r.tags()
        return err, tid, {p[1]: (p[2], p[3]) for p in parts or []}
    t = rd_carray(rd, topic_)[0]
    return brokers, t


def endpoints(raw):
    rd = Reader(raw)
    return {e[0]: (e[1], e[2]) for e in rd_carray(
        rd, lambda r: (r.i32(), r.cstr(), r.i32(), r.cstr(), r.tags()))}


def leader_tag(raw):
    return struct.unpack(">ii", raw[:8])


def main():
    topic, boot = sys.argv[1], sys.argv[2]
    host, port = boot.rsplit(":", 1)
    deadline = time.time() + 20
    while True:
        brokers, (err, tid, parts) = metadata(connect(host, int(port)), topic)
        if err == 0 and parts.get(0, (-1,))[0] in brokers:
            break
        sc.expect(time.time() < deadline, "no leader for %s-0" % topic)
        time.sleep(0.5)
    leader, epoch = parts[0]
    other = [b for b in brokers if b != leader][0]
    s = connect(*brokers[other])

    b = record_batch([b"kip951"])
    body = cstr(None) + i16(1) + i32(5000) + carray(
        [topic], lambda n: cstr(n) + carray(
            [0], lambda p: i32(p) + uvarint(len(b) + 1) + b + b"\x00") +
        b"\x00") + b"\x00"
    rd = rpc(s, 0, 10, body)
    res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(r, lambda q: (
        q.i32(), q.i16(), q.i64(), q.i64(), q.i64(),
        rd_carray(q, lambda x: (x.i32(), x.cstr(), x.tags())), q.cstr(),
        tags(q))), r.tags()))
    rd.i32()
    top = tags(rd)
    p = res[0][1][0]
    sc.expect(p[1] == 6, "Produce v10 to broker %d: error %d" % (other, p[1]))
    sc.expect(0 in p[7] and leader_tag(p[7][0]) == (leader, epoch),
              "Produce v10 CurrentLeader %s, want %s"
              % (p[7], (leader, epoch)))
    sc.expect(0 in top and endpoints(top[0]) == {leader: brokers[leader]},
              "Produce v10 NodeEndpoints %s, want %s"
              % (top, {leader: brokers[leader]}))

    body = i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(0) + i32(-1) + \
        carray([tid], lambda t: t + carray(
            [0], lambda q: i32(q) + i32(-1) + i64(0) + i32(-1) + i64(-1) +
            i32(1 << 20) + b"\x00") + b"\x00") + uvarint(1) + cstr("") + \
        b"\x00"
    rd = rpc(s, 1, 16, body)
    rd.i32()
    rd.i16()
    rd.i32()

    def fpart(q):
        r = (q.i32(), q.i16(), q.i64(), q.i64(), q.i64())
        rd_carray(q, lambda x: (x.i64(), x.i64(), x.tags()))
        q.i32()
        n = q.uvarint()
        if n:
            q.take(n - 1)
        return r + (tags(q),)
    resp = rd_carray(rd, lambda r: (r.take(16), rd_carray(r, fpart),
                                    r.tags()))
    top = tags(rd)
    p = resp[0][1][0]
    sc.expect(resp[0][0] == tid and p[1] == 6,
              "Fetch v16 to broker %d: error %d" % (other, p[1]))
    sc.expect(1 in p[5] and leader_tag(p[5][1]) == (leader, epoch),
              "Fetch v16 CurrentLeader %s, want %s" % (p[5], (leader, epoch)))
    sc.expect(0 in top and endpoints(top[0]) == {leader: brokers[leader]},
              "Fetch v16 NodeEndpoints %s" % top)
    print("broker %d: Produce v10 and Fetch v16 for %s-0 answer "
          "NOT_LEADER_OR_FOLLOWER with leader %d epoch %d at %s:%d"
          % (other, topic, leader, epoch, *brokers[leader]))


main()
