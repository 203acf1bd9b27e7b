#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Produce/consume round trips over TLS with confluent-kafka and kafka-python.

tls_clients.py LIB HOST:PORT CA TOPIC N [CERT KEY]: LIB is "confluent" or
"kafka-python"; N records out and the same N read back from the beginning.
With CERT and KEY the client presents that certificate (mTLS).
"""
import sys
import time


def confluent(bs, ca, topic, n, cert, key):
    from confluent_kafka import Consumer, Producer
    conf = {"bootstrap.servers": bs, "security.protocol": "SSL",
            "ssl.ca.location": ca}
    if cert:
        conf.update({"ssl.certificate.location": cert,
                     "ssl.key.location": key})
    p = Producer(dict(conf, **{"linger.ms": 5}))
    errs = []
    for i in range(n):
        p.produce(topic, value=b"confluent-%d" % i,
                  on_delivery=lambda e, m: e and errs.append(e))
    if p.flush(30) != 0 or errs:
        raise RuntimeError("produce: %s" % (errs[:3] or "not flushed"))
    c = Consumer(dict(conf, **{"group.id": "tls-" + topic,
                               "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    deadline = time.time() + 40
    while len(got) < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            raise RuntimeError("consume: %s" % m.error())
        got.append(m.value())
    c.close()
    return got


def kafka_python(bs, ca, topic, n, cert, key):
    from kafka import KafkaConsumer, KafkaProducer
    conf = {"bootstrap_servers": bs, "security_protocol": "SSL",
            "ssl_cafile": ca, "ssl_check_hostname": True}
    if cert:
        conf.update({"ssl_certfile": cert, "ssl_keyfile": key})
    p = KafkaProducer(**conf)
    fs = [p.send(topic, b"kafka-python-%d" % i) for i in range(n)]
    for f in fs:
        f.get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest",
                      consumer_timeout_ms=15000, **conf)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == n:
            break
    c.close()
    return got


def main():
    lib, bs, ca, topic, n = sys.argv[1:6]
    cert, key = (sys.argv[6], sys.argv[7]) if len(sys.argv) > 7 else ("", "")
    n = int(n)
    fn = confluent if lib == "confluent" else kafka_python
    got = fn(bs, ca, topic, n, cert, key)
    prefix = b"confluent-" if lib == "confluent" else b"kafka-python-"
    want = [prefix + b"%d" % i for i in range(n)]
    if sorted(got) != sorted(want):
        print("read %d of %d records back" % (len(got), n), file=sys.stderr)
        sys.exit(1)
    print("%s: %d records out and back over TLS" % (lib, n))


if __name__ == "__main__":
    main()
