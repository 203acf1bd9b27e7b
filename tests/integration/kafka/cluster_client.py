#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Clients against a FluxMQ cluster (tests/integration/test_cluster_*.sh).

  cluster_client.py confluent TOPIC BOOT_PRODUCE BOOT_CONSUME N
      confluent-kafka: N keyed messages produced through one bootstrap
      broker (acks=all), read back through another; every message once.
  cluster_client.py kafka-python TOPIC BOOT_PRODUCE BOOT_CONSUME N
      the same with kafka-python.
  cluster_client.py not-leader TOPIC BOOT
      a Produce, a Fetch and a ListOffsets for partition 0 sent straight
      to a broker that does not lead it: NOT_LEADER_OR_FOLLOWER (6) each.
  cluster_client.py count TOPIC BOOT PARTITION...
      messages in those partitions (end offset - start), one line.
  cluster_client.py produce-to TOPIC BOOT N PARTITION...
      N messages to each partition (acks=all); prints how many failed.
  cluster_client.py create TOPIC BOOT PARTITIONS
      CreateTopics (replication factor 1) through BOOT with confluent-kafka's
      admin client, which sends it to the controller.
  cluster_client.py cluster-id BOOT
      the cluster id in BOOT's Metadata answer, one line.
  cluster_client.py partitions TOPIC BOOT
      BOOT's Metadata (v5) for TOPIC: "PARTITION LEADER ERROR OFFLINE"
      per partition (OFFLINE: comma-separated ids, - when none).
      the cluster id in BOOT's Metadata answer, one line.
Exits 1 on a failed check with a line saying why.
"""
import sys
import time


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def confluent(topic, bp, bc, n):
    from confluent_kafka import Consumer, Producer
    p = Producer({"bootstrap.servers": bp, "acks": "all", "linger.ms": 5})
    errs = []
    for i in range(n):
        p.produce(topic, key=b"k%d" % i, value=b"cf-%d" % i,
                  on_delivery=lambda e, m: errs.append(e) if e else None)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(60)
    if left or errs:
        fail("confluent-kafka: %d unflushed, errors %s" % (left, errs[:3]))
    c = Consumer({"bootstrap.servers": bc, "group.id": "cf-%d" % time.time(),
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    seen = set()
    end = time.time() + 60
    while time.time() < end and len(seen) < n:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        v = m.value()
        if v.startswith(b"cf-"):
            if v in seen:
                fail("confluent-kafka: %r read twice" % v)
            seen.add(v)
    c.close()
    if len(seen) != n:
        fail("confluent-kafka: read %d of %d" % (len(seen), n))
    print("confluent-kafka: %d produced via %s, read via %s" % (n, bp, bc))


def kafka_python(topic, bp, bc, n):
    from kafka import KafkaConsumer, KafkaProducer
    p = KafkaProducer(bootstrap_servers=bp, acks="all", linger_ms=5)
    futs = [p.send(topic, key=b"k%d" % i, value=b"kp-%d" % i)
            for i in range(n)]
    p.flush(60)
    for f in futs:
        f.get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=bc,
                      auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=15000)
    seen = set()
    for m in c:
        if m.value.startswith(b"kp-"):
            if m.value in seen:
                fail("kafka-python: %r read twice" % m.value)
            seen.add(m.value)
            if len(seen) == n:
                break
    c.close()
    if len(seen) != n:
        fail("kafka-python: read %d of %d" % (len(seen), n))
    print("kafka-python: %d produced via %s, read via %s" % (n, bp, bc))


def not_leader(topic, boot):
    from kafka import KafkaClient
    from kafka.protocol.fetch import FetchRequest
    from kafka.protocol.offset import OffsetRequest
    from kafka.protocol.produce import ProduceRequest
    from kafka.record.memory_records import MemoryRecordsBuilder
    cl = KafkaClient(bootstrap_servers=boot)
    cl.poll(future=cl.cluster.request_update())
    deadline = time.time() + 10
    while cl.cluster.leader_for_partition(
            __import__("kafka").TopicPartition(topic, 0)) in (None, -1):
        if time.time() > deadline:
            fail("no leader for %s-0" % topic)
        cl.poll(future=cl.cluster.request_update())
    from kafka import TopicPartition
    leader = cl.cluster.leader_for_partition(TopicPartition(topic, 0))
    other = [b.nodeId for b in cl.cluster.brokers() if b.nodeId != leader][0]
    while not cl.ready(other):
        cl.poll(timeout_ms=100)
        if time.time() > deadline:
            fail("cannot connect to broker %d" % other)

    def ask(req):
        f = cl.send(other, req)
        cl.poll(future=f)
        if not f.succeeded():
            fail("request to broker %d failed: %s" % (other, f.exception))
        return f.value

    b = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    b.append(timestamp=None, key=None, value=b"x", headers=[])
    b.close()
    r = ask(ProduceRequest[3](transactional_id=None, required_acks=1,
                              timeout=5000,
                              topics=[(topic, [(0, b.buffer())])]))
    e1 = r.topics[0][1][0][1]
    r = ask(FetchRequest[4](-1, 100, 1, 1 << 20, 0,
                            [(topic, [(0, 0, 1 << 20)])]))
    e2 = r.topics[0][1][0][1]
    r = ask(OffsetRequest[1](-1, [(topic, [(0, -1)])]))
    e3 = r.topics[0][1][0][1]
    if (e1, e2, e3) != (6, 6, 6):
        fail("broker %d for %s-0 led by %d: produce %d, fetch %d, "
             "list offsets %d (want 6 = NOT_LEADER_OR_FOLLOWER)"
             % (other, topic, leader, e1, e2, e3))
    print("broker %d answers NOT_LEADER_OR_FOLLOWER for %s-0 (led by %d)"
          % (other, topic, leader))


def count(topic, boot, parts):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": boot, "group.id": "count"})
    total = 0
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p),
                                         timeout=10)
        total += hi - lo
    c.close()
    print(total)


def produce_to(topic, boot, n, parts):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": boot, "acks": "all",
                  "message.timeout.ms": 20000})
    bad = []
    for part in parts:
        for i in range(n):
            p.produce(topic, value=b"p%d-%d" % (part, i), partition=part,
                      on_delivery=lambda e, m: bad.append(e) if e else None)
    p.flush(30)
    print(len(bad))


def create(topic, boot, parts):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": boot})
    for t, f in a.create_topics([NewTopic(topic, parts, 1)],
                                request_timeout=30).items():
        try:
            f.result(timeout=40)
        except Exception as e:
            fail("create %s through %s: %s" % (t, boot, e))
    print("created %s (%d partitions) through %s" % (topic, parts, boot))


def cluster_id(boot):
    from kafka import KafkaClient
    from kafka.protocol.metadata import MetadataRequest
    cl = KafkaClient(bootstrap_servers=boot)
    node = cl.least_loaded_node()
    deadline = time.time() + 10
    while not cl.ready(node):
        cl.poll(timeout_ms=100)
        if time.time() > deadline:
            fail("cannot connect to %s" % boot)
    f = cl.send(node, MetadataRequest[2]([]))
    cl.poll(future=f)
    if not f.succeeded():
        fail("Metadata from %s: %s" % (boot, f.exception))
    print(f.value.cluster_id)
    cl.close()


def one_node(boot):
    from kafka import KafkaClient
    cl = KafkaClient(bootstrap_servers=boot)
    node = cl.least_loaded_node()
    deadline = time.time() + 10
    while not cl.ready(node):
        cl.poll(timeout_ms=100)
        if time.time() > deadline:
            fail("cannot connect to %s" % boot)
    return cl, node


def partitions(topic, boot):
    from kafka.protocol.metadata import MetadataRequest
    cl, node = one_node(boot)
    f = cl.send(node, MetadataRequest[5]([topic], False))
    cl.poll(future=f)
    if not f.succeeded():
        fail("Metadata from %s: %s" % (boot, f.exception))
    for t in f.value.topics:
        for p in sorted(t[3], key=lambda x: x[1]):
            err, idx, leader, _reps, _isr, off = p
            print("%d %d %d %s" % (idx, leader, err,
                                   ",".join(map(str, off)) or "-"))
    cl.close()


def main():
    a = sys.argv[1:]
    if a[0] == "confluent":
        confluent(a[1], a[2], a[3], int(a[4]))
    elif a[0] == "kafka-python":
        kafka_python(a[1], a[2], a[3], int(a[4]))
    elif a[0] == "not-leader":
        not_leader(a[1], a[2])
    elif a[0] == "count":
        count(a[1], a[2], [int(x) for x in a[3:]])
    elif a[0] == "produce-to":
        produce_to(a[1], a[2], int(a[3]), [int(x) for x in a[4:]])
    elif a[0] == "create":
        create(a[1], a[2], int(a[3]))
    elif a[0] == "partitions":
        partitions(a[1], a[2])
    elif a[0] == "cluster-id":
        cluster_id(a[1])
    else:
        fail("unknown mode " + a[0])


if __name__ == "__main__":
    main()
