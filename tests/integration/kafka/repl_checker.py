#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A checker for replication (issue 17), in the spirit of Jepsen's Kafka
workload: every value written is unique; what the producer was told is
compared with what the surviving brokers hand back.

  repl_checker.py create TOPIC BOOT PARTITIONS RF MIN_ISR [LEADER]
      CreateTopics through BOOT (the admin client finds the controller);
      with LEADER (of brokers 1-3), every partition led by it
      (replica_assignment).
  repl_checker.py produce TOPIC BOOTS SECONDS ACKFILE [STOPFILE]
      an idempotent confluent-kafka producer (acks=all) writes unique
      values "r<pid>-<n>" for SECONDS (or until STOPFILE exists); each
      acknowledged write goes to ACKFILE as "value partition offset",
      each failed one as "value FAILED error". Prints "sent acked failed
      fatal" (fatal: "-", or the fatal idempotence errors seen, e.g.
      OUT_OF_ORDER_SEQUENCE_NUMBER after a failover: Kafka keeps the
      producer's sequence across a leader change, so any is a failure;
      the producer stops there, and the command exits 3). One exception:
      librdkafka < 2.3.0's own bug #4438 (a timed-out batch taken for
      written, then "sequence desynchronization" with the last partition
      error _TIMED_OUT and MsgPossiblyPersisted) is the client's, not
      the broker's: it is counted on stderr ("client bug #4438") and a
      new producer goes on; every acknowledged write is still checked.
  repl_checker.py check TOPIC BOOTS ACKFILE
      reads every partition from the beginning to its end and prints
      "acknowledged N read M lost L duplicated D inconsistent I" (lost:
      acknowledged, never read; duplicated: one value at two offsets;
      inconsistent: read at another offset than acknowledged, or two
      values at one offset). Exits 1 unless lost, duplicated and
      inconsistent are 0.
  repl_checker.py produce-one TOPIC BOOT PARTITION
      one acks=all write (no retries, 10 s) to the partition: prints "OK"
      or the error's name (e.g. NOT_ENOUGH_REPLICAS).
  repl_checker.py leader TOPIC BOOT PARTITION
      "LEADER ISR" of the partition in BOOT's Metadata (ISR comma-joined).
  repl_checker.py wait-leader TOPIC BOOTS PARTITION OLD T0_MS SECONDS
      polls Metadata every 0.1 s until the partition's leader is neither
      OLD nor -1; prints "LEADER ISR MS" (MS: from T0_MS, epoch ms, to the
      Metadata that named it). Exits 1 after SECONDS.
  repl_checker.py probe TOPIC BOOTS PARTITION SECONDS ACKFILE MARKS [STOPFILE]
      an idempotent acks=all producer writing one value "p<pid>-<n>"
      every 10 ms to PARTITION (acks to ACKFILE as produce does); each
      line "T0_MS" appended to MARKS (a fault's time, epoch ms) gets one
      line "T0_MS MS" on stdout: MS from T0_MS to the first acknowledged
      write produced after it. Ends with "probe sent acked failed FATAL".
"""
import os
import sys
import time


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def create(topic, boot, parts, rf, min_isr, leader=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": boot})
    cfg = {"min.insync.replicas": min_isr}
    if leader is None:
        nt = NewTopic(topic, num_partitions=int(parts),
                      replication_factor=int(rf), config=cfg)
    else:
        ids = [int(leader)] + [i for i in (1, 2, 3) if i != int(leader)]
        nt = NewTopic(topic, num_partitions=int(parts),
                      replica_assignment=[ids[:int(rf)]] * int(parts),
                      config=cfg)
    f = a.create_topics([nt], operation_timeout=30)
    for _, fut in f.items():
        fut.result(timeout=60)
    print("created")


def produce(topic, boots, seconds, ackfile, stopfile=None):
    from confluent_kafka import KafkaException, Producer
    conf = {"bootstrap.servers": boots, "acks": "all",
            "enable.idempotence": True, "linger.ms": 2,
            "message.timeout.ms": 60000,
            # Below any failover (the session timeout, 5000-6000 in the
            # tests, and a metadata refresh): a request stranded on a
            # SIGKILLed leader (no RST from a dead userspace TCP) must
            # time out and be requeued before the partition moves to the
            # new leader. Later, librdkafka < 2.3.0 may send the batches
            # queued behind it to the new leader first and, having taken
            # the timed-out one for written (#4438), stop with a fatal
            # OUT_OF_ORDER_SEQUENCE_NUMBER when the new leader (as Kafka
            # would) finds the gap (docs/operations.md, "Idempotent
            # producers across a leader change").
            "request.timeout.ms": int(os.environ.get("RK_REQUEST_TIMEOUT_MS",
                                                     3000)),
            "socket.timeout.ms": 4000,
            "metadata.max.age.ms": 1000,
            "topic.metadata.refresh.interval.ms": 1000,
            "retry.backoff.ms": 100,
            **({"debug": os.environ["RK_DEBUG"]}
               if os.environ.get("RK_DEBUG") else {})}
    p = Producer(conf)
    out = open(ackfile, "w", buffering=1)
    st = {"acked": 0, "failed": 0}
    fatal = []
    texts = []
    client_bug = 0

    # Errors after which librdkafka's idempotent producer cannot go on.
    fatal_names = ("OUT_OF_ORDER_SEQUENCE_NUMBER", "UNKNOWN_PRODUCER_ID",
                   "_FATAL", "_INCONSISTENT")

    def done(err, msg):
        v = msg.value().decode()
        if err is not None:
            st["failed"] += 1
            out.write("%s FAILED %s\n" % (v, err.name()))
            if (err.fatal() or err.name() in fatal_names) and \
               err.name() not in fatal:
                fatal.append(err.name())
                texts.append(err.str())
                sys.stderr.write("fatal: %s\n" % err.str())
        else:
            st["acked"] += 1
            out.write("%s %d %d\n" % (v, msg.partition(), msg.offset()))

    def stop(e):
        # A fatal idempotence error (e.g. librdkafka's "sequence
        # desynchronization" after a failover) ends the run: a failure.
        if e.args[0].name() not in fatal:
            fatal.append(e.args[0].name())
        texts.append(e.args[0].str())
        sys.stderr.write("fatal: %s\n" % e.args[0].str())

    def is_4438():
        return any("sequence desynchronization" in t and "_TIMED_OUT" in t
                   and "MsgPossiblyPersisted" in t for t in texts)

    end = time.time() + float(seconds)
    run = b"r%d" % os.getpid()
    n = 0
    while time.time() < end:
        if fatal:
            # The delivery reports carry the reason: collect them first.
            try:
                p.flush(5)
            except KafkaException as e:
                texts.append(e.args[0].str())
            if not is_4438():
                break
            # The client's bug, not the broker's: a new producer (new
            # producer id) goes on; what the old one was told stays in
            # ACKFILE and is checked like the rest.
            client_bug += 1
            sys.stderr.write("client bug #4438 (librdkafka < 2.3.0): "
                             "a new producer goes on\n")
            fatal.clear()
            texts.clear()
            p = Producer(conf)
        if stopfile and os.path.exists(stopfile):
            break
        try:
            p.produce(topic, value=b"%s-%d" % (run, n), on_delivery=done)
            n += 1
            p.poll(0)
        except BufferError:
            try:
                p.poll(0.05)
            except KafkaException as e:
                stop(e)
            continue
        except KafkaException as e:
            stop(e)
        if n % 50 == 0:
            time.sleep(0.005)
    try:
        left = p.flush(90)
    except KafkaException as e:
        stop(e)
        left = len(p)
    out.close()
    if fatal and is_4438():
        client_bug += 1
        fatal.clear()
    if client_bug:
        sys.stderr.write("client bug #4438 (librdkafka < 2.3.0): %d "
                         "time(s)\n" % client_bug)
    print("%d %d %d %s" % (n, st["acked"], st["failed"] + left,
                           ",".join(fatal) or "-"))
    if fatal:
        sys.exit(3)


def check(topic, boots, ackfile):
    from confluent_kafka import Consumer, TopicPartition
    acked = {}
    for line in open(ackfile):
        f = line.split()
        if len(f) == 3 and f[1] != "FAILED":
            acked[f[0]] = (int(f[1]), int(f[2]))
    c = Consumer({"bootstrap.servers": boots, "group.id": "chk-%d" % os.getpid(),
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest",
                  "enable.partition.eof": True})
    md = c.list_topics(topic, timeout=30)
    parts = sorted(md.topics[topic].partitions)
    ends = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p),
                                         timeout=30)
        ends[p] = hi
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    seen = {}           # value -> [(p, off)]
    at = {}             # (p, off) -> value
    eof = set(p for p in parts if ends[p] == 0)
    deadline = time.time() + 60
    while len(eof) < len(parts) and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:     # _PARTITION_EOF
                if m.offset() >= ends[m.partition()]:
                    eof.add(m.partition())
            continue
        v = m.value().decode()
        seen.setdefault(v, []).append((m.partition(), m.offset()))
        at.setdefault((m.partition(), m.offset()), set()).add(v)
    c.close()
    lost = [v for v in acked if v not in seen]
    dup = [v for v, l in seen.items() if len(l) > 1]
    inc = [v for v, po in acked.items() if v in seen and po not in seen[v]]
    inc += [k for k, vs in at.items() if len(vs) > 1]
    print("acknowledged %d read %d lost %d duplicated %d inconsistent %d"
          % (len(acked), len(seen), len(lost), len(dup), len(inc)))
    if lost:
        print("lost (first 10): %s" % " ".join(
            "%s@%d:%d" % (v, acked[v][0], acked[v][1]) for v in lost[:10]))
    if len(eof) < len(parts):
        fail("did not reach the end of every partition: %s" % ends)
    if lost or dup or inc:
        sys.exit(1)


def produce_one(topic, boot, part):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": boot, "acks": "all", "retries": 0,
                  "message.timeout.ms": 10000})
    res = []
    p.produce(topic, value=b"one", partition=int(part),
              on_delivery=lambda e, m: res.append(e.name() if e else "OK"))
    p.flush(15)
    print(res[0] if res else "NO_ANSWER")


def leader(topic, boot, part):
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": boot})
    md = a.list_topics(topic, timeout=10)
    p = md.topics[topic].partitions[int(part)]
    print("%d %s" % (p.leader, ",".join(str(i) for i in p.isrs)))


def wait_leader(topic, boots, part, old, t0, seconds):
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": boots,
                     "topic.metadata.refresh.interval.ms": 100})
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            md = a.list_topics(topic, timeout=2)
            p = md.topics[topic].partitions[int(part)]
            if p.leader not in (-1, int(old)):
                ms = int(time.time() * 1000) - int(t0)
                print("%d %s %d" % (p.leader,
                                    ",".join(str(i) for i in p.isrs), ms))
                return
        except Exception:       # a broker down: ask again
            pass
        time.sleep(0.1)
    fail("no leader other than %s after %s s" % (old, seconds))


def probe(topic, boots, part, seconds, ackfile, marks, stopfile=None):
    from confluent_kafka import KafkaException, Producer
    conf = {"bootstrap.servers": boots, "acks": "all",
            "enable.idempotence": True, "linger.ms": 0,
            "message.timeout.ms": 60000, "request.timeout.ms": 5000,
            "socket.timeout.ms": 4000, "metadata.max.age.ms": 1000,
            "topic.metadata.refresh.interval.ms": 1000,
            "retry.backoff.ms": 50}
    p = Producer(conf)
    out = open(ackfile, "w", buffering=1)
    st = {"acked": 0, "failed": 0}
    sent_at = {}        # value -> ms it was produced
    open_marks = []     # fault times still waiting for their first ack
    fatal = []

    def done(err, msg):
        v = msg.value().decode()
        t = sent_at.pop(v, 0)
        if err is not None:
            st["failed"] += 1
            out.write("%s FAILED %s\n" % (v, err.name()))
            return
        st["acked"] += 1
        out.write("%s %d %d\n" % (v, msg.partition(), msg.offset()))
        now = int(time.time() * 1000)
        for m in [m for m in open_marks if t >= m]:
            print("%d %d" % (m, now - m), flush=True)
            open_marks.remove(m)

    def replace(e):
        fatal.append(e.args[0].name())
        try:
            p.flush(10)
        except KafkaException:
            pass
        return Producer(conf)

    end = time.time() + float(seconds)
    run = b"p%d" % os.getpid()
    n = 0
    nmarks = 0
    while time.time() < end:
        if stopfile and os.path.exists(stopfile):
            break
        if os.path.exists(marks):
            ls = open(marks).read().split()
            for m in ls[nmarks:]:
                open_marks.append(int(m))
            nmarks = len(ls)
        v = b"%s-%d" % (run, n)
        sent_at[v.decode()] = int(time.time() * 1000)
        try:
            p.produce(topic, value=v, partition=int(part), on_delivery=done)
            n += 1
            p.poll(0.01)
        except BufferError:
            sent_at.pop(v.decode(), None)
            p.poll(0.05)
        except KafkaException as e:
            sent_at.pop(v.decode(), None)
            p = replace(e)
    for _ in range(3):
        try:
            left = p.flush(90)
            break
        except KafkaException as e:
            p = replace(e)
            left = 0
    out.close()
    print("probe %d %d %d %s" % (n, st["acked"], st["failed"] + left,
                                 ",".join(fatal) or "-"))


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "create":
        create(*a)
    elif cmd == "produce":
        produce(*a)
    elif cmd == "check":
        check(*a)
    elif cmd == "produce-one":
        produce_one(*a)
    elif cmd == "leader":
        leader(*a)
    elif cmd == "wait-leader":
        wait_leader(*a)
    elif cmd == "probe":
        probe(*a)
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
