#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fetch, ListOffsets and DescribeCluster semantics on raw sockets
(test_kafka_python.sh): the limits and waits clients rely on but cannot
show us directly.

  fetch_raw.py HOST PORT

Produce v7/v9: several topics, partitions and batches in one request with
per-partition errors (unknown topic/partition, MESSAGE_TOO_LARGE,
CORRUPT_MESSAGE taking nothing of the partition), INVALID_REQUIRED_ACKS.
Fetch v5: max_bytes and partition_max_bytes (whole batches, at least one:
KIP-74), an offset inside a batch, the high watermark, last stable offset
and log start offset, OFFSET_OUT_OF_RANGE, unknown topic and partition,
min_bytes/max_wait_ms (waits its time; woken by an append from another
connection; answers at once on an error), responses in request order
behind a parked fetch. ListOffsets v1: earliest, latest, by timestamp.
DescribeCluster v0.
"""
import sys
import time

from kwire import (Reader, Script, api_versions_v0, batches, connect, cstr,
                   frame, hdr1, hdr2, i8, i16, i32, i64, produce_v7,
                   read_response, record_batch, s16, uvarint)

HOST, PORT = sys.argv[1], int(sys.argv[2])
TOPIC = "fr"
BATCHES, PER = 50, 3          # 150 records in partition 0
T0 = 1_700_000_000_000        # batch i has timestamp T0 + 1000 * i
T = Script("raw fetch", 100)
fail, ok, expect, next_corr, call = T.fail, T.ok, T.expect, T.next_corr, T.call


def create_topic(s, name, parts, configs=None):
    # CreateTopics v0: topics [name, partitions, rf, assignments[], configs[]], timeout
    cfg = configs or {}
    body = i32(1) + s16(name) + i32(parts) + i16(1) + i32(0) + i32(len(cfg)) + \
        b"".join(s16(k) + s16(v) for k, v in cfg.items()) + i32(10000)
    r = Reader(call(s, frame(hdr1(19, 0, next_corr()) + body)))
    expect(r.i32() == 1 and r.s16() == name, "CreateTopics answer")
    e = r.i16()
    expect(e == 0, f"CreateTopics {name}: error {e}")


def produce(s, batch, partition=0):
    r = Reader(call(s, produce_v7(next_corr(), 1, batch, TOPIC, partition)))
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    e = r.i16()
    expect(e == 0, f"produce: error {e}")
    return r.i64()


def fetch_req(parts, max_wait=0, min_bytes=1, max_bytes=50 << 20, topic=TOPIC,
              c=None):
    """Fetch v5; parts: [(partition, offset, partition_max_bytes)]"""
    body = i32(-1) + i32(max_wait) + i32(min_bytes) + i32(max_bytes) + i8(0) + \
        i32(1) + s16(topic) + i32(len(parts)) + b"".join(
            i32(p) + i64(o) + i64(-1) + i32(m) for p, o, m in parts)
    return frame(hdr1(1, 5, c if c is not None else next_corr()) + body)


def parse_fetch(body):
    """{partition: (error, hw, lso, log_start, [batches], record bytes)}"""
    r = Reader(body)
    r.i32()
    out = {}
    for _ in range(r.i32()):
        r.s16()
        for _ in range(r.i32()):
            p = r.i32()
            e = r.i16()
            hw, lso, ls = r.i64(), r.i64(), r.i64()
            n = r.i32()
            for _ in range(max(n, 0)):
                r.i64()
                r.i64()
                recs = r.bytes32()
            recs = r.bytes32()
            out[p] = (e, hw, lso, ls, batches(recs), len(recs or b""))
    return out


def fetch(s, parts, **kw):
    return parse_fetch(call(s, fetch_req(parts, **kw)))


def list_offsets(s, partition, ts):
    body = i32(-1) + i32(1) + s16(TOPIC) + i32(1) + i32(partition) + i64(ts)
    r = Reader(call(s, frame(hdr1(2, 1, next_corr()) + body)))
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    return r.i16(), r.i64(), r.i64()   # error, timestamp, offset


def main():
    s = connect(HOST, PORT)
    create_topic(s, TOPIC, 2)
    vals = [b"v" * 200] * PER
    for i in range(BATCHES):
        base = produce(s, record_batch(vals, ts=T0 + 1000 * i))
        expect(base == i * PER, f"batch {i} at offset {base}")
    produce(s, record_batch([b"p1"] * 10), partition=1)
    blen = len(record_batch(vals))
    hw = BATCHES * PER

    # --- limits ------------------------------------------------------------
    e, h, lso, ls, bs, n = fetch(s, [(0, 0, 1 << 20)], max_bytes=1 << 20)[0]
    expect(e == 0 and h == hw and lso == hw and ls == 0,
           f"error {e} hw {h} lso {lso} log start {ls}, want 0 {hw} {hw} 0")
    expect(len(bs) == BATCHES and bs[0][0] == 0 and all(b[2] == blen for b in bs),
           f"whole partition: {len(bs)} batches")
    ok(f"a fetch of everything: {BATCHES} whole batches, hw = lso = {hw}, log start 0")

    _, _, _, _, bs, n = fetch(s, [(0, 0, 1 << 20)], max_bytes=3 * blen - 1)[0]
    expect(len(bs) == 2 and n <= 3 * blen - 1,
           f"max_bytes {3 * blen - 1}: {len(bs)} batches, {n} bytes, want 2")
    _, _, _, _, bs, n = fetch(s, [(0, 0, 2 * blen)])[0]
    expect(len(bs) == 2 and n == 2 * blen,
           f"partition_max_bytes {2 * blen}: {len(bs)} batches, {n} bytes")
    _, _, _, _, bs, n = fetch(s, [(0, 0, 10)], max_bytes=10)[0]
    expect(len(bs) == 1 and bs[0][0] == 0,
           f"limits below one batch: {len(bs)} batches, want exactly 1 (KIP-74)")
    r = fetch(s, [(0, 0, 1 << 20), (1, 0, 1 << 20)], max_bytes=blen + 10)
    expect(len(r[0][4]) == 1 and r[1][4] == [] and r[1][1] == 10,
           f"max_bytes spent on partition 0: p0 {len(r[0][4])} batches, "
           f"p1 {len(r[1][4])} batches hw {r[1][1]}")
    # Eight partitions: with several data lcores some are owned by the
    # connection's lcore and some are read by others; max_bytes holds for
    # the whole response all the same.
    create_topic(s, "fr8", 8)
    for p in range(8):
        for _ in range(2):
            r = Reader(call(s, produce_v7(next_corr(), 1, record_batch(vals), "fr8", p)))
            r.take(4 + 2 + 3 + 4 + 4)   # topics, "fr8", partitions, index
            expect(r.i16() == 0, f"produce to fr8/{p}")
    for lim in (3 * blen - 1, 5 * blen - 1):
        r = fetch(s, [(p, 0, 1 << 20) for p in range(8)], max_bytes=lim, topic="fr8")
        got = [len(r[p][4]) for p in range(8)]
        total = sum(r[p][5] for p in range(8))
        want = [2, 0, 0, 0, 0, 0, 0, 0] if lim < 4 * blen else [2, 2, 0, 0, 0, 0, 0, 0]
        expect(got == want and total <= lim and all(r[p][1] == 2 * PER for p in range(8)),
               f"8 partitions, max_bytes {lim}: batches {got} ({total} bytes), want {want}")
    ok("max_bytes and partition_max_bytes respected in whole batches; "
       "one batch even when it exceeds both (KIP-74); later partitions "
       "get offsets only once max_bytes is spent (8 partitions, every lcore)")

    _, _, _, _, bs, _ = fetch(s, [(0, 4, 1 << 20)])[0]
    expect(bs and bs[0][0] == 3, f"offset 4: first batch at {bs[0][0] if bs else None}, want 3")
    e, h, _, _, bs, _ = fetch(s, [(0, hw, 1 << 20)])[0]
    expect(e == 0 and bs == [] and h == hw, f"offset = hw: error {e}, {len(bs)} batches")
    for off in (hw + 1, -5, 1 << 40):
        e, h, _, ls, bs, _ = fetch(s, [(0, off, 1 << 20)])[0]
        expect(e == 1 and h == hw and ls == 0 and bs == [],
               f"offset {off}: error {e} hw {h}, want OFFSET_OUT_OF_RANGE (1)")
    e = fetch(s, [(7, 0, 1 << 20)])[7][0]
    expect(e == 3, f"partition 7: error {e}, want 3")
    e = fetch(s, [(0, 0, 1 << 20)], topic="no-such-topic-fr")[0][0]
    expect(e == 3, f"unknown topic: error {e}, want 3")
    ok("offset inside a batch returns that batch; at hw nothing; past it, "
       "negative or huge OFFSET_OUT_OF_RANGE with hw and log start; unknown "
       "topic/partition UNKNOWN_TOPIC_OR_PARTITION")

    # --- waiting -----------------------------------------------------------
    t = time.time()
    _, _, _, _, bs, _ = fetch(s, [(0, 0, 1 << 20)], max_wait=400, min_bytes=10 << 20)[0]
    dt = time.time() - t
    expect(0.35 <= dt < 3 and len(bs) == BATCHES,
           f"min_bytes not reachable: answered after {dt:.3f} s with {len(bs)} batches")
    ok(f"min_bytes out of reach: waits max_wait_ms (400 ms: {dt * 1000:.0f} ms), then answers with what there is")

    waits = []
    for i in range(5):
        s2 = connect(HOST, PORT)
        hw_now = hw + i
        req = fetch_req([(0, hw_now, 1 << 20)], max_wait=5000, min_bytes=1)
        s2.sendall(req)
        time.sleep(0.3)
        t = time.time()
        produce(s, record_batch([b"wake"]))
        resp = read_response(s2)
        dt = time.time() - t
        expect(resp is not None, "parked fetch: connection closed")
        _, h, _, _, bs, _ = parse_fetch(resp[1])[0]
        expect(len(bs) == 1 and bs[0][0] == hw_now,
               f"woken fetch: {len(bs)} batches at {bs[0][0] if bs else None}")
        waits.append(dt)
        s2.close()
    hw += 5
    expect(max(waits) < 1.0, f"append -> parked fetch answered after {max(waits):.3f} s (max_wait 5 s)")
    ok(f"a parked fetch (max_wait 5 s) is woken by an append on another connection: "
       f"{', '.join(f'{w * 1000:.1f}' for w in waits)} ms after the produce answer")

    t = time.time()
    r = fetch(s, [(0, hw, 1 << 20), (9, 0, 1 << 20)], max_wait=3000, min_bytes=1)
    dt = time.time() - t
    expect(r[9][0] == 3 and dt < 1.0, f"with an erroring partition: {dt:.3f} s")
    ok(f"a fetch with a partition in error is answered at once ({dt * 1000:.0f} ms)")

    # pipelined behind a parked fetch: answers in request order
    s3 = connect(HOST, PORT)
    s3.sendall(fetch_req([(0, hw, 1 << 20)], max_wait=600, min_bytes=1, c=9001) +
               api_versions_v0(9002) + fetch_req([(0, 0, 10)], c=9003))
    order = [read_response(s3)[0] for _ in range(3)]
    s3.close()
    expect(order == [9001, 9002, 9003], f"response order {order}")
    ok("requests behind a parked fetch are answered after it, in order")

    # --- ListOffsets ---------------------------------------------------------
    expect(list_offsets(s, 0, -2) == (0, -1, 0), f"earliest: {list_offsets(s, 0, -2)}")
    expect(list_offsets(s, 0, -1) == (0, -1, hw), f"latest: {list_offsets(s, 0, -1)}")
    e, ts, off = list_offsets(s, 0, T0 + 10 * 1000)
    expect(e == 0 and off == 30 and ts == T0 + 10000, f"by time T0+10s: {e} {ts} {off}")
    e, ts, off = list_offsets(s, 0, T0 + 10 * 1000 - 1)
    expect(e == 0 and off == 30, f"by time T0+10s-1ms: {e} {ts} {off}")
    e, ts, off = list_offsets(s, 0, T0 - 1)
    expect(e == 0 and off == 0, f"before everything: {e} {ts} {off}")
    e, ts, off = list_offsets(s, 1, 1 << 50)
    expect(e == 0 and off == -1, f"after everything: {e} {ts} {off}")
    e, _, _ = list_offsets(s, 5, -1)
    expect(e == 3, f"partition 5: {e}")
    ok("ListOffsets v1: earliest, latest, by timestamp (exact, between, before, after), unknown partition")

    # --- Produce: several topics, partitions and batches in one request ---------
    create_topic(s, "fr-small", 1, configs={"max.message.bytes": "1000"})
    good = record_batch([b"g" * 50] * 2)
    two = record_batch([b"a"] * 3) + record_batch([b"b"] * 4)
    bad_second = record_batch([b"c"]) + record_batch([b"d"], corrupt_crc=True)
    big = record_batch([b"x" * 1500])

    def pdata(p, recs):
        return i32(p) + i32(len(recs)) + recs

    def tdata(name, parts):
        return s16(name) + i32(len(parts)) + b"".join(pdata(p, r) for p, r in parts)
    topics = [tdata(TOPIC, [(0, two), (1, good), (9, good)]),
              tdata("no-such-topic-fr", [(0, good)]),
              tdata("fr-small", [(0, big)]),
              tdata("fr8", [(3, bad_second), (4, good)])]
    body = s16(None) + i16(-1) + i32(5000) + i32(len(topics)) + b"".join(topics)
    r = Reader(call(s, frame(hdr1(0, 7, next_corr()) + body)))
    res = {}
    for _ in range(r.i32()):
        name = r.s16()
        for _ in range(r.i32()):
            p, e, base = r.i32(), r.i16(), r.i64()
            r.i64()
            r.i64()
            res[(name, p)] = (e, base)
    want = {(TOPIC, 0): (0, hw), (TOPIC, 1): (0, 10), (TOPIC, 9): (3, -1),
            ("no-such-topic-fr", 0): (3, -1), ("fr-small", 0): (10, -1),
            ("fr8", 3): (2, -1), ("fr8", 4): (0, 2 * PER)}
    expect(res == want, f"multi-topic produce: {res}, want {want}")
    e, h, _, _, bs, _ = fetch(s, [(0, hw, 1 << 20)])[0]
    expect([(b[0], b[1]) for b in bs] == [(hw, 2), (hw + 3, 3)],
           f"two batches of one partition: {[(b[0], b[1]) for b in bs]}")
    hw += 7
    h = fetch(s, [(3, 0, 1 << 20)], topic="fr8")[3][1]
    expect(h == 2 * PER, f"fr8/3 took part of a partition that failed: hw {h}")
    ok("Produce: 4 topics, 7 partitions in one request: two batches appended in "
       "order, per-partition UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, and "
       "CORRUPT_MESSAGE for a bad second batch with nothing of it appended")

    body = s16(None) + i16(2) + i32(5000) + i32(1) + tdata(TOPIC, [(1, good)])
    r = Reader(call(s, frame(hdr1(0, 7, next_corr()) + body)))
    r.take(4 + 2 + len(TOPIC) + 4 + 4)
    e = r.i16()
    expect(e == 21, f"acks=2: error {e}, want INVALID_REQUIRED_ACKS (21)")

    # Produce v9 (flexible: compact strings and arrays, tagged fields),
    # which no client here sends; the Java client does.
    body = cstr(None) + i16(1) + i32(5000) + uvarint(2) + cstr(TOPIC) + \
        uvarint(2) + i32(1) + uvarint(len(good) + 1) + good + b"\x00" + \
        b"\x00" + b"\x00"
    r = Reader(call(s, frame(hdr2(0, 9, next_corr()) + body)))
    r.tags()
    expect(r.uvarint() == 2 and r.cstr() == TOPIC and r.uvarint() == 2,
           "Produce v9 answer layout")
    p, e, base = r.i32(), r.i16(), r.i64()
    expect(p == 1 and e == 0 and base == 12, f"Produce v9: partition {p} error {e} base {base}")
    ok("Produce: acks=2 INVALID_REQUIRED_ACKS; flexible Produce v9 appended")

    # --- DescribeCluster v0 (flexible) ----------------------------------------
    r = Reader(call(s, frame(hdr2(60, 0, next_corr()) + b"\x00" + b"\x00")))
    r.tags()
    r.i32()
    e = r.i16()
    r.cstr()
    cluster = r.cstr()
    controller = r.i32()
    nb = r.uvarint() - 1
    bid = r.i32()
    host = r.cstr()
    port = r.i32()
    expect(e == 0 and cluster and nb == 1 and controller == bid and
           host == HOST and port == PORT,
           f"DescribeCluster: error {e} cluster {cluster} controller {controller} "
           f"brokers {nb} {bid} {host}:{port}")
    ok(f"DescribeCluster v0: cluster {cluster}, broker {bid} at {host}:{port}, controller")
    s.close()


if __name__ == "__main__":
    main()
