#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A group member whose subscribed topic is deleted under it leaves and
closes (test_group_deleted_topic.sh).

  deleted_topic_member.py BROKER kafka-python|confluent TOPIC GROUP

Creates TOPIC (2 partitions), produces 10 records, a consumer of GROUP
subscribes and reads them, an admin client deletes TOPIC, the consumer
keeps polling 3 s (it sees the topic gone), then closes (kafka-python:
without the final auto-commit, see below). Prints "left"
once close() returned. With confluent-kafka the close is librdkafka's
rd_kafka_consumer_close (LeaveGroup) followed by rd_kafka_destroy, which
librdkafka 2.0.2 to 2.6.0 never finishes in this sequence (#4724: a
message in a removed partition's fetch queue holds the partition, which
holds the broker); the caller bounds it.
"""
import sys
import time

B, CLIENT, TOPIC, GROUP = sys.argv[1:5]


def log(msg):
    print(msg, flush=True)


def fail(msg):
    print(f"FAIL: deleted topic member ({CLIENT}): {msg}", file=sys.stderr,
          flush=True)
    sys.exit(1)


def kafka_python():
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    adm = KafkaAdminClient(bootstrap_servers=B)
    adm.create_topics([NewTopic(TOPIC, 2, 1)])
    p = KafkaProducer(bootstrap_servers=B)
    for i in range(10):
        p.send(TOPIC, b"v%d" % i, partition=i % 2)
    p.flush(10)
    p.close()
    c = KafkaConsumer(TOPIC, bootstrap_servers=B, group_id=GROUP,
                      auto_offset_reset="earliest")
    n, t0 = 0, time.time()
    while n < 10 and time.time() - t0 < 30:
        for recs in c.poll(500).values():
            n += len(recs)
    if n != 10:
        fail(f"consumed {n} of 10")
    log("consumed 10")
    adm.delete_topics([TOPIC])
    log("deleted")
    t0 = time.time()
    while time.time() - t0 < 3:
        try:
            c.poll(200)
        except Exception as e:   # the topic is gone: any error is fine
            log(f"poll: {e!r}")
    # Not autocommit: kafka-python 2.0.2 retries a commit that fails with
    # UNKNOWN_TOPIC_OR_PARTITION for ever (it deems it retriable), which
    # Kafka answers for a deleted topic too.
    c.close(autocommit=False)
    log("left")


def confluent():
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    adm = AdminClient({"bootstrap.servers": B})
    adm.create_topics([NewTopic(TOPIC, 2, 1)])[TOPIC].result(timeout=20)
    p = Producer({"bootstrap.servers": B})
    for i in range(10):
        p.produce(TOPIC, b"v%d" % i, partition=i % 2)
    p.flush(10)
    c = Consumer({"bootstrap.servers": B, "group.id": GROUP,
                  "auto.offset.reset": "earliest"})
    c.subscribe([TOPIC])
    n, t0 = 0, time.time()
    while n < 10 and time.time() - t0 < 30:
        m = c.poll(0.5)
        if m is not None and not m.error():
            n += 1
    if n != 10:
        fail(f"consumed {n} of 10")
    log("consumed 10")
    adm.delete_topics([TOPIC])[TOPIC].result(timeout=20)
    log("deleted")
    t0 = time.time()
    while time.time() - t0 < 3:
        c.poll(0.2)
    c.close()
    log("left")


{"kafka-python": kafka_python, "confluent": confluent}[CLIENT]()
