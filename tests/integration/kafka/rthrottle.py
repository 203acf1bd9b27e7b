#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Helpers of tests/integration/test_cluster_rthrottle.sh (confluent-kafka):
#   rthrottle.py create BOOT TOPIC BROKER   1 partition on [BROKER], with
#       leader/follower.replication.throttled.replicas=* (KIP-73)
#   rthrottle.py produce BOOT TOPIC MB      MB of 100 KB records, acks=all
#   rthrottle.py rate BOOT ID LEADER FOLLOWER   leader. and
#       follower.replication.throttled.rate (bytes/s) of broker ID
#       (AlterConfigs, resource BROKER, sent to that broker)
import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic


def done(futs):
    for f in futs.values():
        f.result(timeout=30)


def main():
    cmd, boot = sys.argv[1], sys.argv[2]
    conf = {"bootstrap.servers": boot}
    if cmd == "create":
        topic, broker = sys.argv[3], int(sys.argv[4])
        a = AdminClient(conf)
        done(a.create_topics([NewTopic(
            topic, num_partitions=1, replica_assignment=[[broker]],
            config={"leader.replication.throttled.replicas": "*",
                    "follower.replication.throttled.replicas": "*"})],
            request_timeout=30))
    elif cmd == "produce":
        topic, mb = sys.argv[3], int(sys.argv[4])
        p = Producer(dict(conf, **{"acks": "all", "linger.ms": 5}))
        val = b"x" * 100000
        n = mb * 1048576 // len(val)
        errs = []
        for i in range(n):
            p.produce(topic, val, partition=0,
                      on_delivery=lambda e, m: e and errs.append(e))
            p.poll(0)
        left = p.flush(60)
        if left or errs:
            print("FAIL: %d unsent, errors %s" % (left, errs[:3]))
            sys.exit(1)
        print(n)
    elif cmd == "rate":
        bid, lrate, frate = sys.argv[3], sys.argv[4], sys.argv[5]
        a = AdminClient(conf)
        done(a.alter_configs([ConfigResource(
            "BROKER", bid, set_config={
                "leader.replication.throttled.rate": lrate,
                "follower.replication.throttled.rate": frate})],
            request_timeout=30))
    else:
        sys.exit("usage")


if __name__ == "__main__":
    main()
