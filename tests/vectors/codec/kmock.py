#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A minimal single-partition Kafka broker, enough for librdkafka.

It exists so the codec tests can use a real client on both sides without a
Kafka install:
  - capture: librdkafka produces, the mock keeps every record batch exactly
    as the client framed and compressed it (gen_vectors.py);
  - serve: the mock hands out batches we built, librdkafka fetches and
    decodes them (check_interop.py).

It speaks ApiVersions 0-3, Metadata 0-4, Produce 3-7 (0-7 advertised), Fetch 4-11 and
FindCoordinator 0-2 (non-flexible versions only, apart from ApiVersions v3).
Listens on 127.0.0.1 on an ephemeral port.
"""
import socket
import struct
import threading

API_PRODUCE, API_FETCH, API_METADATA, API_APIVERSIONS, API_FINDCOORD = 0, 1, 3, 18, 10
SUPPORTED = {
    API_PRODUCE: (0, 7),  # librdkafka gates gzip/lz4 on Produce v0 being listed
    API_FETCH: (4, 11),
    API_METADATA: (0, 4),
    API_APIVERSIONS: (0, 3),
    API_FINDCOORD: (0, 2),
}


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        v = self.b[self.o:self.o + n]
        if len(v) != n:
            raise ValueError("short request")
        self.o += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def s16(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def arr(items):
    return struct.pack(">i", len(items)) + b"".join(items)


class MockBroker:
    """One broker (node 1), one topic with one partition."""

    def __init__(self, topic, serve_batches=None):
        self.topic = topic
        self.captured = []              # batches produced to us, raw
        self.serve = serve_batches or []  # batches to hand out on fetch
        self.errors = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.stopped = True
        self.sock.close()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _recvn(self, c, n):
        b = b""
        while len(b) < n:
            k = c.recv(n - len(b))
            if not k:
                raise EOFError
            b += k
        return b

    def _conn(self, c):
        try:
            while True:
                n = struct.unpack(">i", self._recvn(c, 4))[0]
                req = self._recvn(c, n)
                resp = self._handle(req)
                if resp is not None:
                    c.sendall(struct.pack(">i", len(resp)) + resp)
        except (EOFError, OSError):
            pass
        except Exception as e:  # a bug here must fail the test, loudly
            self.errors.append(repr(e))
        finally:
            c.close()

    def _handle(self, req):
        r = Reader(req)
        key, ver, corr = r.i16(), r.i16(), r.i32()
        r.string()  # client id
        hdr = struct.pack(">i", corr)
        if key == API_APIVERSIONS:
            if ver >= 3:
                r.tags()
                body = struct.pack(">h", 0) + bytes([len(SUPPORTED) + 1])
                for k, (lo, hi) in sorted(SUPPORTED.items()):
                    body += struct.pack(">hhh", k, lo, hi) + b"\0"
                body += struct.pack(">i", 0) + b"\0"
            else:
                body = struct.pack(">h", 0) + arr(
                    [struct.pack(">hhh", k, lo, hi) for k, (lo, hi) in sorted(SUPPORTED.items())])
                if ver >= 1:
                    body += struct.pack(">i", 0)
            return hdr + body
        if key == API_METADATA:
            broker = struct.pack(">i", 1) + s16("127.0.0.1") + struct.pack(">i", self.port)
            if ver >= 1:
                broker += s16(None)  # rack
            part = struct.pack(">hii", 0, 0, 1) + arr([struct.pack(">i", 1)]) + arr([struct.pack(">i", 1)])
            topic = struct.pack(">h", 0) + s16(self.topic)
            if ver >= 1:
                topic += b"\0"  # is_internal
            topic += arr([part])
            body = b""
            if ver >= 3:
                body += struct.pack(">i", 0)
            body += arr([broker])
            if ver >= 2:
                body += s16("fmq-codec-mock")
            if ver >= 1:
                body += struct.pack(">i", 1)
            body += arr([topic])
            return hdr + body
        if key == API_FINDCOORD:
            body = b""
            if ver >= 1:
                body += struct.pack(">i", 0)
            body += struct.pack(">h", 0)
            if ver >= 1:
                body += s16(None)
            body += struct.pack(">i", 1) + s16("127.0.0.1") + struct.pack(">i", self.port)
            return hdr + body
        if key == API_PRODUCE:
            r.string()  # transactional id
            acks = r.i16()
            r.i32()
            tres = []
            for _ in range(r.i32()):
                name = r.string()
                pres = []
                for _ in range(r.i32()):
                    idx = r.i32()
                    recs = r.bytes_()
                    with self.lock:
                        base = sum(1 for _ in self.captured)
                        self.captured.append(recs)
                    p = struct.pack(">ihq", idx, 0, base)
                    if ver >= 2:
                        p += struct.pack(">q", -1)
                    if ver >= 5:
                        p += struct.pack(">q", 0)
                    pres.append(p)
                tres.append(s16(name) + arr(pres))
            if acks == 0:
                return None
            return hdr + arr(tres) + struct.pack(">i", 0)
        if key == API_FETCH:
            r.i32(); r.i32(); r.i32()
            r.i32()  # max bytes
            r.i8()   # isolation
            if ver >= 7:
                r.i32(); r.i32()
            parts = []
            for _ in range(r.i32()):
                r.string()
                for _ in range(r.i32()):
                    idx = r.i32()
                    if ver >= 9:
                        r.i32()
                    off = r.i64()
                    if ver >= 5:
                        r.i64()
                    r.i32()
                    parts.append((idx, off))
            hw = 0
            for b in self.serve:
                hw = struct.unpack(">q", b[:8])[0] + struct.unpack(">i", b[23:27])[0] + 1
            pres = []
            for idx, off in parts:
                data = b"".join(
                    b for b in self.serve
                    if struct.unpack(">q", b[:8])[0] + struct.unpack(">i", b[23:27])[0] >= off)
                p = struct.pack(">ihqq", idx, 0, hw, hw)
                if ver >= 5:
                    p += struct.pack(">q", 0)
                p += arr([])  # aborted transactions
                if ver >= 11:
                    p += struct.pack(">i", -1)
                p += struct.pack(">i", len(data)) + data
                pres.append(p)
            body = struct.pack(">i", 0)
            if ver >= 7:
                body += struct.pack(">hi", 0, 0)
            body += arr([s16(self.topic) + arr(pres)])
            return hdr + body
        raise ValueError("mock: unexpected api %d v%d" % (key, ver))
