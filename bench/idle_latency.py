#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Latency of lone requests to an idle broker (issue 14).

Each sample is one request with nothing else in flight, sent after a pause
(--pause-ms, default 100) so the broker has gone idle, the way a quiet
service sees traffic. Prints p50/p99/max for each kind and, with --pid, the
broker's CPU use over an idle window.

Kinds:
  ping        ICMP echo (ping(8) at --pause-ms intervals; its own RTTs)
  produce1    one message, acks=1, produce() to delivery report
  produceall  the same with acks=all
  commit      synchronous OffsetCommit of one offset (Consumer.commit,
              asynchronous=False)

Needs /usr/bin/python3 with python3-confluent-kafka. Example:

  /usr/bin/python3 bench/idle_latency.py --broker 10.77.0.2:9092 \\
      --count 500 --pid $(pgrep -n fluxmq)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


def summary(name, us):
    return {"kind": name, "n": len(us), "p50_us": round(pct(us, 0.5), 1),
            "p99_us": round(pct(us, 0.99), 1),
            "max_us": round(max(us) if us else float("nan"), 1)}


def run_ping(host, count, pause_ms):
    iv = max(pause_ms / 1000.0, 0.002)
    # Root may use any interval; others are held to 0.2 s by ping(8).
    if os.geteuid() != 0:
        iv = max(iv, 0.2)
    out = subprocess.run(["ping", "-n", "-c", str(count), "-i", "%.3f" % iv,
                          "-W", "1", host], capture_output=True, text=True,
                         timeout=count * (iv + 1) + 10).stdout
    return [float(m) * 1000.0 for m in re.findall(r"time=([0-9.]+) ms", out)]


def run_produce(bootstrap, topic, count, pause_ms, acks):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": acks,
                  "linger.ms": 0, "enable.idempotence": False,
                  "socket.nagle.disable": True})
    done = []

    def cb(err, msg):
        done.append(err)

    # Metadata and the first connection are not what we measure.
    p.produce(topic, b"warm", partition=0, on_delivery=cb)
    p.flush(10)
    us = []
    for i in range(count):
        time.sleep(pause_ms / 1000.0)
        done.clear()
        t0 = time.perf_counter()
        p.produce(topic, b"x" * 100, partition=0, on_delivery=cb)
        while not done:
            p.poll(0.0005)
        t1 = time.perf_counter()
        if done[0] is not None:
            raise SystemExit("produce failed: %s" % done[0])
        us.append((t1 - t0) * 1e6)
    p.flush(10)
    return us


def run_commit(bootstrap, topic, count, pause_ms):
    from confluent_kafka import Consumer, Producer, TopicPartition

    # The topic must exist (auto-created by a produce).
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, b"warm", partition=0)
    if p.flush(10) != 0:
        raise SystemExit("cannot produce to %s" % topic)
    c = Consumer({"bootstrap.servers": bootstrap,
                  "group.id": "idle-latency-%d" % os.getpid(),
                  "enable.auto.commit": False,
                  "socket.nagle.disable": True})
    c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    us = []
    for i in range(count):
        time.sleep(pause_ms / 1000.0)
        t0 = time.perf_counter()
        c.commit(offsets=[TopicPartition(topic, 0, i + 1)],
                 asynchronous=False)
        us.append((time.perf_counter() - t0) * 1e6)
    c.close()
    return us


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return int(st[11]) + int(st[12])   # utime + stime


def idle_cpu(pid, seconds):
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(seconds)
    t1, c1 = time.monotonic(), cpu_ticks(pid)
    return 100.0 * (c1 - c0) / hz / (t1 - t0)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", default="10.77.0.2:9092",
                    help="bootstrap host:port (default %(default)s)")
    ap.add_argument("--topic", default="idle-latency",
                    help="topic, auto-created (default %(default)s)")
    ap.add_argument("--count", type=int, default=500,
                    help="requests per kind (default %(default)s)")
    ap.add_argument("--pause-ms", type=float, default=100,
                    help="idle pause before each request (default %(default)s)")
    ap.add_argument("--kinds", default="ping,produce1,produceall,commit",
                    help="comma-separated subset (default %(default)s)")
    ap.add_argument("--pid", type=int,
                    help="broker pid: also measure idle CPU")
    ap.add_argument("--idle-seconds", type=float, default=10,
                    help="idle CPU window (default %(default)s)")
    ap.add_argument("--json", action="store_true",
                    help="one JSON object per line instead of a table")
    a = ap.parse_args()

    host = a.broker.rsplit(":", 1)[0]
    rows = []
    for k in a.kinds.split(","):
        if k == "ping":
            us = run_ping(host, a.count, a.pause_ms)
        elif k == "produce1":
            us = run_produce(a.broker, a.topic, a.count, a.pause_ms, "1")
        elif k == "produceall":
            us = run_produce(a.broker, a.topic, a.count, a.pause_ms, "all")
        elif k == "commit":
            us = run_commit(a.broker, a.topic, a.count, a.pause_ms)
        else:
            ap.error("unknown kind %r" % k)
        rows.append(summary(k, us))
    if a.pid:
        time.sleep(1)
        rows.append({"kind": "idle_cpu", "seconds": a.idle_seconds,
                     "cpu_pct": round(idle_cpu(a.pid, a.idle_seconds), 2)})
    for r in rows:
        if a.json:
            print(json.dumps(r))
        elif r["kind"] == "idle_cpu":
            print("%-11s %6.2f %% of a core over %g s" %
                  ("idle cpu", r["cpu_pct"], r["seconds"]))
        else:
            print("%-11s n=%-4d p50 %8.1f us  p99 %8.1f us  max %8.1f us" %
                  (r["kind"], r["n"], r["p50_us"], r["p99_us"], r["max_us"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
