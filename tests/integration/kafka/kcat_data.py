#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Deterministic message sets for test_kafka_kcat.sh.

  kcat_data.py gen GROUP            write GROUP's messages as kcat -P input
                                    (key TAB value NL; see below)
  kcat_data.py check GROUP T0 T1    read kcat -C output (the -f format in
                                    FORMAT) on stdin and compare every
                                    offset, key, value, header and timestamp
                                    with GROUP's messages; T0/T1 bound the
                                    producer's run (ms since the epoch)

Both sides regenerate the same messages from a per-group seed, so nothing
large is written to disk. Keys and values are random bytes except TAB and
NL (kcat's key and message delimiters). How kcat maps a line (checked by
hand with kcat 1.7.1 / librdkafka 2.0.2):

  without -Z: "k TAB v" -> key k, value v; "TAB v" -> key "" (0 bytes, not
              null); "k TAB" -> value "" (0 bytes, not null); a line
              without TAB -> null key; an empty line is skipped.
  with -Z:    an empty key or value is sent as null.
"""
import random
import sys

# Consumer output format: header line, then key bytes, value bytes and NL.
# %K/%S are -1 for null, so the stream parses without any delimiter in the
# data being special.
FORMAT = r'%o %T %K %S %h\n%k%s\n'

# group: (seed, count, kcat -Z, key mode, sizes, headers as kcat prints them)
GROUPS = {
    # keys (some empty), 0..4 KiB values including empty ones, headers
    "A": (101, 100000, False, "key", "mixed", "app=fluxmq,grp=A"),
    # -Z: null keys and null values mixed in; an empty and a null header
    "B": (202, 60000, True, "key", "mixed", "grp=B,empty=,nul=NULL"),
    # no key at all, no headers (sent with compression by the test)
    "C": (303, 40000, False, "none", "mixed", ""),
    # 200 large values up to 900 KiB, with keys and a header
    "D": (404, 200, False, "key", "large", "grp=D"),
}

_TR = bytes(0x20 if b in (9, 10) else b for b in range(256))


def _bytes(rnd, n):
    return rnd.randbytes(n).translate(_TR)


def _size(rnd, kind, i):
    if kind == "large":
        # the edges first, then spread up to 900 KiB
        if i < 3:
            return (900 * 1024, 900 * 1024 - 1, 512 * 1024)[i]
        return rnd.randint(4097, 900 * 1024)
    if i < 8:
        return (0, 1, 2, 127, 128, 4095, 4096, 0)[i]
    r = rnd.random()
    if r < 0.08:
        return 0
    if r < 0.55:
        return rnd.randint(1, 100)
    if r < 0.85:
        return rnd.randint(101, 1024)
    return rnd.randint(1025, 4096)


def messages(group):
    """Yield (key, value) for group; None means null."""
    seed, count, nulls, keymode, sizes, _ = GROUPS[group]
    rnd = random.Random(seed)
    for i in range(count):
        n = _size(rnd, sizes, i)
        v = _bytes(rnd, n)
        if keymode == "none":
            k = None
        else:
            kl = rnd.choice((0, 1, 8, 16, 40)) if i % 7 else 0
            k = _bytes(rnd, kl)
        if nulls:
            # kcat -Z sends empty keys/values as null
            k = None if k is not None and len(k) == 0 else k
            v = None if len(v) == 0 else v
        elif keymode == "none" and len(v) == 0:
            # kcat skips an empty line: give it one byte
            v = b"x"
        yield k, v


def gen(group):
    out = sys.stdout.buffer
    _, _, nulls, keymode, _, _ = GROUPS[group]
    buf = []
    for k, v in messages(group):
        if keymode == "none":
            line = v
        else:
            line = (k or b"") + b"\t" + (v or b"")
        buf.append(line + b"\n")
        if len(buf) >= 1024:
            out.write(b"".join(buf))
            buf = []
    out.write(b"".join(buf))
    out.flush()


def check(group, t0, t1):
    inp = sys.stdin.buffer
    headers = GROUPS[group][5]
    last_ts = 0
    n = 0
    for k, v in messages(group):
        line = inp.readline()
        if not line:
            raise SystemExit(f"group {group}: output ends after {n} messages")
        parts = line.rstrip(b"\n").split(b" ", 4)
        if len(parts) < 4:
            raise SystemExit(f"group {group} #{n}: bad line {line[:80]!r}")
        off, ts, kl, vl = (int(x) for x in parts[:4])
        hdr = parts[4].decode() if len(parts) == 5 else ""
        gk = inp.read(kl) if kl >= 0 else None
        gv = inp.read(vl) if vl >= 0 else None
        if inp.read(1) != b"\n":
            raise SystemExit(f"group {group} #{n}: record not followed by NL")
        where = f"group {group} message #{n} (offset {off})"
        if off != n:
            raise SystemExit(f"{where}: expected offset {n}")
        if gk != k:
            raise SystemExit(f"{where}: key differs: got "
                             f"{None if gk is None else len(gk)} bytes, "
                             f"want {None if k is None else len(k)}")
        if gv != v:
            raise SystemExit(f"{where}: value differs: got "
                             f"{None if gv is None else len(gv)} bytes, "
                             f"want {None if v is None else len(v)}")
        if hdr != headers:
            raise SystemExit(f"{where}: headers {hdr!r}, want {headers!r}")
        # CreateTime from the producer: inside its run, never decreasing
        if not t0 <= ts <= t1 or ts < last_ts:
            raise SystemExit(f"{where}: timestamp {ts} outside [{t0}, {t1}] "
                             f"or before the previous one ({last_ts})")
        last_ts = ts
        n += 1
    extra = inp.read(1)
    if extra:
        raise SystemExit(f"group {group}: more output after {n} messages")
    print(f"group {group}: {n} messages identical (keys, values, headers, "
          f"timestamps, offsets 0..{n - 1})")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 2 and sys.argv[1] == "format":
        print(FORMAT)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
