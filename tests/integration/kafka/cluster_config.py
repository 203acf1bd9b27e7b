#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Topic configs on one chosen broker of a cluster, for
test_cluster_topic_config.sh (kafka-python's admin would pick the broker
itself).

  cluster_config.py alter BOOTS NODE TOPIC KEY=VALUE...
      IncrementalAlterConfigs v0 (SET) on TOPIC, sent to broker NODE:
      prints the error code (0) and message.
  cluster_config.py describe BOOTS NODE TOPIC KEY
      DescribeConfigs v0 of TOPIC's KEY, sent to broker NODE: prints its
      value, or "ERR <code>".
"""
import sys

from kafka import KafkaAdminClient
from kafka.protocol.admin import DescribeConfigsRequest_v0
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, \
    String


class IncrementalAlterConfigsResponse_v0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(("error_code", Int16),
                            ("error_message", String("utf-8")),
                            ("resource_type", Int8),
                            ("resource_name", String("utf-8")))))


class IncrementalAlterConfigsRequest_v0(Request):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8),
                            ("resource_name", String("utf-8")),
                            ("configs", Array(("name", String("utf-8")),
                                              ("config_operation", Int8),
                                              ("value", String("utf-8")))))),
        ("validate_only", Boolean))


def send(boots, node, req):
    adm = KafkaAdminClient(bootstrap_servers=boots.split(","),
                           request_timeout_ms=15000)
    try:
        fut = adm._send_request_to_node(int(node), req)
        adm._wait_for_futures([fut])
        return fut.value
    finally:
        adm.close()


def main():
    cmd, boots, node, topic = sys.argv[1:5]
    if cmd == "alter":
        ops = [(kv.split("=", 1)[0], 0, kv.split("=", 1)[1])
               for kv in sys.argv[5:]]
        r = send(boots, node, IncrementalAlterConfigsRequest_v0(
            resources=[(2, topic, ops)], validate_only=False))
        (err, emsg, _, _), = r.responses
        print(err, emsg or "")
        sys.exit(0 if err == 0 else 1)
    elif cmd == "describe":
        key = sys.argv[5]
        r = send(boots, node, DescribeConfigsRequest_v0(
            resources=[(2, topic, [key])]))
        (err, _, _, _, entries), = r.resources
        if err != 0:
            print("ERR", err)
            return
        for e in entries:
            if e[0] == key:
                print(e[1])
                return
        print("ERR none")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
