#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions under the authorizer (confluent-kafka; the ACLs created
with kafka-python's create_acls).

ck_txn_acl.py BOOTSTRAP setup   (super user) topics and ACLs: User:* may
    DESCRIBE and WRITE transactional id tx-ok, only DESCRIBE tx-deny;
    WRITE and DESCRIBE topic txa-ok, only DESCRIBE txa-no.
ck_txn_acl.py BOOTSTRAP check   (no super user) tx-deny's
    init_transactions fails with TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    (InitProducerId); tx-ok commits to txa-ok; a transaction that also
    writes txa-no fails (AddPartitionsToTxn: TOPIC_AUTHORIZATION_FAILED)
    and is aborted."""
import sys

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

B, MODE = sys.argv[1], sys.argv[2]


def die(msg):
    print("ERROR " + msg, flush=True)
    sys.exit(1)


if MODE == "setup":
    from kafka import KafkaAdminClient
    from kafka.admin.acl_resource import (ACL, ACLOperation as Op,
                                          ACLPermissionType as Perm,
                                          ACLResourcePatternType as Pat,
                                          ResourcePattern as RP,
                                          ResourceType as RT)
    adm = AdminClient({"bootstrap.servers": B})
    for f in adm.create_topics([NewTopic(t, num_partitions=1,
                                         replication_factor=1)
                                for t in ("txa-ok", "txa-no")]).values():
        f.result(30)
    lit = Pat.LITERAL
    acls = [
        ACL("User:*", "*", Op.DESCRIBE, Perm.ALLOW,
            RP(RT.TRANSACTIONAL_ID, "tx-ok", lit)),
        ACL("User:*", "*", Op.WRITE, Perm.ALLOW,
            RP(RT.TRANSACTIONAL_ID, "tx-ok", lit)),
        ACL("User:*", "*", Op.DESCRIBE, Perm.ALLOW,
            RP(RT.TRANSACTIONAL_ID, "tx-deny", lit)),
        ACL("User:*", "*", Op.WRITE, Perm.ALLOW, RP(RT.TOPIC, "txa-ok", lit)),
        ACL("User:*", "*", Op.DESCRIBE, Perm.ALLOW,
            RP(RT.TOPIC, "txa-ok", lit)),
        ACL("User:*", "*", Op.DESCRIBE, Perm.ALLOW,
            RP(RT.TOPIC, "txa-no", lit)),
    ]
    ka = KafkaAdminClient(bootstrap_servers=B, request_timeout_ms=10000,
                          api_version_auto_timeout_ms=15000)
    r = ka.create_acls(acls)
    if r["failed"]:
        die("create_acls: %s" % r["failed"])
    ka.close()
    print("RESULT ok")
    sys.exit(0)

p = Producer({"bootstrap.servers": B, "transactional.id": "tx-deny"})
try:
    p.init_transactions(20)
    die("tx-deny: init_transactions allowed without WRITE")
except KafkaException as e:
    if e.args[0].code() != KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        die("tx-deny: %s, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED" % e)
print("tx-deny (DESCRIBE only): TRANSACTIONAL_ID_AUTHORIZATION_FAILED")

p = Producer({"bootstrap.servers": B, "transactional.id": "tx-ok"})
p.init_transactions(20)
p.begin_transaction()
p.produce("txa-ok", value=b"ok")
p.commit_transaction(20)
print("tx-ok: committed to txa-ok")
p.begin_transaction()
p.produce("txa-ok", value=b"a")
p.produce("txa-no", value=b"b")
try:
    p.commit_transaction(20)
    die("tx-ok: a transaction writing txa-no committed")
except KafkaException as e:
    err = e.args[0]
    if "TOPIC_AUTHORIZATION_FAILED" not in str(err) and \
            err.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
        die("tx-ok with txa-no: %s, want TOPIC_AUTHORIZATION_FAILED" % err)
    name = err.name()
    if err.txn_requires_abort():
        p.abort_transaction(20)
print("tx-ok writing txa-no: TOPIC_AUTHORIZATION_FAILED (%s), aborted" %
      name)
print("RESULT ok")
