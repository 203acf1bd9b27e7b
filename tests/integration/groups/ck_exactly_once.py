#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Three confluent-kafka-python consumers in one group over a 6-partition
topic of 300,000 messages, synchronous commits after every batch.

  ck_exactly_once.py BOOTSTRAP WORKDIR [BROKER_LOG]  run the whole scenario
  ck_exactly_once.py --consumer NAME BOOTSTRAP WORKDIR   (one member)

The scenario produces message i (value "i") to partition i % 6, so its
offset is i // 6. At about a third of the run one consumer is stopped
cleanly (close: it commits and leaves the group); at about two thirds a
second one stops committing, consumes a few more batches and is killed with
SIGKILL (no leave, no last commit). The survivor
must finish the topic. Checks: every message is consumed, each exactly
once except the messages the killed consumer had processed but not
committed, which must all be consumed again by the survivor (and nothing
else); no message is redelivered
after a commit covered it; the group's committed offsets end at the end of
each partition. Reports both rebalance times: from the stop (or kill) to
the moment the remaining members' assignment callbacks together cover all
six partitions. With the broker's log, the kill is split into the
session expiry (at most a session timeout after the kill) and the
rebalance that follows.

Each member writes WORKDIR/NAME.log, one event per line:
  A <time> <p,p,...>   partitions assigned
  R <time>             partitions revoked
  M <time> <p> <o> <v> message processed (v = value)
  C <time> <p> <o>     commit succeeded: next offset o for partition p
  E <time> <text>      commit failed
  N <time>             batch processed, not committed (after SIGUSR1)
  X <time>             closing
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import time

TOPIC = "grp300"
GROUP = "ck300"
PARTS = 6
TOTAL = 300000
SESSION_MS = 6000
HEARTBEAT_MS = 500


def consumer(name, bootstrap, workdir):
    from confluent_kafka import Consumer, KafkaException
    stop = {"flag": False, "nocommit": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    # SIGUSR1: keep consuming but stop committing (the scenario then
    # kills this member with an uncommitted tail).
    signal.signal(signal.SIGUSR1, lambda *_: stop.update(nocommit=True))
    out = open(os.path.join(workdir, name + ".log"), "w", buffering=1)

    def on_assign(c, parts):
        out.write("A %.6f %s\n" % (time.time(), ",".join(
            str(p.partition) for p in parts)))

    def on_revoke(c, parts):
        out.write("R %.6f\n" % time.time())

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": GROUP,
        "client.id": name,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "partition.assignment.strategy": "range",
        "fetch.wait.max.ms": 100,
    })
    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    done = os.path.join(workdir, "done")
    parent = os.getppid()
    while not stop["flag"] and not os.path.exists(done):
        if os.getppid() != parent:
            break   # the scenario is gone: do not linger in the group
        msgs = c.consume(num_messages=500, timeout=0.2)
        if not msgs:
            continue
        now = time.time()
        lines = []
        for m in msgs:
            if m.error():
                continue
            lines.append("M %.6f %d %d %s\n" % (now, m.partition(),
                                                 m.offset(),
                                                 m.value().decode()))
        out.write("".join(lines))
        if stop["nocommit"]:
            out.write("N %.6f\n" % time.time())
            time.sleep(0.05)
            continue
        try:
            res = c.commit(asynchronous=False)
            now = time.time()
            out.write("".join("C %.6f %d %d\n" % (now, tp.partition,
                                                  tp.offset)
                              for tp in res if tp.error is None
                              and tp.offset >= 0))
        except KafkaException as e:
            out.write("E %.6f %s\n" % (time.time(), e))
        # Pace the members so that the stops land mid-way.
        time.sleep(0.05)
    out.write("X %.6f\n" % time.time())
    c.close()
    out.close()


def produce(bootstrap):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(TOPIC, PARTS, 1)])
    fs[TOPIC].result(10)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                  "batch.num.messages": 10000, "queue.buffering.max.messages":
                  TOTAL + 1000, "acks": "all"})
    errors = []

    def dr(err, msg):
        if err is not None:
            errors.append(err)
    t0 = time.time()
    for i in range(TOTAL):
        p.produce(TOPIC, value=str(i).encode(), partition=i % PARTS,
                  on_delivery=dr)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(60)
    if left or errors:
        sys.exit("produce: %d undelivered, %d errors (%s)" %
                 (left, len(errors), errors[:3]))
    print("produced %d messages in %.1f s" % (TOTAL, time.time() - t0))


_logs = {}   # path -> [bytes read, events, messages]


def _refresh(path):
    st = _logs.setdefault(path, [0, [], 0])
    if not os.path.exists(path):
        return st
    with open(path, "rb") as f:
        f.seek(st[0])
        data = f.read()
    end = data.rfind(b"\n") + 1      # whole lines only
    st[0] += end
    for line in data[:end].decode().splitlines():
        parts = line.split()
        if parts:
            st[1].append(parts)
            if parts[0] == "M":
                st[2] += 1
    return st


def read_log(path):
    """Every event of a member's log so far (read incrementally)."""
    return _refresh(path)[1]


def consumed(workdir, names):
    return sum(_refresh(os.path.join(workdir, nm + ".log"))[2]
               for nm in names)


def wait_for(cond, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    sys.exit("timed out after %d s waiting for %s" % (timeout, what))


def assigned_since(workdir, names, since, split=False):
    """The time when the latest assignments (after `since`) of all names
    together cover every partition (with split, each owning some), or
    None."""
    latest = {}
    for nm in names:
        for e in read_log(os.path.join(workdir, nm + ".log")):
            if e[0] == "A" and float(e[1]) > since:
                parts = set(int(x) for x in e[2].split(",")) if len(e) > 2 \
                    else set()
                latest[nm] = (float(e[1]), parts)
    if len(latest) != len(names):
        return None
    if split and any(not p for _, p in latest.values()):
        return None
    cover = set()
    for t, p in latest.values():
        cover |= p
    if cover != set(range(PARTS)):
        return None
    return max(t for t, _ in latest.values())


def scenario(bootstrap, workdir, broker_log):
    produce(bootstrap)
    procs = {}
    try:
        run(bootstrap, workdir, procs, broker_log)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def run(bootstrap, workdir, procs, broker_log):
    names = ["c1", "c2", "c3"]
    for nm in names:
        procs[nm] = subprocess.Popen([sys.executable, __file__, "--consumer",
                                      nm, bootstrap, workdir])
    t_start = time.time()
    # All three members share the topic before anything is stopped.
    wait_for(lambda: assigned_since(workdir, names, 0, split=True), 60,
             "three members sharing the partitions")
    wait_for(lambda: consumed(workdir, names) >= TOTAL // 3, 120,
             "a third of the messages")
    # 1. Clean stop: c3 commits, closes and leaves the group.
    procs["c3"].send_signal(signal.SIGTERM)
    if procs["c3"].wait(30) != 0:
        sys.exit("c3 exited with %d" % procs["c3"].returncode)
    t_close = float([e for e in read_log(os.path.join(workdir, "c3.log"))
                     if e[0] == "X"][0][1])
    t_done = wait_for(lambda: assigned_since(workdir, ["c1", "c2"], t_close),
                      SESSION_MS / 1000 + 30, "rebalance after c3 left")
    rebalance_leave = t_done - t_close
    print("c3 left at %.0f msgs: c1+c2 own all partitions %.0f ms later" %
          (consumed(workdir, names), rebalance_leave * 1000))
    wait_for(lambda: consumed(workdir, names) >= 2 * TOTAL // 3, 120,
             "two thirds of the messages")
    # 2. Hard stop: c2 stops committing, consumes a few more batches,
    # and is killed; its session must expire, and what it processed
    # after its last commit is consumed again by c1.
    procs["c2"].send_signal(signal.SIGUSR1)
    wait_for(lambda: sum(1 for e in read_log(os.path.join(workdir, "c2.log"))
                         if e[0] == "N") >= 3, 30,
             "c2 to consume uncommitted batches")
    t_kill = time.time()
    procs["c2"].kill()
    procs["c2"].wait()
    t_done = wait_for(lambda: assigned_since(workdir, ["c1"], t_kill),
                      SESSION_MS / 1000 + 30, "rebalance after c2 died")
    rebalance_kill = t_done - t_kill
    print("c2 killed at %.0f msgs: c1 owns all partitions %.0f ms later "
          "(session timeout %d ms)" % (consumed(workdir, names),
                                       rebalance_kill * 1000, SESSION_MS))
    # When the coordinator expired c2: its log line starts with an ISO 8601
    # date and time with the UTC offset.
    t_expired = None
    if broker_log:
        with open(broker_log, errors="replace") as f:
            for line in f:
                if "session expired" in line and " c2-" in line:
                    t_expired = datetime.datetime.fromisoformat(
                        line.split()[0]).timestamp()
        if t_expired is None:
            sys.exit("the broker log does not say c2's session expired")
        print("c2 expired %.0f ms after the kill; the rebalance then took "
              "%.0f ms" % ((t_expired - t_kill) * 1000,
                           (t_done - t_expired) * 1000))

    # c1 finishes the topic: the group's commits reach the end of every
    # partition (some may have been finished by the others already).
    def finished():
        last = {}
        for nm in names:
            for e in read_log(os.path.join(workdir, nm + ".log")):
                if e[0] == "C":
                    p = int(e[2])
                    last[p] = max(last.get(p, 0), int(e[3]))
        return all(last.get(p) == TOTAL // PARTS for p in range(PARTS))
    wait_for(finished, 180, "commits at the end of every partition")
    elapsed = time.time() - t_start
    open(os.path.join(workdir, "done"), "w").close()
    if procs["c1"].wait(30) != 0:
        sys.exit("c1 exited with %d" % procs["c1"].returncode)

    # --- accounting ---------------------------------------------------
    deliveries = {}     # (p, o) -> [(time, name)]
    commits = []        # (time, name, p, next offset)
    failed_commits = 0
    for nm in names:
        for e in read_log(os.path.join(workdir, nm + ".log")):
            if e[0] == "M":
                p, o, v = int(e[2]), int(e[3]), int(e[4])
                if v % PARTS != p or v // PARTS != o:
                    sys.exit("%s: partition %d offset %d holds %d" %
                             (nm, p, o, v))
                deliveries.setdefault((p, o), []).append((float(e[1]), nm))
            elif e[0] == "C":
                commits.append((float(e[1]), nm, int(e[2]), int(e[3])))
            elif e[0] == "E":
                failed_commits += 1
    missing = [(p, o) for p in range(PARTS) for o in range(TOTAL // PARTS)
               if (p, o) not in deliveries]
    if missing:
        sys.exit("%d messages never consumed, e.g. %s" % (len(missing),
                                                          missing[:5]))
    dups = 0
    bad = []
    for (p, o), ds in deliveries.items():
        if len(ds) == 1:
            continue
        ds.sort()
        dups += len(ds) - 1
        # A redelivery is legitimate only if no commit covering the
        # message had succeeded before it was delivered again.
        for t2, who in ds[1:]:
            if any(cp == p and co > o and ct < t2
                   for ct, _, cp, co in commits):
                bad.append((p, o, who))
    if bad:
        sys.exit("%d messages redelivered after a commit covered them, "
                 "e.g. %s" % (len(bad), bad[:5]))
    # c2's uncommitted tail: what it processed at or past its last
    # committed offset of each partition. All of it, and nothing else,
    # is consumed twice (no commit of the others failed).
    c2_next = {}
    for ct, nm, cp, co in commits:
        if nm == "c2":
            c2_next[cp] = max(c2_next.get(cp, 0), co)
    tail = set(po for po, ds in deliveries.items()
               if any(nm == "c2" for _, nm in ds)
               and po[1] >= c2_next.get(po[0], 0))
    twice = set(po for po, ds in deliveries.items() if len(ds) > 1)
    by_c2 = len(tail)
    if failed_commits == 0 and twice != tail:
        sys.exit("consumed twice: %d messages; c2's uncommitted tail: %d "
                 "(twice only: %s, tail only: %s)" %
                 (len(twice), len(tail), sorted(twice - tail)[:5],
                  sorted(tail - twice)[:5]))
    if not tail:
        sys.exit("c2 was killed without an uncommitted tail: the "
                 "redelivery was not exercised")
    if dups > len(tail) + 500 * failed_commits:
        sys.exit("%d duplicates, c2's uncommitted tail %d, %d failed "
                 "commits" % (dups, len(tail), failed_commits))
    if rebalance_leave * 1000 > SESSION_MS:
        sys.exit("rebalance after a clean leave took %.0f ms (> session "
                 "timeout %d ms)" % (rebalance_leave * 1000, SESSION_MS))
    # Expiry comes at most one session timeout after the last heartbeat
    # (so after the kill); the survivor then rejoins on its next heartbeat
    # and the rebalance must complete well within a session timeout.
    limit = SESSION_MS + 2 * HEARTBEAT_MS + 2000
    if rebalance_kill * 1000 > limit:
        sys.exit("rebalance after a kill took %.0f ms (> %d ms)" %
                 (rebalance_kill * 1000, limit))
    if t_expired is not None:
        if (t_expired - t_kill) * 1000 > SESSION_MS + 500:
            sys.exit("c2 expired %.0f ms after the kill (session timeout "
                     "%d ms)" % ((t_expired - t_kill) * 1000, SESSION_MS))
        if (t_done - t_expired) * 1000 > SESSION_MS:
            sys.exit("the rebalance after c2 expired took %.0f ms (> "
                     "session timeout)" % ((t_done - t_expired) * 1000))
    res = {"messages": TOTAL, "consumed": sum(len(d) for d in
                                              deliveries.values()),
           "duplicates": dups, "uncommitted_tail_of_killed": by_c2,
           "failed_commits": failed_commits,
           "commits": len(commits),
           "rebalance_leave_ms": round(rebalance_leave * 1000),
           "rebalance_kill_ms": round(rebalance_kill * 1000),
           "kill_to_expiry_ms": round((t_expired - t_kill) * 1000)
           if t_expired else None,
           "expiry_to_assigned_ms": round((t_done - t_expired) * 1000)
           if t_expired else None,
           "session_timeout_ms": SESSION_MS, "elapsed_s": round(elapsed, 1)}
    print("RESULT " + json.dumps(res))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--consumer":
        consumer(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) in (3, 4):
        scenario(sys.argv[1], sys.argv[2],
                 sys.argv[3] if len(sys.argv) == 4 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
