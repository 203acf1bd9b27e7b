# SPDX-License-Identifier: Apache-2.0
"""The consumer group protocol (KIP-848) with raw requests: no installed
client speaks ConsumerGroupHeartbeat (API 68) or ConsumerGroupDescribe (69).

Usage: kip848.py HOST PORT MODE
  MODE main:   joins of two and three members with the uniform assignor,
               revocation before reassignment, leave, fencing, invalid
               first heartbeats, range vs uniform, describe, ListGroups,
               OffsetCommit with the member epoch, classic JoinGroup refused.
  MODE expire: a member that stops heartbeating is removed after
               group.consumer.session.timeout.ms (the broker runs with 3 s)
               and its partitions go to the other one.
Prints PASS lines; exits 1 at the first failure.

The simulated members behave as Kafka's consumer: partitions added by an
answer are held at once; partitions taken away stay held until the next
heartbeat, which reports what the member then owns. After every answer the
test checks that no partition is held by two members.
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kafka"))
from kwire import (Reader, connect, cstr, frame, hdr2, i8, i16, i32, i64,  # noqa
                   read_response, s16, uvarint)

HOST, PORT, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
FENCED_MEMBER_EPOCH = 110
UNKNOWN_MEMBER_ID = 25
UNRELEASED_INSTANCE_ID = 111
GROUP_ID_NOT_FOUND = 69
INVALID_REQUEST = 42
UNSUPPORTED_ASSIGNOR = 112
INCONSISTENT_GROUP_PROTOCOL = 23
ILLEGAL_GENERATION = 22
STALE_MEMBER_EPOCH = 113
UNSUPPORTED_VERSION = 35
INVALID_REGULAR_EXPRESSION = 128

CORR = [0]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("PASS: " + msg)
    sys.stdout.flush()


def rpc(sock, key, ver, body, cid="kip848"):
    CORR[0] += 1
    sock.sendall(frame(hdr2(key, ver, CORR[0], cid) + body))
    r = read_response(sock)
    if r is None:
        fail("broker closed the connection on API %d v%d" % (key, ver))
    corr, b = r
    if corr != CORR[0]:
        fail("correlation id %d, expected %d" % (corr, CORR[0]))
    rd = Reader(b)
    if key != 18:
        rd.tags()   # response header v1
    return rd


def carray(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def rd_carray(rd, dec):
    n = rd.uvarint()
    if n == 0:
        return None
    return [dec(rd) for _ in range(n - 1)]


def rd_uuid(rd):
    return rd.take(16)


# ------------------------------------------------- ConsumerGroupHeartbeat
def heartbeat(sock, group, member_id, epoch, instance_id=None, rack=None,
              rebalance_ms=-1, subs=None, assignor=None, owned=None, ver=0,
              regex=None):
    body = cstr(group) + cstr(member_id) + i32(epoch) + cstr(instance_id) + \
        cstr(rack) + i32(rebalance_ms) + carray(subs, cstr)
    if ver >= 1:
        body += cstr(regex)
    body += cstr(assignor)
    body += carray(owned, lambda tp: tp[0] + carray(tp[1], i32) + b"\x00")
    body += b"\x00"
    rd = rpc(sock, 68, ver, body)
    out = {"throttle": rd.i32(), "error": rd.i16(), "message": rd.cstr(),
           "member_id": rd.cstr(), "epoch": rd.i32(),
           "interval": rd.i32(), "assignment": None}
    if rd.i8() >= 0:
        tps = rd_carray(rd, lambda r: (rd_uuid(r),
                                       rd_carray(r, lambda q: q.i32()),
                                       r.tags()))
        rd.tags()
        out["assignment"] = {(t, p) for t, ps, _ in tps or [] for p in ps}
    rd.tags()
    return out


def owned_list(parts):
    by = {}
    for t, p in sorted(parts):
        by.setdefault(t, []).append(p)
    return [(t, ps) for t, ps in by.items()]


class Member:
    def __init__(self, name, group, subs, assignor=None, instance=None):
        self.name = name
        self.group = group
        self.subs = subs
        self.assignor = assignor
        self.instance = instance
        self.sock = connect(HOST, PORT)
        self.id = ""
        self.epoch = 0
        self.held = set()      # what it consumes now
        # Taken away by an answer, given up, not yet reported: a partition
        # the member still counts as its own until the next heartbeat.
        self.revoked_unreported = set()

    def join(self):
        r = heartbeat(self.sock, self.group, self.id, 0, self.instance,
                      None, 30000, self.subs, self.assignor, [])
        return self._take(r, full=True)

    def beat(self, full=True):
        # This heartbeat reports the revoked partitions gone.
        self.revoked_unreported = set()
        r = heartbeat(self.sock, self.group, self.id, self.epoch,
                      owned=owned_list(self.held) if full else None)
        return self._take(r)

    def leave(self):
        r = heartbeat(self.sock, self.group, self.id, -1)
        if r["error"] != 0 or r["epoch"] != -1:
            fail("%s: leave answered %r" % (self.name, r))
        self.held = set()

    def _take(self, r, full=False):
        if r["error"] != 0:
            return r
        if r["member_id"]:
            self.id = r["member_id"]
        self.epoch = r["epoch"]
        if r["assignment"] is not None:
            # New partitions are consumed at once; revoked ones are
            # dropped now and reported gone by the next heartbeat.
            self.revoked_unreported |= self.held - r["assignment"]
            self.held = set(r["assignment"])
        return r


def check_disjoint(members, where):
    seen = {}
    for m in members:
        # A revoked partition counts as held until the next heartbeat.
        for tp in m.held | m.revoked_unreported:
            if tp in seen:
                fail("%s: partition %r held by %s and %s" %
                     (where, tp, seen[tp], m.name))
            seen[tp] = m.name
    return seen


def converge(members, all_parts, where, rounds=40):
    """Heartbeat round robin until every member holds its target and the
    union is every partition; check the invariant after each answer."""
    for _ in range(rounds):
        for m in members:
            r = m.beat()
            if r["error"] != 0:
                fail("%s: %s heartbeat error %d %s" %
                     (where, m.name, r["error"], r["message"]))
            check_disjoint(members, where)
        d = describe(members[0].sock, [members[0].group])[0]
        if d["state"] == "Stable":
            union = set()
            for m in members:
                union |= m.held
            targets = {dm["id"]: dm["target"] for dm in d["members"]}
            if union == all_parts and all(m.held == targets.get(m.id)
                                          for m in members):
                return d
    fail("%s: no stable assignment after %d rounds" % (where, rounds))


# ------------------------------------------------- ConsumerGroupDescribe
def describe(sock, groups, auth=False):
    body = carray(groups, cstr) + i8(1 if auth else 0) + b"\x00"
    rd = rpc(sock, 69, 0, body)
    rd.i32()

    def assignment(r):
        tps = rd_carray(r, lambda q: (rd_uuid(q), q.cstr(),
                                      rd_carray(q, lambda x: x.i32()),
                                      q.tags()))
        r.tags()
        return {(t, p) for t, _, ps, _ in tps or [] for p in ps}, \
            {t: n for t, n, _, _ in tps or []}

    def member(r):
        m = {"id": r.cstr(), "instance": r.cstr(), "rack": r.cstr(),
             "epoch": r.i32(), "client_id": r.cstr(), "host": r.cstr(),
             "subs": rd_carray(r, lambda q: q.cstr()), "regex": r.cstr()}
        m["assigned"], m["names"] = assignment(r)
        m["target"], _ = assignment(r)
        r.tags()
        return m

    def group(r):
        g = {"error": r.i16(), "message": r.cstr(), "group": r.cstr(),
             "state": r.cstr(), "epoch": r.i32(), "assignment_epoch": r.i32(),
             "assignor": r.cstr(), "members": rd_carray(r, member) or [],
             "ops": r.i32()}
        r.tags()
        return g
    out = rd_carray(rd, group)
    rd.tags()
    return out


# ------------------------------------------------- Metadata v12 topic ids
def topic_ids(sock, names):
    body = carray(names, lambda n: b"\x00" * 16 + cstr(n) + b"\x00") + \
        i8(0) + i8(0) + b"\x00"
    rd = rpc(sock, 3, 12, body)
    rd.i32()
    rd_carray(rd, lambda r: (r.i32(), r.cstr(), r.i32(), r.cstr(), r.tags()))
    rd.cstr()
    rd.i32()
    out = {}

    def topic(r):
        err, name, tid = r.i16(), r.cstr(), rd_uuid(r)
        r.i8()
        parts = rd_carray(r, lambda q: (q.i16(), q.i32(), q.i32(), q.i32(),
                                        rd_carray(q, lambda x: x.i32()),
                                        rd_carray(q, lambda x: x.i32()),
                                        rd_carray(q, lambda x: x.i32()),
                                        q.tags()))
        r.i32()
        r.tags()
        out[name] = (err, tid, len(parts or []))
    rd_carray(rd, topic)
    return out


def parts_of(ids, name):
    err, tid, n = ids[name]
    if err != 0:
        fail("metadata error %d for %s" % (err, name))
    return {(tid, p) for p in range(n)}


# ------------------------------------------------- other group APIs
def join_group_v5(sock, group):
    meta = i16(1) + i32(1) + s16("k6") + i32(-1)
    body = s16(group) + i32(10000) + i32(10000) + s16("") + s16(None) + \
        s16("consumer") + i32(1) + s16("range") + i32(len(meta)) + meta
    CORR[0] += 1
    from kwire import hdr1
    sock.sendall(frame(hdr1(11, 5, CORR[0], "kip848") + body))
    corr, b = read_response(sock)
    rd = Reader(b)
    rd.i32()
    return rd.i16()


def offset_commit_v8(sock, group, member, gen, tid_name, part, offset,
                     ver=8):
    body = cstr(group) + i32(gen) + cstr(member) + cstr(None) + \
        carray([1], lambda _: cstr(tid_name) + carray(
            [1], lambda _: i32(part) + i64(offset) + i32(-1) + cstr("") +
            b"\x00") + b"\x00") + b"\x00"
    rd = rpc(sock, 8, ver, body)
    rd.i32()
    res = rd_carray(rd, lambda r: (r.cstr(), rd_carray(
        r, lambda q: (q.i32(), q.i16(), q.tags())), r.tags()))
    return res[0][1][0][1]


def list_groups_v4(sock):
    rd = rpc(sock, 16, 4, carray([], cstr) + b"\x00")
    rd.i32()
    rd.i16()
    gs = rd_carray(rd, lambda r: (r.cstr(), r.cstr(), r.cstr(), r.tags()))
    return {g: (t, s) for g, t, s, _ in gs}


def list_groups_v5(sock, types):
    rd = rpc(sock, 16, 5, carray([], cstr) + carray(types, cstr) + b"\x00")
    rd.i32()
    rd.i16()
    gs = rd_carray(rd, lambda r: (r.cstr(), r.cstr(), r.cstr(), r.cstr(),
                                  r.tags()))
    return {g: (t, s, ty) for g, t, s, ty, _ in gs}


# ------------------------------------------------- scenarios
def main():
    admin = connect(HOST, PORT)
    ids = topic_ids(admin, ["k6", "k3"])
    k6 = parts_of(ids, "k6")
    k3 = parts_of(ids, "k3")
    if len(k6) != 6 or len(k3) != 3:
        fail("topics k6/k3 not as created: %r" % ids)

    # Invalid first heartbeats.
    r = heartbeat(admin, "g1", "", 0, rebalance_ms=30000, owned=[])
    if r["error"] != INVALID_REQUEST:
        fail("join without subscription: error %d" % r["error"])
    r = heartbeat(admin, "g1", "", 0, rebalance_ms=30000, subs=["k6"])
    if r["error"] != INVALID_REQUEST:
        fail("join with null owned partitions: error %d" % r["error"])
    r = heartbeat(admin, "g1", "", 0, subs=["k6"], owned=[])
    if r["error"] != INVALID_REQUEST:
        fail("join without rebalance timeout: error %d" % r["error"])
    r = heartbeat(admin, "g1", "", 0, rebalance_ms=30000, subs=["k6"],
                  owned=[], assignor="sticky")
    if r["error"] != UNSUPPORTED_ASSIGNOR:
        fail("unknown assignor: error %d" % r["error"])
    r = heartbeat(admin, "g1", "", 0, rebalance_ms=30000, subs=["k6"],
                  owned=[], ver=1)
    if r["error"] != INVALID_REQUEST:
        fail("v1 join without member id: error %d" % r["error"])
    r = heartbeat(admin, "nope", "x", 3, owned=[])
    if r["error"] != GROUP_ID_NOT_FOUND:
        fail("heartbeat to unknown group: error %d" % r["error"])
    ok("invalid first heartbeats: INVALID_REQUEST, UNSUPPORTED_ASSIGNOR, "
       "GROUP_ID_NOT_FOUND")

    # One member takes everything; the topic ids are Metadata's.
    a = Member("A", "g1", ["k6"])
    r = a.join()
    if r["error"] != 0 or len(a.id) != 22 or r["epoch"] != 1:
        fail("A join: %r" % r)
    if r["interval"] != int(os.environ.get("HB_MS", "5000")):
        fail("heartbeat interval %d" % r["interval"])
    if a.held != k6:
        fail("A alone holds %r, not all of k6" % sorted(a.held))
    ok("first member joins at epoch 1 with all 6 partitions "
       "(topic ids as in Metadata v12)")

    # A second member: A must revoke three before B gets them.
    b = Member("B", "g1", ["k6"])
    r = b.join()
    if r["error"] != 0 or r["epoch"] != 2:
        fail("B join: %r" % r)
    if b.held:
        fail("B was given %r while A still owns all of k6" % b.held)
    check_disjoint([a, b], "B joins")
    r = a.beat()
    if r["epoch"] != 1 or len(a.held) != 3:
        fail("A was not asked to revoke 3 partitions in epoch 1: %r" % r)
    d = describe(admin, ["g1"])[0]
    if d["state"] != "Reconciling" or d["epoch"] != 2:
        fail("describe while revoking: %r" % d)
    r = b.beat()
    if b.held:
        fail("B given partitions before A reported the revocation")
    ok("second member: A revokes 3 partitions (stays in epoch 1), B gets "
       "nothing until A reports them gone; state Reconciling")
    d = converge([a, b], k6, "two members")
    if sorted(len(m.held) for m in (a, b)) != [3, 3]:
        fail("two members not 3/3")
    ok("two members converge 3/3 at epoch %d, no partition held twice"
       % d["epoch"])

    c = Member("C", "g1", ["k6"])
    c.join()
    d = converge([a, b, c], k6, "three members")
    if sorted(len(m.held) for m in (a, b, c)) != [2, 2, 2]:
        fail("three members not 2/2/2")
    if d["assignor"] != "uniform" or d["assignment_epoch"] != d["epoch"]:
        fail("describe: %r" % d)
    if len(d["members"]) != 3:
        fail("describe members: %r" % d["members"])
    for dm in d["members"]:
        if dm["assigned"] != dm["target"] or dm["subs"] != ["k6"] or \
                set(dm["names"].values()) != {"k6"} or \
                dm["client_id"] != "kip848" or \
                not dm["host"].startswith("/"):
            fail("describe member: %r" % dm)
    ok("three members converge 2/2/2; ConsumerGroupDescribe: Stable, "
       "uniform, assignment = target, topic names, client id and host")

    # Fencing.
    r = heartbeat(a.sock, "g1", a.id, a.epoch + 1, owned=owned_list(a.held))
    if r["error"] != FENCED_MEMBER_EPOCH:
        fail("epoch from the future: error %d" % r["error"])
    r = heartbeat(a.sock, "g1", a.id, a.epoch - 1)
    if r["error"] != FENCED_MEMBER_EPOCH:
        fail("stale epoch: error %d" % r["error"])
    r = heartbeat(a.sock, "g1", "no-such-member", a.epoch)
    if r["error"] != UNKNOWN_MEMBER_ID:
        fail("unknown member: error %d" % r["error"])
    ok("a greater or stale member epoch gets FENCED_MEMBER_EPOCH, an "
       "unknown member UNKNOWN_MEMBER_ID")

    # Committed offsets with the member epoch (v9, as Kafka 3.9).
    if offset_commit_v8(a.sock, "g1", a.id, a.epoch, "k6", 0, 42, 9) != 0:
        fail("OffsetCommit v9 with the member epoch refused")
    e = offset_commit_v8(a.sock, "g1", a.id, a.epoch + 5, "k6", 0, 43, 9)
    if e != STALE_MEMBER_EPOCH:
        fail("OffsetCommit v9 with a wrong epoch: error %d" % e)
    e = offset_commit_v8(a.sock, "g1", a.id, a.epoch, "k6", 0, 43)
    if e != UNSUPPORTED_VERSION:
        fail("OffsetCommit v8 from a consumer-protocol member: error %d" % e)
    e = offset_commit_v8(a.sock, "g1", "", -1, "k6", 0, 44, 9)
    if e != UNKNOWN_MEMBER_ID:
        fail("admin OffsetCommit to a non-empty group: error %d" % e)
    ok("OffsetCommit v9 checks the member epoch (STALE_MEMBER_EPOCH), "
       "v8 from a member is UNSUPPORTED_VERSION")

    # Classic protocol against it; ListGroups.
    e = join_group_v5(connect(HOST, PORT), "g1")
    if e != INCONSISTENT_GROUP_PROTOCOL:
        fail("classic JoinGroup to a consumer group: error %d" % e)
    lg = list_groups_v4(admin)
    if lg.get("g1") != ("consumer", "Stable"):
        fail("ListGroups: %r" % lg.get("g1"))
    lg = list_groups_v5(admin, ["consumer"])
    if lg.get("g1") != ("consumer", "Stable", "consumer"):
        fail("ListGroups v5: %r" % lg)
    if list_groups_v5(admin, ["classic"]).get("g1") is not None:
        fail("ListGroups v5 classic filter lists g1")
    ok("classic JoinGroup gets INCONSISTENT_GROUP_PROTOCOL; ListGroups "
       "shows g1 as consumer/Stable, v5 with type consumer and the type "
       "filter")

    # Leave.
    c.leave()
    d = converge([a, b], k6, "after leave")
    if sorted(len(m.held) for m in (a, b)) != [3, 3]:
        fail("after leave not 3/3")
    ok("member leaves (epoch -1): the other two converge 3/3")

    # Range against uniform, two topics.
    x = Member("X", "g-range", ["k6", "k3"], assignor="range")
    y = Member("Y", "g-range", ["k3", "k6"], assignor="range")
    x.join()
    y.join()
    d = converge([x, y], k6 | k3, "range")
    first, second = sorted((x, y), key=lambda m: m.id)
    tid6 = ids["k6"][1]
    tid3 = ids["k3"][1]
    want1 = {(tid6, p) for p in (0, 1, 2)} | {(tid3, 0), (tid3, 1)}
    want2 = {(tid6, p) for p in (3, 4, 5)} | {(tid3, 2)}
    if d["assignor"] != "range" or first.held != want1 or \
            second.held != want2:
        fail("range: %r / %r" % (sorted(first.held), sorted(second.held)))
    u = Member("U", "g-uni", ["k6", "k3"])
    v = Member("V", "g-uni", ["k6", "k3"])
    u.join()
    v.join()
    converge([u, v], k6 | k3, "uniform")
    if sorted(len(m.held) for m in (u, v)) != [4, 5]:
        fail("uniform 9 partitions not 4/5")
    ok("range gives each topic's ranges by member id (k6 0-2 + k3 0-1 / "
       "k6 3-5 + k3 2); uniform splits 9 partitions 5/4")

    # Static membership: the instance id is held until it leaves with -2.
    s1 = Member("S1", "g-static", ["k3"], instance="inst-1")
    s1.join()
    s2 = Member("S2", "g-static", ["k3"], instance="inst-1")
    r = s2.join()
    if r["error"] != UNRELEASED_INSTANCE_ID:
        fail("second member with the same instance id: %r" % r)
    r = heartbeat(s1.sock, "g-static", s1.id, -2, instance_id="inst-1")
    if r["error"] != 0 or r["epoch"] != -2:
        fail("static leave: %r" % r)
    r = s2.join()
    if r["error"] != 0 or s2.held != k3:
        fail("static rejoin did not take over the partitions: %r" % r)
    ok("static member: UNRELEASED_INSTANCE_ID while held; after epoch -2 "
       "a new member with that instance id takes its partitions")

    # v1: a client-made member id and a regex subscription.
    rx = connect(HOST, PORT)
    r = heartbeat(rx, "g-rx", "rx-member-1", 0, rebalance_ms=30000,
                  owned=[], ver=1, regex="(")
    if r["error"] != INVALID_REGULAR_EXPRESSION:
        fail("invalid regex: error %d" % r["error"])
    r = heartbeat(rx, "g-rx", "rx-member-1", 0, rebalance_ms=30000,
                  owned=[], ver=1, regex="k[0-9]")
    if r["error"] != 0 or r["member_id"] != "rx-member-1" or \
            r["assignment"] != k6 | k3:
        fail("regex k[0-9]: %r" % r)
    d = describe(admin, ["g-rx"])[0]
    if d["members"][0]["regex"] != "k[0-9]" or d["members"][0]["subs"]:
        fail("describe regex member: %r" % d["members"][0])
    ok("v1: client-made member id; regex subscription k[0-9] gets k6 and "
       "k3 (INVALID_REGULAR_EXPRESSION for a bad one)")


def expire():
    admin = connect(HOST, PORT)
    ids = topic_ids(admin, ["k6"])
    k6 = parts_of(ids, "k6")
    a = Member("A", "g-exp", ["k6"])
    b = Member("B", "g-exp", ["k6"])
    a.join()
    b.join()
    converge([a, b], k6, "expire setup")
    t0 = time.time()
    while time.time() - t0 < 8:
        a.beat()
        if a.held == k6:
            break
        time.sleep(0.3)
    dt = time.time() - t0
    if a.held != k6:
        fail("B's partitions never went to A")
    if dt < 2.5:
        fail("B expired after %.1f s, before its 3 s session" % dt)
    r = heartbeat(b.sock, "g-exp", b.id, b.epoch, owned=[])
    if r["error"] != UNKNOWN_MEMBER_ID:
        fail("expired member's heartbeat: error %d" % r["error"])
    ok("member silent for its session timeout is removed after %.1f s; "
       "the other member gets all 6 partitions; it then gets "
       "UNKNOWN_MEMBER_ID" % dt)


if MODE == "main":
    main()
elif MODE == "expire":
    expire()
else:
    fail("mode " + MODE)
