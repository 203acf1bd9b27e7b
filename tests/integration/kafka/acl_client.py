#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ACL checks for test_sec_acl.sh, one phase per broker start.

  acl_client.py HOST PORT PHASE CLIENT_IP

The principal is the one a PLAINTEXT connection has, User:ANONYMOUS, and
the client address is real (CLIENT_IP, the host side of the tap), so the
ACLs tell principals apart by host and by User:* versus User:ANONYMOUS.
(Principals other than ANONYMOUS: SASL users are checked in
test_sec_sasl_ssl.sh.)

Phases:
  setup     super.users=User:ANONYMOUS: topics, records, offsets; the ACLs
            created with kafka-python's create_acls; DescribeAcls filters.
  denied    restarted without super.users (so the ACLs came back from
            disk): every API answers exactly Kafka's error, a denied
            produce stores nothing; confluent-kafka and kafka-python
            clients see the same.
  verify    super user again: nothing stored by the denied produce, no
            topic auto-created; DeleteAcls with filters.
  after     without super.users, after the deletions: what they allowed
            is now refused (InitProducerId 31, produce 29).
  disabled  no authorizer: the ACL APIs answer SECURITY_DISABLED (54),
            everything else is allowed.
"""
import struct
import sys

from kwire import (Reader, connect, cstr, frame, hdr1, hdr2, i8, i16, i32,
                   i64, produce_v7, read_response, record_batch, s16,
                   uvarint)

HOST, PORT, PHASE, CLIENT_IP = sys.argv[1], int(sys.argv[2]), \
    sys.argv[3], sys.argv[4]
PRINCIPAL = "User:ANONYMOUS"
BOOT = f"{HOST}:{PORT}"

NONE, TOPIC_AUTH, GROUP_AUTH, CLUSTER_AUTH = 0, 29, 30, 31
UNKNOWN_TOPIC, INVALID_REQUEST, SECURITY_DISABLED = 3, 42, 54
corr = [1000]


def fail(msg):
    print(f"FAIL: acl {PHASE}: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print(f"PASS: acl {PHASE}: {msg}", flush=True)


def expect(cond, msg):
    if not cond:
        fail(msg)


def want(got, exp, what):
    expect(got == exp, f"{what}: error {got}, want {exp}")


def nc():
    corr[0] += 1
    return corr[0]


def call(s, payload, flexible=False):
    c = int.from_bytes(payload[8:12], "big", signed=True)
    s.sendall(payload)
    r = read_response(s)
    expect(r is not None, "connection closed instead of an answer")
    expect(r[0] == c, f"correlation id {r[0]}, want {c}")
    rd = Reader(r[1])
    if flexible:
        rd.tags()
    return rd


# ------------------------------------------------------------ raw requests
def metadata(s, topics, auto=False):
    """Metadata v4: {name: error} (topics None: all)."""
    body = (i32(-1) if topics is None else
            i32(len(topics)) + b"".join(s16(t) for t in topics)) + i8(auto)
    r = call(s, frame(hdr1(3, 4, nc()) + body))
    r.i32()
    for _ in range(r.i32()):
        r.i32(), r.s16(), r.i32(), r.s16()
    r.s16()
    r.i32()
    out = {}
    for _ in range(r.i32()):
        e, name = r.i16(), r.s16()
        r.i8()
        for _ in range(r.i32()):
            r.i16(), r.i32(), r.i32()
            for _ in range(r.i32()):
                r.i32()
            for _ in range(r.i32()):
                r.i32()
        out[name] = e
    return out


def produce(s, topic, partition=0, n=1):
    r = call(s, produce_v7(nc(), -1, record_batch([b"v%d" % i for i in range(n)]),
                           topic, partition))
    r.i32(), r.s16(), r.i32(), r.i32()
    return r.i16()


def fetch(s, topic, partition=0, offset=0, replica=-1):
    """Fetch v5 (replica >= 0: a follower's): (error, record bytes)."""
    body = i32(replica) + i32(0) + i32(1) + i32(1 << 20) + i8(0) + i32(1) + \
        s16(topic) + i32(1) + i32(partition) + i64(offset) + i64(-1) + \
        i32(1 << 20)
    r = call(s, frame(hdr1(1, 5, nc()) + body))
    r.i32(), r.i32(), r.s16(), r.i32(), r.i32()
    e = r.i16()
    r.i64(), r.i64(), r.i64()
    for _ in range(max(r.i32(), 0)):
        r.i64(), r.i64()
    recs = r.bytes32()
    return e, len(recs or b"")


def list_offsets(s, topic, partition=0, ts=-1):
    """ListOffsets v1: (error, offset)."""
    body = i32(-1) + i32(1) + s16(topic) + i32(1) + i32(partition) + i64(ts)
    r = call(s, frame(hdr1(2, 1, nc()) + body))
    r.i32(), r.s16(), r.i32(), r.i32()
    e = r.i16()
    r.i64()
    return e, r.i64()


def create_topic(s, name, parts=1):
    body = i32(1) + s16(name) + i32(parts) + i16(1) + i32(0) + i32(0) + \
        i32(10000)
    r = call(s, frame(hdr1(19, 0, nc()) + body))
    r.i32(), r.s16()
    return r.i16()


def delete_topic(s, name):
    r = call(s, frame(hdr1(20, 1, nc()) + i32(1) + s16(name) + i32(10000)))
    r.i32(), r.i32(), r.s16()
    return r.i16()


def create_partitions(s, name, count):
    body = i32(1) + s16(name) + i32(count) + i32(-1) + i32(10000) + i8(0)
    r = call(s, frame(hdr1(37, 0, nc()) + body))
    r.i32(), r.i32(), r.s16()
    return r.i16()


def describe_configs(s, rtype, name):
    body = i32(1) + i8(rtype) + s16(name) + i32(-1) + i8(0)
    r = call(s, frame(hdr1(32, 1, nc()) + body))
    r.i32(), r.i32()
    return r.i16()


def alter_configs(s, rtype, name, key, value):
    body = i32(1) + i8(rtype) + s16(name) + i32(1) + s16(key) + s16(value) + \
        i8(0)
    r = call(s, frame(hdr1(33, 0, nc()) + body))
    r.i32(), r.i32()
    return r.i16()


def init_producer_id(s):
    r = call(s, frame(hdr1(22, 0, nc()) + s16(None) + i32(60000)))
    r.i32()
    return r.i16()


def describe_cluster(s):
    """DescribeCluster v0 asking for the authorized operations:
    (error, cluster_authorized_operations)."""
    r = call(s, frame(hdr2(60, 0, nc()) + i8(1) + b"\x00"), flexible=True)
    r.i32()
    e = r.i16()
    r.cstr(), r.cstr()
    r.i32()
    for _ in range(r.uvarint() - 1):
        r.i32(), r.cstr(), r.i32(), r.cstr()
        r.tags()
    return e, r.i32()


def describe_client_quotas(s):
    """DescribeClientQuotas v0 (API 48), every entity: its error."""
    body = i32(1) + s16("user") + i8(2) + s16(None) + i8(0)
    r = call(s, frame(hdr1(48, 0, nc()) + body))
    r.i32()
    return r.i16()


def alter_client_quotas(s, user):
    """AlterClientQuotas v0 (API 49), validate only: the entry's error."""
    body = (i32(1) + i32(1) + s16("user") + s16(user) + i32(1) +
            s16("producer_byte_rate") + struct.pack(">d", 1048576.0) +
            i8(0) + i8(1))
    r = call(s, frame(hdr1(49, 0, nc()) + body))
    r.i32()
    expect(r.i32() == 1, "AlterClientQuotas: one entry answered")
    return r.i16()


def describe_scram(s):
    """DescribeUserScramCredentials v0 (API 50), all users: its error."""
    r = call(s, frame(hdr2(50, 0, nc()) + uvarint(0) + b"\x00"),
             flexible=True)
    r.i32()
    return r.i16()


def alter_scram_delete(s, user):
    """AlterUserScramCredentials v0 (API 51) deleting user's SCRAM-SHA-256
    credential: the user's error."""
    body = (uvarint(2) + cstr(user) + i8(1) + b"\x00" + uvarint(1) +
            b"\x00")
    r = call(s, frame(hdr2(51, 0, nc()) + body), flexible=True)
    r.i32()
    expect(r.uvarint() == 2, "AlterUserScramCredentials: one result")
    r.cstr()
    return r.i16()


def find_coordinator(s, group):
    r = call(s, frame(hdr1(10, 1, nc()) + s16(group) + i8(0)))
    r.i32()
    return r.i16()


def join_group(s, group):
    body = s16(group) + i32(10000) + i32(10000) + s16("") + s16("consumer") + \
        i32(1) + s16("range") + i32(0)
    r = call(s, frame(hdr1(11, 1, nc()) + body))
    return r.i16()


def heartbeat(s, group):
    r = call(s, frame(hdr1(12, 0, nc()) + s16(group) + i32(1) + s16("m")))
    return r.i16()


def offset_commit(s, group, topic, partition=0, offset=1):
    """OffsetCommit v2: the partition's error."""
    body = s16(group) + i32(-1) + s16("") + i64(-1) + i32(1) + s16(topic) + \
        i32(1) + i32(partition) + i64(offset) + s16("")
    r = call(s, frame(hdr1(8, 2, nc()) + body))
    r.i32(), r.s16(), r.i32(), r.i32()
    return r.i16()


def offset_fetch(s, group, topic, partition=0):
    """OffsetFetch v3: (top-level error, {(topic, partition): (offset, error)})."""
    body = s16(group) + i32(1) + s16(topic) + i32(1) + i32(partition)
    r = call(s, frame(hdr1(9, 3, nc()) + body))
    r.i32()
    parts = {}
    for _ in range(r.i32()):
        t = r.s16()
        for _ in range(r.i32()):
            p, o = r.i32(), r.i64()
            r.s16()
            parts[(t, p)] = (o, r.i16())
    return r.i16(), parts


def list_groups(s):
    r = call(s, frame(hdr1(16, 1, nc())))
    r.i32()
    e = r.i16()
    groups = []
    for _ in range(r.i32()):
        groups.append(r.s16())
        r.s16()
    return e, groups


def describe_group(s, group):
    r = call(s, frame(hdr1(15, 0, nc()) + i32(1) + s16(group)))
    r.i32()
    return r.i16()


def delete_group(s, group):
    r = call(s, frame(hdr1(42, 0, nc()) + i32(1) + s16(group)))
    r.i32(), r.i32(), r.s16()
    return r.i16()


def offset_delete(s, group, topic, partition=0):
    """OffsetDelete v0: (top-level error, partition error or None)."""
    body = s16(group) + i32(1) + s16(topic) + i32(1) + i32(partition)
    r = call(s, frame(hdr1(47, 0, nc()) + body))
    e = r.i16()
    r.i32()
    pe = None
    for _ in range(r.i32()):
        r.s16()
        for _ in range(r.i32()):
            r.i32()
            pe = r.i16()
    return e, pe


# ---------------------------------------------------------- kafka-python
def admin():
    from kafka.admin import KafkaAdminClient
    # A loaded machine can take longer than the 2 s version probe.
    return KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=10000,
                            api_version_auto_timeout_ms=15000)


def acl_types():
    from kafka.admin.acl_resource import (ACL, ACLFilter, ACLOperation,
                                          ACLPermissionType,
                                          ACLResourcePatternType,
                                          ResourcePattern,
                                          ResourcePatternFilter, ResourceType)
    return (ACL, ACLFilter, ACLOperation, ACLPermissionType,
            ACLResourcePatternType, ResourcePattern, ResourcePatternFilter,
            ResourceType)


def the_acls():
    """The ACLs of the test, created in setup."""
    (ACL, _, Op, Perm, Pat, RP, _, RT) = acl_types()
    t, g = RT.TOPIC, RT.GROUP
    lit, pre = Pat.LITERAL, Pat.PREFIXED
    return [
        # READ on acl-t1 for ANONYMOUS from this host only
        ACL(PRINCIPAL, CLIENT_IP, Op.READ, Perm.ALLOW, RP(t, "acl-t1", lit)),
        # WRITE on acl-t1 for every user, but DENY for ANONYMOUS: deny wins
        ACL("User:*", "*", Op.WRITE, Perm.ALLOW, RP(t, "acl-t1", lit)),
        ACL(PRINCIPAL, "*", Op.WRITE, Perm.DENY, RP(t, "acl-t1", lit)),
        # everything on sales-* (prefixed)
        ACL(PRINCIPAL, "*", Op.ALL, Perm.ALLOW, RP(t, "sales-", pre)),
        # READ on other, but only from a host that is not ours
        ACL(PRINCIPAL, "10.99.99.99", Op.READ, Perm.ALLOW,
            RP(t, "other", lit)),
        # READ on the group g-ok for every user
        ACL("User:*", "*", Op.READ, Perm.ALLOW, RP(g, "g-ok", lit)),
    ]


def describe_all(a):
    (_, ACLFilter, Op, Perm, Pat, _, RPF, RT) = acl_types()
    acls = a.describe_acls(ACLFilter(None, None, Op.ANY, Perm.ANY,
                                     RPF(RT.ANY, None, Pat.ANY)))
    if isinstance(acls, tuple):
        acls = acls[0]
    return acls


def key(acl):
    rp = acl.resource_pattern
    return (int(rp.resource_type.value), rp.resource_name,
            int(rp.pattern_type.value), acl.principal, acl.host,
            int(acl.operation.value), int(acl.permission_type.value))


# ------------------------------------------------------------------ phases
def phase_setup():
    s = connect(HOST, PORT)
    for name, n in (("acl-t1", 2), ("sales-eu", 1), ("other", 1),
                    ("secret", 1)):
        want(create_topic(s, name, n), NONE, f"create {name}")
    for _ in range(3):
        want(produce(s, "acl-t1"), NONE, "produce acl-t1 as super user")
    want(produce(s, "other"), NONE, "produce other as super user")
    want(offset_commit(s, "g-ok", "sales-eu", 0, 0), NONE, "commit g-ok")
    want(offset_commit(s, "g-bad", "sales-eu", 0, 0), NONE, "commit g-bad")
    e, leo = list_offsets(s, "acl-t1")
    want(e, NONE, "ListOffsets acl-t1")
    expect(leo == 3, f"acl-t1 end offset {leo}, want 3")
    ok("topics, records and offsets as super user")
    want(describe_client_quotas(s), NONE, "DescribeClientQuotas (super)")
    want(alter_client_quotas(s, "q-user"), NONE, "AlterClientQuotas (super)")
    want(describe_scram(s), NONE, "DescribeUserScramCredentials (super)")
    # Kafka: deleting a credential that is not there is RESOURCE_NOT_FOUND.
    want(alter_scram_delete(s, "nobody"), 91,
         "AlterUserScramCredentials (super)")
    ok("quota and SCRAM APIs answered to a super user")

    a = admin()
    expect(describe_all(a) == [], "ACLs before any was created")
    (ACL, ACLFilter, Op, Perm, Pat, RP, RPF, RT) = acl_types()
    acls = the_acls()
    res = a.create_acls(acls)
    expect(not res["failed"], f"create_acls failed: {res['failed']}")
    expect(len(res["succeeded"]) == len(acls), "create_acls: not all created")
    # Kafka's validation, per binding: the CLUSTER resource has one name.
    bad = ACL(PRINCIPAL, "*", Op.ALTER, Perm.ALLOW,
              RP(RT.CLUSTER, "not-kafka-cluster", Pat.LITERAL))
    res = a.create_acls([bad, acls[0]])
    expect(len(res["failed"]) == 1 and
           res["failed"][0][1].errno == INVALID_REQUEST,
           f"bad binding: {res}")
    got = sorted(key(x) for x in describe_all(a))
    expect(got == sorted(key(x) for x in acls),
           f"DescribeAcls: {got}")
    # MATCH: every binding that applies to topic sales-eu (the prefix).
    m = a.describe_acls(ACLFilter(None, None, Op.ANY, Perm.ANY,
                                  RPF(RT.TOPIC, "sales-eu", Pat.MATCH)))
    m = m[0] if isinstance(m, tuple) else m
    expect([x.resource_pattern.resource_name for x in m] == ["sales-"],
           f"MATCH sales-eu: {m}")
    # By principal and permission.
    m = a.describe_acls(ACLFilter("User:*", None, Op.ANY, Perm.ALLOW,
                                  RPF(RT.ANY, None, Pat.ANY)))
    m = m[0] if isinstance(m, tuple) else m
    expect(sorted(x.resource_pattern.resource_name for x in m) ==
           ["acl-t1", "g-ok"], f"User:* ALLOW: {m}")
    m = a.describe_acls(ACLFilter(None, None, Op.ANY, Perm.DENY,
                                  RPF(RT.TOPIC, None, Pat.LITERAL)))
    m = m[0] if isinstance(m, tuple) else m
    expect(len(m) == 1 and m[0].operation == Op.WRITE, f"DENY: {m}")
    a.close()
    ok(f"{len(acls)} ACLs created and described with filters (kafka-python)")


def phase_denied():
    s = connect(HOST, PORT)
    # Metadata: unauthorized topics left out of "all", 29 when named.
    md = metadata(s, None)
    expect(sorted(md) == ["acl-t1", "sales-eu"],
           f"Metadata all topics: {sorted(md)}")
    md = metadata(s, ["acl-t1", "other", "secret", "nonexistent-x",
                      "sales-new"], auto=True)
    want(md["acl-t1"], NONE, "Metadata acl-t1")
    want(md["other"], TOPIC_AUTH, "Metadata other (ACL for another host)")
    want(md["secret"], TOPIC_AUTH, "Metadata secret (no ACL)")
    want(md["nonexistent-x"], TOPIC_AUTH,
         "Metadata auto-creating nonexistent-x (no DESCRIBE)")
    # DESCRIBE on sales-new (ALL on sales-) and CREATE too: created.
    want(md["sales-new"], NONE, "Metadata auto-creating sales-new")
    ok("Metadata: left out, 29 when named, auto-create needs CREATE")

    # Produce: deny wins over User:*; the prefix allows; others 29.
    want(produce(s, "acl-t1", 0), TOPIC_AUTH, "produce acl-t1 p0")
    want(produce(s, "acl-t1", 1), TOPIC_AUTH, "produce acl-t1 p1")
    want(produce(s, "other"), TOPIC_AUTH, "produce other")
    want(produce(s, "no-such-topic"), TOPIC_AUTH, "produce no-such-topic")
    want(produce(s, "sales-eu"), NONE, "produce sales-eu")
    # Fetch and ListOffsets.
    e, nbytes = fetch(s, "acl-t1")
    want(e, NONE, "fetch acl-t1")
    expect(nbytes > 0, "fetch acl-t1 returned no records")
    want(fetch(s, "other")[0], TOPIC_AUTH, "fetch other")
    want(fetch(s, "secret")[0], TOPIC_AUTH, "fetch secret")
    # A follower's fetch needs CLUSTER_ACTION, READ is not enough.
    want(fetch(s, "acl-t1", replica=2)[0], TOPIC_AUTH,
         "follower fetch acl-t1 without CLUSTER_ACTION")
    want(list_offsets(s, "acl-t1")[0], NONE, "ListOffsets acl-t1")
    want(list_offsets(s, "other")[0], TOPIC_AUTH, "ListOffsets other")
    ok("Produce, Fetch, ListOffsets")

    # Topic admin and configs.
    want(create_topic(s, "newt"), TOPIC_AUTH, "CreateTopics newt")
    want(create_topic(s, "sales-apac"), NONE, "CreateTopics sales-apac")
    want(delete_topic(s, "other"), TOPIC_AUTH, "DeleteTopics other")
    want(delete_topic(s, "acl-t1"), TOPIC_AUTH, "DeleteTopics acl-t1")
    want(create_partitions(s, "acl-t1", 4), TOPIC_AUTH,
         "CreatePartitions acl-t1")
    want(create_partitions(s, "sales-eu", 2), NONE, "CreatePartitions sales-eu")
    want(describe_configs(s, 2, "other"), TOPIC_AUTH, "DescribeConfigs other")
    want(describe_configs(s, 2, "sales-eu"), NONE, "DescribeConfigs sales-eu")
    want(describe_configs(s, 4, "1"), CLUSTER_AUTH, "DescribeConfigs broker")
    want(alter_configs(s, 2, "acl-t1", "retention.ms", "3600000"), TOPIC_AUTH,
         "AlterConfigs acl-t1")
    want(alter_configs(s, 2, "sales-eu", "retention.ms", "3600000"), NONE,
         "AlterConfigs sales-eu")
    # InitProducerId: WRITE on some topic (sales-*) is enough.
    want(init_producer_id(s), NONE, "InitProducerId (WRITE on sales-*)")
    # Kafka answers DescribeCluster to everyone: no operations (0) for
    # who may not DESCRIBE the cluster.
    expect(describe_cluster(s) == (NONE, 0),
           f"DescribeCluster: {describe_cluster(s)}")
    ok("topic admin, configs, InitProducerId, DescribeCluster")

    # Groups.
    want(find_coordinator(s, "g-ok"), NONE, "FindCoordinator g-ok")
    want(find_coordinator(s, "g-bad"), GROUP_AUTH, "FindCoordinator g-bad")
    want(join_group(s, "g-bad"), GROUP_AUTH, "JoinGroup g-bad")
    want(heartbeat(s, "g-bad"), GROUP_AUTH, "Heartbeat g-bad")
    want(offset_commit(s, "g-bad", "sales-eu"), GROUP_AUTH,
         "OffsetCommit g-bad")
    want(offset_commit(s, "g-ok", "sales-eu", 0, 1), NONE,
         "OffsetCommit g-ok sales-eu")
    want(offset_commit(s, "g-ok", "other"), TOPIC_AUTH,
         "OffsetCommit g-ok other")
    e, parts = offset_fetch(s, "g-bad", "sales-eu")
    want(e, GROUP_AUTH, "OffsetFetch g-bad")
    e, parts = offset_fetch(s, "g-ok", "sales-eu")
    want(e, NONE, "OffsetFetch g-ok")
    expect(parts.get(("sales-eu", 0)) == (1, NONE),
           f"OffsetFetch g-ok sales-eu: {parts}")
    e, parts = offset_fetch(s, "g-ok", "secret")
    expect(parts.get(("secret", 0), (None, None))[1] == TOPIC_AUTH,
           f"OffsetFetch g-ok secret: {parts}")
    e, groups = list_groups(s)
    want(e, NONE, "ListGroups")
    expect(groups == ["g-ok"], f"ListGroups without cluster DESCRIBE: {groups}")
    want(describe_group(s, "g-bad"), GROUP_AUTH, "DescribeGroups g-bad")
    want(describe_group(s, "g-ok"), NONE, "DescribeGroups g-ok")
    want(delete_group(s, "g-bad"), GROUP_AUTH, "DeleteGroups g-bad")
    want(delete_group(s, "g-ok"), GROUP_AUTH, "DeleteGroups g-ok (READ only)")
    want(offset_delete(s, "g-ok", "sales-eu")[0], GROUP_AUTH,
         "OffsetDelete g-ok (READ only)")
    ok("group APIs")

    # The ACL APIs need the cluster: kafka-python sees 31.
    from kafka.errors import ClusterAuthorizationFailedError
    a = admin()
    try:
        describe_all(a)
        fail("DescribeAcls allowed without DESCRIBE on the cluster")
    except ClusterAuthorizationFailedError:
        pass
    res = a.create_acls(the_acls()[:1])
    expect(len(res["failed"]) == 1 and res["failed"][0][1].errno ==
           CLUSTER_AUTH, f"CreateAcls without ALTER: {res}")
    (_, ACLFilter, Op, Perm, Pat, _, RPF, RT) = acl_types()
    res = a.delete_acls([ACLFilter(None, None, Op.ANY, Perm.ANY,
                                   RPF(RT.ANY, None, Pat.ANY))])
    expect(res[0][2].errno == CLUSTER_AUTH and res[0][1] == [],
           f"DeleteAcls without ALTER: {res}")
    a.close()
    ok("CreateAcls/DescribeAcls/DeleteAcls: 31 without the cluster ACLs")
    want(describe_client_quotas(s), CLUSTER_AUTH, "DescribeClientQuotas")
    want(alter_client_quotas(s, "q-user"), CLUSTER_AUTH, "AlterClientQuotas")
    want(describe_scram(s), CLUSTER_AUTH, "DescribeUserScramCredentials")
    want(alter_scram_delete(s, "nobody"), CLUSTER_AUTH,
         "AlterUserScramCredentials")
    ok("quota and SCRAM APIs: 31 without the cluster ACLs")

    # Real clients. confluent-kafka: a delivery error 29 on acl-t1, an
    # idempotent producer (InitProducerId) delivering to sales-eu.
    from confluent_kafka import Producer, KafkaError
    errs = {}

    def dr(err, msg):
        errs[msg.topic()] = err

    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": True,
                  "message.timeout.ms": 15000})
    p.produce("acl-t1", b"x", on_delivery=dr)
    p.produce("sales-eu", b"y", on_delivery=dr)
    expect(p.flush(30) == 0, "confluent producer: messages left")
    expect(errs["acl-t1"] is not None and errs["acl-t1"].code() ==
           KafkaError.TOPIC_AUTHORIZATION_FAILED,
           f"confluent produce acl-t1: {errs['acl-t1']}")
    expect(errs["sales-eu"] is None,
           f"confluent produce sales-eu: {errs['sales-eu']}")
    ok("confluent-kafka: TOPIC_AUTHORIZATION_FAILED, idempotent delivery")
    # kafka-python consumer: READ acl-t1 with group g-ok, group g-bad
    # refused.
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import GroupAuthorizationFailedError
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id="g-ok",
                      api_version_auto_timeout_ms=15000,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      consumer_timeout_ms=5000)
    c.assign([TopicPartition("acl-t1", 0)])
    got = [m.value for m in c]
    expect(len(got) == 3, f"kafka-python consumer read {len(got)} of 3")
    c.commit()
    c.close()
    c = KafkaConsumer("sales-eu", bootstrap_servers=BOOT, group_id="g-bad",
                      api_version_auto_timeout_ms=15000,
                      consumer_timeout_ms=5000)
    try:
        c.poll(timeout_ms=5000)
        fail("kafka-python consumer joined group g-bad")
    except GroupAuthorizationFailedError:
        pass
    c.close()
    ok("kafka-python: consumer reads acl-t1 in g-ok, g-bad refused")
    s.close()


def phase_verify():
    s = connect(HOST, PORT)
    e, leo = list_offsets(s, "acl-t1")
    want(e, NONE, "ListOffsets acl-t1")
    expect(leo == 3, f"acl-t1 end offset {leo} after denied produces, want 3")
    e, leo1 = list_offsets(s, "acl-t1", 1)
    expect(leo1 == 0, f"acl-t1 p1 end offset {leo1}, want 0")
    md = metadata(s, ["nonexistent-x", "newt", "sales-new", "sales-apac"])
    want(md["nonexistent-x"], UNKNOWN_TOPIC, "nonexistent-x (not created)")
    want(md["newt"], UNKNOWN_TOPIC, "newt (not created)")
    want(md["sales-new"], NONE, "sales-new (auto-created)")
    want(md["sales-apac"], NONE, "sales-apac (created)")
    # One raw produce to partition 0, one from confluent-kafka to either
    # of the two partitions CreatePartitions left.
    leo = list_offsets(s, "sales-eu", 0)[1] + list_offsets(s, "sales-eu", 1)[1]
    expect(leo == 2, f"sales-eu holds {leo} records, want 2")
    ok("denied produces stored nothing; nothing created without CREATE")

    a = admin()
    (ACL, ACLFilter, Op, Perm, Pat, RP, RPF, RT) = acl_types()
    res = a.delete_acls([
        ACLFilter(None, None, Op.ANY, Perm.ANY,
                  RPF(RT.TOPIC, "sales-", Pat.PREFIXED)),
        ACLFilter("User:*", None, Op.WRITE, Perm.ALLOW,
                  RPF(RT.TOPIC, "acl-t1", Pat.MATCH)),
        ACLFilter(None, None, Op.ANY, Perm.ANY,
                  RPF(RT.TOPIC, "nothing-matches", Pat.LITERAL)),
    ])
    names = [[(x[0].resource_pattern.resource_name, x[0].principal)
              for x in r[1]] for r in res]
    expect(names == [[("sales-", PRINCIPAL)], [("acl-t1", "User:*")], []],
           f"DeleteAcls matches: {names}")
    expect(all(r[2].errno == NONE for r in res), f"DeleteAcls errors: {res}")
    left = describe_all(a)
    expect(len(left) == len(the_acls()) - 2, f"{len(left)} ACLs left")
    a.close()
    ok("DeleteAcls with PREFIXED, MATCH and LITERAL filters")


def phase_after():
    s = connect(HOST, PORT)
    want(produce(s, "sales-eu"), TOPIC_AUTH, "produce sales-eu (ACL deleted)")
    want(init_producer_id(s), CLUSTER_AUTH,
         "InitProducerId without WRITE anywhere")
    expect(describe_cluster(s) == (NONE, 0),
           f"DescribeCluster: {describe_cluster(s)}")
    md = metadata(s, None)
    expect(sorted(md) == ["acl-t1"], f"Metadata all topics: {sorted(md)}")
    e, nbytes = fetch(s, "acl-t1")
    want(e, NONE, "fetch acl-t1")
    ok("deleted ACLs no longer allow; the rest still does")


def phase_disabled():
    s = connect(HOST, PORT)
    want(produce(s, "acl-t1"), NONE, "produce acl-t1 with no authorizer")
    # No authorizer: every cluster operation Kafka lists (bits 5, 7-12).
    expect(describe_cluster(s) == (NONE, 0x1FA0),
           f"DescribeCluster: {describe_cluster(s)}")
    from kafka.errors import SecurityDisabledError
    a = admin()
    try:
        describe_all(a)
        fail("DescribeAcls answered with no authorizer")
    except SecurityDisabledError:
        pass
    res = a.create_acls(the_acls()[:1])
    expect(len(res["failed"]) == 1 and res["failed"][0][1].errno ==
           SECURITY_DISABLED, f"CreateAcls: {res}")
    a.close()
    ok("no authorizer: ACL APIs answer SECURITY_DISABLED, all allowed")


{"setup": phase_setup, "denied": phase_denied, "verify": phase_verify,
 "after": phase_after, "disabled": phase_disabled}[PHASE]()
