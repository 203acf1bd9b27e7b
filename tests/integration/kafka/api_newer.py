# SPDX-License-Identifier: Apache-2.0
"""The newer API versions Kafka 3.9's Java client and librdkafka 2.x ask
for, and DescribeProducers, with raw requests (no client installed here
sends them): Produce v11, Fetch v13/v16/v17 by topic id (an unknown id,
a fetch session keyed on ids), ListOffsets v8 -4 and v9 -5, OffsetCommit
and OffsetFetch v9 (a classic group and a consumer-protocol one), and
DescribeProducers with an idempotent and a transactional producer open.

Usage: api_newer.py HOST PORT [SECTION...]
SECTION: fetch session list_offsets commit describe produce (default:
all, in that order; each can also run alone on a fresh broker, the
setup writes with Produce v9). The topic "an" (4 partitions) must exist. Prints PASS lines; exits 1 at
the first failure.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from kwire import (Reader, Script, connect, cstr, crc32c, frame, hdr2,  # noqa
                   i8, i16, i32, i64, u32, uvarint, varint, batches)

HOST, PORT = sys.argv[1], int(sys.argv[2])
T = "an"
sc = Script("api-newer")

UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
UNKNOWN_MEMBER_ID = 25
UNKNOWN_TOPIC_ID = 100
FETCH_SESSION_TOPIC_ID_ERROR = 106
STALE_MEMBER_EPOCH = 113
INVALID_TOPIC_EXCEPTION = 17


def carray(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def rd_carray(rd, dec):
    n = rd.uvarint()
    return None if n == 0 else [dec(rd) for _ in range(n - 1)]


def ntags(rd):
    """Skip a tagged-fields section; how many fields it had."""
    n = rd.uvarint()
    for _ in range(n):
        rd.uvarint()
        rd.take(rd.uvarint())
    return n


def cbytes(b):
    return uvarint(len(b) + 1) + b


def rpc(s, key, ver, body):
    rd = Reader(sc.call(s, frame(hdr2(key, ver, sc.next_corr(), "api-newer")
                                 + body)))
    rd.tags()   # response header v1
    return rd


def batch(values, pid=-1, epoch=-1, seq=-1, txn=False):
    recs = b""
    for i, v in enumerate(values):
        body = i8(0) + varint(0) + varint(i) + varint(-1) + \
            varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    now = int(time.time() * 1000)
    after_crc = i16(0x10 if txn else 0) + i32(len(values) - 1) + i64(now) + \
        i64(now) + i64(pid) + i16(epoch) + i32(seq) + i32(len(values)) + recs
    tail = i32(0) + i8(2) + u32(crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(tail)) + tail


# ---------------------------------------------------------------- requests
def metadata_ids(s):
    body = carray([T], lambda n: b"\x00" * 16 + cstr(n) + b"\x00") + \
        i8(0) + i8(0) + b"\x00"
    rd = rpc(s, 3, 12, body)
    rd.i32()
    rd_carray(rd, lambda r: (r.i32(), r.cstr(), r.i32(), r.cstr(), r.tags()))
    rd.cstr()
    rd.i32()
    out = {}

    def topic(r):
        err, name, tid = r.i16(), r.cstr(), r.take(16)
        r.i8()
        rd_carray(r, lambda q: (q.i16(), q.i32(), q.i32(), q.i32(),
                                rd_carray(q, lambda x: x.i32()),
                                rd_carray(q, lambda x: x.i32()),
                                rd_carray(q, lambda x: x.i32()), q.tags()))
        r.i32()
        r.tags()
        out[name] = (err, tid)
    rd_carray(rd, topic)
    return out


def produce(s, ver, part, b, txn_id=None):
    body = cstr(txn_id) + i16(-1) + i32(5000) + carray(
        [T], lambda n: cstr(n) + carray(
            [part], lambda p: i32(p) + cbytes(b) + b"\x00") + b"\x00") + \
        b"\x00"
    rd = rpc(s, 0, ver, body)
    res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(r, lambda q: (
        q.i32(), q.i16(), q.i64(), q.i64(), q.i64(),
        rd_carray(q, lambda x: (x.i32(), x.cstr(), x.tags())), q.cstr(),
        ntags(q))), r.tags()))
    rd.i32()
    # KIP-951's CurrentLeader (partition tag 0) and NodeEndpoints (tag
    # 0) only with NOT_LEADER_OR_FOLLOWER: none here.
    sc.expect(ntags(rd) == 0 and res[0][1][0][-1] == 0,
              "Produce v%d: tagged fields in an answer without "
              "NOT_LEADER_OR_FOLLOWER" % ver)
    sc.expect(rd.p == len(rd.b), "Produce v%d: trailing bytes" % ver)
    return res[0][1][0]   # (index, error, base, append time, log start, ...)


def fetch(s, ver, topics, sess=0, epoch=-1, forgotten=()):
    """topics: [(16-byte id, [(partition, offset)])]."""
    body = b""
    if ver <= 14:
        body += i32(-1)
    body += i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(sess) + i32(epoch)
    body += carray(topics, lambda t: t[0] + carray(
        t[1], lambda p: i32(p[0]) + i32(-1) + i64(p[1]) + i32(-1) +
        i64(-1) + i32(1 << 20) + b"\x00") + b"\x00")
    body += carray(list(forgotten), lambda f: f[0] + carray(f[1], i32) +
                   b"\x00")
    body += cstr("") + b"\x00"
    rd = rpc(s, 1, ver, body)
    rd.i32()
    err, sid = rd.i16(), rd.i32()

    def part(q):
        p = {"part": q.i32(), "err": q.i16(), "hw": q.i64(), "lso": q.i64(),
             "start": q.i64()}
        rd_carray(q, lambda x: (x.i64(), x.i64(), x.tags()))
        q.i32()
        n = q.uvarint()
        p["records"] = None if n == 0 else q.take(n - 1)
        p["tags"] = ntags(q)
        return p
    resp = rd_carray(rd, lambda r: (r.take(16), rd_carray(r, part),
                                    r.tags()))
    sc.expect(ntags(rd) == 0, "Fetch v%d: NodeEndpoints without "
              "NOT_LEADER_OR_FOLLOWER" % ver)
    for _, ps, _ in resp or []:
        sc.expect(all(p["tags"] == 0 for p in ps),
                  "Fetch v%d: partition tagged fields %s" % (ver, ps))
    sc.expect(rd.p == len(rd.b), "Fetch v%d: trailing bytes" % ver)
    return err, sid, [(t, ps) for t, ps, _ in resp or []]


def list_offsets(s, ver, part, ts):
    body = i32(-1) + i8(0) + carray([T], lambda n: cstr(n) + carray(
        [part], lambda p: i32(p) + i32(-1) + i64(ts) + b"\x00") + b"\x00") + \
        b"\x00"
    rd = rpc(s, 2, ver, body)
    rd.i32()
    res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(r, lambda q: (
        q.i32(), q.i16(), q.i64(), q.i64(), q.i32(), q.tags())), r.tags()))
    return res[0][1][0]   # (partition, error, timestamp, offset, epoch, _)


def offset_commit(s, ver, group, member, epoch, part, offset):
    body = cstr(group) + i32(epoch) + cstr(member) + cstr(None) + carray(
        [T], lambda n: cstr(n) + carray(
            [part], lambda p: i32(p) + i64(offset) + i32(-1) + cstr("") +
            b"\x00") + b"\x00") + b"\x00"
    rd = rpc(s, 8, ver, body)
    rd.i32()
    res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(
        r, lambda q: (q.i32(), q.i16(), q.tags())), r.tags()))
    return res[0][1][0][1]


def offset_fetch_v9(s, group, member, epoch, part):
    body = carray([group], lambda g: cstr(g) + cstr(member) + i32(epoch) +
                  carray([T], lambda n: cstr(n) + carray([part], i32) +
                         b"\x00") + b"\x00") + i8(0) + b"\x00"
    rd = rpc(s, 9, 9, body)
    rd.i32()
    gs = rd_carray(rd, lambda g: (g.cstr(), rd_carray(g, lambda t: (
        t.cstr(), rd_carray(t, lambda q: (q.i32(), q.i64(), q.i32(),
                                          q.cstr(), q.i16(), q.tags())),
        t.tags())), g.i16(), g.tags()))
    name, topics, gerr, _ = gs[0]
    if gerr != 0:
        return gerr, None
    p = topics[0][1][0]
    return p[4], p[1]


def init_producer_id(s, txn_id):
    for _ in range(50):
        rd = rpc(s, 22, 4, cstr(txn_id) + i32(60000) + i64(-1) + i16(-1) +
                 b"\x00")
        rd.i32()
        err, pid, epoch = rd.i16(), rd.i64(), rd.i16()
        if err in (14, 15, 51):   # loading, not available, concurrent
            time.sleep(0.2)
            continue
        sc.expect(err == 0, "InitProducerId(%s): error %d" % (txn_id, err))
        return pid, epoch
    sc.fail("InitProducerId(%s): no answer without a retriable error"
            % txn_id)


def add_partitions(s, txn_id, pid, epoch, parts):
    for _ in range(50):
        body = cstr(txn_id) + i64(pid) + i16(epoch) + carray(
            [T], lambda n: cstr(n) + carray(parts, i32) + b"\x00") + b"\x00"
        rd = rpc(s, 24, 3, body)
        rd.i32()
        res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(
            r, lambda q: (q.i32(), q.i16(), q.tags())), r.tags()))
        errs = {e for _, ps, _ in res for _, e, _ in ps}
        if errs == {51}:
            time.sleep(0.2)
            continue
        sc.expect(errs == {0}, "AddPartitionsToTxn: errors %s" % errs)
        return
    sc.fail("AddPartitionsToTxn kept answering CONCURRENT_TRANSACTIONS")


def describe_producers(s, topics):
    body = carray(topics, lambda t: cstr(t[0]) + carray(t[1], i32) +
                  b"\x00") + b"\x00"
    rd = rpc(s, 61, 0, body)
    rd.i32()
    res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(r, lambda q: (
        q.i32(), q.i16(), q.cstr(), rd_carray(q, lambda x: (
            x.i64(), x.i32(), x.i32(), x.i64(), x.i32(), x.i64(),
            x.tags())), q.tags())), r.tags()))
    rd.tags()
    sc.expect(rd.p == len(rd.b), "DescribeProducers: trailing bytes")
    out = {}
    for name, parts, _ in res:
        for p, err, msg, prods, _ in parts:
            out[(name, p)] = (err, msg, {x[0]: x[:6] for x in prods or []})
    return out


# ------------------------------------------------------------------- main
def sec_produce(s, tid):
    # Produce v11 (and v10): appended, no leader hint on success.
    r = produce(s, 11, 0, batch([b"p0", b"p1", b"p2"]))
    base = r[2]
    sc.expect(r[1] == 0 and base >= 0, "Produce v11: error %d base %d"
              % (r[1], r[2]))
    r = produce(s, 10, 0, batch([b"p3"]))
    sc.expect(r[1] == 0 and r[2] == base + 3,
              "Produce v10: error %d base %d" % (r[1], r[2]))
    r = produce(s, 11, 9, batch([b"x"]))
    sc.expect(r[1] == UNKNOWN_TOPIC_OR_PARTITION,
              "Produce v11 to partition 9: error %d" % r[1])
    sc.ok("Produce v10/v11 append (bases %d and %d); unknown partition 3"
          % (base, base + 3))


def sec_fetch(s, tid):
    # Fetch by topic id, v13, v16 and v17 (partition 0 holds 4 records).
    for ver in (13, 16, 17):
        err, sid, resp = fetch(s, ver, [(tid, [(0, 0)])])
        sc.expect(err == 0 and len(resp) == 1 and resp[0][0] == tid,
                  "Fetch v%d: error %d, topics %s" % (ver, err, resp))
        p = resp[0][1][0]
        sc.expect(p["err"] == 0 and p["hw"] == 4,
                  "Fetch v%d: partition error %d hw %d"
                  % (ver, p["err"], p["hw"]))
        got = batches(p["records"])
        sc.expect(got and got[0][0] == 0 and got[-1][0] + got[-1][1] == 3,
                  "Fetch v%d: batches %s" % (ver, got))
    bad = bytes(range(1, 17))
    err, sid, resp = fetch(s, 17, [(bad, [(0, 0), (1, 0)]), (tid, [(1, 0)])])
    sc.expect(resp[0][0] == bad and
              [p["err"] for p in resp[0][1]] == [UNKNOWN_TOPIC_ID] * 2 and
              resp[1][1][0]["err"] == 0,
              "Fetch v17 with an unknown id: %s" % resp)
    sc.ok("Fetch v13/v16/v17 by topic id return the records; an unknown id "
          "is UNKNOWN_TOPIC_ID per partition")



def sec_session(s, tid):
    # A fetch session keyed on topic ids.
    err, sid, resp = fetch(s, 17, [(tid, [(0, 4), (1, 0)])], 0, 0)
    sc.expect(err == 0 and sid != 0, "full v17 fetch: error %d session %d"
              % (err, sid))
    err, sid2, resp = fetch(s, 17, [], sid, 1)
    sc.expect(err == 0 and sid2 == sid and resp == [],
              "incremental v17, nothing new: error %d %s" % (err, resp))
    produce(s, 9, 0, batch([b"a4"]))
    err, _, resp = fetch(s, 17, [], sid, 2)
    sc.expect(err == 0 and len(resp) == 1 and resp[0][0] == tid and
              [p["part"] for p in resp[0][1]] == [0] and
              batches(resp[0][1][0]["records"])[0][0] == 4,
              "incremental v17 after an append: %s" % resp)
    err, _, resp = fetch(s, 17, [], sid, 3, [(tid, [0])])
    produce(s, 9, 0, batch([b"a5"]))
    err, _, resp = fetch(s, 17, [], sid, 4)
    sc.expect(err == 0 and resp == [],
              "partition 0 forgotten by id still answered: %s" % resp)
    # v12 names topics: the session keeps to ids.
    body = i32(-1) + i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(sid) + \
        i32(5) + carray([], None) + carray([], None) + cstr("") + b"\x00"
    rd = rpc(s, 1, 12, body)
    rd.i32()
    e = rd.i16()
    sc.expect(e == FETCH_SESSION_TOPIC_ID_ERROR,
              "v12 request on a v17 session: error %d" % e)
    sc.ok("fetch session with topic ids: incremental answers, forgotten "
          "by id, FETCH_SESSION_TOPIC_ID_ERROR on a switch to names")



def sec_list_offsets(s, tid):
    # ListOffsets v8 -4 (earliest local) and v9 -5 (latest tiered).
    r = list_offsets(s, 8, 0, -4)
    sc.expect(r[1] == 0 and r[3] == 0 and r[2] == -1,
              "ListOffsets v8 -4: %s" % (r,))
    r = list_offsets(s, 9, 0, -5)
    sc.expect(r[1] == 0 and r[3] == -1 and r[2] == -1 and r[4] == -1,
              "ListOffsets v9 -5: %s" % (r,))
    r = list_offsets(s, 9, 0, -1)
    r7 = list_offsets(s, 7, 0, -1)
    sc.expect(r[1] == 0 and r[3] == r7[3] and r[3] >= 4,
              "ListOffsets v9 -1: %s (v7: %s)" % (r, r7))
    sc.ok("ListOffsets v8 -4 = log start 0, v9 -5 = offset -1 epoch -1 "
          "(no tiered storage), v9 -1 = v7 -1 = %d" % r[3])



def sec_commit(s, tid):
    # OffsetCommit / OffsetFetch v9, a classic (simple) group.
    e = offset_commit(s, 9, "an-simple", "", -1, 0, 5)
    sc.expect(e == 0, "OffsetCommit v9, simple group: error %d" % e)
    e, off = offset_fetch_v9(s, "an-simple", None, -1, 0)
    sc.expect(e == 0 and off == 5, "OffsetFetch v9: error %d offset %s"
              % (e, off))
    sc.ok("OffsetCommit/OffsetFetch v9 on a classic group")

    # A consumer-protocol member (ConsumerGroupHeartbeat v0).
    body = cstr("an-cg") + cstr("") + i32(0) + cstr(None) + cstr(None) + \
        i32(30000) + carray([T], cstr) + cstr(None) + carray([], None) + b"\x00"
    rd = rpc(s, 68, 0, body)
    rd.i32()
    e, _, mid, mep = rd.i16(), rd.cstr(), rd.cstr(), rd.i32()
    sc.expect(e == 0 and mid and mep > 0, "heartbeat: error %d" % e)
    e = offset_commit(s, 9, "an-cg", mid, mep, 1, 7)
    sc.expect(e == 0, "OffsetCommit v9 with the member epoch: %d" % e)
    e = offset_commit(s, 9, "an-cg", mid, mep + 1, 1, 8)
    sc.expect(e == STALE_MEMBER_EPOCH, "OffsetCommit v9 stale: %d" % e)
    e = offset_commit(s, 8, "an-cg", mid, mep, 1, 8)
    sc.expect(e == UNSUPPORTED_VERSION, "OffsetCommit v8 member: %d" % e)
    e, off = offset_fetch_v9(s, "an-cg", mid, mep, 1)
    sc.expect(e == 0 and off == 7, "OffsetFetch v9 member: %d %s" % (e, off))
    e, off = offset_fetch_v9(s, "an-cg", mid, mep + 1, 1)
    sc.expect(e == STALE_MEMBER_EPOCH, "OffsetFetch v9 stale: %d" % e)
    e, off = offset_fetch_v9(s, "an-cg", "nobody", mep, 1)
    sc.expect(e == UNKNOWN_MEMBER_ID, "OffsetFetch v9 unknown: %d" % e)
    e, off = offset_fetch_v9(s, "an-cg", None, -1, 1)
    sc.expect(e == 0 and off == 7, "OffsetFetch v9 admin: %d %s" % (e, off))
    sc.ok("consumer group: OffsetCommit v9 STALE_MEMBER_EPOCH, v8 "
          "UNSUPPORTED_VERSION; OffsetFetch v9 STALE_MEMBER_EPOCH, "
          "UNKNOWN_MEMBER_ID, admin reads")



def sec_describe(s, tid):
    # DescribeProducers: an idempotent producer on every partition, a
    # transactional one with its transaction open on 1 and 2.
    ipid, iep = init_producer_id(s, None)
    for p in range(4):
        r = produce(s, 9, p, batch([b"i0", b"i1"], ipid, iep, 0))
        sc.expect(r[1] == 0, "idempotent produce to %d: error %d" % (p, r[1]))
    tpid, tep = init_producer_id(s, "an-tx")
    add_partitions(s, "an-tx", tpid, tep, [1, 2])
    tbase = {}
    for p in (1, 2):
        r = produce(s, 9, p, batch([b"t0", b"t1", b"t2"], tpid, tep, 0,
                                    True), "an-tx")
        sc.expect(r[1] == 0, "transactional produce to %d: error %d"
                  % (p, r[1]))
        tbase[p] = r[2]
    d = describe_producers(s, [(T, [0, 1, 2, 3, 7]), ("nope", [0]),
                               ("a/b", [0])])
    for p in range(4):
        err, msg, prods = d[(T, p)]
        sc.expect(err == 0, "DescribeProducers %s-%d: error %d" % (T, p, err))
        x = prods.get(ipid)
        sc.expect(x is not None and x[1] == iep and x[2] == 1 and
                  x[4] == -1 and x[5] == -1 and
                  abs(x[3] - time.time() * 1000) < 60000,
                  "%s-%d idempotent producer: %s" % (T, p, x))
        x = prods.get(tpid)
        if p in (1, 2):
            sc.expect(x is not None and x[1] == tep and x[2] == 2 and
                      0 <= x[5] <= tbase[p],
                      "%s-%d transactional producer: %s (first batch at %d)"
                      % (T, p, x, tbase[p]))
        else:
            sc.expect(x is None, "%s-%d lists the transactional producer"
                      % (T, p))
    sc.expect(d[(T, 7)][0] == UNKNOWN_TOPIC_OR_PARTITION and
              d[("nope", 0)][0] == UNKNOWN_TOPIC_OR_PARTITION and
              d[("a/b", 0)][0] == INVALID_TOPIC_EXCEPTION,
              "DescribeProducers errors: %s" % d)
    sc.ok("DescribeProducers: the idempotent producer on 4 partitions "
          "(last sequence 1, no transaction), the transactional one on 1 "
          "and 2 with its open transaction's start offset; unknown "
          "partition/topic 3, illegal name 17")



SECTIONS = [("fetch", sec_fetch), ("session", sec_session),
            ("list_offsets", sec_list_offsets), ("commit", sec_commit),
            ("describe", sec_describe), ("produce", sec_produce)]


def main():
    want = set(sys.argv[3:]) or {n for n, _ in SECTIONS}
    s = connect(HOST, PORT)
    tid = metadata_ids(s)[T][1]
    sc.expect(tid != b"\x00" * 16, "topic %s has no id" % T)
    # Partition 0: 4 records in two batches, with Produce v9 (served
    # before these versions were), so that each section can be run alone.
    for vals, base in (([b"a0", b"a1", b"a2"], 0), ([b"a3"], 3)):
        r = produce(s, 9, 0, batch(vals))
        sc.expect(r[1] == 0 and r[2] == base, "Produce v9: error %d base %d"
                  % (r[1], r[2]))
    for name, fn in SECTIONS:
        if name in want:
            fn(s, tid)


main()
