# SPDX-License-Identifier: Apache-2.0
"""WriteTxnMarkers (API 27) on a cluster's partition leaders, as a
transaction coordinator on another broker would send it
(test_cluster_txn_markers.sh).

  cluster_wtm.py write TOPIC BOOTS   a producer id (InitProducerId),
      transactional batches into partitions 0 and 1 and a plain batch
      after each, each sent to the partition's leader; read_committed
      stops at the open transactions; WriteTxnMarkers COMMIT for 0 and
      ABORT for 1 to their leaders (a non-leader answers
      NOT_LEADER_OR_FOLLOWER); read_committed reaches the log end, sees
      the committed records and not the aborted ones
  cluster_wtm.py read TOPIC BOOTS    only the read_committed and
      read_uncommitted checks (after the leaders moved)

Prints "ok ..." lines; exits 1 with the reason on the first failure.
"""
import struct
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from kwire import (connect, crc32c, frame, hdr1, i8, i16, i32, i64, s16,  # noqa
                   u32, varint, read_response)

NOT_LEADER = 6
TXN = {0: ["c0", "c1", "c2"], 1: ["a0", "a1"]}
PLAIN = {0: ["p0"], 1: ["p1"]}
COMMIT = {0: True, 1: False}


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


class R:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def s16(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()


def batch(values, pid, epoch, seq, txn):
    recs = b""
    for i, v in enumerate(values):
        body = i8(0) + varint(0) + varint(i) + varint(-1) + \
            varint(len(v)) + v.encode() + varint(0)
        recs += varint(len(body)) + body
    now = int(time.time() * 1000)
    after_crc = i16(0x10 if txn else 0) + i32(len(values) - 1) + i64(now) + \
        i64(now) + i64(pid) + i16(epoch) + i32(seq) + i32(len(values)) + recs
    tail = i32(0) + i8(2) + u32(crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(tail)) + tail


def call(addr, payload):
    h, p = addr.rsplit(":", 1)
    s = connect(h, int(p))
    s.settimeout(40)
    try:
        s.sendall(payload)
        r = read_response(s)
    finally:
        s.close()
    if r is None:
        fail(f"{addr} closed the connection")
    return R(r[1])


def leaders(topic, boots):
    md = AdminClient({"bootstrap.servers": boots}).list_topics(topic,
                                                               timeout=10)
    addr = {b.id: f"{b.host}:{b.port}" for b in md.brokers.values()}
    t = md.topics[topic]
    out = {}
    for p in (0, 1):
        ld = t.partitions[p].leader
        if ld < 0:
            fail(f"partition {p} has no leader")
        out[p] = ld
    return out, addr


def init_pid(addr):
    # InitProducerId v1: no transactional id (idempotent), 60 s.
    r = call(addr, frame(hdr1(22, 1, 1) + s16(None) + i32(60000)))
    r.i32()
    err, pid, epoch = r.i16(), r.i64(), r.i16()
    if err != 0:
        fail(f"InitProducerId: error {err}")
    return pid, epoch


def produce(addr, topic, p, b, tid="wtm-test", want=0):
    # Produce v3, acks=-1; transactional records need a transactional id.
    body = s16(tid) + i16(-1) + i32(15000) + i32(1) + s16(topic) + \
        i32(1) + i32(p) + i32(len(b)) + b
    r = call(addr, frame(hdr1(0, 3, 2) + body))
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    err, base = r.i16(), r.i64()
    if err != want:
        fail(f"Produce to {topic}-{p} at {addr}: error {err}, expected {want}")
    return base


def lso(addr, topic, p, isolation):
    # ListOffsets v2, latest.
    body = i32(-1) + i8(isolation) + i32(1) + s16(topic) + i32(1) + \
        i32(p) + i64(-1)
    r = call(addr, frame(hdr1(2, 2, 3) + body))
    r.i32()
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    err = r.i16()
    r.i64()
    off = r.i64()
    if err != 0:
        fail(f"ListOffsets {topic}-{p}: error {err}")
    return off


def wtm(addr, topic, p, pid, epoch, commit):
    # WriteTxnMarkers v0: one marker, one partition.
    body = i32(1) + i64(pid) + i16(epoch) + i8(1 if commit else 0) + \
        i32(1) + s16(topic) + i32(1) + i32(p) + i32(0)
    r = call(addr, frame(hdr1(27, 0, 4) + body))
    nm = r.i32()
    if nm != 1 or r.i64() != pid or r.i32() != 1 or r.s16() != topic or \
            r.i32() != 1 or r.i32() != p:
        fail("WriteTxnMarkers: unexpected answer")
    return r.i16()


def consume(topic, boots, isolation, want):
    c = Consumer({"bootstrap.servers": boots, "group.id": "wtm-check",
                  "enable.auto.commit": False,
                  "isolation.level": isolation,
                  "auto.offset.reset": "earliest"})
    got = {0: [], 1: []}
    c.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
    end = time.time() + 30
    while time.time() < end and \
            any(len(got[p]) < len(want[p]) for p in (0, 1)):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got[m.partition()].append(m.value().decode())
    # A little longer: nothing more must come.
    end = time.time() + 2
    while time.time() < end:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got[m.partition()].append(m.value().decode())
    c.close()
    if got != want:
        fail(f"{isolation}: got {got}, expected {want}")
    print(f"ok {isolation}: {got}", flush=True)


def check_reads(topic, boots):
    committed = {p: (TXN[p] if COMMIT[p] else []) + PLAIN[p]
                 for p in (0, 1)}
    everything = {p: TXN[p] + PLAIN[p] for p in (0, 1)}
    consume(topic, boots, "read_committed", committed)
    consume(topic, boots, "read_uncommitted", everything)


def write(topic, boots):
    ld, addr = leaders(topic, boots)
    print(f"ok leaders: partition 0 on {ld[0]}, partition 1 on {ld[1]}",
          flush=True)
    pid, epoch = init_pid(addr[ld[0]])
    # As Kafka: no transactional id, no transactional records.
    produce(addr[ld[0]], topic, 0, batch(TXN[0], pid, epoch, 0, True),
            None, 53)
    print("ok transactional records without a transactional id: "
          "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", flush=True)
    first = {}
    for p in (0, 1):
        first[p] = produce(addr[ld[p]], topic, p,
                           batch(TXN[p], pid, epoch, 0, True))
        produce(addr[ld[p]], topic, p, batch(PLAIN[p], -1, -1, -1, False))
    for p in (0, 1):
        rc = lso(addr[ld[p]], topic, p, 1)
        hw = lso(addr[ld[p]], topic, p, 0)
        if rc != first[p] or hw != first[p] + len(TXN[p]) + 1:
            fail(f"partition {p} open: LSO {rc} HW {hw}, expected LSO "
                 f"{first[p]} HW {first[p] + len(TXN[p]) + 1}")
    print("ok open transactions hold the LSO at their first offsets",
          flush=True)
    # A broker that does not lead the partition refuses.
    other = next(i for i in addr if i != ld[0])
    e = wtm(addr[other], topic, 0, pid, epoch, True)
    if e != NOT_LEADER:
        fail(f"WriteTxnMarkers to non-leader {other}: error {e}")
    print(f"ok non-leader {other}: NOT_LEADER_OR_FOLLOWER", flush=True)
    for p in (0, 1):
        e = wtm(addr[ld[p]], topic, p, pid, epoch, COMMIT[p])
        if e != 0:
            fail(f"WriteTxnMarkers {topic}-{p} at {ld[p]}: error {e}")
        end = first[p] + len(TXN[p]) + 2   # records, plain, marker
        rc, hw = lso(addr[ld[p]], topic, p, 1), lso(addr[ld[p]], topic, p, 0)
        if rc != end or hw != end:
            fail(f"partition {p} after its marker: LSO {rc} HW {hw}, "
                 f"expected {end}")
    print("ok markers written: COMMIT on 0, ABORT on 1, LSO = HW = log end",
          flush=True)
    check_reads(topic, boots)


def main():
    cmd, topic, boots = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "write":
        write(topic, boots)
    elif cmd == "read":
        ld, _ = leaders(topic, boots)
        print(f"ok leaders: partition 0 on {ld[0]}, partition 1 on {ld[1]}",
              flush=True)
        check_reads(topic, boots)
    else:
        fail("usage")


if __name__ == "__main__":
    main()
