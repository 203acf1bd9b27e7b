#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""DeleteRecords and DescribeLogDirs checks for test_delete_records.sh.

  logs_client.py HOST PORT PHASE [DATA_DIR]

DeleteRecords goes through librdkafka 2.0.2's own admin call
(rd_kafka_DeleteRecords, loaded with ctypes: confluent-kafka 1.7.0 and
kafka-python 2.0.2 do not expose it). No client installed here sends
DescribeLogDirs (librdkafka, confluent-kafka 1.7.0, kafka-python 2.0.2
and KafkaJS 2.2.4 have no call for it), so it is sent byte by byte
(kwire), in every version 0-4. Records are produced, listed (ListOffsets)
and consumed with confluent-kafka; the OFFSET_OUT_OF_RANGE code of a
fetch below the log start is read from a raw Fetch v5.

Phases:
  setup    topics dr-t (3 partitions, 4 KiB segments), dr-c (compact) and
           dr-acl; 300 records in each partition.
  delete   DeleteRecords: dr-t/0 to 100, dr-t/1 to -1 (the high
           watermark), dr-t/2 past the end (OFFSET_OUT_OF_RANGE), dr-c/0
           (POLICY_VIOLATION), an unknown partition; the low watermarks,
           fetches below and at the start, a consumer from the beginning.
  check    after a restart: the same log starts, fetch below still out of
           range, the segments wholly below the start deleted (DATA_DIR).
  logdirs  DescribeLogDirs v0-v4: one dir, each partition's size equal to
           its .log files' bytes (DATA_DIR), topic filters, v4 volume sizes.
  acl      (authorizer on, allow.everyone.if.no.acl.found=true) ACLs that
           give User:ANONYMOUS READ only on dr-acl and DESCRIBE on the
           cluster only to User:bob: DeleteRecords on dr-acl answers
           TOPIC_AUTHORIZATION_FAILED and moves nothing, on dr-t it works;
           DescribeLogDirs answers CLUSTER_AUTHORIZATION_FAILED (v3+) and
           no log dir.
"""
import ctypes
import glob
import os
import sys

from kwire import (Reader, connect, cstr, frame, hdr1, hdr2, i8, i32, i64,
                   read_response, s16, uvarint)

HOST, PORT, PHASE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DATA = sys.argv[4] if len(sys.argv) > 4 else None
BOOT = f"{HOST}:{PORT}"
T, TC, TA = "dr-t", "dr-c", "dr-acl"
N = 300
OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC = 1, 3
TOPIC_AUTH, CLUSTER_AUTH, POLICY_VIOLATION = 29, 31, 44
corr = [100]


def fail(msg):
    print(f"FAIL: logs {PHASE}: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print(f"PASS: logs {PHASE}: {msg}", flush=True)


def expect(cond, msg):
    if not cond:
        fail(msg)


def nc():
    corr[0] += 1
    return corr[0]


# ------------------------------------------------ librdkafka DeleteRecords
class TP(ctypes.Structure):
    _fields_ = [("topic", ctypes.c_char_p), ("partition", ctypes.c_int32),
                ("offset", ctypes.c_int64), ("metadata", ctypes.c_void_p),
                ("metadata_size", ctypes.c_size_t),
                ("opaque", ctypes.c_void_p), ("err", ctypes.c_int),
                ("_private", ctypes.c_void_p)]


class TPList(ctypes.Structure):
    _fields_ = [("cnt", ctypes.c_int), ("size", ctypes.c_int),
                ("elems", ctypes.POINTER(TP))]


EVENT_DELETERECORDS_RESULT = 105


def rdk():
    lib = ctypes.CDLL("librdkafka.so.1")
    vp = ctypes.c_void_p
    lib.rd_kafka_conf_new.restype = vp
    lib.rd_kafka_conf_set.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_new.restype = vp
    lib.rd_kafka_new.argtypes = [ctypes.c_int, vp, ctypes.c_char_p,
                                 ctypes.c_size_t]
    lib.rd_kafka_topic_partition_list_new.restype = ctypes.POINTER(TPList)
    lib.rd_kafka_topic_partition_list_add.restype = ctypes.POINTER(TP)
    lib.rd_kafka_topic_partition_list_add.argtypes = [
        ctypes.POINTER(TPList), ctypes.c_char_p, ctypes.c_int32]
    lib.rd_kafka_topic_partition_list_destroy.argtypes = [
        ctypes.POINTER(TPList)]
    lib.rd_kafka_DeleteRecords_new.restype = vp
    lib.rd_kafka_DeleteRecords_new.argtypes = [ctypes.POINTER(TPList)]
    lib.rd_kafka_queue_new.restype = vp
    lib.rd_kafka_queue_new.argtypes = [vp]
    lib.rd_kafka_DeleteRecords.argtypes = [vp, ctypes.POINTER(vp),
                                           ctypes.c_size_t, vp, vp]
    lib.rd_kafka_queue_poll.restype = vp
    lib.rd_kafka_queue_poll.argtypes = [vp, ctypes.c_int]
    lib.rd_kafka_event_type.argtypes = [vp]
    lib.rd_kafka_event_error.argtypes = [vp]
    lib.rd_kafka_event_error_string.restype = ctypes.c_char_p
    lib.rd_kafka_event_error_string.argtypes = [vp]
    lib.rd_kafka_event_DeleteRecords_result.restype = vp
    lib.rd_kafka_event_DeleteRecords_result.argtypes = [vp]
    lib.rd_kafka_DeleteRecords_result_offsets.restype = \
        ctypes.POINTER(TPList)
    lib.rd_kafka_DeleteRecords_result_offsets.argtypes = [vp]
    lib.rd_kafka_event_destroy.argtypes = [vp]
    lib.rd_kafka_queue_destroy.argtypes = [vp]
    lib.rd_kafka_destroy.argtypes = [vp]
    lib.rd_kafka_err2name.restype = ctypes.c_char_p
    return lib


def delete_records(wanted):
    """wanted: [(topic, partition, offset)] -> {(topic, p): (err, low)}
    with err Kafka's code (librdkafka's per-partition error)."""
    lib = rdk()
    err = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    lib.rd_kafka_conf_set(conf, b"bootstrap.servers", BOOT.encode(), err,
                          512)
    rk = lib.rd_kafka_new(1, conf, err, 512)        # consumer handle
    expect(rk, f"rd_kafka_new: {err.value}")
    tpl = lib.rd_kafka_topic_partition_list_new(len(wanted))
    for t, p, o in wanted:
        lib.rd_kafka_topic_partition_list_add(tpl, t.encode(), p)[0].offset = o
    d = ctypes.c_void_p(lib.rd_kafka_DeleteRecords_new(tpl))
    lib.rd_kafka_topic_partition_list_destroy(tpl)
    q = lib.rd_kafka_queue_new(rk)
    lib.rd_kafka_DeleteRecords(rk, ctypes.byref(d), 1, None, q)
    ev = lib.rd_kafka_queue_poll(q, 30000)
    expect(ev, "no DeleteRecords result within 30 s")
    expect(lib.rd_kafka_event_type(ev) == EVENT_DELETERECORDS_RESULT,
           f"event type {lib.rd_kafka_event_type(ev)}")
    out = {}
    e = lib.rd_kafka_event_error(ev)
    if e != 0:
        # A request-level error: every partition failed the same way
        # (librdkafka reports the first partition error there too).
        msg = lib.rd_kafka_event_error_string(ev)
        print(f"  DeleteRecords event error {e}: {msg}", flush=True)
    res = lib.rd_kafka_event_DeleteRecords_result(ev)
    lst = lib.rd_kafka_DeleteRecords_result_offsets(res)
    if lst:
        for i in range(lst[0].cnt):
            el = lst[0].elems[i]
            out[(el.topic.decode(), el.partition)] = (el.err, el.offset)
    lib.rd_kafka_event_destroy(ev)
    lib.rd_kafka_queue_destroy(q)
    lib.rd_kafka_destroy(rk)
    return out


# --------------------------------------------------------- confluent-kafka
def ck():
    import confluent_kafka
    return confluent_kafka


def low_high(t, p):
    c = ck().Consumer({"bootstrap.servers": BOOT, "group.id": "dr-wm"})
    lo, hi = c.get_watermark_offsets(ck().TopicPartition(t, p),
                                     timeout=10)
    c.close()
    return lo, hi


def consume_first(t, p):
    """Offset of the first record a consumer from the beginning gets."""
    k = ck()
    c = k.Consumer({"bootstrap.servers": BOOT, "group.id": f"dr-{t}-{p}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False})
    c.assign([k.TopicPartition(t, p, k.OFFSET_BEGINNING)])
    for _ in range(40):
        m = c.poll(0.5)
        if m is None:
            continue
        expect(m.error() is None, f"consume {t}/{p}: {m.error()}")
        c.close()
        return m.offset()
    c.close()
    fail(f"consume {t}/{p}: nothing in 20 s")


# --------------------------------------------------------------- raw wire
def call(s, payload, flexible=False):
    s.sendall(payload)
    r = read_response(s)
    expect(r is not None, "connection closed instead of an answer")
    rd = Reader(r[1])
    if flexible:
        rd.tags()
    return rd


def fetch_err(t, p, off):
    """(error, log start, first batch base or None) of a Fetch v5."""
    s = connect(HOST, PORT)
    body = i32(-1) + i32(0) + i32(1) + i32(1 << 20) + i8(0) + i32(1) + \
        s16(t) + i32(1) + i32(p) + i64(off) + i64(-1) + i32(1 << 20)
    r = call(s, frame(hdr1(1, 5, nc(), "dr") + body))
    s.close()
    r.i32()
    r.i32()
    r.s16()
    r.i32()
    r.i32()
    e = r.i16()
    r.i64()
    r.i64()
    ls = r.i64()
    for _ in range(max(r.i32(), 0)):
        r.i64()
        r.i64()
    recs = r.bytes32()
    base = int.from_bytes(recs[:8], "big") if recs else None
    return e, ls, base


def raw_delete_records(v, topics):
    """topics: {topic: [(partition, offset)]} -> {(t, p): (err, low)}"""
    flex = v >= 2
    if flex:
        body = uvarint(len(topics) + 1) + b"".join(
            cstr(t) + uvarint(len(ps) + 1) +
            b"".join(i32(p) + i64(o) + b"\x00" for p, o in ps) + b"\x00"
            for t, ps in topics.items()) + i32(5000) + b"\x00"
        req = hdr2(21, v, nc(), "dr") + body
    else:
        body = i32(len(topics)) + b"".join(
            s16(t) + i32(len(ps)) + b"".join(i32(p) + i64(o) for p, o in ps)
            for t, ps in topics.items()) + i32(5000)
        req = hdr1(21, v, nc(), "dr") + body
    s = connect(HOST, PORT)
    r = call(s, frame(req), flex)
    s.close()
    arr = (lambda: r.uvarint() - 1) if flex else r.i32
    st = r.cstr if flex else r.s16
    r.i32()
    out = {}
    for _ in range(arr()):
        t = st()
        for _ in range(arr()):
            p, low, e = r.i32(), r.i64(), r.i16()
            if flex:
                r.tags()
            out[(t, p)] = (e, low)
        if flex:
            r.tags()
    return out


def describe_log_dirs(v, topics):
    """topics: None (all) or {topic: [partitions]} ->
    (error or None, [(err, dir, {(t, p): size}, total, usable)])"""
    flex = v >= 2
    if flex:
        if topics is None:
            body = uvarint(0)
        else:
            body = uvarint(len(topics) + 1) + b"".join(
                cstr(t) + uvarint(len(ps) + 1) +
                b"".join(i32(p) for p in ps) + b"\x00"
                for t, ps in topics.items())
        req = hdr2(35, v, nc(), "dr") + body + b"\x00"
    else:
        if topics is None:
            body = i32(-1)
        else:
            body = i32(len(topics)) + b"".join(
                s16(t) + i32(len(ps)) + b"".join(i32(p) for p in ps)
                for t, ps in topics.items())
        req = hdr1(35, v, nc(), "dr") + body
    s = connect(HOST, PORT)
    r = call(s, frame(req), flex)
    s.close()
    arr = (lambda: r.uvarint() - 1) if flex else r.i32
    st = r.cstr if flex else r.s16
    r.i32()
    top_err = r.i16() if v >= 3 else None
    out = []
    for _ in range(arr()):
        e = r.i16()
        d = st()
        parts = {}
        for _ in range(arr()):
            t = st()
            for _ in range(arr()):
                p = r.i32()
                size = r.i64()
                lag = r.i64()
                fut = r.i8()
                expect(lag == 0 and fut == 0, f"lag {lag} future {fut}")
                if flex:
                    r.tags()
                parts[(t, p)] = size
            if flex:
                r.tags()
        total = usable = None
        if v >= 4:
            total, usable = r.i64(), r.i64()
        if flex:
            r.tags()
        out.append((e, d, parts, total, usable))
    return top_err, out


def disk_size(t, p):
    return sum(os.path.getsize(f)
               for f in glob.glob(f"{DATA}/{t}-{p}/*.log"))


def seg_bases(t, p):
    return sorted(int(os.path.basename(f)[:20])
                  for f in glob.glob(f"{DATA}/{t}-{p}/*.log"))


# ------------------------------------------------------------------ phases
def setup():
    k = ck()
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": BOOT})
    fs = a.create_topics([
        NewTopic(T, 3, 1, config={"segment.bytes": "4096"}),
        NewTopic(TC, 1, 1, config={"cleanup.policy": "compact"}),
        NewTopic(TA, 1, 1)], operation_timeout=10)
    for t, f in fs.items():
        f.result(timeout=15)
    pr = k.Producer({"bootstrap.servers": BOOT, "linger.ms": 0,
                     "acks": "all"})
    for i in range(N):
        for p in range(3):
            pr.produce(T, value=b"v%06d" % i + b"." * 40,
                       key=b"k%d" % (i % 7), partition=p)
        pr.produce(TC, value=b"c%d" % i, key=b"k%d" % (i % 7), partition=0)
        pr.produce(TA, value=b"a%d" % i, partition=0)
        if i % 50 == 0:
            pr.flush(10)
    expect(pr.flush(20) == 0, "records left unsent")
    for t, p in [(T, 0), (T, 1), (T, 2), (TC, 0), (TA, 0)]:
        expect(low_high(t, p) == (0, N), f"{t}/{p}: {low_high(t, p)}")
    ok(f"{N} records in each of dr-t/0-2, dr-c/0, dr-acl/0")


def delete():
    r = delete_records([(T, 0, 100), (T, 1, -1), (T, 2, N + 5),
                        (TC, 0, 10)])
    print(f"  DeleteRecords answered {r}", flush=True)
    expect(r.get((T, 0)) == (0, 100), f"dr-t/0: {r.get((T, 0))}")
    expect(r.get((T, 1)) == (0, N), f"dr-t/1 to -1: {r.get((T, 1))}")
    expect(r.get((T, 2)) == (OFFSET_OUT_OF_RANGE, -1),
           f"dr-t/2 past the end: {r.get((T, 2))}")
    expect(r.get((TC, 0)) == (POLICY_VIOLATION, -1),
           f"dr-c/0 (compact): {r.get((TC, 0))}")
    ok("librdkafka DeleteRecords: low watermarks 100 and 300 (-1), "
       "OFFSET_OUT_OF_RANGE past the end, POLICY_VIOLATION on a compact "
       "topic")
    # librdkafka refuses unknown partitions itself: raw v0 and v2.
    for v in (0, 2):
        r = raw_delete_records(v, {T: [(7, 1), (2, -2)], "nope": [(0, 1)]})
        expect(r == {(T, 7): (UNKNOWN_TOPIC, -1),
                     (T, 2): (OFFSET_OUT_OF_RANGE, -1),
                     ("nope", 0): (UNKNOWN_TOPIC, -1)}, f"raw v{v}: {r}")
    ok("raw DeleteRecords v0 and v2: UNKNOWN_TOPIC_OR_PARTITION, "
       "OFFSET_OUT_OF_RANGE below -1")
    expect(low_high(T, 0) == (100, N), f"dr-t/0 {low_high(T, 0)}")
    expect(low_high(T, 1) == (N, N), f"dr-t/1 {low_high(T, 1)}")
    expect(low_high(T, 2) == (0, N), f"dr-t/2 {low_high(T, 2)}")
    expect(low_high(TC, 0) == (0, N), f"dr-c/0 {low_high(TC, 0)}")
    ok("ListOffsets earliest (confluent-kafka watermarks) = the new starts")
    k = ck()
    c = k.Consumer({"bootstrap.servers": BOOT, "group.id": "dr-ts"})
    got = c.offsets_for_times([k.TopicPartition(T, 0, 0)], timeout=10)
    c.close()
    expect(got[0].offset == 100, f"offsets_for_times(dr-t/0, 0): "
           f"{got[0].offset}, want the log start 100")
    ok("ListOffsets by timestamp (offsets_for_times) never answers below "
       "the start")
    check_start()
    expect(consume_first(T, 0) == 100, "a consumer from the beginning "
           "does not start at 100")
    expect(consume_first(T, 2) == 0, "dr-t/2 moved")
    # Never backwards.
    r = delete_records([(T, 0, 50)])
    expect(r.get((T, 0)) == (0, 100), f"dr-t/0 back to 50: {r}")
    ok("a consumer from the beginning starts at 100; 50 leaves it at 100")


def check_start():
    e, ls, _ = fetch_err(T, 0, 99)
    expect(e == OFFSET_OUT_OF_RANGE and ls == 100,
           f"fetch dr-t/0 at 99: error {e} log start {ls}")
    e, ls, base = fetch_err(T, 0, 100)
    expect(e == 0 and base is not None and base <= 100,
           f"fetch dr-t/0 at 100: error {e} base {base}")
    e, _, _ = fetch_err(T, 1, N - 1)
    expect(e == OFFSET_OUT_OF_RANGE, f"fetch dr-t/1 at {N - 1}: error {e}")
    ok("Fetch below the log start: OFFSET_OUT_OF_RANGE; at it: records")


def check():
    expect(low_high(T, 0) == (100, N), f"dr-t/0 {low_high(T, 0)}")
    expect(low_high(T, 1) == (N, N), f"dr-t/1 {low_high(T, 1)}")
    expect(low_high(T, 2) == (0, N), f"dr-t/2 {low_high(T, 2)}")
    check_start()
    ok("after the restart: log starts 100, 300, 0")
    b0, b2 = seg_bases(T, 0), seg_bases(T, 2)
    expect(b2[0] == 0 and len(b2) > 3, f"dr-t/2 segments {b2}")
    expect(b0[0] > 0 and b0[0] <= 100 and
           (len(b0) == 1 or b0[1] > 100),
           f"dr-t/0 segments {b0}: not exactly those below 100 gone")
    ok(f"retention deleted the segments below the start: dr-t/0 keeps "
       f"{len(b0)} of dr-t/2's {len(b2)} (first base {b0[0]})")


def logdirs():
    # Every dr-* partition directory (KafkaJS's dr-kjs when it ran).
    want_all = {}
    for d in glob.glob(f"{DATA}/dr-*-[0-9]*"):
        t, p = os.path.basename(d).rsplit("-", 1)
        want_all[(t, int(p))] = disk_size(t, int(p))
    expect(len(want_all) >= 5, f"partition dirs {sorted(want_all)}")
    for v in range(5):
        err, res = describe_log_dirs(v, None)
        expect(err in (None, 0), f"v{v}: error {err}")
        expect(len(res) == 1, f"v{v}: {len(res)} log dirs")
        e, d, parts, total, usable = res[0]
        expect(e == 0 and os.path.samefile(d, DATA), f"v{v}: {e} {d}")
        got = {k: s for k, s in parts.items() if k[0].startswith("dr-")}
        expect(got == want_all, f"v{v}: sizes {got}, on disk {want_all}")
        if v >= 4:
            expect(total > 0 and 0 <= usable <= total,
                   f"v4 total {total} usable {usable}")
    ok(f"DescribeLogDirs v0-v4: each partition's size = its .log bytes "
       f"{sorted(want_all.values())}; v4 volume sizes")
    for v in (1, 2):
        _, res = describe_log_dirs(v, {T: [1], "nope": [0]})
        expect(res[0][2] == {(T, 1): want_all[(T, 1)]},
               f"v{v} filter: {res[0][2]}")
    ok("a topic/partition filter answers only those partitions")


def acl():
    from kafka.admin import KafkaAdminClient
    from kafka.admin.acl_resource import (ACL, ACLOperation as Op,
                                          ACLPermissionType as Perm,
                                          ACLResourcePatternType as Pat,
                                          ResourcePattern, ResourceType)
    a = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=10000,
                         api_version_auto_timeout_ms=15000)
    res = a.create_acls([
        ACL("User:ANONYMOUS", "*", Op.READ, Perm.ALLOW,
            ResourcePattern(ResourceType.TOPIC, TA, Pat.LITERAL)),
        ACL("User:bob", "*", Op.DESCRIBE, Perm.ALLOW,
            ResourcePattern(ResourceType.CLUSTER, "kafka-cluster",
                            Pat.LITERAL))])
    expect(not res["failed"], f"create_acls: {res['failed']}")
    a.close()
    r = delete_records([(TA, 0, 10)])
    expect(r.get((TA, 0), (0,))[0] == TOPIC_AUTH,
           f"dr-acl/0 without DELETE: {r}")
    expect(low_high(TA, 0) == (0, N), f"dr-acl/0 moved: {low_high(TA, 0)}")
    r = delete_records([(T, 2, 20)])
    expect(r.get((T, 2)) == (0, 20), f"dr-t/2 (no ACLs): {r}")
    ok("DeleteRecords without DELETE on the topic: "
       "TOPIC_AUTHORIZATION_FAILED, nothing moved; a topic without ACLs: "
       "moved")
    for v in range(5):
        err, res = describe_log_dirs(v, None)
        expect(res == [], f"v{v}: {len(res)} log dirs without DESCRIBE")
        if v >= 3:
            expect(err == CLUSTER_AUTH, f"v{v}: error {err}")
    ok("DescribeLogDirs without DESCRIBE on the cluster: no log dir, "
       "CLUSTER_AUTHORIZATION_FAILED (v3+)")


{"setup": setup, "delete": delete, "check": check, "logdirs": logdirs,
 "acl": acl}[PHASE]()
