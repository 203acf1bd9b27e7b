#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Dynamic broker configs (test_dynamic_broker_configs.sh).

  dyn_broker_configs.py HOST PORT set|after|clear

set: confluent-kafka's AdminClient.alter_configs (AlterConfigs) sets
message.max.bytes=1000 on broker "1": DescribeConfigs reports it as
DYNAMIC_BROKER_CONFIG and not read-only, topics inherit it (their
max.message.bytes reported with that source), and a 2000-byte
record then fails with MSG_SIZE_TOO_LARGE. IncrementalAlterConfigs (raw
v0: confluent-kafka 1.7.0 and kafka-python 2.0.2 do not have it) sets
log.retention.ms on the cluster default (""), reported as
DYNAMIC_DEFAULT_BROKER_CONFIG on both resources; validate_only changes
nothing; a read-only key, a bad value, APPEND and another broker id get
Kafka's errors.
after (the shell has run KafkaJS alterConfigs message.max.bytes=3000 on
broker "1" and restarted the broker): both layers are back; a 2000-byte
record goes, a 4000-byte one does not.
clear: IncrementalAlterConfigs DELETE and an empty AlterConfigs on "" (raw
v0, as librdkafka refuses an empty broker name) put
everything back to the file's values; a 4000-byte record goes.
"""
import sys

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource,
                                   NewTopic)

from kwire import (Reader, connect, frame, hdr1, i8, i32, read_response, s16)

HOST, PORT, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BOOT = f"{HOST}:{PORT}"
TOPIC = "dyn"
BROKER = 4
SET, DELETE, APPEND = 0, 1, 2


def fail(msg):
    print(f"FAIL: dynamic broker configs: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print(f"PASS: dynamic broker configs: {msg}", flush=True)


def expect(cond, msg):
    if not cond:
        fail(msg)


def admin():
    return AdminClient({"bootstrap.servers": BOOT})


def describe(adm, rtype, name):
    res = ConfigResource(rtype, name)
    fs = adm.describe_configs([res], request_timeout=15)
    return fs[res].result(timeout=20)


def produce(size):
    """None when the record is acknowledged, else the error code."""
    p = Producer({"bootstrap.servers": BOOT, "message.max.bytes": 1000000,
                  "retries": 0})
    out = []
    p.produce(TOPIC, b"v" * size,
              on_delivery=lambda err, msg: out.append(err))
    p.flush(20)
    expect(len(out) == 1, f"no delivery report for {size} bytes")
    return None if out[0] is None else out[0].code()


def incr_alter(resources, validate_only=False):
    """Raw IncrementalAlterConfigs v0. resources: [(name, [(key, op,
    value)])] on BROKER. [(error, message)]."""
    body = i32(len(resources))
    for name, cfgs in resources:
        body += i8(BROKER) + s16(name) + i32(len(cfgs)) + b"".join(
            s16(k) + i8(op) + s16(v) for k, op, v in cfgs)
    body += i8(1 if validate_only else 0)
    s = connect(HOST, PORT)
    s.sendall(frame(hdr1(44, 0, 7, "dyncfg") + body))
    r = read_response(s)
    s.close()
    expect(r is not None and r[0] == 7, "IncrementalAlterConfigs answer")
    rd = Reader(r[1])
    rd.i32()
    out = []
    for _ in range(rd.i32()):
        e, m = rd.i16(), rd.s16()
        rd.i8()
        rd.s16()
        out.append((e, m))
    return out


class RawEntry:
    def __init__(self, value, ro, source):
        self.value, self.is_read_only, self.source = value, ro, source

    def __repr__(self):
        return f"({self.value!r} ro={self.is_read_only} src={self.source})"


def raw_describe_default():
    """Raw DescribeConfigs v1 of BROKER "" (librdkafka refuses an empty
    broker name): {name: RawEntry}."""
    body = i32(1) + i8(BROKER) + s16("") + i32(-1) + i8(0)
    s = connect(HOST, PORT)
    s.sendall(frame(hdr1(32, 1, 8, "dyncfg") + body))
    r = read_response(s)
    s.close()
    expect(r is not None and r[0] == 8, "DescribeConfigs answer")
    rd = Reader(r[1])
    rd.i32()
    expect(rd.i32() == 1, "one result")
    e, m = rd.i16(), rd.s16()
    expect(e == 0, f"DescribeConfigs BROKER '': {e} {m}")
    rd.i8()
    rd.s16()
    out = {}
    for _ in range(rd.i32()):
        name, value = rd.s16(), rd.s16()
        ro, source = rd.i8(), rd.i8()
        rd.i8()
        for _ in range(rd.i32()):
            rd.s16()
            rd.s16()
            rd.i8()
        out[name] = RawEntry(value, bool(ro), source)
    return out


def raw_alter_default(cfgs):
    """Raw AlterConfigs v0 of BROKER "": (error, message)."""
    body = i32(1) + i8(BROKER) + s16("") + i32(len(cfgs)) + b"".join(
        s16(k) + s16(v) for k, v in cfgs.items()) + i8(0)
    s = connect(HOST, PORT)
    s.sendall(frame(hdr1(33, 0, 9, "dyncfg") + body))
    r = read_response(s)
    s.close()
    expect(r is not None and r[0] == 9, "AlterConfigs answer")
    rd = Reader(r[1])
    rd.i32()
    expect(rd.i32() == 1, "one response")
    return rd.i16(), rd.s16()


def src(e):
    return int(getattr(e.source, "value", e.source))


def entry(cfg, key):
    e = cfg.get(key)
    expect(e is not None, f"{key} not described")
    return e


def stage_set():
    adm = admin()
    fs = adm.create_topics([NewTopic(TOPIC, 1, 1)])
    fs[TOPIC].result(timeout=20)
    expect(produce(2000) is None, "2000 bytes refused before any change")
    res = ConfigResource(ConfigResource.Type.BROKER, "1",
                         set_config={"message.max.bytes": "1000"})
    adm.alter_configs([res])[res].result(timeout=20)
    d = describe(adm, ConfigResource.Type.BROKER, "1")
    e = entry(d, "message.max.bytes")
    expect(e.value == "1000" and
           src(e) == ConfigSource.DYNAMIC_BROKER_CONFIG.value and
           not e.is_read_only,
           f"message.max.bytes: {e.value} source {src(e)} ro {e.is_read_only}")
    e = entry(d, "log.dirs")
    expect(e.is_read_only and src(e) in (
        ConfigSource.STATIC_BROKER_CONFIG.value,
        ConfigSource.DEFAULT_CONFIG.value), f"log.dirs: {e}")
    t = describe(adm, ConfigResource.Type.TOPIC, TOPIC)
    e = entry(t, "max.message.bytes")
    expect(e.value == "1000" and
           src(e) == ConfigSource.DYNAMIC_BROKER_CONFIG.value,
           f"topic max.message.bytes {e.value} source {src(e)}")
    code = produce(2000)
    expect(code == KafkaError.MSG_SIZE_TOO_LARGE,
           f"2000 bytes after message.max.bytes=1000: {code}")
    expect(produce(500) is None, "500 bytes refused")
    ok("AlterConfigs (confluent-kafka) message.max.bytes=1000 on broker 1: "
       "DYNAMIC_BROKER_CONFIG, the topic inherits it, 2000 B -> "
       "MSG_SIZE_TOO_LARGE")

    r = incr_alter([("", [("log.retention.ms", SET, "3600000")])])
    expect(r == [(0, None)], f"incremental cluster default: {r}")
    dd = raw_describe_default()
    e = entry(dd, "log.retention.ms")
    expect(e.value == "3600000" and
           src(e) == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
           f"default resource: {e}")
    expect("message.max.bytes" not in dd,
           "the default resource lists a per-broker config")
    d = describe(adm, ConfigResource.Type.BROKER, "1")
    e = entry(d, "log.retention.ms")
    expect(e.value == "3600000" and
           src(e) == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
           f"broker 1 log.retention.ms: {e}")
    t = describe(adm, ConfigResource.Type.TOPIC, TOPIC)
    e = entry(t, "retention.ms")
    expect(e.value == "3600000" and
           src(e) == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
           f"topic retention.ms {e.value} source {src(e)}")
    ok("IncrementalAlterConfigs log.retention.ms on the cluster default: "
       "DYNAMIC_DEFAULT_BROKER_CONFIG, topics inherit it")

    r = incr_alter([("1", [("message.max.bytes", SET, "5000")])],
                   validate_only=True)
    expect(r == [(0, None)], f"validate_only: {r}")
    d = describe(adm, ConfigResource.Type.BROKER, "1")
    expect(entry(d, "message.max.bytes").value == "1000",
           "validate_only changed message.max.bytes")
    r = incr_alter([("1", [("log.dirs", SET, "/x")]),
                    ("1", [("message.max.bytes", SET, "lots")]),
                    ("1", [("message.max.bytes", APPEND, "1")]),
                    ("7", [("message.max.bytes", SET, "2000")]),
                    ("1", [("message.max.bytes", SET, "8000000000")])])
    want = [40, 40, 42, 42, 40]
    expect([e for e, _ in r] == want, f"errors {r}, want {want}")
    expect("Cannot update these configs dynamically: Set(log.dirs)" in r[0][1],
           f"message {r[0][1]}")
    d = describe(adm, ConfigResource.Type.BROKER, "1")
    expect(entry(d, "message.max.bytes").value == "1000",
           "a refused alter changed message.max.bytes")
    ok("validate_only changes nothing; read-only key, bad value, APPEND, "
       "other broker id, a value above the hot chunk: Kafka's errors")


def stage_after():
    adm = admin()
    d = describe(adm, ConfigResource.Type.BROKER, "1")
    e = entry(d, "message.max.bytes")
    expect(e.value == "3000" and
           src(e) == ConfigSource.DYNAMIC_BROKER_CONFIG.value,
           f"after restart message.max.bytes {e.value} source {src(e)}")
    e = entry(d, "log.retention.ms")
    expect(e.value == "3600000" and
           src(e) == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
           f"after restart log.retention.ms {e.value} source {src(e)}")
    expect(produce(2000) is None, "2000 bytes refused at 3000")
    code = produce(4000)
    expect(code == KafkaError.MSG_SIZE_TOO_LARGE,
           f"4000 bytes at message.max.bytes=3000: {code}")
    ok("after a restart: KafkaJS's message.max.bytes=3000 and the default "
       "log.retention.ms are back and in force (2000 B ok, 4000 B refused)")


def stage_clear():
    adm = admin()
    r = incr_alter([("1", [("message.max.bytes", DELETE, None)])])
    expect(r == [(0, None)], f"DELETE: {r}")
    # A null value is left out (as Kafka): the same as an empty set.
    r = raw_alter_default({"log.retention.ms": None})
    expect(r == (0, None), f"AlterConfigs with a null value on the default: {r}")
    d = describe(adm, ConfigResource.Type.BROKER, "1")
    for k in ("message.max.bytes", "log.retention.ms"):
        e = entry(d, k)
        expect(src(e) in (ConfigSource.STATIC_BROKER_CONFIG.value,
                            ConfigSource.DEFAULT_CONFIG.value),
               f"{k} after clearing: source {src(e)} value {e.value}")
    expect(len(raw_describe_default()) == 0,
           "the default resource still lists configs")
    expect(produce(4000) is None, "4000 bytes refused after clearing")
    ok("DELETE, and AlterConfigs with only a null value on the default, "
       "clear both layers")


if __name__ == "__main__":
    {"set": stage_set, "after": stage_after, "clear": stage_clear}[MODE]()
