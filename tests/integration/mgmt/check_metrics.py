#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check a /metrics scrape against the Prometheus text format, strictly.

Usage: check_metrics.py FILE [REQUIRED_FAMILY...]

Parses FILE with the Prometheus project's own parser (python3-prometheus-
client), then checks what the parser lets through but Prometheus or
PromQL users trip on: each family declared once with HELP and TYPE
before its samples, one family per name, no duplicate series, counters
named *_total, histograms with cumulative buckets ending at le="+Inf"
that equal _count, label names and values well formed, no NaN in
counters, and every REQUIRED_FAMILY declared (a labelled family with
no series yet, such as errors never returned, is declared and empty).
Prints one line per problem and exits 1 if any.
"""
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    required = sys.argv[2:]
    problems = []

    # 1. Line-level: HELP/TYPE once each and before the samples.
    declared = {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name = line[2:6], line.split(" ")[2]
            if (name, kind) in declared:
                problems.append("line %d: second %s for %s" % (n, kind, name))
            declared[(name, kind)] = n
        elif line and not line.startswith("#"):
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
            if not m:
                problems.append("line %d: bad sample line: %r" % (n, line))
                continue
            base = re.sub(r"_(bucket|sum|count|total|created)$", "", m.group(1))
            if ((m.group(1), "TYPE") not in declared and
                    (base, "TYPE") not in declared):
                problems.append("line %d: sample %s before (or without) its "
                                "TYPE" % (n, m.group(1)))
    for (name, kind) in list(declared):
        other = "HELP" if kind == "TYPE" else "TYPE"
        if (name, other) not in declared:
            problems.append("%s has %s but no %s" % (name, kind, other))

    # 2. The official parser, then per-family checks.
    try:
        fams = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own error names the line
        print("prometheus_client parser refused the scrape: %s" % e)
        return 1
    seen_fam = set()
    nsamples = 0
    for f in fams:
        if f.name in seen_fam:
            problems.append("family %s appears twice" % f.name)
        seen_fam.add(f.name)
        if not NAME.match(f.name):
            problems.append("bad family name %r" % f.name)
        if f.type == "counter" and any(s.name == f.name for s in f.samples):
            problems.append("counter %s has samples without _total" % f.name)
        series = set()
        for s in f.samples:
            nsamples += 1
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in series:
                problems.append("duplicate series %s%s" % (s.name, s.labels))
            series.add(key)
            for k, v in s.labels.items():
                if not LABEL.match(k) or k.startswith("__"):
                    problems.append("%s: bad label name %r" % (s.name, k))
                if "\n" in v:
                    problems.append("%s: newline in label %s" % (s.name, k))
            if f.type == "counter":
                if math.isnan(s.value) or s.value < 0:
                    problems.append("counter %s%s = %r" % (s.name, s.labels,
                                                           s.value))
        if f.type == "histogram":
            groups = {}
            for s in f.samples:
                lab = tuple(sorted((k, v) for k, v in s.labels.items()
                                   if k != "le"))
                groups.setdefault(lab, {"b": [], "count": None})
                if s.name.endswith("_bucket"):
                    groups[lab]["b"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    groups[lab]["count"] = s.value
            for lab, g in groups.items():
                b = sorted(g["b"])
                if not b or not math.isinf(b[-1][0]):
                    problems.append("histogram %s%s has no le=+Inf bucket"
                                    % (f.name, dict(lab)))
                    continue
                if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                    problems.append("histogram %s%s buckets not cumulative"
                                    % (f.name, dict(lab)))
                if g["count"] is None or g["count"] != b[-1][1]:
                    problems.append("histogram %s%s: _count %r != +Inf "
                                    "bucket %r" % (f.name, dict(lab),
                                                   g["count"], b[-1][1]))
    for r in required:
        if not [x for x in fams if x.name == r]:
            problems.append("required family %s missing" % r)
    for p in problems:
        print(p)
    print("%d families, %d samples, %d problems" % (len(fams), nsamples,
                                                    len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
