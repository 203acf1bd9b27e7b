#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Static membership (KIP-345) with confluent-kafka.

  ck_static.py BOOTSTRAP TOPIC METRICS_URL

Two consumers with group.instance.id join a group over TOPIC. One of them
restarts (close and a new consumer with the same instance id, within the
session timeout): it must get the same partitions back without a
rebalance of the group (fluxmq_group_rebalances_total unchanged), and
DescribeGroups keeps two members. An instance that goes away for longer
than its session timeout is removed, and the other member then owns all
partitions.
"""
import sys
import threading
import time
import urllib.request

from confluent_kafka import Consumer

GROUP = "static-group"
SESSION_MS = 6000


def metric(url, name):
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    sys.exit("FAIL: no metric " + name)


class Member:
    def __init__(self, bootstrap, topic, instance):
        self.assigned = []
        self.c = Consumer({"bootstrap.servers": bootstrap,
                           "group.id": GROUP,
                           "group.instance.id": instance,
                           "client.id": instance,
                           "session.timeout.ms": SESSION_MS,
                           "heartbeat.interval.ms": 500,
                           "partition.assignment.strategy": "range",
                           "enable.auto.commit": False})
        self.c.subscribe([topic], on_assign=self.on_assign)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def on_assign(self, c, parts):
        self.assigned = sorted(p.partition for p in parts)

    def run(self):
        while not self.stop.is_set():
            self.c.poll(0.1)

    def close(self):
        self.stop.set()
        self.t.join()
        # A static member's close sends no LeaveGroup (KIP-345).
        self.c.close()


def wait(cond, what, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        time.sleep(0.1)
    sys.exit("FAIL: timed out waiting for " + what)


def main():
    bootstrap, topic, url = sys.argv[1:4]
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(10)
    a = Member(bootstrap, topic, "static-a")
    b = Member(bootstrap, topic, "static-b")
    wait(lambda: a.assigned and b.assigned and
         sorted(a.assigned + b.assigned) == [0, 1, 2, 3],
         "both static members assigned")
    time.sleep(1)
    before_b = b.assigned
    r0 = metric(url, "fluxmq_group_rebalances_total")
    b.close()
    b = Member(bootstrap, topic, "static-b")
    wait(lambda: b.assigned, "the restarted static member's assignment")
    if b.assigned != before_b:
        sys.exit("FAIL: static-b came back with %s, had %s" %
                 (b.assigned, before_b))
    r1 = metric(url, "fluxmq_group_rebalances_total")
    if r1 != r0:
        sys.exit("FAIL: the static restart rebalanced the group (%d -> %d)"
                 % (r0, r1))
    g = admin.list_groups(GROUP, timeout=10)[0]
    if g.state != "Stable" or len(g.members) != 2:
        sys.exit("FAIL: after the restart: %s with %d members" %
                 (g.state, len(g.members)))
    print("static-b restarted: same partitions %s, no rebalance" %
          b.assigned)
    # Gone for good: removed after its session timeout.
    t0 = time.time()
    b.close()
    wait(lambda: a.assigned == [0, 1, 2, 3], "static-a to take over",
         SESSION_MS / 1000 + 15)
    print("static-b gone: static-a owns all partitions %.1f s later" %
          (time.time() - t0))
    a.close()


if __name__ == "__main__":
    main()
