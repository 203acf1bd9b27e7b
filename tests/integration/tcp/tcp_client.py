#!/usr/bin/python3
"""Kernel-socket TCP clients for the TCP-lite integration tests.

  echo  --host H --port P --conns N --bytes B [--max-stall S]
        N concurrent connections each send B bytes to the echo service and
        read them back; the SHA-256 of what came back must equal that of
        what was sent, per connection. Reports the longest time without any
        progress (stall) and fails past --max-stall seconds.
  churn --host H --port P --count N [--parallel K]
        N connect / send 1 byte / read it back / close cycles.

Prints one JSON line with the results; exits 0 on success, 1 on failure.
"""
import argparse
import hashlib
import json
import os
import selectors
import socket
import sys
import time

CHUNK = 1 << 20


class Conn:
    def __init__(self, i, host, port, total, src):
        self.i = i
        self.total = total
        self.src = src
        self.off = (i * 7919) % len(src)  # each connection its own stream
        self.sent = 0
        self.got = 0
        self.h_sent = hashlib.sha256()
        self.h_got = hashlib.sha256()
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(10)
        self.s.connect((host, port))
        self.s.setblocking(False)
        self.done_sending = False

    def next_chunk(self):
        n = min(65536, self.total - self.sent)
        a = self.off % len(self.src)
        b = a + n
        if b <= len(self.src):
            return self.src[a:b]
        return self.src[a:] + self.src[: b - len(self.src)]


def run_echo(a):
    src = os.urandom(CHUNK) * 2
    sel = selectors.DefaultSelector()
    conns = [Conn(i, a.host, a.port, a.bytes, src) for i in range(a.conns)]
    for c in conns:
        sel.register(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    t0 = last = time.monotonic()
    max_stall = 0.0
    open_n = len(conns)
    pending = None
    while open_n > 0:
        events = sel.select(timeout=1.0)
        now = time.monotonic()
        progressed = False
        for key, mask in events:
            c = key.data
            if mask & selectors.EVENT_WRITE and not c.done_sending:
                buf = c.next_chunk()
                try:
                    k = c.s.send(buf)
                except BlockingIOError:
                    k = 0
                if k > 0:
                    c.h_sent.update(buf[:k])
                    c.sent += k
                    c.off += k
                    progressed = True
                if c.sent >= c.total:
                    c.done_sending = True
                    c.s.shutdown(socket.SHUT_WR)
                    sel.modify(c.s, selectors.EVENT_READ, c)
            if mask & selectors.EVENT_READ:
                try:
                    b = c.s.recv(CHUNK)
                except BlockingIOError:
                    continue
                except ConnectionError as e:
                    print(json.dumps({"error": "conn %d: %s" % (c.i, e)}))
                    return 1
                if b:
                    c.h_got.update(b)
                    c.got += len(b)
                    progressed = True
                else:
                    sel.unregister(c.s)
                    c.s.close()
                    open_n -= 1
                    if c.got != c.total or c.h_got.digest() != c.h_sent.digest():
                        print(json.dumps({"error": "conn %d: got %d of %d bytes, digest %s"
                                          % (c.i, c.got, c.total,
                                             "ok" if c.h_got.digest() == c.h_sent.digest() else "MISMATCH")}))
                        return 1
        if progressed:
            max_stall = max(max_stall, now - last)
            last = now
        elif now - last > a.max_stall:
            print(json.dumps({"error": "stalled %.1f s" % (now - last),
                              "sent": sum(c.sent for c in conns),
                              "got": sum(c.got for c in conns)}))
            return 1
        if now - t0 > a.timeout:
            print(json.dumps({"error": "timeout"}))
            return 1
    dt = time.monotonic() - t0
    total = a.conns * a.bytes
    print(json.dumps({"mode": "echo", "conns": a.conns, "bytes_each": a.bytes,
                      "bytes_total": total, "seconds": round(dt, 3),
                      "MBps": round(total / dt / 1e6, 1),
                      "max_stall_s": round(max_stall, 3), "byte_exact": True}))
    return 0


def run_churn(a):
    t0 = time.monotonic()
    done = 0
    fails = 0
    while done < a.count:
        batch = []
        for _ in range(min(a.parallel, a.count - done)):
            s = socket.create_connection((a.host, a.port), timeout=10)
            batch.append(s)
        for s in batch:
            s.sendall(b"x")
        for s in batch:
            if s.recv(1) != b"x":
                fails += 1
            s.close()
        done += len(batch)
    dt = time.monotonic() - t0
    print(json.dumps({"mode": "churn", "cycles": done, "failed": fails,
                      "seconds": round(dt, 3), "per_sec": round(done / dt, 1)}))
    return 0 if fails == 0 else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["echo", "churn"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--max-stall", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=600.0)
    a = p.parse_args()
    sys.exit(run_echo(a) if a.mode == "echo" else run_churn(a))


if __name__ == "__main__":
    main()
