# SPDX-License-Identifier: Apache-2.0
"""Client quotas against a running broker (test_sec_quota.sh).

DescribeClientQuotas (48) and AlterClientQuotas (49) on raw sockets (none
of the installed clients has them: confluent-kafka 1.7.0 and kafka-python
2.0.2 predate their admin calls), and two confluent-kafka producers side
by side, one of them throttled.

  client_quotas.py HOST PORT set CLIENT RATE     alter, check the answers
  client_quotas.py HOST PORT setfetch CLIENT RATE  consumer_byte_rate
  client_quotas.py HOST PORT describe CLIENT RATE
  client_quotas.py HOST PORT race TOPIC CLIENT RATE SECONDS SKIP
  client_quotas.py HOST PORT solo TOPIC CLIENT RATE SECONDS SKIP
  client_quotas.py HOST PORT consume TOPIC CLIENT SECONDS SKIP
  client_quotas.py HOST PORT burst TOPIC CLIENT BYTES
  client_quotas.py HOST PORT reqpct CLIENT PERCENT SECONDS
Failures print to stderr and exit 1.
"""
import json
import multiprocessing
import struct
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from kwire import (Reader, connect, cstr, frame, hdr1, hdr2, i8, i16, i32,
                   read_response, s16, uvarint)

INVALID_REQUEST = 42


def die(msg):
    print(f"client_quotas: {msg}", file=sys.stderr)
    sys.exit(1)


def f64(v):
    return struct.pack(">d", v)


def rd_f64(r):
    return struct.unpack(">d", r.take(8))[0]


# ------------------------------------------------------------- the APIs
def alter(host, port, entries, validate_only=False, version=0):
    """entries: [([(type, name or None)], [(key, value, remove)])].
    Returns [(error, message, [(type, name)])]."""
    flex = version >= 1
    st = cstr if flex else s16

    def arr(n):
        return uvarint(n + 1) if flex else i32(n)
    tag = b"\x00" if flex else b""
    body = arr(len(entries))
    for ent, ops in entries:
        body += arr(len(ent))
        for t, n in ent:
            body += st(t) + st(n) + tag
        body += arr(len(ops))
        for k, v, rm in ops:
            body += st(k) + f64(v) + i8(1 if rm else 0) + tag
        body += tag
    body += i8(1 if validate_only else 0) + tag
    h = hdr2(49, version, 1, "quota-admin") if flex else \
        hdr1(49, version, 1, "quota-admin")
    s = connect(host, port)
    s.sendall(frame(h + body))
    resp = read_response(s)
    s.close()
    if resp is None:
        die("AlterClientQuotas: the broker closed the connection")
    r = Reader(resp[1])
    if flex:
        r.tags()
    r.i32()
    out = []
    n = r.uvarint() - 1 if flex else r.i32()
    for _ in range(n):
        err = r.i16()
        msg = r.cstr() if flex else r.s16()
        ne = r.uvarint() - 1 if flex else r.i32()
        ents = []
        for _ in range(ne):
            t = r.cstr() if flex else r.s16()
            nm = r.cstr() if flex else r.s16()
            if flex:
                r.tags()
            ents.append((t, nm))
        if flex:
            r.tags()
        out.append((err, msg, ents))
    return out


def describe(host, port, comps, strict=False, version=0):
    """comps: [(type, match_type, match)]. Returns (error, message,
    {frozenset(entity): {key: value}})."""
    flex = version >= 1
    st = cstr if flex else s16
    tag = b"\x00" if flex else b""
    body = (uvarint(len(comps) + 1) if flex else i32(len(comps)))
    for t, mt, m in comps:
        body += st(t) + i8(mt) + st(m) + tag
    body += i8(1 if strict else 0) + tag
    h = hdr2(48, version, 2, "quota-admin") if flex else \
        hdr1(48, version, 2, "quota-admin")
    s = connect(host, port)
    s.sendall(frame(h + body))
    resp = read_response(s)
    s.close()
    if resp is None:
        die("DescribeClientQuotas: the broker closed the connection")
    r = Reader(resp[1])
    if flex:
        r.tags()
    r.i32()
    err = r.i16()
    msg = r.cstr() if flex else r.s16()
    n = r.uvarint() - 1 if flex else r.i32()
    out = {}
    for _ in range(max(n, 0)):
        ne = r.uvarint() - 1 if flex else r.i32()
        ent = []
        for _ in range(ne):
            t = r.cstr() if flex else r.s16()
            nm = r.cstr() if flex else r.s16()
            if flex:
                r.tags()
            ent.append((t, nm))
        nv = r.uvarint() - 1 if flex else r.i32()
        vals = {}
        for _ in range(nv):
            k = r.cstr() if flex else r.s16()
            vals[k] = rd_f64(r)
            if flex:
                r.tags()
        if flex:
            r.tags()
        out[frozenset(ent)] = vals
    return err, msg, out


# ---------------------------------------------------------------- checks
def cmd_set_fetch(host, port, client, rate):
    res = alter(host, port, [([("client-id", client)],
                              [("consumer_byte_rate", rate, False)])])
    if res[0][0] != 0:
        die(f"consumer_byte_rate: {res}")


def cmd_set(host, port, client, rate):
    cid = [("client-id", client)]
    # Refused entries change nothing and say why, each on its own.
    res = alter(host, port, [
        (cid, [("no_such_quota", 5.0, False)]),
        ([("ip", "10.0.0.1")], [("connection_creation_rate", 5.0, False)]),
        (cid, [("producer_byte_rate", 10.5, False)]),
        (cid, [("producer_byte_rate", -1.0, False)]),
        ([("user", "a"), ("user", "b")], [("producer_byte_rate", 5.0, False)]),
    ])
    if [e for e, _, _ in res] != [INVALID_REQUEST] * 5:
        die(f"bad entries: want 5 x INVALID_REQUEST, got {res}")
    if res[0][2] != cid:
        die(f"the entity is not echoed: {res[0]}")
    # validate_only: accepted, not applied.
    res = alter(host, port, [(cid, [("producer_byte_rate", rate, False)])],
                validate_only=True)
    if res[0][0] != 0:
        die(f"validate_only: {res}")
    _, _, got = describe(host, port, [("client-id", 0, client)])
    if got:
        die(f"validate_only applied something: {got}")
    # The real change, with a user-default entity beside it (v1, flexible)
    # that is then removed again.
    res = alter(host, port, [
        (cid, [("producer_byte_rate", rate, False)]),
        ([("user", None)], [("request_percentage", 400.0, False),
                            ("controller_mutation_rate", 10.0, False)]),
    ], version=1)
    if [e for e, _, _ in res] != [0, 0]:
        die(f"alter: {res}")
    err, _, got = describe(host, port, [("user", 1, None)], version=1)
    want = {frozenset([("user", None)]): {"request_percentage": 400.0,
                                          "controller_mutation_rate": 10.0}}
    if err != 0 or got != want:
        die(f"describe default user: {err} {got}")
    res = alter(host, port, [([("user", None)], [
        ("request_percentage", 0, True),
        ("controller_mutation_rate", 0, True)])])
    if res[0][0] != 0:
        die(f"remove: {res}")
    cmd_describe(host, port, client, rate)


def cmd_describe(host, port, client, rate):
    want = {frozenset([("client-id", client)]): {"producer_byte_rate": rate}}
    for ver in (0, 1):
        err, msg, got = describe(host, port, [("client-id", 0, client)],
                                 version=ver)
        if err != 0 or got != want:
            die(f"v{ver} exact {client}: {err} {msg} {got}, want {want}")
    # Any client-id, strict, and no filter at all: it is among them (with
    # others set by the caller since).
    def has(got):
        return all(got.get(k) == v for k, v in want.items())
    err, _, got = describe(host, port, [("client-id", 2, None)], strict=True)
    if err != 0 or not has(got):
        die(f"any client-id: {err} {got}")
    err, _, got = describe(host, port, [], strict=False)
    if err != 0 or not has(got):
        die(f"everything: {err} {got}")
    # strict with a user filter: a client-id entity has no user.
    err, _, got = describe(host, port, [("user", 2, None)], strict=True)
    if err != 0 or got:
        die(f"strict user filter matched {got}")
    err, msg, got = describe(host, port, [("ip", 2, None)])
    if err != INVALID_REQUEST:
        die(f"ip filter: want INVALID_REQUEST, got {err} {msg}")
    print(f"describe: {client} producer_byte_rate={rate:g}")


def produce_proc(host, port, topic, client, seconds, q):
    from confluent_kafka import Producer
    throttles = []
    stamps = []
    p = Producer({"bootstrap.servers": f"{host}:{port}",
                  "client.id": client, "linger.ms": 5,
                  "batch.num.messages": 5, "acks": 1,
                  "queue.buffering.max.kbytes": 4096,
                  "throttle_cb": lambda ev: throttles.append(
                      ev.throttle_time)})
    payload = b"q" * 10000

    def cb(err, msg):
        if err is None:
            stamps.append((time.monotonic(), len(msg.value())))
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            p.produce(topic, payload, callback=cb)
        except BufferError:
            p.poll(0.005)
            continue
        p.poll(0)
    p.flush(30)
    q.put((client, t0, stamps, throttles))


def rate_between(t0, stamps, a, b):
    n = sum(sz for t, sz in stamps if t0 + a <= t < t0 + b)
    return n / (b - a)


def cmd_race(host, port, topic, client, rate, seconds, skip, solo=False):
    """The throttled client and an unthrottled one, in two processes (solo:
    the unthrottled one alone, its rate before the race)."""
    q = multiprocessing.Queue()
    other = client + "-free"
    ps = [multiprocessing.Process(target=produce_proc,
                                  args=(host, port, topic, c, seconds, q))
          for c in ((other,) if solo else (client, other))]
    for p in ps:
        p.start()
    res = {}
    for _ in ps:
        c, t0, stamps, thr = q.get(timeout=seconds + 60)
        res[c] = (t0, stamps, thr)
    for p in ps:
        p.join()
    out = {}
    for c, (t0, stamps, thr) in res.items():
        out[c] = {"rate": rate_between(t0, stamps, skip, seconds),
                  "throttle_events": len(thr),
                  "max_throttle_s": max(thr) if thr else 0}
    print(json.dumps(out))


def cmd_consume(host, port, topic, client, seconds, skip):
    """Read topic partition 0 from the start for seconds with client-id
    client; print its rate from skip seconds on, and throttle callbacks.
    Small fetches (100 kB) so that one response is a small part of a
    second's quota."""
    from confluent_kafka import Consumer, TopicPartition
    thr = []
    c = Consumer({"bootstrap.servers": f"{host}:{port}", "client.id": client,
                  "group.id": client, "enable.auto.commit": False,
                  "fetch.max.bytes": 100000, "message.max.bytes": 100000,
                  "max.partition.fetch.bytes": 100000,
                  "receive.message.max.bytes": 1000000,
                  "throttle_cb": lambda ev: thr.append(ev.throttle_time)})
    c.assign([TopicPartition(topic, 0, 0)])
    stamps = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for m in c.consume(1000, 0.1):
            if m.error() is None:
                stamps.append((time.monotonic(), len(m.value())))
    c.close()
    print(json.dumps({"rate": rate_between(t0, stamps, skip, seconds),
                      "bytes": sum(sz for _, sz in stamps),
                      "throttle_events": len(thr)}))


def metadata_loop(host, port, client, seconds):
    """Metadata v1 requests one after the other for seconds: how many."""
    s = connect(host, port)
    body = i32(0)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s.sendall(frame(hdr1(3, 1, n, client) + body))
        if read_response(s) is None:
            die(f"{client}: the broker closed the connection")
        n += 1
    s.close()
    return n / seconds


def cmd_reqpct(host, port, client, pct, seconds):
    """request_percentage for client: its Metadata loop is held back
    (muted), another client-id's is not."""
    res = alter(host, port, [([("client-id", client)],
                              [("request_percentage", pct, False)])])
    if res[0][0] != 0:
        die(f"request_percentage: {res}")
    slow = metadata_loop(host, port, client, seconds)
    free = metadata_loop(host, port, client + "-free", seconds)
    print(json.dumps({"throttled_per_s": slow, "free_per_s": free}))
    if not slow * 5 < free:
        die(f"request_percentage={pct:g}: {slow:.0f} requests/s, "
            f"{free:.0f}/s without a quota")


def cmd_burst(host, port, topic, client, nbytes):
    """Produce nbytes with one client (after a restart: is it throttled?)."""
    from confluent_kafka import Producer
    thr = []
    p = Producer({"bootstrap.servers": f"{host}:{port}", "client.id": client,
                  "linger.ms": 5, "acks": 1,
                  "throttle_cb": lambda ev: thr.append(ev.throttle_time)})
    sent = 0
    while sent < nbytes:
        try:
            p.produce(topic, b"b" * 10000)
            sent += 10000
        except BufferError:
            p.poll(0.01)
        p.poll(0)
    if p.flush(60) != 0:
        die("burst: messages left unsent")
    print(json.dumps({"throttle_events": len(thr)}))


def main():
    host, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    a = sys.argv[4:]
    if cmd == "set":
        cmd_set(host, port, a[0], float(a[1]))
    elif cmd == "setfetch":
        cmd_set_fetch(host, port, a[0], float(a[1]))
    elif cmd == "describe":
        cmd_describe(host, port, a[0], float(a[1]))
    elif cmd == "race":
        cmd_race(host, port, a[0], a[1], float(a[2]), float(a[3]),
                 float(a[4]))
    elif cmd == "solo":
        cmd_race(host, port, a[0], a[1], float(a[2]), float(a[3]),
                 float(a[4]), solo=True)
    elif cmd == "consume":
        cmd_consume(host, port, a[0], a[1], float(a[2]), float(a[3]))
    elif cmd == "reqpct":
        cmd_reqpct(host, port, a[0], float(a[1]), float(a[2]))
    elif cmd == "burst":
        cmd_burst(host, port, a[0], a[1], int(a[2]))
    else:
        die(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
