# SPDX-License-Identifier: Apache-2.0
"""Kafka wire encoding for the raw-socket tests (bad_input.py, fetch_raw.py):
just enough to build requests byte by byte and read responses."""
import socket
import sys
import struct
import time

# ----------------------------------------------------------------- encoding
def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def u32(v): return struct.pack(">I", v)


def s16(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def uvarint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    """compact string"""
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def hdr1(key, ver, corr, cid="bad-input"):
    return i16(key) + i16(ver) + i32(corr) + s16(cid)


def hdr2(key, ver, corr, cid="bad-input", tags=b"\x00"):
    return hdr1(key, ver, corr, cid) + tags


def frame(payload):
    return i32(len(payload)) + payload


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))


def record_batch(values, corrupt_crc=False, ts=None):
    """A magic-2 batch of uncompressed records (no keys, no headers), all
    stamped ts (ms; default now)."""
    recs = b""
    for i, v in enumerate(values):
        body = i8(0) + varint(0) + varint(i) + varint(-1) + \
            varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    now = int(time.time() * 1000) if ts is None else ts
    after_crc = i16(0) + i32(len(values) - 1) + i64(now) + i64(now) + \
        i64(-1) + i16(-1) + i32(-1) + i32(len(values)) + recs
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    tail = i32(0) + i8(2) + u32(crc) + after_crc
    return i64(0) + i32(len(tail)) + tail


_CRC_TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _CRC_TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def produce_v7(corr, acks, batch, topic, partition=0):
    body = s16(None) + i16(acks) + i32(5000) + i32(1) + s16(topic) + \
        i32(1) + i32(partition) + i32(len(batch)) + batch
    return frame(hdr1(0, 7, corr) + body)


def metadata_v1(corr, topics):
    body = i32(len(topics)) + b"".join(s16(t) for t in topics)
    return frame(hdr1(3, 1, corr) + body)


def api_versions_v0(corr):
    return frame(hdr1(18, 0, corr))


# ----------------------------------------------------------------- sockets
def connect(host, port):
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_response(s):
    """(correlation id, body bytes), or None when the broker closed."""
    try:
        h = recv_exact(s, 4)
        if h is None:
            return None
        n = struct.unpack(">i", h)[0]
        b = recv_exact(s, n)
        if b is None:
            return None
        return struct.unpack(">i", b[:4])[0], b[4:]
    except (ConnectionResetError, BrokenPipeError):
        return None



class Script:
    """A raw-request test's checks: PASS/FAIL lines under one label, and
    requests answered with their own correlation id."""

    def __init__(self, label, corr=100):
        self.label = label
        self.corr = corr

    def fail(self, msg):
        print(f"FAIL: {self.label}: {msg}", file=sys.stderr, flush=True)
        sys.exit(1)

    def ok(self, msg):
        print(f"PASS: {self.label}: {msg}", flush=True)

    def expect(self, cond, msg):
        if not cond:
            self.fail(msg)

    def next_corr(self):
        self.corr += 1
        return self.corr

    def call(self, s, payload):
        """Send one framed request; its answer's body."""
        c = int.from_bytes(payload[8:12], "big", signed=True)
        s.sendall(payload)
        r = read_response(s)
        self.expect(r is not None, "connection closed instead of an answer")
        self.expect(r[0] == c, f"correlation id {r[0]}, want {c}")
        return r[1]


class Reader:
    """Big-endian reader over a response body."""

    def __init__(self, b):
        self.b = b
        self.p = 0

    def take(self, n):
        v = self.b[self.p:self.p + n]
        if len(v) != n:
            raise ValueError("response ends early")
        self.p += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def s16(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def cstr(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def bytes32(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def batches(records):
    """[(base offset, last offset delta, length incl. the 12-byte header,
    max timestamp)] of the whole batches in a records field."""
    out = []
    p = 0
    while records is not None and p + 12 <= len(records):
        base, blen = struct.unpack(">qi", records[p:p + 12])
        if p + 12 + blen > len(records):
            raise ValueError(f"partial batch at {p}")
        delta = struct.unpack(">i", records[p + 23:p + 27])[0]
        maxts = struct.unpack(">q", records[p + 35:p + 43])[0]
        out.append((base, delta, blen + 12, maxts))
        p += 12 + blen
    if records is not None and p != len(records):
        raise ValueError("trailing bytes after the last batch")
    return out
