#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kafka-python helper for test_kafka_restart.sh.

  restart_client.py BROKER setup
        create rs-a (3 partitions, topic configs) and rs-b (LogAppendTime)
  restart_client.py BROKER configs
        check the topics and their configs are as setup made them
  restart_client.py BROKER produce TOPIC N ACKS_FILE
        produce N messages with acks=all; append "topic partition offset
        value" per acknowledged message to ACKS_FILE
  restart_client.py BROKER stream TOPIC SECONDS ACKS_FILE
        produce with acks=all until SECONDS pass or the broker goes away,
        appending every acknowledgement to ACKS_FILE as it arrives
  restart_client.py BROKER ends
        print "topic partition end-offset" for every partition
  restart_client.py BROKER verify ACKS_FILE
        every acknowledged message must be at its offset, and every
        partition's offsets must run 0..end without a hole
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

B = sys.argv[1]
# kafka-python probes the broker version on every new client with a 2 s
# budget; on a loaded 2-core machine the first connection through the tap
# can take longer, which kafka-python reports as UnrecognizedBrokerVersion.
# Give the probe more time instead of failing on load.
CONN = {"bootstrap_servers": B, "api_version_auto_timeout_ms": 15000}
CONFIGS = {
    "rs-a": {"retention.ms": "86400000", "segment.bytes": "65536",
             "max.message.bytes": "500000", "cleanup.policy": "delete"},
    "rs-b": {"message.timestamp.type": "LogAppendTime",
             "compression.type": "producer", "retention.bytes": "1000000000"},
}
PARTS = {"rs-a": 3, "rs-b": 2}


def die(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def setup():
    adm = KafkaAdminClient(**CONN, request_timeout_ms=15000)
    adm.create_topics([NewTopic(t, PARTS[t], 1, topic_configs=c)
                       for t, c in CONFIGS.items()])
    adm.close()


def configs():
    adm = KafkaAdminClient(**CONN, request_timeout_ms=15000)
    topics = set(adm.list_topics())
    for t, want in CONFIGS.items():
        if t not in topics:
            die(f"topic {t} is gone after the restart ({sorted(topics)})")
        r, = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t)])
        (err, _, _, _, entries), = r.resources
        got = {e[0]: (e[1], e[3]) for e in entries}
        for k, v in want.items():
            if got.get(k) != (v, 1):
                die(f"{t}: {k} = {got.get(k)} after the restart, want ({v!r}, 1)")
    adm.close()
    c = KafkaConsumer(**CONN, group_id=None)
    for t, n in PARTS.items():
        parts = c.partitions_for_topic(t)
        if parts != set(range(n)):
            die(f"{t}: partitions {parts} after the restart, want 0..{n - 1}")
    c.close()
    print("topics, partition counts and topic configs kept")


def producer():
    return KafkaProducer(**CONN, acks="all", linger_ms=2,
                         retries=0, request_timeout_ms=3000,
                         max_block_ms=3000, reconnect_backoff_max_ms=200)


def produce(topic, n, path):
    p = producer()
    tag = f"{topic}-{int(time.time() * 1000)}"
    futs = [(i, p.send(topic, key=b"%d" % i, value=f"{tag}-{i}".encode(),
                       partition=i % PARTS[topic])) for i in range(n)]
    p.flush()
    with open(path, "a") as f:
        for i, fut in futs:
            md = fut.get(timeout=30)
            f.write(f"{topic} {md.partition} {md.offset} {tag}-{i}\n")
    p.close()
    print(f"{n} messages acknowledged on {topic}")


def stream(topic, seconds, path):
    """Produce until told to stop or the broker dies; record acks as they
    come (each line flushed, so a kill of the broker loses none)."""
    p = producer()
    f = open(path, "a", buffering=1)
    acked = [0]
    errors = [0]
    tag = f"{topic}-s{int(time.time() * 1000)}"

    def on_ok(i):
        def cb(md):
            f.write(f"{topic} {md.partition} {md.offset} {tag}-{i}\n")
            acked[0] += 1
        return cb

    def on_err(_):
        errors[0] += 1

    t_end = time.time() + seconds
    i = 0
    while time.time() < t_end and errors[0] == 0:
        try:
            p.send(topic, value=f"{tag}-{i}".encode(),
                   partition=i % PARTS[topic]).add_callback(on_ok(i)).add_errback(on_err)
        except Exception:
            errors[0] += 1
            break
        i += 1
        if i % 200 == 0:
            p.flush(timeout=5)
    try:
        p.flush(timeout=5)
    except Exception:
        pass
    p.close(timeout=2)
    f.close()
    print(f"stream: {i} sent, {acked[0]} acknowledged, {errors[0]} errors")


def verify(path):
    acked = {}
    for line in open(path):
        t, p, o, v = line.split()
        acked[(t, int(p), int(o))] = v.encode()
    c = KafkaConsumer(**CONN, group_id=None,
                      enable_auto_commit=False, consumer_timeout_ms=8000)
    total = 0
    for t, n in PARTS.items():
        tps = [TopicPartition(t, x) for x in range(n)]
        ends = c.end_offsets(tps)
        c.assign(tps)
        c.seek_to_beginning()
        got = {x: [] for x in range(n)}
        left = sum(ends.values())
        for m in c:
            got[m.partition].append(m)
            left -= 1
            if left == 0:
                break
        for x in range(n):
            offs = [m.offset for m in got[x]]
            if offs != list(range(ends[tps[x]])):
                die(f"{t}/{x}: offsets read {offs[:3]}..{offs[-3:]}, "
                    f"end {ends[tps[x]]}: a hole or a short read")
            by_off = {m.offset: m.value for m in got[x]}
            for (at, ap, ao), v in acked.items():
                if at == t and ap == x:
                    if by_off.get(ao) != v:
                        die(f"acknowledged {t}/{x}@{ao} ({v!r}) is "
                            f"{by_off.get(ao)!r} after the restart")
                    total += 1
    c.close()
    if total != len(acked):
        die(f"checked {total} of {len(acked)} acknowledgements")
    print(f"all {total} acknowledged messages at their offsets; "
          f"offsets contiguous from 0")


def ends():
    c = KafkaConsumer(**CONN, group_id=None)
    for t, n in PARTS.items():
        tps = [TopicPartition(t, x) for x in range(n)]
        for tp, e in sorted(c.end_offsets(tps).items()):
            print(f"{tp.topic} {tp.partition} {e}")
    c.close()


def main():
    cmd = sys.argv[2]
    if cmd == "setup":
        setup()
    elif cmd == "configs":
        configs()
    elif cmd == "produce":
        produce(sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif cmd == "stream":
        stream(sys.argv[3], float(sys.argv[4]), sys.argv[5])
    elif cmd == "ends":
        ends()
    elif cmd == "verify":
        verify(sys.argv[3])
    else:
        die(__doc__)


if __name__ == "__main__":
    main()
