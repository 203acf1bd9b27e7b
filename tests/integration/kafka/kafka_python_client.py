#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kafka-python 2.0.2 against FluxMQ (test_kafka_python.sh).

  kafka_python_client.py BROKER all       every check below
  kafka_python_client.py BROKER produce T N   produce N messages to T (acks=all),
                                          print "T P first last" lines
  kafka_python_client.py BROKER verify T N    consume T from the start, check
                                          the N messages of 'produce'

Checks: admin create (configs, validate-only, duplicate, bad name, bad
config, bad partition count), describe configs, alter (IncrementalAlterConfigs
sent through kafka-python's own client, which 2.0.2 lacks; its
alter_configs, AlterConfigs, is checked by alter_configs.py), create partitions,
delete; produce/consume round trips with acks 0, 1 and all (keys, headers,
null values, 0 B..64 KiB values, gzip/lz4/snappy/zstd where importable);
offsets_for_times; OFFSET_OUT_OF_RANGE with auto_offset_reset earliest,
latest and none.
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka import errors as E
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

B = sys.argv[1]
# kafka-python probes the broker version on every new client with a 2 s
# budget; on a loaded 2-core machine the first connection through the tap
# can take longer, which kafka-python reports as UnrecognizedBrokerVersion.
# Give the probe more time instead of failing on load.
CONN = {"bootstrap_servers": B, "api_version_auto_timeout_ms": 15000}
MSG = "kafka-python"


def fail(msg):
    print(f"FAIL: {MSG}: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print(f"PASS: {MSG}: {msg}", flush=True)


def expect(cond, msg):
    if not cond:
        fail(msg)


# --- IncrementalAlterConfigs v0 in kafka-python's own protocol classes -------
class IncrementalAlterConfigsResponse_v0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(("error_code", Int16),
                            ("error_message", String("utf-8")),
                            ("resource_type", Int8),
                            ("resource_name", String("utf-8")))))


class IncrementalAlterConfigsRequest_v0(Request):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8),
                            ("resource_name", String("utf-8")),
                            ("configs", Array(("name", String("utf-8")),
                                              ("config_operation", Int8),
                                              ("value", String("utf-8")))))),
        ("validate_only", Boolean))


SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def incremental_alter(adm, topic, ops, validate_only=False):
    req = IncrementalAlterConfigsRequest_v0(
        resources=[(2, topic, ops)], validate_only=validate_only)
    # to the controller, as kafka-python does for its own admin requests
    fut = adm._send_request_to_node(adm._controller_id, req)
    adm._wait_for_futures([fut])
    resp = fut.value
    (err, emsg, _, name), = resp.responses
    return err, emsg


def describe(adm, topic):
    r, = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    (err, emsg, _, _, entries), = r.resources
    if err != 0:
        return err, {}
    return 0, {e[0]: (e[1], e[3]) for e in entries}


def errno_of(call):
    """kafka-python's admin raises the first error it finds in a response:
    turn that back into the error code (0 when the call succeeded)."""
    try:
        call()
        return 0
    except E.KafkaError as e:
        if getattr(e, "errno", None) is None:
            raise
        return e.errno


def create_err(adm, topics, validate_only=False):
    return {t.name: errno_of(lambda: adm.create_topics(
        [t], validate_only=validate_only)) for t in topics}


def admin_checks():
    adm = KafkaAdminClient(**CONN, request_timeout_ms=15000)
    # create with configs
    errs = create_err(adm, [NewTopic("kp-admin", 3, 1, topic_configs={
        "retention.ms": "3600000", "segment.bytes": "1048576",
        "message.timestamp.type": "CreateTime", "compression.type": "producer",
        "cleanup.policy": "delete"})])
    expect(errs == {"kp-admin": 0}, f"create kp-admin: {errs}")
    expect("kp-admin" in adm.list_topics(), "kp-admin not listed")
    # validate only: answered, nothing created
    errs = create_err(adm, [NewTopic("kp-dry", 2, 1)], validate_only=True)
    expect(errs == {"kp-dry": 0}, f"validate-only create: {errs}")
    expect("kp-dry" not in adm.list_topics(), "validate-only created the topic")
    # errors clients branch on
    errs = create_err(adm, [NewTopic("kp-admin", 1, 1)])
    expect(errs["kp-admin"] == E.TopicAlreadyExistsError.errno,
           f"duplicate create: {errs}")
    errs = create_err(adm, [NewTopic("bad/name", 1, 1), NewTopic("..", 1, 1),
                            NewTopic("x" * 250, 1, 1)])
    expect(all(v == E.InvalidTopicError.errno for v in errs.values()),
           f"bad names: {errs}")
    errs = create_err(adm, [NewTopic("kp-badcfg", 1, 1,
                                     topic_configs={"retention.ms": "soon"})])
    expect(errs["kp-badcfg"] == E.InvalidConfigurationError.errno,
           f"bad config value: {errs}")
    errs = create_err(adm, [NewTopic("kp-badkey", 1, 1,
                                     topic_configs={"no.such.config": "1"})])
    expect(errs["kp-badkey"] == E.InvalidConfigurationError.errno,
           f"unknown config: {errs}")
    errs = create_err(adm, [NewTopic("kp-badp", 0, 1)])
    expect(errs["kp-badp"] == E.InvalidPartitionsError.errno,
           f"0 partitions: {errs}")
    errs = create_err(adm, [NewTopic("kp-badrf", 1, 3)])
    expect(errs["kp-badrf"] == E.InvalidReplicationFactorError.errno,
           f"replication factor 3: {errs}")
    ok("create topics: configs, validate-only, TOPIC_ALREADY_EXISTS, "
       "INVALID_TOPIC_EXCEPTION, INVALID_CONFIG, INVALID_PARTITIONS, "
       "INVALID_REPLICATION_FACTOR")

    # describe
    err, cfg = describe(adm, "kp-admin")
    expect(err == 0, f"describe kp-admin: error {err}")
    expect(cfg["retention.ms"] == ("3600000", 1), f"retention.ms {cfg['retention.ms']}")
    expect(cfg["segment.bytes"] == ("1048576", 1), f"segment.bytes {cfg['segment.bytes']}")
    expect(cfg["retention.bytes"][0] == "-1" and cfg["retention.bytes"][1] != 1,
           f"retention.bytes {cfg['retention.bytes']}")
    for k in ("cleanup.policy", "compression.type", "message.timestamp.type",
              "max.message.bytes"):
        expect(k in cfg, f"describe lacks {k}")
    err, _ = describe(adm, "kp-none")
    expect(err == E.UnknownTopicOrPartitionError.errno,
           f"describe unknown topic: {err}")
    ok("describe configs: topic-set values source 1, defaults otherwise; "
       "unknown topic UNKNOWN_TOPIC_OR_PARTITION")

    # alter (IncrementalAlterConfigs)
    err, m = incremental_alter(adm, "kp-admin", [
        ("retention.ms", SET, "7200000"), ("retention.bytes", SET, "1000000"),
        ("compression.type", SET, "lz4"),
        ("message.timestamp.type", SET, "LogAppendTime"),
        ("segment.bytes", DELETE, None)])
    expect(err == 0, f"alter: {err} {m}")
    _, cfg = describe(adm, "kp-admin")
    expect(cfg["retention.ms"] == ("7200000", 1), f"after alter {cfg['retention.ms']}")
    expect(cfg["retention.bytes"] == ("1000000", 1), f"after alter {cfg['retention.bytes']}")
    expect(cfg["compression.type"] == ("lz4", 1), f"after alter {cfg['compression.type']}")
    expect(cfg["message.timestamp.type"] == ("LogAppendTime", 1),
           f"after alter {cfg['message.timestamp.type']}")
    expect(cfg["segment.bytes"][1] != 1, f"segment.bytes not reset: {cfg['segment.bytes']}")
    err, m = incremental_alter(adm, "kp-admin", [("retention.ms", SET, "1")],
                               validate_only=True)
    _, cfg = describe(adm, "kp-admin")
    expect(err == 0 and cfg["retention.ms"][0] == "7200000",
           f"validate-only alter changed the topic: {err} {cfg['retention.ms']}")
    err, m = incremental_alter(adm, "kp-admin", [("retention.ms", SET, "x")])
    expect(err == E.InvalidConfigurationError.errno, f"alter bad value: {err} {m}")
    err, m = incremental_alter(adm, "kp-admin", [("no.such", SET, "1")])
    expect(err == E.InvalidConfigurationError.errno, f"alter unknown key: {err} {m}")
    err, m = incremental_alter(adm, "kp-none", [("retention.ms", SET, "1")])
    expect(err == E.UnknownTopicOrPartitionError.errno, f"alter unknown topic: {err} {m}")
    ok("incremental alter configs: SET/DELETE applied, validate-only applies "
       "nothing, INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION")

    # the altered topic still takes and serves data (LogAppendTime now)
    p = KafkaProducer(**CONN, acks="all", retries=20,
                      retry_backoff_ms=200)
    t_before = int(time.time() * 1000)
    md = p.send("kp-admin", value=b"after-alter", partition=1,
                timestamp_ms=1000).get(timeout=30)
    p.close()
    c = KafkaConsumer(**CONN, group_id=None,
                      consumer_timeout_ms=5000, enable_auto_commit=False)
    c.assign([TopicPartition("kp-admin", 1)])
    c.seek(TopicPartition("kp-admin", 1), md.offset)
    m = next(iter(c))
    c.close()
    expect(m.value == b"after-alter", "altered topic: record lost")
    expect(m.timestamp_type == 1 and m.timestamp >= t_before,
           f"LogAppendTime not applied: type {m.timestamp_type} ts {m.timestamp}")
    ok("produce/fetch after alter; LogAppendTime stamps the broker's time")

    # partitions
    err = errno_of(lambda: adm.create_partitions({"kp-admin": NewPartitions(5)}))
    expect(err == 0, f"create partitions: {err}")
    err = errno_of(lambda: adm.create_partitions({"kp-admin": NewPartitions(2)}))
    expect(err == E.InvalidPartitionsError.errno, f"shrink partitions: {err}")
    err = errno_of(lambda: adm.create_partitions({"kp-admin": NewPartitions(9)},
                                                 validate_only=True))
    expect(err == 0, f"validate-only create partitions: {err}")
    c = KafkaConsumer(**CONN, group_id=None)
    parts = c.partitions_for_topic("kp-admin")
    c.close()
    expect(parts == set(range(5)), f"partitions after create_partitions: {parts}")
    ok("create partitions: 3 -> 5, shrink INVALID_PARTITIONS, validate-only")

    # delete
    err = errno_of(lambda: adm.delete_topics(["kp-admin"]))
    expect(err == 0, f"delete: {err}")
    err = errno_of(lambda: adm.delete_topics(["kp-admin"]))
    expect(err == E.UnknownTopicOrPartitionError.errno, f"delete again: {err}")
    expect("kp-admin" not in adm.list_topics(), "deleted topic still listed")
    adm.close()
    ok("delete topics; deleting again UNKNOWN_TOPIC_OR_PARTITION")


def payloads(n, seed):
    """Deterministic (key, value, headers) triples, values 0 B..64 KiB,
    some null keys and null values."""
    import random
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        size = rnd.choice((0, 1, 10, 100, 1000, 4096, 16384, 65536)) \
            if i % 10 == 0 else rnd.randint(0, 300)
        v = None if i % 97 == 5 else rnd.randbytes(size)
        k = None if i % 13 == 0 and v is not None else b"key-%d" % i
        h = [("i", str(i).encode()), ("e", b"")] if i % 3 else []
        out.append((k, v, h))
    return out


def round_trip(acks, codec):
    topic = f"kp-rt-{acks}-{codec or 'none'}"
    adm = KafkaAdminClient(**CONN, request_timeout_ms=15000)
    errs = create_err(adm, [NewTopic(topic, 2, 1)])
    adm.close()
    expect(errs == {topic: 0}, f"create {topic}: {errs}")
    msgs = payloads(2000, hash(topic) & 0xffff)
    p = KafkaProducer(**CONN, acks=acks, compression_type=codec,
                      linger_ms=5, max_request_size=2 * 1024 * 1024)
    t0 = int(time.time() * 1000)
    futs = [p.send(topic, key=k, value=v, headers=h, partition=i % 2)
            for i, (k, v, h) in enumerate(msgs)]
    p.flush(timeout=60)
    t1 = int(time.time() * 1000)
    offs = {0: [], 1: []}
    for i, f in enumerate(futs):
        md = f.get(timeout=30)
        offs[i % 2].append(md.offset)
    p.close()
    if acks == 0:
        expect(all(o == -1 for o in offs[0] + offs[1]),
               "acks=0: offsets should be unknown (-1)")
    else:
        for part in (0, 1):
            expect(offs[part] == list(range(len(offs[part]))),
                   f"acks={acks}: partition {part} offsets not 0..n-1")
    c = KafkaConsumer(**CONN, group_id=None,
                      enable_auto_commit=False, consumer_timeout_ms=10000,
                      max_partition_fetch_bytes=1 << 20)
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    c.assign(tps)
    c.seek_to_beginning()
    got = {0: [], 1: []}
    for m in c:
        got[m.partition].append(m)
        if len(got[0]) + len(got[1]) == len(msgs):
            break
    c.close()
    for part in (0, 1):
        want = msgs[part::2]
        have = got[part]
        expect(len(have) == len(want),
               f"acks={acks} {codec}: partition {part}: {len(have)} of {len(want)}")
        for j, (m, (k, v, h)) in enumerate(zip(have, want)):
            expect(m.offset == j, f"partition {part}: offset {m.offset}, want {j}")
            expect(m.key == k and m.value == v and list(m.headers) == h,
                   f"acks={acks} {codec}: partition {part} offset {j} differs")
            expect(m.timestamp_type == 0 and t0 <= m.timestamp <= t1,
                   f"offset {j}: timestamp {m.timestamp} not in [{t0}, {t1}]")
    ok(f"acks={acks} compression={codec}: 2000 messages round trip "
       f"(keys, null keys/values, headers, 0 B..64 KiB)")


def offsets_for_times():
    topic = "kp-times"
    adm = KafkaAdminClient(**CONN)
    create_err(adm, [NewTopic(topic, 1, 1)])
    adm.close()
    p = KafkaProducer(**CONN, acks="all", linger_ms=0)
    base = 1_600_000_000_000
    # ten batches of 50, timestamps 1 s apart inside a batch run
    for i in range(500):
        p.send(topic, value=b"%d" % i, partition=0, timestamp_ms=base + i * 1000)
        if i % 50 == 49:
            p.flush()
    p.close()
    c = KafkaConsumer(**CONN, group_id=None)
    tp = TopicPartition(topic, 0)
    for q, want in ((base - 5, 0), (base, 0), (base + 1, 1), (base + 1000, 1),
                    (base + 123_500, 124), (base + 499_000, 499)):
        r = c.offsets_for_times({tp: q})[tp]
        expect(r is not None and r.offset == want and r.timestamp == base + want * 1000,
               f"offsets_for_times({q - base:+d} ms): {r}, want offset {want}")
    r = c.offsets_for_times({tp: base + 499_001})[tp]
    expect(r is None, f"offsets_for_times past the last: {r}")
    expect(c.beginning_offsets([tp])[tp] == 0 and c.end_offsets([tp])[tp] == 500,
           "beginning/end offsets")
    c.close()
    ok("offsets_for_times: exact, between and past timestamps; "
       "beginning_offsets/end_offsets")


def out_of_range():
    topic = "kp-oor"
    adm = KafkaAdminClient(**CONN)
    create_err(adm, [NewTopic(topic, 1, 1)])
    adm.close()
    p = KafkaProducer(**CONN, acks="all")
    for i in range(10):
        p.send(topic, value=b"old-%d" % i, partition=0)
    p.close()
    tp = TopicPartition(topic, 0)

    c = KafkaConsumer(**CONN, group_id=None,
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
    c.assign([tp])
    c.seek(tp, 1_000_000)
    m = next(iter(c))
    expect(m.offset == 0 and m.value == b"old-0",
           f"earliest reset: got offset {m.offset}")
    c.close()

    c = KafkaConsumer(**CONN, group_id=None,
                      auto_offset_reset="latest", consumer_timeout_ms=3000)
    c.assign([tp])
    c.seek(tp, 1_000_000)
    got = list(c)   # resets to the end: nothing to read
    expect(got == [] and c.position(tp) == 10,
           f"latest reset: {len(got)} records, position {c.position(tp)}")
    p = KafkaProducer(**CONN, acks="all")
    p.send(topic, value=b"new", partition=0).get(timeout=10)
    p.close()
    c.config["consumer_timeout_ms"] = 5000
    m = next(iter(c))
    expect(m.offset == 10 and m.value == b"new", f"after latest reset: {m}")
    c.close()

    c = KafkaConsumer(**CONN, group_id=None,
                      auto_offset_reset="none")
    c.assign([tp])
    c.seek(tp, 1_000_000)
    raised = None
    t_end = time.time() + 10
    while raised is None and time.time() < t_end:
        try:
            c.poll(timeout_ms=500)
        except E.OffsetOutOfRangeError as e:
            raised = e
    c.close()
    expect(raised is not None, "auto_offset_reset=none: no OffsetOutOfRangeError")
    ok("OFFSET_OUT_OF_RANGE: reset to earliest, to latest, and "
       "OffsetOutOfRangeError without a reset policy")


def produce(topic, n):
    p = KafkaProducer(**CONN, acks="all", linger_ms=5)
    futs = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 2)
            for i in range(n)]
    p.flush()
    res = {}
    for f in futs:
        md = f.get(timeout=30)
        lo, hi = res.get(md.partition, (md.offset, md.offset))
        res[md.partition] = (min(lo, md.offset), max(hi, md.offset))
    p.close()
    for part, (lo, hi) in sorted(res.items()):
        print(f"{topic} {part} {lo} {hi}")


def verify(topic, n):
    c = KafkaConsumer(**CONN, group_id=None,
                      consumer_timeout_ms=10000, enable_auto_commit=False)
    parts = c.partitions_for_topic(topic)
    expect(parts is not None, f"{topic} is gone")
    tps = [TopicPartition(topic, x) for x in sorted(parts)]
    c.assign(tps)
    c.seek_to_beginning()
    seen = set()
    for m in c:
        expect(m.key.startswith(b"k") and m.value == b"v" + m.key[1:],
               f"bad record {m}")
        seen.add(int(m.key[1:]))
        if len(seen) == n:
            break
    c.close()
    expect(seen == set(range(n)), f"{topic}: {len(seen)} of {n} messages")
    print(f"{topic}: all {n} messages present")


def main():
    if sys.argv[2] == "all":
        admin_checks()
        import kafka.codec as kc
        codecs = [name for name, have in (("gzip", kc.has_gzip()),
                                          ("snappy", kc.has_snappy()),
                                          ("lz4", kc.has_lz4()),
                                          ("zstd", kc.has_zstd())) if have]
        print(f"(kafka-python codecs available here: {codecs})")
        for acks in (0, 1, "all"):
            round_trip(acks, None)
        for codec in codecs:
            round_trip("all", codec)
        offsets_for_times()
        out_of_range()
    elif sys.argv[2] == "produce":
        produce(sys.argv[3], int(sys.argv[4]))
    elif sys.argv[2] == "verify":
        verify(sys.argv[3], int(sys.argv[4]))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
