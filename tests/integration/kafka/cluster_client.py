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
  cluster_client.py create TOPIC BOOT PARTITIONS [BROKER]
      CreateTopics (replication factor 1) through BOOT with confluent-kafka's
      admin client, which sends it to the controller; with BROKER, every
      partition on that broker (replica_assignment).
  cluster_client.py cluster-id BOOT
      the cluster id in BOOT's Metadata answer, one line.
  cluster_client.py partitions TOPIC BOOT
      BOOT's Metadata (v5) for TOPIC: "PARTITION LEADER ERROR OFFLINE"
      per partition (OFFLINE: comma-separated ids, - when none).
      the cluster id in BOOT's Metadata answer, one line.
  cluster_client.py coordinators BOOT GROUP...
      FindCoordinator (v0) for each group sent to BOOT: "GROUP NODE" lines
      (NODE -1 with the error when there is none).
  cluster_client.py group TOPIC GROUP N BOOT BOOT BOOT
      three confluent-kafka consumers of one group, each bootstrapped from
      its own broker, join and split the topic's partitions; then N
      messages are produced and the three together read each exactly
      once, committing; a fourth consumer bootstrapped from each broker in
      turn sees the group's committed offsets at the partitions' ends.
  cluster_client.py pids BOOT N
      N InitProducerId (v0, no transactional id) on one connection to
      BOOT: the producer ids, one a line (-1 and the error on failure).
  cluster_client.py not-coordinator BOOT GROUP TOPIC
      a Heartbeat (v0) and an OffsetFetch (v2) for GROUP sent straight to
      BOOT: "HEARTBEAT_ERROR OFFSET_FETCH_ERROR", one line.
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


def create(topic, boot, parts, broker=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": boot})
    nt = NewTopic(topic, parts, 1) if broker is None else \
        NewTopic(topic, parts, -1, replica_assignment=[[broker]] * parts)
    for t, f in a.create_topics([nt],
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


def coordinators(boot, groups):
    from kafka.protocol.commit import GroupCoordinatorRequest
    cl, node = one_node(boot)
    for g in groups:
        f = cl.send(node, GroupCoordinatorRequest[0](g))
        cl.poll(future=f)
        if not f.succeeded():
            fail("FindCoordinator from %s: %s" % (boot, f.exception))
        r = f.value
        print("%s %d%s" % (g, r.coordinator_id if r.error_code == 0 else -1,
                           "" if r.error_code == 0 else
                           " error %d" % r.error_code))
    cl.close()


def group(topic, gid, n, boots):
    import threading
    from confluent_kafka import Consumer, Producer, TopicPartition
    lock = threading.Lock()
    seen = {}
    dups = []
    assigned = [set() for _ in boots]
    stop = threading.Event()
    errors = []

    def run(i, boot):
        def on_assign(c, parts):
            with lock:
                assigned[i] = set(p.partition for p in parts)

        def on_revoke(c, parts):
            with lock:
                assigned[i] = set()
        try:
            c = Consumer({"bootstrap.servers": boot, "group.id": gid,
                          "auto.offset.reset": "earliest",
                          "enable.auto.commit": True,
                          "auto.commit.interval.ms": 500,
                          "session.timeout.ms": 10000,
                          "heartbeat.interval.ms": 500})
            c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
            while not stop.is_set():
                m = c.poll(0.2)
                if m is None or m.error():
                    continue
                v = m.value()
                with lock:
                    if v in seen:
                        dups.append((v, seen[v], i))
                    seen[v] = i
            try:
                c.commit(asynchronous=False)
            except Exception as e:  # noqa: BLE001
                # Nothing new since the last automatic commit.
                if "_NO_OFFSET" not in str(e):
                    raise
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append("consumer %d: %s" % (i, e))

    ts = [threading.Thread(target=run, args=(i, b))
          for i, b in enumerate(boots)]
    for t in ts:
        t.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            a = [set(x) for x in assigned]
        if all(a) and sum(len(x) for x in a) == 12 and \
                len(set().union(*a)) == 12:
            break
        time.sleep(0.2)
    else:
        stop.set()
        fail("the 3 consumers never split the 12 partitions: %s" % a)
    p = Producer({"bootstrap.servers": boots[0], "acks": "all"})
    for k in range(n):
        p.produce(topic, key=b"g%d" % k, value=b"%s-%d" % (gid.encode(), k))
    if p.flush(60):
        stop.set()
        fail("produce did not complete")
    end = time.time() + 60
    while time.time() < end:
        with lock:
            if len(seen) >= n or dups:
                break
        time.sleep(0.2)
    time.sleep(1)
    stop.set()
    for t in ts:
        t.join(30)
    if errors:
        fail("; ".join(errors))
    if dups:
        fail("%d messages read twice, e.g. %r by consumers %d and %d"
             % (len(dups), dups[0][0], dups[0][1], dups[0][2]))
    if len(seen) != n:
        fail("read %d of %d" % (len(seen), n))
    per = [sum(1 for v in seen.values() if v == i) for i in range(3)]
    if min(per) == 0:
        fail("a consumer read nothing: %s" % per)
    ends = {}
    c = Consumer({"bootstrap.servers": boots[0], "group.id": "count"})
    for part in range(12):
        ends[part] = c.get_watermark_offsets(TopicPartition(topic, part),
                                             timeout=10)[1]
    c.close()
    for boot in boots:
        c = Consumer({"bootstrap.servers": boot, "group.id": gid})
        got = c.committed([TopicPartition(topic, q) for q in range(12)],
                          timeout=20)
        c.close()
        bad = [(t.partition, t.offset) for t in got
               if t.offset != ends[t.partition]]
        if bad:
            fail("committed offsets seen via %s differ from the ends %s: "
                 "%s" % (boot, ends, bad))
    print("group %s: 3 consumers (one per bootstrap broker) read %d "
          "messages once (%s each), committed offsets at the ends seen via "
          "every broker" % (gid, n, "/".join(map(str, per))))


def pids(boot, n):
    import os
    import struct
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import kwire
    host, port = boot.rsplit(":", 1)
    s = kwire.connect(host, int(port))
    s.settimeout(30)
    for corr in range(n):
        s.sendall(kwire.frame(kwire.hdr1(22, 0, corr, "pids") +
                              kwire.s16(None) + kwire.i32(60000)))
        r = kwire.read_response(s)
        if r is None or r[0] != corr:
            fail("InitProducerId %d from %s: no answer" % (corr, boot))
        _thr, err, pid, _ep = struct.unpack(">ihqh", r[1][:16])
        print(pid if err == 0 else "-1 error %d" % err)
    s.close()


def not_coordinator(boot, gid, topic):
    from kafka.protocol.commit import OffsetFetchRequest
    from kafka.protocol.group import HeartbeatRequest
    cl, node = one_node(boot)

    def ask(req):
        f = cl.send(node, req)
        cl.poll(future=f)
        if not f.succeeded():
            fail("request to %s failed: %s" % (boot, f.exception))
        return f.value
    h = ask(HeartbeatRequest[0](gid, 1, "m"))
    o = ask(OffsetFetchRequest[2](gid, [(topic, [0])]))
    print("%d %d" % (h.error_code, o.error_code))
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
        create(a[1], a[2], int(a[3]),
               int(a[4]) if len(a) > 4 else None)
    elif a[0] == "coordinators":
        coordinators(a[1], a[2:])
    elif a[0] == "group":
        group(a[1], a[2], int(a[3]), a[4:7])
    elif a[0] == "not-coordinator":
        not_coordinator(a[1], a[2], a[3])
    elif a[0] == "pids":
        pids(a[1], int(a[2]))
    elif a[0] == "partitions":
        partitions(a[1], a[2])
    elif a[0] == "cluster-id":
        cluster_id(a[1])
    else:
        fail("unknown mode " + a[0])


if __name__ == "__main__":
    main()
