#!/usr/bin/python3
"""Round trip of one ListOffsets-by-time request per partition, one at a
time on one connection. A timestamp lookup runs on the lcore owning the
partition, so partitions of the other lcore cross over and back; the
spread between partitions shows what the crossing costs. Prints the p50
of the fastest and slowest partition; exits 1 on a bad answer."""
import socket
import struct
import sys
import time

host, port, topic, nparts = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 200


def req(corr, part):
    t = topic.encode()
    body = struct.pack(">ii", -1, 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">iiq", 1, part, 0)           # timestamp 0: by time
    msg = struct.pack(">hhi", 2, 1, corr) + struct.pack(">h", 4) + b"xlat" + body
    return struct.pack(">i", len(msg)) + msg


s = socket.create_connection((host, port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def answer(corr):
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed")
        buf += d
    frame = buf[4:]
    if struct.unpack(">i", frame[:4])[0] != corr:
        sys.exit("wrong correlation id")
    tl = struct.unpack(">h", frame[8:10])[0]
    err = struct.unpack(">h", frame[10 + tl + 4 + 4:10 + tl + 4 + 6])[0]
    if err != 0:
        sys.exit("partition error %d" % err)


corr = 0
p50 = []
for p in range(nparts):
    lat = []
    for i in range(ROUNDS):
        corr += 1
        t0 = time.perf_counter()
        s.sendall(req(corr, p))
        answer(corr)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    p50.append(lat[len(lat) // 2] * 1e6)
print("ListOffsets round trip p50 per partition (us): fastest %.0f, slowest %.0f"
      % (min(p50), max(p50)))
print("per partition:", " ".join("%.0f" % x for x in p50))
