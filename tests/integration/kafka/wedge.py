#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One client must never wedge the broker (issue 13, cases 3-6): an
attacker on raw sockets next to a well-behaved client that produces a
64 KB record and fetches it back every 0.2 s, during the attack and
after it, on one connection kept while it works (a new one each round
for the idle-connection attack).

  wedge.py HOST PORT MODE SECONDS [SRC_IP]

MODE:
  oversized  one Produce whose size prefix says 20 MB, streamed as fast as
             the broker takes it
  tiny       200 connections, each a size prefix then 75 one-byte segments
             of a request never finished
  partial    20 connections, each a 1 MB request but its last byte, held
  idle       connections from SRC_IP (until refused or 300), held idle

The attack lasts SECONDS; then its sockets close. The good client runs
during the attack and for 8 s after. Prints one JSON line:
{"during": {...}, "after": {...}, "attack": {...}} where each phase has
ok (rounds that produced and fetched), fail, max_gap (longest time without
a successful round, s). Exit status 0; the shell script judges.
"""
import json
import socket
import struct
import sys
import threading
import time

from kwire import (Reader, frame, hdr1, i8, i16, i32, i64, metadata_v1,
                   produce_v7, read_response, record_batch, s16)

HOST, PORT, MODE, SECS = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    float(sys.argv[4])
SRC = sys.argv[5] if len(sys.argv) > 5 else None
TOPIC = "wedge-good"
ROUND_TIMEOUT = 3.0
AFTER = 8.0
PERSIST = MODE != "idle"
stop = threading.Event()
attack = {}


def good_conn():
    s = socket.create_connection((HOST, PORT), timeout=ROUND_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def produce_fetch(n, s=None):
    """One round: produce a 64 KB record (a request of many segments)
    and fetch it back, on s or on a fresh connection; True when the
    record came back."""
    value = b"good-%d-%f-" % (n, time.time())
    value += b"v" * (64000 - len(value))
    own = s is None
    if own:
        s = good_conn()
    try:
        s.sendall(produce_v7(1, 1, record_batch([value]), TOPIC))
        r = read_response(s)
        if r is None:
            return False
        rd = Reader(r[1])
        rd.i32()
        rd.s16()
        rd.i32()
        rd.i32()
        err, base = rd.i16(), rd.i64()
        if err != 0:
            return False
        body = i32(-1) + i32(0) + i32(1) + i32(1 << 20) + i8(0) + \
            i32(1) + s16(TOPIC) + i32(1) + i32(0) + i64(base) + i64(-1) + \
            i32(1 << 20)
        s.sendall(frame(hdr1(1, 5, 2) + body))
        r = read_response(s)
        return r is not None and value in r[1]
    finally:
        if own:
            s.close()


def good_phase(until):
    st = {"ok": 0, "fail": 0, "max_gap": 0.0}
    last = time.monotonic()
    n = 0
    s = None
    while time.monotonic() < until:
        n += 1
        try:
            # A producer keeps its connection (a new one each round when
            # the attack is on connections themselves).
            if s is None and PERSIST:
                s = good_conn()
            ok = produce_fetch(n, s)
        except OSError:
            ok = False
        if not ok and s is not None:
            s.close()
            s = None
        now = time.monotonic()
        if ok:
            st["ok"] += 1
            st["max_gap"] = max(st["max_gap"], now - last)
            last = now
        else:
            st["fail"] += 1
        time.sleep(0.2)
    st["max_gap"] = round(max(st["max_gap"], time.monotonic() - last), 2)
    if s is not None:
        s.close()
    return st


def conn(src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    if src:
        s.bind((src, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((HOST, PORT))
    return s


def produce_prefix(total):
    """A Produce v7 header for one partition whose batch makes the whole
    request `total` bytes (the size prefix excluded)."""
    head = hdr1(0, 7, 9) + s16(None) + i16(1) + i32(5000) + i32(1) + \
        s16("wedge-bad") + i32(1) + i32(0)
    n = total - len(head) - 4
    return i32(total) + head + i32(n), n


def closed_by_peer(s):
    """True when the broker closed or reset s (EOF or RST seen)."""
    try:
        s.setblocking(False)
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack_oversized():
    s = conn()
    pre, n = produce_prefix(20 << 20)
    sent, reset = 0, False
    end = time.monotonic() + SECS
    chunk = b"\0" * 65536
    try:
        s.settimeout(0.5)
        s.sendall(pre)
        while sent < n and time.monotonic() < end:
            try:
                sent += s.send(chunk[:min(len(chunk), n - sent)])
            except socket.timeout:
                continue
    except OSError:
        reset = True
    while not reset and time.monotonic() < end:
        time.sleep(0.1)
    attack.update(sent=sent, reset=reset or closed_by_peer(s))
    s.close()


def attack_tiny():
    socks = []
    for _ in range(200):
        try:
            socks.append(conn())
        except OSError:
            break
    end = time.monotonic() + SECS
    for s in socks:
        pre, _ = produce_prefix(1000)
        try:
            s.send(pre[:4])
        except OSError:
            pass
    sent = 0
    for i in range(75):
        for s in socks:
            try:
                s.send(b"\0")
                sent += 1
            except OSError:
                pass
        time.sleep(0.005)
        if time.monotonic() > end:
            break
    while time.monotonic() < end:
        time.sleep(0.1)
    attack.update(conns=len(socks), bytes=sent,
                  reset=sum(closed_by_peer(s) for s in socks))
    for s in socks:
        s.close()


def attack_partial():
    socks = []
    for _ in range(20):
        socks.append(conn())
    end = time.monotonic() + SECS
    pre, n = produce_prefix(1 << 20)
    body = b"\0" * (n - 1)

    def one(s):
        try:
            s.settimeout(SECS + 1)
            s.sendall(pre + body)
        except OSError:
            pass
    ts = [threading.Thread(target=one, args=(s,), daemon=True)
          for s in socks]
    for t in ts:
        t.start()
    while time.monotonic() < end:
        time.sleep(0.1)
    attack.update(conns=len(socks),
                  reset=sum(closed_by_peer(s) for s in socks))
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def attack_idle():
    socks = []
    refused = 0
    for _ in range(300):
        try:
            socks.append(conn(SRC))
        except OSError:
            refused += 1
    # A refusal comes as a RST right after the handshake.
    time.sleep(0.5)
    live = [s for s in socks if not closed_by_peer(s)]
    end = time.monotonic() + SECS
    while time.monotonic() < end:
        time.sleep(0.1)
    attack.update(opened=len(live), refused=refused + len(socks) - len(live),
                  closed_by_broker=sum(closed_by_peer(s) for s in live))
    for s in socks:
        s.close()


def main():
    # The topic exists and the client works before the attack.
    t0 = time.monotonic()
    while True:
        try:
            with socket.create_connection((HOST, PORT), timeout=3) as s:
                s.sendall(metadata_v1(1, [TOPIC]))   # creates the topic
                read_response(s)
            if produce_fetch(0):
                break
        except OSError:
            pass
        if time.monotonic() - t0 > 15:
            print(json.dumps({"error": "good client never worked"}))
            return
        time.sleep(0.2)
    fn = {"oversized": attack_oversized, "tiny": attack_tiny,
          "partial": attack_partial, "idle": attack_idle}[MODE]
    th = threading.Thread(target=fn, daemon=True)
    th.start()
    time.sleep(0.5)
    during = good_phase(time.monotonic() + SECS - 0.5)
    th.join(timeout=30)
    after = good_phase(time.monotonic() + AFTER)
    print(json.dumps({"during": during, "after": after, "attack": attack}),
          flush=True)


main()
