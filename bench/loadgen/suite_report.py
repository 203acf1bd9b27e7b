#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers of bench/run-suite.sh.

  suite_report.py parse-rdkafka produce|fetch MSG_BYTES < output
      one JSON line from rdkafka_performance's table output (-u)
  suite_report.py report --runs FILE --cdf-dir DIR --out DIR --name NAME ...
      bench/results/NAME.md with every figure, its ceiling and the ratio,
      and NAME-throughput.png / NAME-latency.png (gnuplot)
  suite_report.py check --runs FILE
      exit 1 unless every FluxMQ run succeeded and verified
  suite_report.py metrics-delta BEFORE AFTER --lcores N ...
      (bench/scale.sh) the broker's per-lcore counters over one run, JSON
  suite_report.py scale-table --runs FILE [--full]
      (bench/scale.sh) the data-lcore scaling table in markdown; --full
      adds the machine, the ceilings and the raw JSON lines
"""
import re
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys

TCP_PAYLOAD_PER_1500 = 1448  # MSS 1460 less the timestamp option


def parse_rdkafka(kind, msg_bytes, text):
    header, last = None, None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "elapsed":
            header = cells
        elif header and len(cells) == len(header):
            try:
                last = dict(zip(header, (float(c) for c in cells)))
            except ValueError:
                pass
    d = {"tool": "rdkafka_performance", "workload": kind,
         "msg_bytes": int(msg_bytes), "latency_us": None}
    if last is None:
        d["na"] = "no result (rdkafka_performance failed or timed out)"
        return d
    if kind == "produce":
        d["msgs"] = int(last.get("dr", 0))
        d["msgs_per_s"] = last.get("dr_m/s", 0)
        d["mb_per_s"] = last.get("dr_MB/s", 0)
        d["errors"] = int(last.get("dr_err", 0) + last.get("tx_err", 0))
    else:
        d["msgs"] = int(last.get("msgs", 0))
        d["msgs_per_s"] = last.get("m/s", 0)
        d["mb_per_s"] = last.get("MB/s", 0)
        d["errors"] = int(last.get("rx_err", 0))
    d["seconds"] = last.get("elapsed", 0) / 1000.0
    return d


def load(path):
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                d = json.loads(line)
                runs[(d["system"], d["row"])] = d
    return runs


def fmt_int(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_f(v, nd=1):
    return "-" if v is None else f"{v:,.{nd}f}"


def lat(d, key):
    l = d.get("latency_us") if d else None
    return None if not l else l.get(key)


class Ceilings:
    def __init__(self, runs):
        c = runs.get(("machine", "ceilings"), {})
        self.memcpy = c.get("memcpy_64mib_gb_per_s", 0) * 1e9
        self.memcpy_cache = c.get("memcpy_256kib_gb_per_s", 0) * 1e9
        self.crc = c.get("crc32_iscsi_gb_per_s", 0) * 1e9
        self.lz4 = c.get("lz4_compress_gb_per_s", 0) * 1e9
        self.lz4d = c.get("lz4_decompress_gb_per_s", 0) * 1e9
        self.pps64 = runs.get(("machine", "memif-64"), {}).get("pps", 0)
        self.pps1500 = runs.get(("machine", "memif-1500"), {}).get("pps", 0)
        self.memif_bytes = self.pps1500 * TCP_PAYLOAD_PER_1500
        echo = runs.get(("fluxmq-memif", "echo-rtt"), {})
        self.rtt_p50 = lat(echo, "p50")
        self.rtt_p99 = lat(echo, "p99")
        e64 = runs.get(("fluxmq-memif", "echo-64k"), {})
        self.echo_bytes = e64.get("mb_per_s", 0) * 1e6

    def bound(self, d):
        """Best msgs/s the machine allows for this shape, and what binds."""
        per_req = max(1, d.get("records_per_batch", 1))
        wire = d.get("batch_bytes", 0) or d.get("msg_bytes", 0) * per_req
        per_msg = wire / per_req if wire else d.get("msg_bytes", 1)
        cands = []
        if self.memif_bytes:
            cands.append((self.memif_bytes / per_msg, "memif bytes"))
        if self.pps64:
            # one request (and one response) per packet at best
            cands.append((self.pps64 * per_req, "memif packets"))
        if self.memcpy:
            cands.append((self.memcpy / per_msg, "memcpy"))
        if self.crc:
            cands.append((self.crc / per_msg, "crc32c"))
        if not cands:
            return None, "-"
        return min(cands)


ROWS = [
    ("produce-100x1000-acks1", "produce 100 B x 1000/batch, acks=1"),
    ("produce-100x1000-acks0", "produce 100 B x 1000/batch, acks=0"),
    ("produce-100x1000-acksall", "produce 100 B x 1000/batch, acks=-1"),
    ("produce-100x1", "produce 100 B x 1 per request, acks=1"),
    ("produce-1kx100", "produce 1 KiB x 100/batch, acks=1"),
    ("produce-lz4-1m", "produce LZ4, 1 MiB batches (1 KiB x 1024), validation=deep (default)"),
    ("produce-lz4-1m-shallow", "produce LZ4, 1 MiB batches, validation=shallow (opt-in, unchecked)"),
    ("fetch-100x1000", "fetch 100 B x 1000/batch (preloaded)"),
    ("produce-fetch-100x1000", "produce + fetch together, 100 B x 1000"),
]
LAT_ROWS = [("latency-10", 10), ("latency-50", 50), ("latency-90", 90)]
PEER_ROWS = [
    ("rdkafka-produce-100x1000", "rdkafka_performance produce 100 B (batch 1000, linger 5 ms)"),
    ("rdkafka-produce-1024x100", "rdkafka_performance produce 1 KiB (batch 100)"),
    ("rdkafka-fetch", "rdkafka_performance consume"),
    ("kernel-produce-100x1000", "fluxmq-bench --kernel produce 100 B x 1000"),
    ("kernel-produce-1024x100", "fluxmq-bench --kernel produce 1 KiB x 100"),
    ("kernel-fetch", "fluxmq-bench --kernel fetch 100 B x 1000"),
]


def verified(d):
    v = d.get("verify")
    if not v:
        return "-"
    if v.get("ok"):
        return f"yes ({v['read_back']:,})"
    return f"**NO**: {v['missing']:,} missing, {v['corrupt']:,} corrupt"


def stack_ratio(c, d):
    """Wire bytes per second against TCP-lite's own bulk rate (64 KiB echo
    over the same link): how close a row runs to the network stack."""
    if not c.echo_bytes or not d.get("records_per_batch"):
        return "-"
    wire = d.get("batch_bytes", 0) / d["records_per_batch"]
    return f"{d['msgs_per_s'] * wire / c.echo_bytes * 100:.0f} %"


def preempt(d):
    c = d.get("cpu")
    if not c or not c.get("wall_s"):
        return "-"
    return f"{c['involuntary_switches'] / c['wall_s']:,.0f}"


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


def report(a):
    os.makedirs(a.out, exist_ok=True)
    runs = load(a.runs)
    c = Ceilings(runs)
    out = []
    w = out.append
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    w(f"# FluxMQ benchmark: {a.name}\n")
    w(f"- Machine: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}")
    w(f"- Commit {commit or '?'}; {'quick' if a.quick else 'full'} run; "
      f"broker `poll.mode={a.poll}`, one data lcore on CPU 0, "
      f"fluxmq-bench on CPU 1, control lcore floating")
    w("- Transport for the FluxMQ rows: net_memif (both sides DPDK, "
      "TCP-lite on both ends, software checksums)")
    w("- Every FluxMQ Kafka run verifies: each acknowledged message is "
      "fetched back after the run and compared byte for byte.")
    la = loadavg()
    w(f"- Load average at the end of the run: {' '.join(la)} on "
      f"{os.cpu_count()} CPUs. With other work on the machine the "
      "busy-polling broker and client are preempted (the last column "
      "counts the client's involuntary context switches per second); "
      "latency under open-loop load then measures the scheduler. Compare "
      "runs on an otherwise idle machine.")
    rs = runs.get(("machine", "broker-restarts"), {}).get("count", 0)
    if rs:
        w(f"- **The broker on memif was restarted {rs} time(s)** after it "
          "died when a client disconnected (DPDK 22.11's memif server "
          "crashes if the client leaves while its data lcore polls; see "
          "docs/benchmarks.md). A run it died under was repeated once.")
    if not a.kafka:
        w("- **The broker's Kafka layer (lib/broker) is not in this build**: "
          "the FluxMQ Kafka rows are n/a; the ceilings and peers are real.")
    w("")
    w("## Ceilings of this machine (measured in this run)\n")
    w("| ceiling | value |")
    w("|---|---|")
    w(f"| memcpy, one core, 64 MiB (out of cache) | {fmt_f(c.memcpy / 1e9, 2)} GB/s |")
    w(f"| memcpy, one core, 256 KiB (in cache) | {fmt_f(c.memcpy_cache / 1e9, 2)} GB/s |")
    w(f"| crc32_iscsi (ISA-L), one core, 64 MiB | {fmt_f(c.crc / 1e9, 2)} GB/s |")
    w(f"| LZ4 compression / decompression (lib/log/codec), one core | "
      f"{fmt_f(c.lz4 / 1e9, 3)} / {fmt_f(c.lz4d / 1e9, 2)} GB/s of uncompressed text |")
    w(f"| memif, dpdk-testpmd txonly -> rxonly, 64 B frames | {fmt_f(c.pps64 / 1e6, 2)} Mpps |")
    w(f"| memif, dpdk-testpmd, 1500 B frames | {fmt_f(c.pps1500 / 1e6, 2)} Mpps "
      f"= {fmt_f(c.memif_bytes / 1e9, 2)} GB/s of TCP payload |")
    w(f"| TCP-lite over memif, 64 B echo, 1 in flight: RTT p50 / p99 | "
      f"{fmt_f(c.rtt_p50, 2)} / {fmt_f(c.rtt_p99, 2)} us |")
    w(f"| TCP-lite over memif, 64 KiB echo, 8 in flight | {fmt_f(c.echo_bytes / 1e6, 0)} MB/s each way |")
    w("")
    w("The throughput ceiling of a row is the lowest of: memif payload bytes, "
      "memif packets (one request per packet), single-core memcpy and "
      "crc32c over the bytes each message costs on the wire (batch bytes / "
      "records); the binding one is named. The next column sets the wire "
      "bytes beside TCP-lite's own bulk rate over the same link (the 64 KiB "
      "echo), the ceiling of the network stack rather than the machine. "
      "Latency rows are set beside the TCP-lite round-trip floor.\n")
    w("## FluxMQ over memif (fluxmq-bench, DPDK)\n")
    w("| workload | msgs/s | MB/s | requests/s | p50 us | p99 us | p99.9 us | max us | ceiling msgs/s | ratio | wire bytes vs TCP-lite echo | verified | bench preempted /s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row, title in ROWS:
        d = runs.get(("fluxmq-memif", row))
        if d is None or "na" in d:
            w(f"| {title} | n/a: {d['na'] if d else 'not run'} |||||||||| ")
            continue
        bound, what = c.bound(d)
        ratio = d["msgs_per_s"] / bound if bound else None
        w(f"| {title} | {fmt_int(d['msgs_per_s'])} | {fmt_f(d['mb_per_s'])} | "
          f"{fmt_int(d['requests_per_s'])} | {fmt_f(lat(d, 'p50'), 2)} | "
          f"{fmt_f(lat(d, 'p99'), 2)} | {fmt_f(lat(d, 'p999'), 2)} | "
          f"{fmt_f(lat(d, 'max'), 1)} | {fmt_int(bound)} ({what}) | "
          f"{fmt_f(ratio * 100 if ratio is not None else None, 1)} %"
          f"{' (ceiling under-measured: machine busy)' if ratio and ratio > 1 else ''} | "
          f"{stack_ratio(c, d)} | "
          f"{verified(d)} | "
          f"{preempt(d)} |")
        if row == "produce-fetch-100x1000" and d.get("fetch"):
            f = d["fetch"]
            w(f"| ... its fetch side | {fmt_int(f['msgs_per_s'])} | {fmt_f(f['mb_per_s'])} | "
              f"{fmt_int(f['requests_per_s'])} | {fmt_f(lat(f, 'p50'), 2)} | "
              f"{fmt_f(lat(f, 'p99'), 2)} | {fmt_f(lat(f, 'p999'), 2)} | "
              f"{fmt_f(lat(f, 'max'), 1)} | | | |")
        if row == "produce-fetch-100x1000" and d.get("e2e_latency_us"):
            e = {"latency_us": d["e2e_latency_us"]}
            w(f"| ... end to end (produce sent to fetched) | | | | "
              f"{fmt_f(lat(e, 'p50'), 2)} | {fmt_f(lat(e, 'p99'), 2)} | "
              f"{fmt_f(lat(e, 'p999'), 2)} | {fmt_f(lat(e, 'max'), 1)} | | | |")
    w("")
    w("## Latency under load (open loop, 100 B x 1000/batch, acks=1)\n")
    w("Requests leave on a fixed schedule; latency counts from the scheduled "
      "time, so stalls are not hidden (no coordinated omission).\n")
    w("| load | target msgs/s | achieved msgs/s | p50 us | p99 us | p99.9 us | max us | late sends | p99 / RTT-floor p99 | verified | bench preempted /s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for row, pct in LAT_ROWS:
        d = runs.get(("fluxmq-memif", row))
        if d is None or "na" in d:
            w(f"| {pct} % of max | n/a: {d['na'] if d else 'not run'} |||||||||")
            continue
        p99 = lat(d, "p99")
        rel = p99 / c.rtt_p99 if p99 and c.rtt_p99 else None
        w(f"| {pct} % of max | {fmt_int(d['target_msgs_per_s'])} | {fmt_int(d['msgs_per_s'])} | "
          f"{fmt_f(lat(d, 'p50'), 2)} | {fmt_f(p99, 2)} | {fmt_f(lat(d, 'p999'), 2)} | "
          f"{fmt_f(lat(d, 'max'), 1)} | {d.get('late_sends', 0):,} | "
          f"{fmt_f(rel, 1)}x | {verified(d)} | {preempt(d)} |")
    w("")
    w("## Peers (same message sizes)\n")
    w("rdkafka_performance is built from the example source Debian's "
      "librdkafka-dev ships; the mock is librdkafka's mock cluster "
      "(rdkafka_mock.h) run by bench/peers/mock_cluster.c on loopback. "
      "The kernel-socket runs go through the Linux TCP stack (FluxMQ: "
      "through its TAP interface).\n")
    w("| client -> broker | workload | msgs/s | MB/s | p50 us | p99 us | FluxMQ memif, same shape |")
    w("|---|---|---|---|---|---|---|")
    same = {"rdkafka-produce-100x1000": "produce-100x1000-acks1",
            "kernel-produce-100x1000": "produce-100x1000-acks1",
            "rdkafka-produce-1024x100": "produce-1kx100",
            "kernel-produce-1024x100": "produce-1kx100",
            "rdkafka-fetch": "fetch-100x1000",
            "kernel-fetch": "fetch-100x1000"}
    for system, sname in (("fluxmq-tap", "FluxMQ via TAP"),
                          ("mock-loopback", "librdkafka mock, loopback")):
        for row, title in PEER_ROWS:
            d = runs.get((system, row))
            if d is None:
                continue
            if "na" in d:
                w(f"| {sname} | {title} | n/a: {d['na']} |||||")
                continue
            ours = runs.get(("fluxmq-memif", same.get(row, "")))
            rel = (ours["msgs_per_s"] / d["msgs_per_s"]
                   if ours and "na" not in ours and d.get("msgs_per_s") else None)
            w(f"| {sname} | {title} | {fmt_int(d.get('msgs_per_s'))} | "
              f"{fmt_f(d.get('mb_per_s'))} | {fmt_f(lat(d, 'p50'), 1)} | "
              f"{fmt_f(lat(d, 'p99'), 1)} | {fmt_f(rel, 1) + 'x' if rel else '-'} |")
    w("")
    sl = scale_lines(runs, c)
    if sl:
        w("## Data-lcore scaling (bench/scale.sh)\n")
        w("The same produce and fetch workloads against a broker with 1..N "
          "data lcores over memif (fluxmq-bench --queues N; connections "
          "aimed at the broker's lcores by their flow hash). See "
          "docs/benchmarks.md for the CPU layout.\n")
        out.extend(sl)
        w("")
    w("## Targets\n")
    w("| target | required | measured | met |")
    w("|---|---|---|---|")
    p = runs.get(("fluxmq-memif", "produce-100x1000-acks1"), {})
    f = runs.get(("fluxmq-memif", "fetch-100x1000"), {})
    l50 = runs.get(("fluxmq-memif", "latency-50"), {})

    def met(ok):
        return "-" if ok is None else ("yes" if ok else "**no**")
    pr = p.get("msgs_per_s")
    fr = f.get("msgs_per_s")
    lp = lat(l50, "p99")
    w(f"| produce 100 B x 1000, acks=1, one data lcore | >= 10,000,000 msg/s | {fmt_int(pr)} | "
      f"{met(None if pr is None else pr >= 1e7)} |")
    w(f"| fetch rate vs produce rate | >= produce | {fmt_int(fr)} | "
      f"{met(None if fr is None or pr is None else fr >= pr)} |")
    w(f"| produce p99 at 50 % of max rate | <= 20 us | {fmt_f(lp, 2)} us | "
      f"{met(None if lp is None else lp <= 20)} |")
    w("")
    imgs = plots(a, runs)
    if imgs:
        w("## Plots\n")
        for title, fname in imgs:
            w(f"![{title}]({fname})\n")
    w("Raw JSON lines of every run:\n")
    w("```")
    with open(a.runs) as fr_:
        for line in fr_:
            w(line.rstrip())
    w("```")
    path = os.path.join(a.out, a.name + ".md")
    with open(path, "w") as fo:
        fo.write("\n".join(out) + "\n")
    print(path)
    return 0


def plots(a, runs):
    if shutil.which("gnuplot") is None:
        return []
    made = []
    # Throughput per workload (log scale: peers and FluxMQ differ a lot).
    dat = os.path.join(a.cdf_dir, "throughput.dat")
    n = 0
    with open(dat, "w") as f:
        for (system, row), d in sorted(runs.items()):
            if system == "machine" or "na" in d or not d.get("msgs_per_s"):
                continue
            if row.startswith("echo"):
                continue
            f.write(f"\"{system}/{row}\" {d['msgs_per_s']:.0f}\n")
            n += 1
    png = a.name + "-throughput.png"
    if n:
        script = f"""
set terminal pngcairo size 1200,{300 + 28 * n} font ",10"
set output "{os.path.join(a.out, png)}"
set title "Throughput per workload (msgs/s, log scale)"
set style data histogram
set style fill solid 0.8 border -1
set boxwidth 0.8
set logscale y
set yrange [1000:*]
set xtics rotate by -50 left
set grid ytics
set bmargin 16
unset key
plot "{dat}" using 2:xtic(1) lc rgb "#3060a0"
"""
        if subprocess.run(["gnuplot"], input=script, text=True).returncode == 0:
            made.append(("throughput per workload", png))
    # Latency CDFs.
    series = []
    for fname, title in (("cdf-echo-rtt.txt", "TCP-lite echo RTT (floor)"),
                         ("cdf-produce-closed.txt", "produce, closed loop (max rate)"),
                         ("cdf-open-10.txt", "produce at 10 % of max"),
                         ("cdf-open-50.txt", "produce at 50 % of max"),
                         ("cdf-open-90.txt", "produce at 90 % of max")):
        p = os.path.join(a.cdf_dir, fname)
        if os.path.exists(p) and os.path.getsize(p) > 80:
            series.append(f'"{p}" using (1/(1-$1)):2 with lines lw 2 title "{title}"')
    png = a.name + "-latency.png"
    if series:
        # HdrHistogram-style: percentiles spread out towards the tail.
        script = f"""
set terminal pngcairo size 1000,600 font ",10"
set output "{os.path.join(a.out, png)}"
set title "Latency by percentile (FluxMQ over memif)"
set logscale x
set logscale y
set xrange [1:100000]
set xtics ("0%%" 1, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000)
set xlabel "percentile"
set ylabel "latency (us)"
set grid
set key top left
plot {", ".join(series)}
"""
        if subprocess.run(["gnuplot"], input=script, text=True).returncode == 0:
            made.append(("latency by percentile", png))
    return made


# ---------------------------------------------------------------- scaling
SCALE_METRICS = {
    "fluxmq_kafka_produce_batches_total": "produce_batches",
    "fluxmq_kafka_xlcore_sent_total": "xlcore_sent",
    "fluxmq_kafka_fetch_zero_copy_bytes_total": "fetch_zc_bytes",
    "fluxmq_kafka_fetch_copied_bytes_total": "fetch_copied_bytes",
    "fluxmq_kafka_xlcore_served_total": "xlcore_served",
    "fluxmq_kafka_connections_opened_total": "connections",
    "fluxmq_lcore_rx_packets_total": "rx_pkts",
    "fluxmq_lcore_steered_out_total": "steered_out",
    "fluxmq_lcore_tx_handed_total": "tx_handed",
    "fluxmq_lcore_busy_cycles_total": "busy_cycles",
    "fluxmq_lcore_idle_cycles_total": "idle_cycles",
    "fluxmq_lcore_pmd_faults_total": "pmd_faults",
}


def prom_per_lcore(path):
    vals = {}
    try:
        text = open(path).read()
    except OSError:
        return vals
    for m in re.finditer(r'^(fluxmq_[a-z_]+)\{lcore="(\d+)"\} (\d+)$', text,
                         re.M):
        name = SCALE_METRICS.get(m.group(1))
        if name:
            vals.setdefault(name, {})[int(m.group(2))] = int(m.group(3))
    return vals


def metrics_delta(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--lcores", type=int, required=True)
    ap.add_argument("--poll", default="?")
    ap.add_argument("--placement", default="?")
    ap.add_argument("--bench-cpu", type=int, default=-1)
    ap.add_argument("--ncpu", type=int, default=os.cpu_count())
    ap.add_argument("--connect-retries", type=int, default=0)
    a = ap.parse_args(argv)
    b, e = prom_per_lcore(a.before), prom_per_lcore(a.after)
    per = {}
    for name in SCALE_METRICS.values():
        per[name] = [e.get(name, {}).get(i, 0) - b.get(name, {}).get(i, 0)
                     for i in range(a.lcores)]
    busy = [bc / (bc + ic) if bc + ic else 0.0
            for bc, ic in zip(per.pop("busy_cycles"), per.pop("idle_cycles"))]
    per["fetch_bytes"] = [z + c for z, c in zip(per.pop("fetch_zc_bytes"),
                                                per.pop("fetch_copied_bytes"))]
    shared = [((i % a.ncpu) == a.bench_cpu) for i in range(a.lcores)]
    d = {"lcores": a.lcores, "poll": a.poll, "placement": a.placement,
         "ncpu": a.ncpu, "bench_cpu": a.bench_cpu,
         "lcore_cpu": [i % a.ncpu for i in range(a.lcores)],
         "lcore_shares_cpu_with_bench": shared,
         "per_lcore": per, "busy_share": [round(x, 3) for x in busy],
         "connect_retries": a.connect_retries,
         "metrics_read": bool(e)}
    print(json.dumps(d))
    return 0


SCALE_WL = [("produce", "produce 100 B x 1000, acks=1, own lcore"),
            ("fetch", "fetch 100 B x 1000, own lcore"),
            ("produce-cross", "produce 100 B x 1000, acks=1, cross lcore"),
            ("produce-steer", "produce as above, own lcore, all sent on queue 0 "
             "(broker steers in software)")]


def scale_rows(runs):
    """{(poll, wl): {n: [d, ...]}} of the scaling runs (repeats in order)."""
    out = {}
    for (system, row), d in sorted(runs.items()):
        m = re.match(r"scale-(produce-cross|produce-steer|produce|fetch)-(busy|adaptive)"
                     r"-n(\d+)(?:-r(\d+))?$", row)
        if system != "fluxmq-memif-scale" or not m:
            continue
        out.setdefault((m.group(2), m.group(1)), {}).setdefault(
            int(m.group(3)), []).append(d)
    return out


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def scale_lines(runs, c):
    rows = scale_rows(runs)
    if not rows:
        return []
    out = []
    w = out.append
    reps = max(len(ds) for by_n in rows.values() for ds in by_n.values())
    w("| poll | workload | data lcores | msgs/s" +
      (f" (median of {reps}; range)" if reps > 1 else "") +
      " | vs 1 lcore | ceiling msgs/s | of ceiling | work per lcore | "
      "cross-lcore partition ops | packets steered | lcore busy share | bench CPU shared | "
      "bench preempted /s | verified |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for poll in ("busy", "adaptive"):
        for wl, title in SCALE_WL:
            by_n = rows.get((poll, wl))
            if not by_n:
                continue
            base_ds = rows.get((poll, "produce" if wl.startswith("produce") else wl),
                               {}).get(1, [])
            base = median([d["msgs_per_s"] for d in base_ds if "na" not in d])
            for n in sorted(by_n):
                ok = [d for d in by_n[n] if "na" not in d]
                failed = [d for d in by_n[n] if "na" in d]
                if not ok:
                    w(f"| {poll} | {title} | {n} | n/a: {failed[0]['na']} |||||||||||")
                    continue
                rates = [d["msgs_per_s"] for d in ok]
                med = median(rates)
                # The run closest to the median stands for the row.
                d = min(ok, key=lambda x: abs(x["msgs_per_s"] - med))
                sc = d.get("scale", {})
                bound, what = c.bound(d)
                rel = med / base if base else None
                per = sc.get("per_lcore", {})
                shared = any(sc.get("lcore_shares_cpu_with_bench", []))
                if wl == "fetch":
                    work = " / ".join(f"{x / 1e6:,.0f} MB"
                                      for x in per.get("fetch_bytes", []))
                else:
                    work = " / ".join(f"{x:,} batches"
                                      for x in per.get("produce_batches", []))
                over = bound and med > bound
                rng = (f" ({min(rates) / 1e6:.2f}-{max(rates) / 1e6:.2f} M)"
                       if len(rates) > 1 else "")
                vok = all((x.get("verify") or {}).get("ok") for x in ok)
                nread = sum((x.get("verify") or {}).get("read_back", 0) for x in ok)
                retried = sum(x.get("scale", {}).get("connect_retries", 0)
                              for x in by_n[n])
                ver = (f"yes ({nread:,} in {len(ok)} run(s))" if vok else
                       "**NO**") + (f", {len(failed)} failed" if failed else "") + \
                    (f", {retried} connect retry" if retried else "")
                w(f"| {poll} | {title} | {n} | {fmt_int(med)}{rng} | "
                  f"{fmt_f(rel, 2) + 'x' if rel else '-'} | "
                  f"{fmt_int(bound)} ({what}) | "
                  f"{fmt_f(med / bound * 100 if bound else None, 1)} %"
                  f"{' (ceiling under-measured)' if over else ''} | "
                  f"{work or '-'} | "
                  f"{sum(per.get('xlcore_sent', [])):,} | "
                  f"{sum(per.get('steered_out', [])):,} | "
                  f"{' / '.join(f'{x * 100:.0f} %' for x in sc.get('busy_share', []))} | "
                  f"{'yes' if shared else 'no'} | {preempt(d)} | {ver} |")
    out.append("")
    out.append("Ratios are medians against one data lcore's median in the "
               "same poll mode and workload (cross-lcore and steering rows: "
               "against one lcore's own-lcore produce). The broker columns come from the "
               "run closest to the median. "
               "\"Work per lcore\": record batches each lcore appended (as the "
               "partition's owner) or fetch bytes it served, including the "
               "preload and the verification read-back; \"cross-lcore partition "
               "ops\" counts partition operations an lcore sent to the owning "
               "lcore (fluxmq_kafka_xlcore_sent_total), read from the broker's "
               "/metrics around each run; \"packets steered\": packets an lcore "
               "passed to the flow's lcore in software "
               "(fluxmq_lcore_steered_out_total). \"Lcore busy share\": cycles of polls "
               "that found work over all cycles (busy polling spins the rest). "
               "A ceiling below the figure was under-measured on a busy "
               "machine (the memif packet rate moves most).")
    return out


def scale_table(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--full", action="store_true")
    a = ap.parse_args(argv)
    runs = load(a.runs)
    c = Ceilings(runs)
    lines = scale_lines(runs, c)
    if not a.full:
        print("\n".join(lines))
        return 0 if lines else 1
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print("# FluxMQ data-lcore scaling over memif\n")
    print(f"- Machine: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}; "
          f"load average at the end: {' '.join(loadavg())}")
    print(f"- Commit {commit or '?'}; bench/scale.sh")
    print(f"- Ceilings in this run: memcpy {fmt_f(c.memcpy / 1e9, 2)} GB/s, "
          f"crc32c {fmt_f(c.crc / 1e9, 2)} GB/s (one core), memif "
          f"{fmt_f(c.pps1500 / 1e6, 2)} Mpps at 1500 B "
          f"(= {fmt_f(c.memif_bytes / 1e9, 2)} GB/s of TCP payload)\n")
    print("\n".join(lines))
    print("\nRaw JSON lines of every run:\n\n```")
    with open(a.runs) as f:
        for line in f:
            print(line.rstrip())
    print("```")
    return 0


def check(a):
    runs = load(a.runs)
    bad = []
    for (system, row), d in runs.items():
        # The echo rows are ceilings of the network path, not Kafka runs.
        if not system.startswith("fluxmq") or row.startswith("echo"):
            continue
        if "na" in d:
            if d["na"].startswith("run failed"):
                bad.append(f"{system}/{row}: {d['na']}")
            continue
        v = d.get("verify")
        if v is not None and not v.get("ok"):
            bad.append(f"{system}/{row}: verification failed: {v}")
        if d.get("kafka_errors") or d.get("protocol_errors"):
            bad.append(f"{system}/{row}: {d.get('kafka_errors')} Kafka and "
                       f"{d.get('protocol_errors')} protocol errors")
    for b in bad:
        print("run-suite: " + b, file=sys.stderr)
    return 1 if bad else 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "metrics-delta":
        return metrics_delta(sys.argv[2:])
    if len(sys.argv) >= 2 and sys.argv[1] == "scale-table":
        return scale_table(sys.argv[2:])
    if len(sys.argv) >= 4 and sys.argv[1] == "parse-rdkafka":
        print(json.dumps(parse_rdkafka(sys.argv[2], sys.argv[3], sys.stdin.read())))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["report", "check"])
    ap.add_argument("--runs", required=True)
    ap.add_argument("--cdf-dir", default=".")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--name", default="results")
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--poll", default="?")
    ap.add_argument("--kafka", type=int, default=1)
    a = ap.parse_args()
    return report(a) if a.cmd == "report" else check(a)


if __name__ == "__main__":
    sys.exit(main())
