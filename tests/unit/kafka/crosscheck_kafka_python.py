#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Cross-check lib/kafka against kafka-python's protocol definitions.

For every request/response class kafka-python defines whose API and version
we advertise, build random bodies with kafka-python's own encoder, then
decode and re-encode them with lib/kafka (kafka_codec_tool): the bytes must
be identical. kafka-python's schemas are hand-written, ours generated from
Kafka's JSON, so agreement checks the generator's reading of the schemas.
Known kafka-python schema bugs are listed in KNOWN and must still differ
(so the list cannot rot). Exit 77 when kafka-python is missing.
"""
import importlib
import inspect
import pkgutil
import os
import random
import subprocess
import sys

# Random bodies per message class and version. The sanitize build runs
# the tool under ASan, where the whole check took 18x longer (731 s
# against 41 s on a loaded CI machine): it passes a smaller count
# (FMQ_CROSSCHECK_ROUNDS) so every class is still covered, in minutes.
ROUNDS = int(os.environ.get("FMQ_CROSSCHECK_ROUNDS", "20"))

try:
    import kafka.protocol as kp
    from kafka.protocol.api import Request, Response
    from kafka.protocol import types as T
except ImportError:
    sys.exit(77)

ADVERTISED = {0: (0, 9), 1: (4, 12), 2: (1, 7), 3: (0, 12), 8: (0, 8),
              9: (0, 8), 10: (0, 4), 11: (0, 9), 12: (0, 4), 13: (0, 5),
              14: (0, 5), 15: (0, 5), 16: (0, 4), 18: (0, 3), 19: (0, 7),
              20: (0, 6), 22: (0, 4), 32: (0, 4), 33: (0, 2), 37: (0, 3),
              42: (0, 2),
              44: (0, 1), 47: (0, 0), 60: (0, 0)}

# (api, version, kind): why kafka-python's hand-written schema is not Kafka's.
KNOWN = {
    (10, 1, "resp"): "kafka-python omits ThrottleTimeMs, which "
                     "FindCoordinatorResponse.json has from v1",
    (15, 3, "resp"): "kafka-python puts AuthorizedOperations after the "
                     "groups array; DescribeGroupsResponse.json has it in "
                     "each DescribedGroup",
}


def rand_value(t, rng, depth=0):
    if isinstance(t, T.Schema):
        return tuple(rand_value(ft, rng, depth + 1) for ft in t.fields)
    if isinstance(t, T.Array):
        n = rng.randrange(0, 3 if depth < 3 else 1)
        return [rand_value(t.array_of, rng, depth + 1) for _ in range(n)]
    if isinstance(t, T.Boolean) or t is T.Boolean:
        return rng.random() < 0.5
    for typ, bits in ((T.Int8, 8), (T.Int16, 16), (T.Int32, 32),
                      (T.Int64, 64)):
        if t is typ or isinstance(t, typ):
            return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    if isinstance(t, T.String) or t is T.String:
        return "".join(rng.choice("abcxyz-._") for _ in
                       range(rng.randrange(0, 12)))
    if isinstance(t, T.Bytes) or t is T.Bytes:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 20)))
    raise TypeError("unhandled kafka-python type %r" % (t,))


def main():
    tool = sys.argv[1]
    rng = random.Random(20240927)
    classes = {}
    for m in pkgutil.iter_modules(kp.__path__):
        mod = importlib.import_module("kafka.protocol." + m.name)
        for _, c in inspect.getmembers(mod, inspect.isclass):
            if (issubclass(c, (Request, Response)) and
                    c not in (Request, Response) and
                    isinstance(getattr(c, "API_KEY", None), int) and
                    isinstance(getattr(c, "API_VERSION", None), int)):
                kind = "req" if issubclass(c, Request) else "resp"
                classes[(c.API_KEY, c.API_VERSION, kind)] = c
    checked = failed = 0
    for (key, ver, kind), c in sorted(classes.items()):
        if key not in ADVERTISED:
            continue
        lo, hi = ADVERTISED[key]
        if not lo <= ver <= hi:
            continue
        bad = None
        name = "%s v%d" % (c.__name__, ver)
        skip = False
        for _ in range(ROUNDS):
            try:
                body = c.SCHEMA.encode(rand_value(c.SCHEMA, rng))
            except Exception as e:
                # kafka-python cannot encode this one itself (its bug)
                print("skip %s: kafka-python's encoder fails: %r" % (name, e))
                skip = True
                break
            r = subprocess.run([tool, str(key), str(ver), kind], input=body,
                               capture_output=True)
            if r.returncode != 0:
                bad = r.stderr.decode().strip()
                break
            if r.stdout != body:
                bad = "re-encoded bytes differ (%d vs %d bytes)" % (
                    len(r.stdout), len(body))
                break
        if skip:
            continue
        if (key, ver, kind) in KNOWN:
            if bad is None:
                print("FAIL %s: listed as a kafka-python bug but agrees" % name)
                failed += 1
            else:
                print("known %s: %s" % (name, KNOWN[(key, ver, kind)]))
            continue
        checked += 1
        if bad is not None:
            print("FAIL %s: %s" % (name, bad))
            failed += 1
    print("%d kafka-python message versions checked, %d failed"
          % (checked, failed))
    return 1 if failed or checked < 50 else 0


if __name__ == "__main__":
    sys.exit(main())
