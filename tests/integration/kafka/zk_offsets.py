#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Committed offsets across coordinator moves (test_cluster_offsets.sh).

  zk_offsets.py create TOPIC BOOT PARTITIONS RF
      CreateTopics with replication factor RF.
  zk_offsets.py produce TOPIC BOOT N PARTITIONS
      N messages to each partition (acks=all); exits 1 if one failed.
  zk_offsets.py commit TOPIC GROUP BOOT PARTITIONS N EVERY
      a confluent-kafka consumer of GROUP (subscribe, no auto commit)
      reads N messages, committing synchronously after every EVERY; prints
      the last acknowledged commit per partition, "PARTITION OFFSET" lines,
      then "commits C" and the median and 99th percentile commit latency
      "latency_ms P50 P99".
  zk_offsets.py resume TOPIC GROUP BOOT PARTITIONS
      a new consumer of GROUP: "PARTITION COMMITTED FIRST" per partition,
      COMMITTED from committed() (OffsetFetch), FIRST the first offset it
      reads there (-1 when none within the time).
  zk_offsets.py commit-one TOPIC GROUP BOOT PARTITION OFFSET TIMEOUT_S
      one synchronous commit (assign, no subscribe) of OFFSET: "ok", or
      "error NAME" (the process is killed by the caller if it waits).
  zk_offsets.py delete GROUP BOOT
      DeleteGroups through kafka-python's admin client: "ok" or the error.
  zk_offsets.py latency GROUP BOOT TOPIC N
      N synchronous commits of one partition through an assigned consumer:
      "latency_ms P50 P99 MEAN".
"""
import sys
import time


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def create(topic, boot, parts, rf):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": boot})
    for t, f in a.create_topics([NewTopic(topic, parts, rf)],
                                request_timeout=30).items():
        try:
            f.result(timeout=40)
        except Exception as e:
            fail("create %s: %s" % (t, e))


def produce(topic, boot, n, parts):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": boot, "acks": "all",
                  "message.timeout.ms": 30000})
    bad = []
    for part in range(parts):
        for i in range(n):
            p.produce(topic, value=b"m%d-%d" % (part, i), partition=part,
                      on_delivery=lambda e, m: bad.append(e) if e else None)
    p.flush(40)
    if bad or len(p) > 0:
        fail("%d messages not produced: %s" % (len(bad) + len(p),
                                                bad[:1]))


def consumer(group, boot, extra=None):
    from confluent_kafka import Consumer
    conf = {"bootstrap.servers": boot, "group.id": group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "max.partition.fetch.bytes": 200}
    conf.update(extra or {})
    return Consumer(conf)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else -1


def commit(topic, group, boot, parts, n, every):
    from confluent_kafka import KafkaException
    c = consumer(group, boot)
    c.subscribe([topic])
    acked = {}
    lat = []
    seen = 0
    deadline = time.time() + 60
    while seen < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        seen += 1
        if seen % every == 0 or seen == n:
            t0 = time.time()
            try:
                res = c.commit(asynchronous=False)
            except KafkaException as e:
                fail("commit: %s" % e)
            lat.append((time.time() - t0) * 1000)
            for tp in res:
                if tp.error is None and tp.offset >= 0:
                    acked[tp.partition] = tp.offset
    if seen < n:
        fail("read %d of %d messages" % (seen, n))
    for p in sorted(acked):
        print("%d %d" % (p, acked[p]))
    print("commits %d" % len(lat))
    print("latency_ms %.2f %.2f" % (pct(lat, 0.5), pct(lat, 0.99)))
    sys.stdout.flush()
    # Leave without committing more (no LeaveGroup either: the member's
    # session expires, as after a crash).
    import os
    os._exit(0)


def resume(topic, group, boot, parts):
    from confluent_kafka import TopicPartition, KafkaException
    c = consumer(group, boot)
    tps = [TopicPartition(topic, p) for p in range(parts)]
    committed = None
    deadline = time.time() + 60
    while committed is None and time.time() < deadline:
        try:
            committed = c.committed(tps, timeout=10)
        except KafkaException:
            time.sleep(0.5)
    if committed is None:
        fail("committed() kept failing")
    # Partitions read to their end have nothing more to give.
    want = set()
    for tp in committed:
        lo, hi = c.get_watermark_offsets(tp, timeout=10)
        if tp.offset < hi:
            want.add(tp.partition)
    c.subscribe([topic])
    first = {}
    deadline = time.time() + 60
    while not want.issubset(first) and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        first.setdefault(m.partition(), m.offset())
    for tp in committed:
        print("%d %d %d" % (tp.partition, tp.offset,
                            first.get(tp.partition, -1)))
    c.close()


def commit_one(topic, group, boot, part, off, tmo):
    from confluent_kafka import TopicPartition, KafkaException
    c = consumer(group, boot)
    try:
        res = c.commit(offsets=[TopicPartition(topic, part, off)],
                       asynchronous=False)
        e = [tp.error for tp in res if tp.error is not None]
        print("error %s" % e[0].name() if e else "ok")
    except KafkaException as e:
        print("error %s" % e.args[0].name())
    sys.stdout.flush()
    import os
    os._exit(0)


def latency(group, boot, topic, n):
    from confluent_kafka import TopicPartition
    c = consumer(group, boot)
    lat = []
    for i in range(n):
        t0 = time.time()
        c.commit(offsets=[TopicPartition(topic, 0, i + 1)],
                 asynchronous=False)
        lat.append((time.time() - t0) * 1000)
    print("latency_ms %.2f %.2f %.2f" % (pct(lat, 0.5), pct(lat, 0.99),
                                         sum(lat) / len(lat)))
    c.close()


def delete(group, boot):
    from kafka.admin import KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=boot.split(","))
    for _ in range(20):
        r = dict(a.delete_consumer_groups([group]))
        err = r.get(group)
        if err is None or getattr(err, "errno", None) == 0:
            print("ok")
            return
        if getattr(err, "retriable", False):
            time.sleep(0.5)
            continue
        break
    print("error %s" % err)


def main():
    a = sys.argv[1:]
    if not a:
        fail(__doc__)
    if a[0] == "create":
        create(a[1], a[2], int(a[3]), int(a[4]))
    elif a[0] == "produce":
        produce(a[1], a[2], int(a[3]), int(a[4]))
    elif a[0] == "commit":
        commit(a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]))
    elif a[0] == "resume":
        resume(a[1], a[2], a[3], int(a[4]))
    elif a[0] == "commit-one":
        commit_one(a[1], a[2], a[3], int(a[4]), int(a[5]), float(a[6]))
    elif a[0] == "delete":
        delete(a[1], a[2])
    elif a[0] == "latency":
        latency(a[1], a[2], a[3], int(a[4]))
    else:
        fail("unknown command " + a[0])


if __name__ == "__main__":
    main()
