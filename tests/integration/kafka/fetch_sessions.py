#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fetch sessions (KIP-227) on raw sockets (test_fetch_sessions.sh). No
client installed here uses them (librdkafka 2.0.2 and KafkaJS send session
id 0 with epoch -1, kafka-python stops at Fetch v4), the Java client does.

  fetch_sessions.py HOST PORT main|evict

main: a full fetch with epoch 0 gets a session id and every partition; an
incremental fetch answers only partitions with records or a changed high
watermark / log start offset; forgotten_topics_data drops a partition,
a new one in an incremental request is added; partitions that sent
records move to the end (max_bytes fairness); a parked incremental fetch
is woken by an append and moves the epoch by exactly one; a stale epoch
gets INVALID_FETCH_SESSION_EPOCH (71), an unknown id
FETCH_SESSION_ID_NOT_FOUND (70); epoch -1 closes the session.
evict (broker with max.incremental.fetch.session.cache.slots=2 on one data
lcore): a third consumer session is refused (id 0), a follower's evicts
the smallest consumer session, the other one keeps working.
"""
import sys
import time

from kwire import (Reader, Script, batches, connect, frame, hdr1, i8, i16,
                   i32, i64, produce_v7, record_batch, s16)

HOST, PORT, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TOPIC = "fs"
NOT_FOUND, BAD_EPOCH = 70, 71
T = Script("fetch sessions", 1000)
fail, ok, expect, next_corr, call = T.fail, T.ok, T.expect, T.next_corr, T.call


def create_topic(s, name, parts):
    body = i32(1) + s16(name) + i32(parts) + i16(1) + i32(0) + i32(0) + \
        i32(10000)
    r = Reader(call(s, frame(hdr1(19, 0, next_corr()) + body)))
    expect(r.i32() == 1 and r.s16() == name, "CreateTopics answer")
    e = r.i16()
    expect(e == 0, f"CreateTopics {name}: error {e}")


def produce(s, partition, n=1, size=10):
    batch = record_batch([b"x" * size] * n)
    r = Reader(call(s, produce_v7(next_corr(), 1, batch, TOPIC, partition)))
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    e = r.i16()
    expect(e == 0, f"produce p{partition}: error {e}")
    return r.i64()


def fetch(s, sid, epoch, parts, forget=(), max_wait=0, min_bytes=0,
          max_bytes=50 << 20, replica=-1):
    """Fetch v7. parts: [(partition, offset, partition_max_bytes)];
    forget: [partition]. Returns (error, session id,
    [(partition, error, hw, log_start, record bytes, batches)])."""
    body = i32(replica) + i32(max_wait) + i32(min_bytes) + i32(max_bytes) + \
        i8(0) + i32(sid) + i32(epoch)
    if parts:
        body += i32(1) + s16(TOPIC) + i32(len(parts)) + b"".join(
            i32(p) + i64(o) + i64(-1) + i32(m) for p, o, m in parts)
    else:
        body += i32(0)
    if forget:
        body += i32(1) + s16(TOPIC) + i32(len(forget)) + \
            b"".join(i32(p) for p in forget)
    else:
        body += i32(0)
    r = Reader(call(s, frame(hdr1(1, 7, next_corr(), "fsess") + body)))
    r.i32()
    err, sid = r.i16(), r.i32()
    out = []
    for _ in range(r.i32()):
        expect(r.s16() == TOPIC, "topic name")
        for _ in range(r.i32()):
            p, e = r.i32(), r.i16()
            hw, _lso, ls = r.i64(), r.i64(), r.i64()
            for _ in range(max(r.i32(), 0)):
                r.i64()
                r.i64()
            recs = r.bytes32() or b""
            out.append((p, e, hw, ls, len(recs), batches(recs)))
    return err, sid, out


def parts_of(ans):
    return [p for p, *_ in ans[2]]


def main_mode():
    s = connect(HOST, PORT)
    create_topic(s, TOPIC, 4)
    produce(s, 0, 3)
    produce(s, 1, 2)

    # Full fetch, epoch 0: a session and every partition.
    err, sid, out = fetch(s, 0, 0, [(p, 0, 1 << 20) for p in range(4)])
    expect(err == 0, f"full fetch error {err}")
    expect(sid != 0, "full fetch with epoch 0 got session id 0 (no session)")
    expect(sorted(parts_of((err, sid, out))) == [0, 1, 2, 3],
           f"full answer partitions {parts_of((err, sid, out))}")
    pos = {p: (bl[-1][0] + bl[-1][1] + 1 if bl else 0)
           for p, e, hw, ls, n, bl in out}
    expect(pos[0] == 3 and pos[1] == 2, f"positions after full fetch {pos}")
    ok(f"full fetch (epoch 0) opened session {sid} with all 4 partitions")

    # Incremental: the consumer sends only the partitions it moved.
    err, sid2, out = fetch(s, sid, 1, [(0, pos[0], 1 << 20),
                                       (1, pos[1], 1 << 20)])
    expect(err == 0 and sid2 == sid, f"incremental 1: error {err} id {sid2}")
    expect(out == [], f"nothing changed, yet the answer has {out}")
    ok("incremental fetch with nothing new answers no partition")

    produce(s, 2, 4)
    err, sid2, out = fetch(s, sid, 2, [])
    expect(err == 0 and sid2 == sid, f"incremental 2: error {err}")
    expect(parts_of((0, 0, out)) == [2] and out[0][5],
           f"want only p2 with records, got {out}")
    pos[2] = 4
    ok("an append to one partition: the next incremental answer has only it")

    # A stale epoch and an unknown id.
    err, sid2, out = fetch(s, sid, 2, [])
    expect(err == BAD_EPOCH and sid2 == 0 and out == [],
           f"stale epoch: error {err}, id {sid2}, want {BAD_EPOCH}")
    other = sid ^ 0x100
    err, sid2, out = fetch(s, other, 1, [])
    expect(err == NOT_FOUND and sid2 == 0, f"unknown id: error {err}")
    err, _, _ = fetch(s, 0, 5, [])
    expect(err == NOT_FOUND, f"id 0 with epoch 5: error {err}")
    ok("stale epoch -> INVALID_FETCH_SESSION_EPOCH, unknown id -> "
       "FETCH_SESSION_ID_NOT_FOUND")

    # The session survived those: epoch 3. Forget p3, then append to it
    # and to p1: only p1 comes back.
    err, _, out = fetch(s, sid, 3, [(2, pos[2], 1 << 20)], forget=[3])
    expect(err == 0 and out == [], f"forget p3: error {err} {out}")
    produce(s, 3, 1)
    produce(s, 1, 1)
    err, _, out = fetch(s, sid, 4, [])
    expect(err == 0 and parts_of((0, 0, out)) == [1],
           f"after forgetting p3 want only p1, got {out}")
    pos[1] += 1
    # Add p3 back from offset 0: a new partition is always answered.
    err, _, out = fetch(s, sid, 5, [(1, pos[1], 1 << 20), (3, 0, 1 << 20)])
    expect(err == 0 and parts_of((0, 0, out)) == [3] and out[0][5],
           f"re-added p3: got {out}")
    pos[3] = 1
    ok("forgotten_topics_data drops a partition; a new one is added")

    # Fairness: p0 and p1 both have data beyond max_bytes; the partition
    # that sent records moves to the end, so the other goes first next.
    for _ in range(5):
        produce(s, 0, 1, 2000)
        produce(s, 1, 1, 2000)
    epoch = 6
    err, _, out = fetch(s, sid, epoch, [(3, pos[3], 1 << 20)], max_bytes=1)
    epoch += 1
    first = [p for p, e, hw, ls, n, bl in out if n > 0]
    expect(err == 0 and len(first) == 1, f"max_bytes=1: data from {first}")
    served = first[0]
    bl = [o for o in out if o[0] == served][0][5]
    pos[served] = bl[-1][0] + bl[-1][1] + 1
    err, _, out = fetch(s, sid, epoch, [(served, pos[served], 1 << 20)],
                        max_bytes=1)
    epoch += 1
    second = [p for p, e, hw, ls, n, bl in out if n > 0]
    expect(err == 0 and len(second) == 1 and second[0] != served,
           f"after p{served} sent records, p{served} again ({second})")
    ok(f"max_bytes fairness: p{served} then p{second[0]} "
       "(a partition that sent records goes to the end)")
    bl = [o for o in out if o[0] == second[0]][0][5]
    pos[second[0]] = bl[-1][0] + bl[-1][1] + 1
    # Catch both up so the session is quiet.
    while True:
        err, _, out = fetch(s, sid, epoch,
                            [(p, pos[p], 1 << 20) for p in (0, 1)])
        epoch += 1
        expect(err == 0, f"catch-up error {err}")
        moved = False
        for p, e, hw, ls, n, bl in out:
            if bl:
                pos[p] = bl[-1][0] + bl[-1][1] + 1
                moved = True
        if not moved:
            break
    err, _, out = fetch(s, sid, epoch, [(p, pos[p], 1 << 20) for p in (0, 1)])
    epoch += 1
    expect(err == 0 and out == [], f"quiet session answers {out}")

    # Parked: an incremental fetch waits for min_bytes, an append from
    # another connection wakes it, and the epoch moves by exactly one.
    s2 = connect(HOST, PORT)
    body_t = time.monotonic()
    import threading

    def later():
        time.sleep(0.4)
        produce(s2, 2, 2)
    th = threading.Thread(target=later)
    th.start()
    err, _, out = fetch(s, sid, epoch, [], max_wait=5000, min_bytes=1)
    took = time.monotonic() - body_t
    th.join()
    expect(err == 0 and parts_of((0, 0, out)) == [2],
           f"parked incremental answered {err} {out}")
    expect(0.3 < took < 4, f"parked incremental took {took:.2f}s")
    epoch += 1
    err, _, out = fetch(s, sid, epoch, [(2, pos[2] + 2, 1 << 20)])
    expect(err == 0 and out == [],
           f"after the parked answer, epoch {epoch}: error {err} {out}")
    epoch += 1
    ok(f"parked incremental fetch woken by an append after {took:.2f}s; "
       "its epoch moved by one")

    # Epoch -1 closes it.
    err, sid2, out = fetch(s, sid, -1, [(0, pos[0], 1 << 20)])
    expect(err == 0 and sid2 == 0 and parts_of((0, 0, out)) == [0],
           f"close with epoch -1: error {err} id {sid2}")
    err, _, _ = fetch(s, sid, epoch, [])
    expect(err == NOT_FOUND, f"closed session: error {err}")
    # A full fetch with epoch 0 naming an old session replaces it.
    err, a, _ = fetch(s, 0, 0, [(0, 0, 1 << 20)])
    err, b, _ = fetch(s, a, 0, [(0, 0, 1 << 20)])
    expect(err == 0 and a != 0 and b != 0 and b != a, f"ids {a} {b}")
    err, _, _ = fetch(s, a, 1, [])
    expect(err == NOT_FOUND, f"replaced session still answers: {err}")
    err, _, _ = fetch(s, b, -1, [])
    ok("epoch -1 closes a session; epoch 0 naming one replaces it")


def evict_mode():
    s = connect(HOST, PORT)
    create_topic(s, TOPIC, 4)
    produce(s, 0, 1)
    err, a, _ = fetch(s, 0, 0, [(0, 0, 1 << 20), (1, 0, 1 << 20)])
    err2, b, _ = fetch(s, 0, 0, [(2, 0, 1 << 20)])
    expect(err == 0 and err2 == 0 and a != 0 and b != 0, f"ids {a} {b}")
    err, c, out = fetch(s, 0, 0, [(0, 0, 1 << 20), (1, 0, 1 << 20),
                                  (2, 0, 1 << 20)])
    expect(err == 0 and c == 0 and len(out) == 3,
           f"third consumer session: error {err}, id {c} (want 0: cache "
           "full, the others are young)")
    ok("a full cache refuses a consumer's session (the others are young)")
    # A follower's session evicts the smallest consumer session (b).
    err, f, _ = fetch(s, 0, 0, [(3, 0, 1 << 20)], replica=7)
    expect(err == 0 and f != 0, f"follower session: error {err} id {f}")
    err, _, _ = fetch(s, b, 1, [])
    expect(err == NOT_FOUND, f"evicted session b answers error {err}")
    err, _, _ = fetch(s, a, 1, [])
    expect(err == 0, f"session a (bigger) was evicted: error {err}")
    ok("a follower's session evicted the smallest consumer session")


if __name__ == "__main__":
    {"main": main_mode, "evict": evict_mode}[MODE]()
