#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""AlterConfigs (API 33), topic configs changed in place, and ListOffsets
MAX_TIMESTAMP (-3, v7), for test_kafka_alter_configs.sh.

  alter_configs.py HOST PORT STAGE

STAGE "before" (fresh broker):
  kp    kafka-python KafkaAdminClient.alter_configs: full replacement (keys
        not listed go back to their defaults), per-resource errors (unknown
        topic, unknown key, bad value, broker resource), DescribeConfigs.
  ck    confluent-kafka AdminClient.alter_configs: validate_only, set,
        errors.
  live  a raw producer keeps producing to 4 partitions while the topic's
        compression.type, max.message.bytes, segment.bytes and retention.ms
        are altered: no error at all (no NOT_LEADER_OR_FOLLOWER), every
        acknowledged record read back in order, batches appended after each
        change stored with the new codec, the new max.message.bytes
        enforced at once.
  maxts ListOffsets v7 timestamp -3 on raw sockets: ties (first record of
        the first batch with the largest timestamp), an empty partition,
        compressed batches (confluent-kafka lz4), a LogAppendTime topic.
STAGE "after" (the same broker restarted): the altered configs and the
  MAX_TIMESTAMP answers are unchanged.
"""
import sys
import threading
import time

from kwire import (Reader, connect, cstr, frame, hdr1, hdr2, i8, i16, i32,
                   i64, produce_v7, read_response, record_batch, s16,
                   uvarint)

HOST, PORT, STAGE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
B = f"{HOST}:{PORT}"
T0 = 1_700_000_000_000
corr = [1000]

TOPIC_KP = "ac-kp"
TOPIC_LIVE = "ac-live"
TOPIC_MAXTS = "ac-maxts"
TOPIC_LAT = "ac-lat"
DEFAULTS = {"retention.ms": "604800000", "compression.type": "producer",
            "max.message.bytes": "1048588", "segment.bytes": "1073741824"}


def fail(msg):
    print(f"FAIL: alter_configs: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print(f"PASS: alter_configs: {msg}", flush=True)


def expect(cond, msg):
    if not cond:
        fail(msg)


def next_corr():
    corr[0] += 1
    return corr[0]


def call(s, payload, flexible_resp=False):
    c = int.from_bytes(payload[8:12], "big", signed=True)
    s.sendall(payload)
    r = read_response(s)
    expect(r is not None, "connection closed instead of an answer")
    expect(r[0] == c, f"correlation id {r[0]}, want {c}")
    body = r[1]
    if flexible_resp:
        rd = Reader(body)
        rd.tags()
        body = body[rd.p:]
    return body


# ------------------------------------------------------------ admin helpers
def kp_admin():
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=B, client_id="ac-test",
                            request_timeout_ms=10000)


def kp_describe(adm, topic):
    from kafka.admin import ConfigResource, ConfigResourceType
    resp = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC,
                                                topic)])
    res = resp[0].resources[0]
    expect(res[0] == 0, f"describe {topic}: error {res[0]} {res[1]}")
    # (name, value, read_only, config_source, is_sensitive, synonyms)
    return {e[0]: (e[1], e[3]) for e in res[4]}


def kp_alter(adm, rtype, name, configs):
    """[(error code, message)] of one AlterConfigs with one resource."""
    from kafka.admin import ConfigResource
    resp = adm.alter_configs([ConfigResource(rtype, name, configs=configs)])
    expect(resp.API_VERSION == 1, f"kafka-python used AlterConfigs v{resp.API_VERSION}")
    r = resp.resources[0]
    return r[0], r[1]


def create_topics(adm, specs):
    from kafka.admin import NewTopic
    adm.create_topics([NewTopic(n, p, 1, topic_configs=c or {})
                       for n, p, c in specs])


# ----------------------------------------------------------------- stage kp
def stage_kp():
    from kafka.admin import ConfigResourceType as RT
    adm = kp_admin()
    create_topics(adm, [(TOPIC_KP, 1, {"retention.ms": "1000000",
                                       "segment.bytes": "2000000"})])
    e, m = kp_alter(adm, RT.TOPIC, TOPIC_KP,
                    {"compression.type": "lz4", "max.message.bytes": "50000"})
    expect(e == 0, f"alter: {e} {m}")
    d = kp_describe(adm, TOPIC_KP)
    expect(d["compression.type"] == ("lz4", 1), f"compression.type {d['compression.type']}")
    expect(d["max.message.bytes"] == ("50000", 1), f"max.message.bytes {d['max.message.bytes']}")
    # Not listed: back to the defaults (Kafka replaces the whole set).
    expect(d["retention.ms"] == (DEFAULTS["retention.ms"], 5), f"retention.ms {d['retention.ms']}")
    expect(d["segment.bytes"] == (DEFAULTS["segment.bytes"], 5), f"segment.bytes {d['segment.bytes']}")
    ok("kafka-python alter_configs replaces the whole set (unlisted keys revert to defaults)")
    # A null value means "default" too.
    e, m = kp_alter(adm, RT.TOPIC, TOPIC_KP,
                    {"retention.ms": "7200000", "compression.type": None})
    expect(e == 0, f"alter with a null value: {e} {m}")
    d = kp_describe(adm, TOPIC_KP)
    expect(d["retention.ms"] == ("7200000", 1) and
           d["compression.type"] == ("producer", 5) and
           d["max.message.bytes"] == (DEFAULTS["max.message.bytes"], 5),
           f"after null value: {d}")
    ok("a null value reverts the key to its default")
    # Per-resource errors; nothing changes.
    for rtype, name, cfg, want, text in [
            (RT.TOPIC, "ac-none", {"retention.ms": "1"}, 3,
             "The topic 'ac-none' does not exist."),
            (RT.TOPIC, TOPIC_KP, {"no.such.key": "1"}, 40,
             "Unknown topic config name: no.such.key"),
            (RT.TOPIC, TOPIC_KP, {"retention.ms": "soon"}, 40, None),
            (RT.TOPIC, TOPIC_KP, {"cleanup.policy": "shred"}, 40, None),
            (RT.TOPIC, TOPIC_KP, {"min.cleanable.dirty.ratio": "1.5"}, 40, None),
            (RT.TOPIC, TOPIC_KP, {"max.message.bytes": "8000000"}, 40, None),
            (RT.BROKER, "1", {"log.dirs": "/tmp/x"}, 40,
             "Invalid config value for resource ConfigResource(type=BROKER, "
             "name='1'): Cannot update these configs dynamically: "
             "Set(log.dirs)"),
            (RT.BROKER, "7", {}, 42,
             "Unexpected broker id, expected 1, but received 7")]:
        e, m = kp_alter(adm, rtype, name, cfg)
        expect(e == want, f"alter {name} {cfg}: error {e} ({m}), want {want}")
        expect(text is None or m == text, f"alter {name} {cfg}: message {m!r}, want {text!r}")
    d = kp_describe(adm, TOPIC_KP)
    expect(d["retention.ms"] == ("7200000", 1), f"a failed alter changed retention.ms: {d['retention.ms']}")
    # The broker resource with nothing to set: no dynamic config to drop.
    e, m = kp_alter(adm, RT.BROKER, "1", {})
    expect(e == 0, f"empty broker alter: {e} {m}")
    e, m = kp_alter(adm, RT.BROKER, "", {})
    expect(e == 0, f"empty default-broker alter: {e} {m}")
    ok("per-resource errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG (unknown key, bad value, "
       "bad cleanup.policy and ratio, static broker config), INVALID_REQUEST (other broker id); empty broker set ok")
    adm.close()


# ----------------------------------------------------------------- stage ck
def stage_ck():
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource
    adm = AdminClient({"bootstrap.servers": B})

    def alter(name, cfg, validate_only=False):
        fs = adm.alter_configs([ConfigResource("topic", name, set_config=cfg)],
                               validate_only=validate_only,
                               request_timeout=10)
        for f in fs.values():
            try:
                f.result(timeout=15)
                return 0
            except KafkaException as e:
                return e.args[0].code()

    def describe(name):
        fs = adm.describe_configs([ConfigResource("topic", name)])
        for f in fs.values():
            return {k: (v.value, v.source) for k, v in f.result(timeout=15).items()}

    e = alter(TOPIC_KP, {"retention.ms": "99"}, validate_only=True)
    expect(e == 0, f"validate_only alter: {e}")
    d = describe(TOPIC_KP)
    expect(d["retention.ms"] == ("7200000", 1), f"validate_only changed retention.ms: {d['retention.ms']}")
    e = alter(TOPIC_KP, {"retention.ms": "99000", "segment.ms": "3600000"})
    expect(e == 0, f"alter: {e}")
    d = describe(TOPIC_KP)
    expect(d["retention.ms"] == ("99000", 1) and d["segment.ms"] == ("3600000", 1),
           f"after confluent alter: {d['retention.ms']} {d['segment.ms']}")
    e = alter("ac-none", {"retention.ms": "1"})
    expect(e == 3, f"unknown topic: {e}")
    e = alter(TOPIC_KP, {"max.message.bytes": "-5"})
    expect(e == 40, f"bad value: {e}")
    e = alter(TOPIC_KP, {"retention.ms": "1"}, validate_only=True)
    expect(e == 0, f"validate_only: {e}")
    d = describe(TOPIC_KP)
    expect(d["retention.ms"] == ("99000", 1), f"errors changed retention.ms: {d['retention.ms']}")
    ok("confluent-kafka alter_configs: validate_only, set, UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG")


# --------------------------------------------------------------- raw wire
def produce(s, topic, p, batch):
    r = Reader(call(s, produce_v7(next_corr(), 1, batch, topic, p)))
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    e = r.i16()
    return e, r.i64()


def fetch_batches(s, topic, p, offset):
    """[(base offset, attributes, max ts, [values])] from offset to the end."""
    out = []
    while True:
        body = i32(-1) + i32(0) + i32(1) + i32(8 << 20) + i8(0) + \
            i32(1) + s16(topic) + i32(1) + i32(p) + i64(offset) + \
            i64(-1) + i32(4 << 20)
        r = Reader(call(s, frame(hdr1(1, 5, next_corr()) + body)))
        r.i32()
        r.i32()
        r.s16()
        r.i32()
        r.i32()
        e = r.i16()
        expect(e == 0, f"fetch {topic}-{p} at {offset}: error {e}")
        hw = r.i64()
        r.i64()
        r.i64()
        n = r.i32()
        for _ in range(max(n, 0)):
            r.i64()
            r.i64()
        recs = r.bytes32() or b""
        q = 0
        got = 0
        while q + 61 <= len(recs):
            base = int.from_bytes(recs[q:q + 8], "big", signed=True)
            blen = int.from_bytes(recs[q + 8:q + 12], "big")
            if q + 12 + blen > len(recs):
                break
            attrs = int.from_bytes(recs[q + 21:q + 23], "big")
            delta = int.from_bytes(recs[q + 23:q + 27], "big")
            maxts = int.from_bytes(recs[q + 35:q + 43], "big", signed=True)
            out.append((base, attrs, maxts, delta))
            offset = base + delta + 1
            q += 12 + blen
            got += 1
        if offset >= hw or got == 0:
            return out, hw


def list_offsets_v7(s, topic, parts, ts=-3):
    """{partition: (error, timestamp, offset)} for ListOffsets v7."""
    body = i32(-1) + i8(0) + uvarint(2) + cstr(topic) + \
        uvarint(len(parts) + 1) + b"".join(
            i32(p) + i32(-1) + i64(ts) + b"\x00" for p in parts) + \
        b"\x00" + b"\x00"
    r = Reader(call(s, frame(hdr2(2, 7, next_corr()) + body), True))
    r.i32()
    out = {}
    for _ in range(r.uvarint() - 1):
        r.cstr()
        for _ in range(r.uvarint() - 1):
            p = r.i32()
            e = r.i16()
            t = r.i64()
            o = r.i64()
            r.i32()
            r.tags()
            out[p] = (e, t, o)
        r.tags()
    return out


def latest(s, topic, parts):
    return {p: v[2] for p, v in list_offsets_v7(s, topic, parts, -1).items()}


# --------------------------------------------------------------- stage live
def stage_live():
    from kafka.admin import ConfigResourceType as RT
    adm = kp_admin()
    parts = [0, 1, 2, 3]
    create_topics(adm, [(TOPIC_LIVE, len(parts), None)])
    time.sleep(0.5)
    acked = {p: [] for p in parts}     # (base offset, [values])
    errors = []
    lat = []                           # produce round trips (s)
    stop = threading.Event()

    def producer():
        s = connect(HOST, PORT)
        i = 0
        while not stop.is_set():
            for p in parts:
                vals = [f"{p}-{i}-{j}".encode() * 4 for j in range(5)]
                t = time.monotonic()
                e, base = produce(s, TOPIC_LIVE, p, record_batch(vals))
                lat.append(time.monotonic() - t)
                if e != 0:
                    errors.append((p, i, e))
                else:
                    acked[p].append((base, vals))
            i += 1
        s.close()

    th = threading.Thread(target=producer)
    th.start()
    s = connect(HOST, PORT)
    time.sleep(0.5)
    # Batches below a "pre" mark were appended before the alter was sent
    # (old codec); those at or past a "post" mark after its answer (new).
    pre_lz4 = latest(s, TOPIC_LIVE, parts)
    e, m = kp_alter(adm, RT.TOPIC, TOPIC_LIVE, {"compression.type": "lz4"})
    expect(e == 0, f"alter lz4: {e} {m}")
    post_lz4 = latest(s, TOPIC_LIVE, parts)
    time.sleep(0.5)
    e, m = kp_alter(adm, RT.TOPIC, TOPIC_LIVE,
                    {"compression.type": "lz4", "max.message.bytes": "3000"})
    expect(e == 0, f"alter max.message.bytes: {e} {m}")
    # In force at once, on every partition's owner.
    time.sleep(0.05)
    big = record_batch([b"x" * 1000 for _ in range(4)])
    small = record_batch([b"y" * 100])
    for p in parts:
        e, _ = produce(s, TOPIC_LIVE, p, big)
        expect(e == 10, f"{len(big)}-byte batch over max.message.bytes=3000 to partition {p}: error {e}")
        e, base = produce(s, TOPIC_LIVE, p, small)
        expect(e == 0, f"small batch to partition {p}: error {e}")
        acked[p].append((base, [b"y" * 100]))
    time.sleep(0.5)
    pre_zstd = latest(s, TOPIC_LIVE, parts)
    e, m = kp_alter(adm, RT.TOPIC, TOPIC_LIVE,
                    {"compression.type": "zstd", "segment.bytes": "100000",
                     "retention.ms": "86400000"})
    expect(e == 0, f"alter zstd: {e} {m}")
    post_zstd = latest(s, TOPIC_LIVE, parts)
    time.sleep(1.0)
    stop.set()
    th.join()
    expect(not errors, f"produce errors while configs changed: {errors[:10]} ({len(errors)} in all)")
    n_batches = sum(len(v) for v in acked.values())
    expect(all(pre_lz4[p] > 0 and post_lz4[p] < pre_zstd[p] for p in parts),
           f"marks {pre_lz4} {post_lz4} {pre_zstd} {post_zstd}")
    # Everything acknowledged is there, in order, with the codec in force.
    for p in parts:
        # Two connections produced to each partition: order by offset.
        acked[p].sort(key=lambda a: a[0])
        got, hw = fetch_batches(s, TOPIC_LIVE, p, 0)
        want_next = 0
        for base, vals in acked[p]:
            expect(base == want_next, f"partition {p}: batch at {base}, expected {want_next} (lost or duplicated data)")
            want_next = base + len(vals)
        expect(hw == want_next, f"partition {p}: high watermark {hw}, acked up to {want_next}")
        codecs = {0: 0, 3: 0, 4: 0}
        for base, attrs, _, _ in got:
            c = attrs & 7
            want = ((4,) if base >= post_zstd[p] else
                    (3, 4) if base >= pre_zstd[p] else
                    (3,) if base >= post_lz4[p] else
                    (0, 3) if base >= pre_lz4[p] else (0,))
            expect(c in want,
                   f"partition {p}: batch at {base} stored with codec {c}, want {want}")
            codecs[c] = codecs.get(c, 0) + 1
        expect(codecs[0] > 0 and codecs[3] > 0 and codecs[4] > 0,
               f"partition {p}: codecs seen {codecs}")
    # Records read back through a real consumer, compared value by value.
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=B, enable_auto_commit=False,
                      consumer_timeout_ms=5000, auto_offset_reset="earliest")
    tps = [TopicPartition(TOPIC_LIVE, p) for p in parts]
    c.assign(tps)
    c.seek_to_beginning()
    seen = {p: [] for p in parts}
    total = sum(sum(len(v) for _, v in acked[p]) for p in parts)
    n = 0
    for msg in c:
        seen[msg.partition].append((msg.offset, msg.value))
        n += 1
        if n >= total:
            break
    c.close()
    for p in parts:
        want = [(base + j, v) for base, vals in acked[p] for j, v in enumerate(vals)]
        expect(seen[p] == want, f"partition {p}: consumer read {len(seen[p])} records, "
               f"{len(want)} acknowledged, or they differ")
    d = kp_describe(adm, TOPIC_LIVE)
    expect(d["compression.type"] == ("zstd", 1) and d["max.message.bytes"][1] == 5,
           f"describe after live alters: {d}")
    lat.sort()
    ok(f"{n_batches} batches produced to 4 partitions while compression.type, "
       f"max.message.bytes, segment.bytes and retention.ms changed: no error, "
       f"nothing lost, new codec per batch, MESSAGE_TOO_LARGE at once "
       f"(produce round trip p50 {lat[len(lat) // 2] * 1000:.2f} ms, "
       f"max {lat[-1] * 1000:.1f} ms)")
    s.close()
    adm.close()


# -------------------------------------------------------------- stage maxts
def expected_maxts(s, topic, p):
    """Kafka's answer computed from the fetched batches: the first batch
    with the largest maxTimestamp; (ts, its first record carrying it)."""
    got, _ = fetch_batches(s, topic, p, 0)
    best = None
    for base, attrs, maxts, delta in got:
        if best is None or maxts > best[0]:
            best = (maxts, base, attrs)
    return best


def check_maxts(s, want):
    for topic, parts in want.items():
        res = list_offsets_v7(s, topic, list(parts))
        for p, (ts, off) in parts.items():
            expect(res[p] == (0, ts, off),
                   f"ListOffsets -3 {topic}-{p}: {res[p]}, want (0, {ts}, {off})")


def stage_maxts():
    adm = kp_admin()
    create_topics(adm, [(TOPIC_MAXTS, 6, None),
                        (TOPIC_LAT, 2, {"message.timestamp.type": "LogAppendTime"})])
    time.sleep(0.5)
    s = connect(HOST, PORT)
    want = {TOPIC_MAXTS: {}, TOPIC_LAT: {}}
    # Partitions 0-3 (owned by both data lcores): ties across batches.
    for p in range(4):
        for vals, ts in [([b"a"] * 3, T0 + 5), ([b"b"] * 2, T0 + 9),
                         ([b"c"] * 2, T0 + 9), ([b"d"], T0 + 1)]:
            e, _ = produce(s, TOPIC_MAXTS, p, record_batch(vals, ts=ts))
            expect(e == 0, f"produce: {e}")
        want[TOPIC_MAXTS][p] = (T0 + 9, 3)
    # Partition 4 stays empty: unknown (-1, -1), no error.
    want[TOPIC_MAXTS][4] = (-1, -1)
    # Partition 5: lz4 batches from librdkafka, the largest in the middle.
    from confluent_kafka import Producer
    pr = Producer({"bootstrap.servers": B, "compression.codec": "lz4",
                   "linger.ms": 200})
    for i, dt in enumerate([20, 30, 25, 30, 10]):
        pr.produce(TOPIC_MAXTS, value=b"z" * 200 + bytes([i]), partition=5,
                   timestamp=T0 + dt)
    expect(pr.flush(10) == 0, "confluent producer did not deliver")
    got, _ = fetch_batches(s, TOPIC_MAXTS, 5, 0)
    expect(any(a & 7 == 3 for _, a, _, _ in got), f"no lz4 batch stored: {got}")
    want[TOPIC_MAXTS][5] = (T0 + 30, 1)
    # LogAppendTime: every record stamped on append.
    for p in range(2):
        for i in range(3):
            e, _ = produce(s, TOPIC_LAT, p, record_batch([b"l"] * 2, ts=T0))
            expect(e == 0, f"produce: {e}")
            time.sleep(0.01)
        ts, base, attrs = expected_maxts(s, TOPIC_LAT, p)
        expect(attrs & 8 and ts > T0, f"LogAppendTime batch {attrs} {ts}")
        want[TOPIC_LAT][p] = (ts, base)
    check_maxts(s, want)
    # Other versions of the request keep working for the other specials.
    res = list_offsets_v7(s, TOPIC_MAXTS, [0], -1)
    expect(res[0] == (0, -1, 8), f"latest: {res[0]}")
    ok("ListOffsets v7 MAX_TIMESTAMP: ties, empty partition, lz4 batches, "
       "LogAppendTime, partitions of both data lcores")
    s.close()
    adm.close()
    with open(sys.argv[4], "w") as f:
        f.write(repr(want))


def stage_after():
    import ast
    with open(sys.argv[4]) as f:
        want = ast.literal_eval(f.read())
    s = connect(HOST, PORT)
    check_maxts(s, want)
    ok("ListOffsets MAX_TIMESTAMP answers unchanged after a restart")
    adm = kp_admin()
    d = kp_describe(adm, TOPIC_KP)
    expect(d["retention.ms"] == ("99000", 1) and d["segment.ms"] == ("3600000", 1)
           and d["compression.type"] == ("producer", 5),
           f"configs after restart: {d}")
    d = kp_describe(adm, TOPIC_LIVE)
    expect(d["compression.type"] == ("zstd", 1) and d["segment.bytes"] == ("100000", 1),
           f"live topic configs after restart: {d}")
    # And the reopened partitions use them: a new batch is stored as zstd.
    e, base = produce(s, TOPIC_LIVE, 0, record_batch([b"after"] * 3))
    expect(e == 0, f"produce after restart: {e}")
    got, _ = fetch_batches(s, TOPIC_LIVE, 0, base)
    expect(got and got[0][0] == base and got[0][1] & 7 == 4, f"after restart: {got[:1]}")
    ok("altered configs survive a restart and are in force")
    adm.close()
    s.close()


if __name__ == "__main__":
    if STAGE == "before":
        stage_kp()
        stage_ck()
        stage_live()
        stage_maxts()
    elif STAGE == "after":
        stage_after()
    else:
        fail(f"unknown stage {STAGE}")
