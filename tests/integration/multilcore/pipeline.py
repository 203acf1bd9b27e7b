#!/usr/bin/python3
"""Pipelined ListOffsets v1 requests whose partitions live on different data
lcores, sent in one write: every response must come back in request order,
each covering every partition."""
import socket
import struct
import sys

host, port, topic, nparts = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
N = 50


def req(corr):
    t = topic.encode()
    body = struct.pack(">i", -1)                      # replica_id
    body += struct.pack(">i", 1)                      # one topic
    body += struct.pack(">h", len(t)) + t
    body += struct.pack(">i", nparts)
    for p in range(nparts):
        body += struct.pack(">iq", p, -1 if corr % 2 else -2)
    hdr = struct.pack(">hhi", 2, 1, corr) + struct.pack(">h", 4) + b"pipe"
    msg = hdr + body
    return struct.pack(">i", len(msg)) + msg


s = socket.create_connection((host, port), timeout=10)
s.sendall(b"".join(req(1000 + i) for i in range(N)))
buf = b""


def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed after %d bytes" % len(buf))
        buf += d


for i in range(N):
    need(4)
    size = struct.unpack(">i", buf[:4])[0]
    need(4 + size)
    frame, buf = buf[4:4 + size], buf[4 + size:]
    corr = struct.unpack(">i", frame[:4])[0]
    if corr != 1000 + i:
        sys.exit("response %d has correlation id %d, want %d" % (i, corr, 1000 + i))
    pos = 4
    ntopics = struct.unpack(">i", frame[pos:pos + 4])[0]; pos += 4
    tl = struct.unpack(">h", frame[pos:pos + 2])[0]; pos += 2 + tl
    np_ = struct.unpack(">i", frame[pos:pos + 4])[0]; pos += 4
    if ntopics != 1 or np_ != nparts:
        sys.exit("response %d: %d topics, %d partitions" % (i, ntopics, np_))
    for p in range(np_):
        part, err, ts, off = struct.unpack(">ihqq", frame[pos:pos + 22]); pos += 22
        if err != 0 or off < 0:
            sys.exit("response %d partition %d: error %d offset %d" % (i, part, err, off))
print("%d pipelined requests answered in order, %d partitions each" % (N, nparts))
