#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""DescribeGroups and ListGroups against what the members see.

  ck_describe.py BOOTSTRAP

Two confluent-kafka consumers join group "ckdesc" on a new 4-partition
topic. Once both own partitions, the group as two admin clients see it
(confluent-kafka's AdminClient.list_groups: ListGroups + DescribeGroups;
kafka-python's KafkaAdminClient: ListGroups v0-2, DescribeGroups) must
match: state Stable, protocol type "consumer", protocol "range", two
members with their client ids, client hosts, and the assignments each
consumer reports. After both leave, the group is Empty with no members.
"""
import struct
import sys
import threading
import time

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

TOPIC = "grpdesc"
GROUP = "ckdesc"


def parse_assignment(b):
    """Consumer protocol assignment -> {(topic, partition)}."""
    out = set()
    if not b:
        return out
    _ver, n = struct.unpack_from(">hi", b, 0)
    pos = 6
    for _ in range(n):
        (tl,) = struct.unpack_from(">h", b, pos)
        pos += 2
        topic = b[pos:pos + tl].decode()
        pos += tl
        (np,) = struct.unpack_from(">i", b, pos)
        pos += 4
        for _ in range(np):
            (p,) = struct.unpack_from(">i", b, pos)
            pos += 4
            out.add((topic, p))
    return out


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
    print("ok: " + what)


def main():
    bootstrap = sys.argv[1]
    host_ip = sys.argv[2] if len(sys.argv) > 2 else None
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 4, 1)])[TOPIC].result(10)
    stop = threading.Event()
    consumers = {}
    for name in ("desc-a", "desc-b"):
        consumers[name] = Consumer({
            "bootstrap.servers": bootstrap, "group.id": GROUP,
            "client.id": name, "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500,
            "partition.assignment.strategy": "range",
            "enable.auto.commit": False})
        consumers[name].subscribe([TOPIC])

    def run(c):
        while not stop.is_set():
            c.poll(0.1)
    threads = [threading.Thread(target=run, args=(c,))
               for c in consumers.values()]
    for t in threads:
        t.start()
    try:
        seen = {}
        t0 = time.time()
        while time.time() - t0 < 60:
            seen = {n: set((tp.topic, tp.partition) for tp in c.assignment())
                    for n, c in consumers.items()}
            if all(seen.values()) and \
               set().union(*seen.values()) == {(TOPIC, p) for p in range(4)}:
                break
            time.sleep(0.1)
        check(all(seen.values()), "both members own partitions: %s" % seen)
        time.sleep(1)   # let the group settle in Stable

        groups = admin.list_groups(GROUP, timeout=10)
        check(len(groups) == 1, "confluent list_groups(%s) finds it" % GROUP)
        g = groups[0]
        check(g.state == "Stable", "state %s" % g.state)
        check(g.protocol_type == "consumer", "protocol type %s" %
              g.protocol_type)
        check(g.protocol == "range", "protocol %s" % g.protocol)
        check(len(g.members) == 2, "%d members" % len(g.members))
        by_client = {m.client_id: m for m in g.members}
        check(set(by_client) == set(consumers), "client ids %s" %
              sorted(by_client))
        for name, m in by_client.items():
            got = parse_assignment(m.assignment)
            check(got == seen[name], "%s: described assignment %s == the "
                  "consumer's %s" % (name, sorted(got), sorted(seen[name])))
            check(m.client_host.startswith("/"), "%s: client host %s" %
                  (name, m.client_host))
            if host_ip:
                check(m.client_host == "/" + host_ip,
                      "%s: client host is the tap peer" % name)
        all_groups = admin.list_groups(timeout=10)
        check(GROUP in [x.id for x in all_groups],
              "confluent list_groups() lists %s" % GROUP)

        from kafka.admin import KafkaAdminClient
        ka = KafkaAdminClient(bootstrap_servers=bootstrap)
        listed = ka.list_consumer_groups()
        check((GROUP, "consumer") in listed,
              "kafka-python ListGroups lists (%s, consumer)" % GROUP)
        d = ka.describe_consumer_groups([GROUP])[0]
        check(d.state == "Stable" and d.protocol == "range",
              "kafka-python DescribeGroups: %s %s" % (d.state, d.protocol))
        check(sorted(m.client_id for m in d.members) == sorted(consumers),
              "kafka-python sees both members")
        for m in d.members:
            parts = set()
            for topic, ps in m.member_assignment.assignment:
                parts |= {(topic, p) for p in ps}
            check(parts == seen[m.client_id], "kafka-python: %s assignment"
                  % m.client_id)
        ka.close()
    finally:
        stop.set()
        for t in threads:
            t.join()
        for c in consumers.values():
            c.close()
    g = admin.list_groups(GROUP, timeout=10)[0]
    check(g.state == "Empty" and not g.members,
          "after both left: state %s, %d members" % (g.state,
                                                      len(g.members)))


if __name__ == "__main__":
    main()
