#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Malformed Kafka requests on raw sockets (test_kafka_badinput.sh).

  bad_input.py HOST PORT MAX_REQUEST TOPIC MGMT

Each case opens its own connection, sends its bytes and checks the outcome
documented in docs/protocol.md: the connection is closed by the broker, and
exactly one close is counted under the expected reason of
fluxmq_kafka_connection_closes_total (read from http://MGMT/metrics), or it
is answered with the error code Kafka uses and stays open.
"""
import random
import re
import urllib.request
import socket
import struct
import sys
import time

HOST, PORT, MAX_REQ, TOPIC, MGMT = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), sys.argv[4], sys.argv[5]
ncases = 0


def fail(msg):
    print(f"FAIL: bad input: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


from kwire import (api_versions_v0, cstr, frame, hdr1, hdr2, i16, i32,
                   metadata_v1, read_response, record_batch, s16, uvarint)
from kwire import connect as _connect
from kwire import produce_v7 as _produce_v7


def connect():
    return _connect(HOST, PORT)


def produce_v7(corr, acks, batch, topic=TOPIC, partition=0):
    return _produce_v7(corr, acks, batch, topic, partition)


def expect_closed(s, what, timeout=3.0):
    """The broker must close: EOF or RST, and no response bytes first."""
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        fail(f"{what}: connection still open after {timeout} s")
    if data:
        fail(f"{what}: got {len(data)} bytes instead of a close")
    s.close()


def closes():
    """fluxmq_kafka_connection_closes_total by reason."""
    with urllib.request.urlopen(f"http://{MGMT}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^fluxmq_kafka_connection_closes_total\{reason="(\w+)"\} (\d+)$',
        text, re.M)}


def expect_counted(name, before, reason):
    """Exactly one more close under reason and none under the others (the
    counters are read from another lcore: allow them a moment)."""
    want = dict(before)
    want[reason] = want.get(reason, 0) + 1
    t_end = time.time() + 2
    while True:
        now = closes()
        if now == want:
            return
        if time.time() > t_end:
            diff = {k: now.get(k, 0) - before.get(k, 0) for k in now
                    if now.get(k, 0) != before.get(k, 0)}
            fail(f"{name}: close counters moved by {diff}, want {{{reason!r}: 1}}")
        time.sleep(0.05)


def case_close(name, reason, payload, chunks=None):
    """Send payload (optionally in chunks with pauses), expect a close."""
    global ncases
    before = closes()
    s = connect()
    try:
        if chunks:
            for c in chunks:
                s.sendall(c)
                time.sleep(0.05)
        else:
            s.sendall(payload)
    except (ConnectionResetError, BrokenPipeError):
        pass   # closed while we were still sending: fine
    expect_closed(s, name)
    expect_counted(name, before, reason)
    ncases += 1
    print(f"ok: {name}: closed ({reason})")


def case_answer(name, payloads, check):
    """Send requests, read as many responses, hand them to check()."""
    global ncases
    before = closes()
    s = connect()
    s.sendall(b"".join(payloads))
    resps = []
    for _ in payloads:
        r = read_response(s)
        if r is None:
            fail(f"{name}: closed instead of answered")
        resps.append(r)
    check(s, resps)
    s.close()
    if closes() != before:
        fail(f"{name}: a close was counted for a request that is answered")
    ncases += 1
    print(f"ok: {name}: answered")


# ---------------------------------------------------------------- the cases
def produce_error(body):
    """Error code of the single partition in a Produce v7 response."""
    # responses[1]: name, partitions[1]: index, error_code, ...
    pos = 4
    nlen = struct.unpack(">h", body[pos:pos + 2])[0]
    pos += 2 + nlen + 4   # name, partition count
    pos += 4              # partition index
    return struct.unpack(">h", body[pos:pos + 2])[0]


def main():
    global ncases
    # --- framing -------------------------------------------------------------
    case_close("negative size", "FRAME", i32(-1) + b"x" * 16)
    case_close("size -2^31", "FRAME", i32(-2**31))
    # Checked as soon as the prefix is there: nothing else is sent.
    case_close("size above socket.request.max.bytes", "FRAME", i32(MAX_REQ + 1))
    case_close("size 2^31-1", "FRAME", i32(2**31 - 1))
    case_close("size 0", "FRAME", i32(0))
    case_close("size 3 (inside the header)", "FRAME", frame(b"\x00\x12\x00"))
    case_close("header cut before client id", "FRAME", frame(i16(18) + i16(0) + i32(1)))
    case_close("client id longer than the frame", "FRAME",
               frame(i16(18) + i16(0) + i32(1) + i16(200) + b"abc"))
    case_close("client id length -2", "FRAME",
               frame(i16(18) + i16(0) + i32(1) + i16(-2)))
    case_close("flexible header without its tag section", "FRAME",
               frame(hdr1(18, 3, 1)))
    case_close("flexible header with a tag count past the end", "FRAME",
               frame(hdr1(3, 9, 1) + uvarint(5) + b"\x00"))
    case_close("flexible header tag longer than the frame", "FRAME",
               frame(hdr1(3, 9, 1) + uvarint(1) + uvarint(0) + uvarint(100) + b"ab"))

    # --- API key and version ----------------------------------------------------
    case_close("unknown API key 999", "UNKNOWN_API", frame(hdr1(999, 0, 1)))
    case_close("negative API key", "UNKNOWN_API", frame(hdr1(-1, 0, 1)))
    case_close("AlterReplicaLogDirs (34), not served", "UNKNOWN_API", frame(hdr1(34, 0, 1) + b"\x00" * 20))
    case_close("Metadata v13", "UNSUPPORTED_VERSION", frame(hdr2(3, 13, 1) + b"\x00\x00"))
    case_close("Fetch v3 (below the minimum)", "UNSUPPORTED_VERSION", frame(hdr1(1, 3, 1) + b"\x00" * 30))
    case_close("Produce v-1", "UNSUPPORTED_VERSION", frame(hdr1(0, -1, 1)))
    case_close("ListOffsets v0 (below the minimum)", "UNSUPPORTED_VERSION", frame(hdr1(2, 0, 1) + b"\x00" * 12))

    # --- bodies that do not decode --------------------------------------------
    case_close("Metadata v1 with 2^31-1 topics", "MALFORMED",
               frame(hdr1(3, 1, 1) + i32(2**31 - 1) + s16("a")))
    case_close("Metadata v1 with -5 topics", "MALFORMED",
               frame(hdr1(3, 1, 1) + i32(-5)))
    case_close("Metadata v1 with 3 topics, 1 present", "MALFORMED",
               frame(hdr1(3, 1, 1) + i32(3) + s16("a")))
    case_close("Metadata v1 topic name length -7", "MALFORMED",
               frame(hdr1(3, 1, 1) + i32(1) + i16(-7)))
    case_close("Metadata v9 compact array count past the end", "MALFORMED",
               frame(hdr2(3, 9, 1) + uvarint(1000000)))
    case_close("Produce v7 records length past the end", "MALFORMED",
               frame(hdr1(0, 7, 1) + s16(None) + i16(1) + i32(1000) + i32(1) +
                     s16(TOPIC) + i32(1) + i32(0) + i32(10**6) + b"\x00" * 10))
    case_close("Produce v7 with 2^31-1 topics", "MALFORMED",
               frame(hdr1(0, 7, 1) + s16(None) + i16(1) + i32(1000) + i32(2**31 - 1)))
    case_close("Fetch v4 truncated", "MALFORMED",
               frame(hdr1(1, 4, 1) + i32(-1) + i32(100)))
    case_close("CreateTopics v0 with an absurd topic count (control lcore)", "CTRL",
               frame(hdr1(19, 0, 1) + i32(2**31 - 1) + b"\x00" * 8))
    case_close("ApiVersions v3 with a client software name past the end", "MALFORMED",
               frame(hdr2(18, 3, 1) + uvarint(200) + b"abc"))

    # --- sent in pieces: still parsed --------------------------------------------
    case_close("unknown API key sent byte by byte", "UNKNOWN_API", None,
               chunks=[bytes([b]) for b in frame(hdr1(777, 0, 1))])

    # --- answered, the connection stays open -----------------------------------
    def kip511(s, resps):
        (corr, body), = resps
        err = struct.unpack(">h", body[:2])[0]
        if corr != 41 or err != 35:
            fail(f"ApiVersions v9: corr {corr} error {err}, want 41 / 35")
        # the v0 body lists our ranges: ApiVersions 0..3 among them
        n = struct.unpack(">i", body[2:6])[0]
        keys = {struct.unpack(">h", body[6 + 6 * i:8 + 6 * i])[0]:
                struct.unpack(">hh", body[8 + 6 * i:12 + 6 * i]) for i in range(n)}
        if keys.get(18) != (0, 3):
            fail(f"ApiVersions v9 fallback lists {keys.get(18)} for ApiVersions")
        # still usable afterwards
        s.sendall(api_versions_v0(42))
        r = read_response(s)
        if r is None or r[0] != 42:
            fail("connection not usable after the KIP-511 answer")
    case_answer("ApiVersions v9 (KIP-511 fallback)",
                [frame(hdr2(18, 9, 41) + cstr("x") + cstr("1") + b"\x00")], kip511)

    def pipelined(s, resps):
        corrs = [c for c, _ in resps]
        if corrs != list(range(1000, 1100)):
            fail(f"pipelined responses out of order: {corrs[:10]}...")
    reqs = []
    for i in range(100):
        reqs.append(api_versions_v0(1000 + i) if i % 2 else metadata_v1(1000 + i, [TOPIC]))
    case_answer("100 pipelined requests in one write", reqs, pipelined)

    def tagged(s, resps):
        (corr, body), = resps
        if corr != 7 or TOPIC.encode() not in body:
            fail(f"flexible Metadata with unknown tags: corr {corr}")
    # Metadata v10 with unknown tagged fields in the header, a topic and the
    # body (v10: topics carry an id, then a nullable compact name).
    unknown_tags = uvarint(2) + uvarint(100) + uvarint(3) + b"abc" + \
        uvarint(5000) + uvarint(0)
    body = uvarint(2) + b"\x00" * 16 + cstr(TOPIC) + unknown_tags + \
        b"\x01" + b"\x00" + b"\x00" + unknown_tags
    case_answer("Metadata v10 with unknown tagged fields",
                [frame(hdr2(3, 10, 7, tags=unknown_tags) + body)], tagged)

    def corrupt(s, resps):
        (corr, body), = resps
        e = produce_error(body)
        if e != 2:
            fail(f"Produce with a bad CRC: error {e}, want CORRUPT_MESSAGE (2)")
    case_answer("Produce with a bad CRC (acks=1)",
                [produce_v7(5, 1, record_batch([b"x" * 10], corrupt_crc=True))], corrupt)

    def bad_length(s, resps):
        (corr, body), = resps
        e = produce_error(body)
        if e != 2:
            fail(f"Produce with a truncated batch: error {e}, want 2")
    good = record_batch([b"y" * 30])
    case_answer("Produce with a batch length past its records (acks=1)",
                [produce_v7(6, 1, good[:8] + i32(len(good)) + good[12:])], bad_length)

    def unknown_topic(s, resps):
        (corr, body), = resps
        e = produce_error(body)
        if e != 3:
            fail(f"Produce to an unknown topic: error {e}, want 3")
    case_answer("Produce to an unknown topic",
                [produce_v7(8, 1, good, topic="no-such-topic-x")], unknown_topic)

    def old_version(s, resps):
        (corr, body), = resps
        e = produce_error(body)
        if e != 35:
            fail(f"Produce v2: error {e}, want UNSUPPORTED_VERSION (35)")
    p2 = frame(hdr1(0, 2, 9) + i16(1) + i32(1000) + i32(1) + s16(TOPIC) +
               i32(1) + i32(0) + i32(len(good)) + good)
    case_answer("Produce v2 (old message format)", [p2], old_version)

    # acks=0 with an error: Kafka closes to tell the producer.
    case_close("Produce acks=0 with a bad CRC", "ACKS0_ERROR",
               produce_v7(10, 0, record_batch([b"z"], corrupt_crc=True)))

    # A request split over two writes with a pause, and a half-closed
    # client still gets its answer.
    s = connect()
    req = metadata_v1(77, [TOPIC])
    s.sendall(req[:7])
    time.sleep(0.3)
    s.sendall(req[7:])
    s.shutdown(socket.SHUT_WR)
    r = read_response(s)
    if r is None or r[0] != 77:
        fail("request in two writes, then FIN: no answer")
    expect_closed(s, "after answering a half-closed client")
    ncases += 1
    print("ok: request in two writes then FIN: answered, then closed")

    # --- a real request exactly at socket.request.max.bytes is taken, one
    # byte more closes the connection after the size prefix
    def sized_produce(n):
        vlen = n - 200
        while True:
            f = produce_v7(11, 1, record_batch([b"m" * vlen]))
            if len(f) - 4 == n:
                return f
            vlen += (n - (len(f) - 4))

    big = sized_produce(MAX_REQ)

    def at_limit(s, resps):
        (corr, body), = resps
        if corr != 11:
            fail(f"request of exactly {MAX_REQ} bytes: corr {corr}")
    case_answer(f"Produce of exactly socket.request.max.bytes ({MAX_REQ})",
                [big], at_limit)
    case_close("Produce of socket.request.max.bytes + 1", "FRAME",
               sized_produce(MAX_REQ + 1))

    # --- random garbage on many connections at once ---------------------------
    rnd = random.Random(7)
    socks = []
    for i in range(64):
        s = connect()
        n = rnd.randint(8, 300)
        blob = bytes(rnd.getrandbits(8) for _ in range(n))
        # a plausible size prefix half of the time, so the header is parsed
        if i % 2:
            blob = i32(n - 4) + blob[4:]
        try:
            s.sendall(blob)
        except (ConnectionResetError, BrokenPipeError):
            pass
        socks.append(s)
    # The broker may close them or wait for more bytes: never crash. Close
    # ours; the broker must still answer on a fresh connection.
    for s in socks:
        s.close()
    # let the counters settle (closes of garbage are counted as they come)
    last = closes()
    while True:
        time.sleep(0.5)
        now = closes()
        if now == last:
            break
        last = now
    case_answer("ApiVersions after 64 garbage connections",
                [api_versions_v0(5)], lambda s, r: None)

    print(f"{ncases} cases passed")


if __name__ == "__main__":
    main()
