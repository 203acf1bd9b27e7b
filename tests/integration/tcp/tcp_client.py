#!/usr/bin/python3
"""Kernel-socket TCP clients for the TCP-lite integration tests.

  echo  --host H --port P --conns N --bytes B [--max-stall S]
        N concurrent connections each send B bytes to the echo service and
        read them back; the SHA-256 of what came back must equal that of
        what was sent, per connection. Reports the longest time without any
        progress (stall) and fails past --max-stall seconds.
  churn --host H --port P --count N [--parallel K]
        N connect / send 1 byte / read it back / close cycles.
  discard --host H --port 9 --conns N --bytes B
        N connections send B bytes each to the discard service.

Prints one JSON line with the results; exits 0 on success, 1 on failure.
"""
import argparse
import errno
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
    """N connect / send 1 byte / read it back / close cycles, --parallel
    of them in flight at once (non-blocking: a slow handshake delays only
    its own cycle)."""
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    started = done = fails = 0
    slowest = 0.0

    def start():
        nonlocal started
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((a.host, a.port))
            if rc in (0, errno.EINPROGRESS):
                break
            s.close()
            if rc not in (errno.EADDRNOTAVAIL, errno.EAGAIN):
                raise OSError(rc, "connect: " + os.strerror(rc))
            # Local ports all in TIME_WAIT (earlier runs): wait for some.
            if time.monotonic() - t0 > a.timeout:
                raise OSError(rc, "no free local port")
            time.sleep(0.05)
        sel.register(s, selectors.EVENT_WRITE, {"st": "connect", "t": time.monotonic()})
        started += 1

    while started < min(a.parallel, a.count):
        start()
    while done < a.count:
        if time.monotonic() - t0 > a.timeout:
            print(json.dumps({"error": "timeout", "cycles": done}))
            return 1
        for key, _ in sel.select(timeout=1.0):
            s, d = key.fileobj, key.data
            if d["st"] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    print(json.dumps({"error": "connect: %s" % os.strerror(err), "cycles": done}))
                    return 1
                s.send(b"x")
                d["st"] = "echo"
                sel.modify(s, selectors.EVENT_READ, d)
                continue
            b = s.recv(16)
            if b != b"x":
                fails += 1
            slowest = max(slowest, time.monotonic() - d["t"])
            sel.unregister(s)
            s.close()
            done += 1
            if started < a.count:
                start()
    dt = time.monotonic() - t0
    print(json.dumps({"mode": "churn", "cycles": done, "failed": fails,
                      "seconds": round(dt, 3), "per_sec": round(done / dt, 1),
                      "slowest_cycle_s": round(slowest, 3)}))
    return 0 if fails == 0 else 1


def run_discard(a):
    """--conns connections each send --bytes to the discard service, shut
    down writing and wait for the server's FIN: goodput into the stack."""
    src = os.urandom(CHUNK)
    socks = [socket.create_connection((a.host, a.port), timeout=30) for _ in range(a.conns)]
    t0 = time.monotonic()
    left = [a.bytes] * a.conns
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_WRITE, i)
    open_n = a.conns
    while open_n:
        for key, mask in sel.select(timeout=1.0):
            i, s = key.data, key.fileobj
            if mask & selectors.EVENT_WRITE:
                try:
                    k = s.send(src[: min(len(src), left[i])])
                except BlockingIOError:
                    k = 0
                left[i] -= k
                if left[i] == 0:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, i)
            elif mask & selectors.EVENT_READ:
                if s.recv(65536) == b"":
                    sel.unregister(s)
                    s.close()
                    open_n -= 1
        if time.monotonic() - t0 > a.timeout:
            print(json.dumps({"error": "timeout"}))
            return 1
    dt = time.monotonic() - t0
    total = a.conns * a.bytes
    print(json.dumps({"mode": "discard", "conns": a.conns, "bytes_total": total,
                      "seconds": round(dt, 3), "MBps": round(total / dt / 1e6, 1)}))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["echo", "churn", "discard"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--max-stall", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=600.0)
    a = p.parse_args()
    sys.exit({"echo": run_echo, "churn": run_churn,
              "discard": run_discard}[a.mode](a))


if __name__ == "__main__":
    main()
