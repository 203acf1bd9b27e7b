#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Open N idle TCP connections to HOST:PORT (they never send a byte), then
GET /health through the flood TRIES times, each within 3 s. Prints one line
per try ("200 0.012") and exits 1 unless every try got 200. The flood stays
open (kept alive with a fresh batch between tries) until the end.

    idle_flood.py HOST:PORT N TRIES
"""
import socket
import sys
import time
import urllib.request


def flood(host, port, n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks.append(s)
    return socks


def main():
    addr, n, tries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    host, port = addr.rsplit(':', 1)
    port = int(port)
    held = flood(host, port, n)
    time.sleep(0.5)
    bad = 0
    for i in range(tries):
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen('http://%s/health' % addr,
                                        timeout=3) as r:
                code = r.status
        except Exception as e:  # noqa: BLE001 - any failure is a miss
            code = type(e).__name__
        dt = time.monotonic() - t0
        print(code, '%.3f' % dt, flush=True)
        if code != 200:
            bad += 1
        # The flood goes on: another batch of idle connections.
        held += flood(host, port, n // 4)
    for s in held:
        s.close()
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
