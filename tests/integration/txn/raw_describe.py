#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""DescribeTransactions (65) v0 and ListTransactions (66) v1 over a raw
socket (none of the clients here implements them), against a transaction
a confluent-kafka producer holds open, then commits.

The topic's LSO lag metric is non-zero while the transaction is open
and 0 after its commit.

usage: raw_describe.py HOST PORT TOPIC MGMT"""
import re
import socket
import struct
import sys
import time
import urllib.request

from confluent_kafka import Producer

HOST, PORT, TOPIC, MGMT = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                           sys.argv[4])


def lso_lag():
    body = urllib.request.urlopen("http://%s/metrics" % MGMT,
                                  timeout=5).read().decode()
    m = re.search(r'^fluxmq_topic_lso_lag\{topic="%s"\} (\d+)' %
                  re.escape(TOPIC), body, re.M)
    if m is None:
        die("no fluxmq_topic_lso_lag for %s" % TOPIC)
    return int(m.group(1))


def die(msg):
    print("ERROR " + msg)
    sys.exit(1)


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carr(items):
    return uvarint(len(items) + 1) + b"".join(items)


class R:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)
        self.o += struct.calcsize(fmt)
        return v[0]

    def uv(self):
        n = s = 0
        while True:
            c = self.b[self.o]
            self.o += 1
            n |= (c & 0x7f) << s
            s += 7
            if not c & 0x80:
                return n

    def cstr(self):
        n = self.uv() - 1
        v = self.b[self.o:self.o + n].decode()
        self.o += n
        return v

    def tags(self):
        for _ in range(self.uv()):
            self.uv()
            self.o += self.uv()


def call(api, ver, body, corr=[1]):
    corr[0] += 1
    hdr = struct.pack(">hhih", api, ver, corr[0], 4) + b"test" + b"\0"
    msg = hdr + body
    s = socket.create_connection((HOST, PORT), 10)
    s.sendall(struct.pack(">i", len(msg)) + msg)
    n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    s.close()
    r = R(data)
    if r.take(">i") != corr[0]:
        die("correlation id")
    r.tags()
    return r


def describe(ids):
    r = call(65, 0, carr([cstr(i) for i in ids]) + b"\0")
    r.take(">i")
    out = {}
    for _ in range(r.uv() - 1):
        e = r.take(">h")
        tid = r.cstr()
        st = r.cstr()
        tmo = r.take(">i")
        start = r.take(">q")
        pid = r.take(">q")
        epoch = r.take(">h")
        topics = {}
        for _ in range(r.uv() - 1):
            t = r.cstr()
            topics[t] = sorted(r.take(">i") for _ in range(r.uv() - 1))
            r.tags()
        r.tags()
        out[tid] = dict(error=e, state=st, timeout=tmo, start=start,
                        pid=pid, epoch=epoch, topics=topics)
    return out


def list_txns(states, duration=-1):
    r = call(66, 1, carr([cstr(s) for s in states]) + carr([]) +
             struct.pack(">q", duration) + b"\0")
    r.take(">i")
    err = r.take(">h")
    unknown = [r.cstr() for _ in range(r.uv() - 1)]
    txns = {}
    for _ in range(r.uv() - 1):
        tid = r.cstr()
        pid = r.take(">q")
        txns[tid] = (pid, r.cstr())
        r.tags()
    return err, unknown, txns


p = Producer({"bootstrap.servers": "%s:%d" % (HOST, PORT),
              "transactional.id": "raw-1", "transaction.timeout.ms": 45000})
p.init_transactions(30)
p.begin_transaction()
t0 = int(time.time() * 1000)
for part in (0, 2):
    p.produce(TOPIC, value=b"raw", partition=part)
p.flush(30)
d = describe(["raw-1", "nope"])
x = d["raw-1"]
if (x["error"] != 0 or x["state"] != "Ongoing" or x["timeout"] != 45000 or
        x["topics"] != {TOPIC: [0, 2]} or x["pid"] < 0 or
        abs(x["start"] - t0) > 10000):
    die("DescribeTransactions raw-1: %s" % x)
if d["nope"]["error"] != 105:
    die("DescribeTransactions of an unknown id: %s" % d["nope"])
print("DescribeTransactions: Ongoing, timeout, start time, partitions; "
      "unknown id TRANSACTIONAL_ID_NOT_FOUND")
err, unknown, txns = list_txns(["Ongoing", "Bogus"])
if err != 0 or unknown != ["Bogus"] or txns.get("raw-1") != (x["pid"],
                                                              "Ongoing"):
    die("ListTransactions Ongoing: %s %s %s" % (err, unknown, txns))
_, _, txns = list_txns([], duration=3600000)
if "raw-1" in txns:
    die("ListTransactions: raw-1 listed as running for an hour")
print("ListTransactions: state filter, unknown filter, duration filter")
lag = lso_lag()
if lag < 2:
    die("fluxmq_topic_lso_lag=%d with 2 records open" % lag)
p.commit_transaction(30)
deadline = time.time() + 10
while describe(["raw-1"])["raw-1"]["state"] != "CompleteCommit":
    if time.time() > deadline:
        die("raw-1 never CompleteCommit: %s" % describe(["raw-1"]))
    time.sleep(0.1)
err, _, txns = list_txns(["Ongoing"])
if "raw-1" in txns:
    die("ListTransactions: raw-1 still Ongoing after the commit")
lag = lso_lag()
if lag != 0:
    die("fluxmq_topic_lso_lag=%d after the commit" % lag)
print("after the commit: CompleteCommit, no longer Ongoing; LSO lag "
      "metric 2+ while open, 0 after")
print("RESULT ok")
