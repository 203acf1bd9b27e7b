#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kgen: generate FluxMQ's Kafka message codecs from Kafka's JSON schemas.

Usage: kgen.py [SCHEMA_DIR] [--lib-out DIR] [--test-out DIR]

SCHEMA_DIR (default: lib/kafka/schemas, the checked-in copies) holds
apache/kafka's clients/src/main/resources/common/message schemas (any
release whose validVersions cover the ranges in APIS below). The output is
C: one struct per message and nested struct, and for each message
_init/_decode/_encode/_size functions, the advertised version table and a
dispatch over API keys. --test-out also writes random fillers used by the
round-trip unit tests. Python 3 standard library only.

Only the versions we advertise (APIS) are generated; fields that exist only
outside them are left out of the structs.
"""

import argparse
import json
import os
import re
import sys

# The advertised table (/work/shared/kafka-apis.md): name, key, min, max.
APIS = [
    ("Produce", 0, 0, 11),
    ("Fetch", 1, 4, 17),
    ("ListOffsets", 2, 1, 9),
    ("Metadata", 3, 0, 12),
    ("OffsetCommit", 8, 0, 9),
    ("OffsetFetch", 9, 0, 9),
    ("FindCoordinator", 10, 0, 4),
    ("JoinGroup", 11, 0, 9),
    ("Heartbeat", 12, 0, 4),
    ("LeaveGroup", 13, 0, 5),
    ("SyncGroup", 14, 0, 5),
    ("DescribeGroups", 15, 0, 5),
    ("ListGroups", 16, 0, 5),
    ("SaslHandshake", 17, 0, 1),
    ("ApiVersions", 18, 0, 3),
    ("CreateTopics", 19, 0, 7),
    ("DeleteTopics", 20, 0, 6),
    ("DeleteRecords", 21, 0, 2),
    ("InitProducerId", 22, 0, 4),
    ("OffsetForLeaderEpoch", 23, 0, 4),
    ("AddPartitionsToTxn", 24, 0, 3),
    ("AddOffsetsToTxn", 25, 0, 3),
    ("EndTxn", 26, 0, 3),
    ("WriteTxnMarkers", 27, 0, 1),
    ("TxnOffsetCommit", 28, 0, 3),
    ("DescribeAcls", 29, 0, 3),
    ("CreateAcls", 30, 0, 3),
    ("DeleteAcls", 31, 0, 3),
    ("DescribeConfigs", 32, 0, 4),
    ("AlterConfigs", 33, 0, 2),
    ("DescribeLogDirs", 35, 0, 4),
    ("SaslAuthenticate", 36, 0, 2),
    ("CreatePartitions", 37, 0, 3),
    ("DeleteGroups", 42, 0, 2),
    ("ElectLeaders", 43, 0, 2),
    ("IncrementalAlterConfigs", 44, 0, 1),
    ("AlterPartitionReassignments", 45, 0, 0),
    ("ListPartitionReassignments", 46, 0, 0),
    ("OffsetDelete", 47, 0, 0),
    ("DescribeClientQuotas", 48, 0, 1),
    ("AlterClientQuotas", 49, 0, 1),
    ("DescribeUserScramCredentials", 50, 0, 0),
    ("AlterUserScramCredentials", 51, 0, 0),
    ("DescribeCluster", 60, 0, 0),
    ("DescribeProducers", 61, 0, 0),
    ("DescribeTransactions", 65, 0, 0),
    ("ListTransactions", 66, 0, 1),
    ("ConsumerGroupHeartbeat", 68, 0, 1),
    ("ConsumerGroupDescribe", 69, 0, 0),
]

VMAX = 0x7FFF
C_KEYWORDS = {"default", "int", "char", "long", "short", "switch", "case",
              "for", "while", "do", "if", "else", "return", "struct",
              "union", "enum", "const", "static", "register", "auto",
              "signed", "unsigned", "void", "volatile", "goto", "break",
              "continue", "sizeof", "typedef", "extern", "float", "double",
              "inline", "restrict", "bool"}

PRIM = {
    # type: (C type, reader, writer, fixed size)
    "bool": ("bool", "bool", "bool", 1),
    "int8": ("int8_t", "i8", "i8", 1),
    "int16": ("int16_t", "i16", "i16", 2),
    "uint16": ("uint16_t", "u16", "u16", 2),
    "int32": ("int32_t", "i32", "i32", 4),
    "uint32": ("uint32_t", "u32", "u32", 4),
    "int64": ("int64_t", "i64", "i64", 8),
    "float64": ("double", "f64", "f64", 8),
    "uuid": ("struct fmq_kafka_uuid", "uuid", "uuid", 16),
}
VAR = {  # variable-size scalars
    "string": "struct fmq_kafka_str",
    "bytes": "struct fmq_kafka_bytes",
    "records": "struct fmq_kafka_records",
}


def die(msg):
    sys.stderr.write("kgen: " + msg + "\n")
    sys.exit(1)


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def parse_versions(s):
    """'0+', '3-5', '7', 'none' -> (lo, hi) or None."""
    if s is None:
        return None
    s = str(s).strip()
    if s == "none" or s == "":
        return None
    if s.endswith("+"):
        return (int(s[:-1]), VMAX)
    if "-" in s:
        a, b = s.split("-")
        return (int(a), int(b))
    return (int(s), int(s))


def vin(v, rng):
    return rng is not None and rng[0] <= v <= rng[1]


def load_json(path):
    with open(path) as f:
        txt = f.read()
    # Kafka's schemas carry // line comments (licence header, notes).
    lines = [l for l in txt.split("\n") if not l.strip().startswith("//")]
    try:
        return json.loads("\n".join(lines))
    except json.JSONDecodeError as e:
        die("%s: %s" % (path, e))


class Field:
    def __init__(self, d, msg):
        self.name = d["name"]
        self.cname = snake(self.name)
        if self.cname in C_KEYWORDS:
            self.cname += "_"
        self.type = d["type"]
        self.versions = parse_versions(d.get("versions"))
        if self.versions is None:
            die("%s.%s: no versions" % (msg.name, self.name))
        self.nullable = parse_versions(d.get("nullableVersions"))
        self.tag = d.get("tag")
        self.tagged = parse_versions(d.get("taggedVersions"))
        if (self.tag is None) != (self.tagged is None):
            die("%s.%s: tag without taggedVersions" % (msg.name, self.name))
        self.flex_override = ("flexibleVersions" in d)
        self.flexv = parse_versions(d.get("flexibleVersions"))
        self.default = d.get("default")
        self.about = d.get("about", "")
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.struct = None  # Struct for struct-typed fields / elements
        if self.elem not in PRIM and self.elem not in VAR:
            if self.elem in ("records",):
                die("array of records")
            self.struct = msg.struct_for(self.elem, d.get("fields"),
                                         d.get("versions"))
        elif "fields" in d:
            die("%s.%s: fields on a scalar" % (msg.name, self.name))
        # A nullable struct (not an array element) is preceded on the wire
        # by an int8 marker, -1 for null; C keeps it as <name>_present.
        self.nullable_struct = (self.struct is not None and
                                not self.is_array and
                                self.nullable is not None)


class Struct:
    def __init__(self, msg, name, fields_json, top=False):
        self.msg = msg
        self.name = name
        self.top = top
        if top:
            self.cname = "fmq_kafka_" + msg.cname
        else:
            self.cname = "fmq_kafka_%s_%s" % (msg.cname, snake(name))
        self.fields_json = fields_json
        self.fields = None

    def resolve(self):
        if self.fields is not None:
            return
        self.fields = []
        for fd in self.fields_json:
            f = Field(fd, self.msg)
            lo, hi = f.versions
            if hi < self.msg.vmin or lo > self.msg.vmax:
                continue  # never on the wire in our range
            self.fields.append(f)
        names = set()
        for f in self.fields:
            for n in (f.cname, f.cname + "_count"):
                if n in names:
                    die("%s: member name clash %s" % (self.cname, n))
            names.add(f.cname)
            if f.is_array:
                names.add(f.cname + "_count")
            if f.nullable_struct:
                if f.cname + "_present" in names:
                    die("%s: member name clash %s_present" % (self.cname,
                                                              f.cname))
                names.add(f.cname + "_present")
        for f in self.fields:
            if f.struct is not None:
                f.struct.resolve()

    def inline_fields(self):
        return [f for f in self.fields if f.tag is None]

    def tagged_fields(self):
        return sorted([f for f in self.fields if f.tag is not None],
                      key=lambda f: f.tag)


class Message:
    def __init__(self, j, api):
        self.name = j["name"]
        self.kind = j["type"]
        self.api = api
        self.api_name, self.api_key, self.vmin, self.vmax = api
        suffix = "req" if self.kind == "request" else "resp"
        self.cname = "%s_%s" % (snake(self.api_name), suffix)
        valid = parse_versions(j["validVersions"])
        if not (valid[0] <= self.vmin and self.vmax <= valid[1]):
            die("%s: schema validVersions %s do not cover %d-%d; use a schema "
                "snapshot that has them" % (self.name, j["validVersions"],
                                            self.vmin, self.vmax))
        self.flex = parse_versions(j["flexibleVersions"])
        self.flex_min = self.flex[0] if self.flex else VMAX
        self.structs = {}
        self.order = []
        self.common = {c["name"]: c for c in j.get("commonStructs", [])}
        self.top = Struct(self, self.name, j["fields"], top=True)
        self.top.resolve()

    def struct_for(self, name, fields, versions):
        if name in self.structs:
            if fields is not None and self.structs[name].fields_json is not fields \
                    and self.structs[name].fields_json != fields:
                die("%s: struct %s defined twice" % (self.name, name))
            return self.structs[name]
        if fields is None:
            if name not in self.common:
                die("%s: unknown type %s" % (self.name, name))
            fields = self.common[name]["fields"]
        s = Struct(self, name, fields)
        self.structs[name] = s
        self.order.append(s)
        return s

    def all_structs_bottom_up(self):
        out = []
        seen = set()

        def visit(s):
            if s.cname in seen:
                return
            seen.add(s.cname)
            for f in s.fields:
                if f.struct is not None:
                    visit(f.struct)
            out.append(s)
        visit(self.top)
        return out

    def flexible_in_range(self):
        return self.flex_min <= self.vmax


# ---------------------------------------------------------------------------
# Expressions over the version variable `v`
# ---------------------------------------------------------------------------

def vcond(msg, rng):
    """C condition for v in rng, simplified over [vmin, vmax]."""
    if rng is None:
        return "false"
    lo, hi = rng
    if hi < msg.vmin or lo > msg.vmax:
        return "false"
    parts = []
    if lo > msg.vmin:
        parts.append("v >= %d" % lo)
    if hi < msg.vmax:
        parts.append("v <= %d" % hi)
    if not parts:
        return "true"
    return "(" + " && ".join(parts) + ")"


def cand(*conds):
    c = [x for x in conds if x != "true"]
    if "false" in c:
        return "false"
    if not c:
        return "true"
    return " && ".join(c)


def compact_expr(msg, f):
    """C expression: does field f use the compact (flexible) encoding."""
    if f.flex_override:
        return vcond(msg, f.flexv)
    return "flex" if msg.flexible_in_range() else "false"


def ver_str(rng):
    if rng is None:
        return "none"
    lo, hi = rng
    if hi == VMAX:
        return "v%d+" % lo
    if lo == hi:
        return "v%d" % lo
    return "v%d-%d" % (lo, hi)


# ---------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------

def int_default(f):
    d = f.default
    if d is None:
        return 0
    if isinstance(d, bool):
        return int(d)
    if isinstance(d, int):
        return d
    return int(str(d), 0)


def c_int_lit(ctype, v):
    if ctype == "int64_t":
        if v == -(1 << 63):
            return "INT64_MIN"
        return "INT64_C(%d)" % v
    if ctype == "int32_t" and v == -(1 << 31):
        return "INT32_MIN"
    if ctype in ("uint32_t",):
        return "%dU" % v
    return "%d" % v


def c_str_lit(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_init_lines(f, lhs):
    """Statements setting lhs (an lvalue) to f's default (after memset 0)."""
    out = []
    t = f.type
    if f.is_array:
        if f.default == "null":
            out.append("%s_count = -1;" % lhs)
        return out
    if f.struct is not None:
        out.append("init_%s(&%s);" % (f.struct.cname, lhs))
        if f.nullable_struct and f.default != "null":
            out.append("%s_present = true;" % lhs)
        return out
    if t == "bool":
        d = f.default
        if d is True or str(d).lower() == "true":
            out.append("%s = true;" % lhs)
    elif t in PRIM and t not in ("uuid",):
        if t == "float64":
            if f.default not in (None, "0", "0.0"):
                out.append("%s = %s;" % (lhs, float(f.default)))
        else:
            v = int_default(f)
            if v != 0:
                out.append("%s = %s;" % (lhs, c_int_lit(PRIM[t][0], v)))
    elif t == "uuid":
        pass
    elif t == "string":
        if f.default == "null":
            out.append("%s = FMQ_KAFKA_STR_NULL;" % lhs)
        else:
            d = f.default if f.default is not None else ""
            out.append("%s.p = %s;" % (lhs, c_str_lit(d)))
            out.append("%s.len = %d;" % (lhs, len(d.encode())))
    elif t == "bytes":
        if f.default == "null":
            out.append("%s.len = -1;" % lhs)
    elif t == "records":
        out.append("%s.len = -1;" % lhs)
    return out


def isdef_expr(f, lhs):
    """C expression: lhs (field f's value) equals its default."""
    t = f.type
    if f.is_array:
        if f.default == "null":
            return "(%s_count < 0)" % lhs
        return "(%s_count == 0)" % lhs
    if f.nullable_struct and f.default == "null":
        return "(!%s_present)" % lhs
    if f.struct is not None:
        return "isdef_%s(&%s)" % (f.struct.cname, lhs)
    if t == "bool":
        d = f.default is True or str(f.default).lower() == "true"
        return "(%s == %s)" % (lhs, "true" if d else "false")
    if t == "uuid":
        return "fmq_kafka__uuid_zero(&%s)" % lhs
    if t == "float64":
        return "(%s == %s)" % (lhs, float(f.default or 0))
    if t in PRIM:
        return "(%s == %s)" % (lhs, c_int_lit(PRIM[t][0], int_default(f)))
    if t == "string":
        if f.default == "null":
            return "(%s.len < 0)" % lhs
        d = f.default if f.default is not None else ""
        return "fmq_kafka__str_is(%s, %s, %d)" % (lhs, c_str_lit(d),
                                                   len(d.encode()))
    if t == "bytes":
        if f.default == "null":
            return "(%s.len < 0)" % lhs
        return "(%s.len == 0)" % lhs
    if t == "records":
        return "(%s.len < 0)" % lhs
    die("isdef: " + t)


# ---------------------------------------------------------------------------
# Minimum encoded sizes (for absurd array counts)
# ---------------------------------------------------------------------------

def min_size(msg, s, v, depth=0):
    flex = v >= msg.flex_min
    n = 1 if flex else 0
    for f in s.inline_fields():
        if not vin(v, f.versions):
            continue
        n += field_min_size(msg, f, v, flex, depth)
    return n


def field_min_size(msg, f, v, flex, depth):
    compact = flex
    if f.flex_override:
        compact = vin(v, f.flexv)
    if f.is_array:
        return 1 if compact else 4
    t = f.type
    if f.nullable_struct and vin(v, f.nullable):
        return 1
    if f.struct is not None:
        return min_size(msg, f.struct, v, depth + 1) if depth < 20 else 1
    if t in PRIM:
        return PRIM[t][3]
    if t == "string":
        return 1 if compact else 2
    return 1 if compact else 4


def elem_min_size(msg, f):
    best = None
    for v in range(msg.vmin, msg.vmax + 1):
        if not vin(v, f.versions):
            continue
        flex = v >= msg.flex_min
        if f.struct is not None:
            m = min_size(msg, f.struct, v)
        elif f.elem in PRIM:
            m = PRIM[f.elem][3]
        elif f.elem == "string":
            m = 1 if flex else 2
        else:
            m = 1 if flex else 4
        best = m if best is None else min(best, m)
    return max(best or 1, 1)


# ---------------------------------------------------------------------------
# Code emission
# ---------------------------------------------------------------------------

class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, s="", ind=0):
        if s == "":
            self.lines.append("")
        else:
            self.lines.append("\t" * ind + s)

    def text(self):
        return "\n".join(self.lines) + "\n"


def elem_ctype(f):
    if f.struct is not None:
        return "struct " + f.struct.cname
    if f.elem in PRIM:
        return PRIM[f.elem][0]
    return VAR[f.elem]


def wrap_comment(text, ind, width=76):
    words = text.split()
    lines, cur = [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width - 4 * ind and cur:
            lines.append(cur)
            cur = w
        else:
            cur = (cur + " " + w) if cur else w
    if cur:
        lines.append(cur)
    return lines


def field_doc(msg, f):
    bits = [ver_str(f.versions)]
    if f.nullable is not None and vcond(msg, f.nullable) != "false":
        bits.append("nullable " + ver_str(f.nullable))
    if f.tag is not None:
        bits.append("tag %d" % f.tag)
    if f.default is not None:
        bits.append("default %s" % f.default)
    return "(" + ", ".join(bits) + ") " + f.about


def emit_struct_decl(o, msg, s):
    o("/** %s%s */" % (s.name, "" if not s.top else
                       " (API key %d, versions %d-%d)" % (msg.api_key,
                                                          msg.vmin, msg.vmax)))
    o("struct %s {" % s.cname)
    for f in s.fields:
        doc = wrap_comment(field_doc(msg, f), 1)
        o("/**", 1)
        for l in doc:
            o(" * " + l, 1)
        o(" */", 1)
        if f.is_array:
            o("%s *%s;" % (elem_ctype(f), f.cname), 1)
            o("int32_t %s_count;  /**< -1: null */" % f.cname, 1)
        else:
            o("%s %s;" % (elem_ctype(f), f.cname), 1)
        if f.nullable_struct:
            o("bool %s_present;  /**< false: null */" % f.cname, 1)
    if msg.flexible_in_range():
        o("/** Tagged fields not known to this schema (kept to re-encode). */", 1)
        o("struct fmq_kafka_tagged *unknown_tags;", 1)
        o("uint32_t n_unknown_tags;", 1)
    if not s.fields and not msg.flexible_in_range():
        o("uint8_t unused_;", 1)
    o("};")
    o()


# --- decode -----------------------------------------------------------------

def emit_read_scalar(o, msg, f, t, lhs, compact, nullable, ind):
    if t in PRIM:
        o("if ((rc = fmq_kafka_rd_%s(r, &%s)) < 0)" % (PRIM[t][1], lhs), ind)
    elif t == "string":
        o("if ((rc = fmq_kafka_rd_string(r, %s, %s, a, &%s)) < 0)"
          % (compact, nullable, lhs), ind)
    elif t == "bytes":
        o("if ((rc = fmq_kafka_rd_bytes(r, %s, %s, a, &%s)) < 0)"
          % (compact, nullable, lhs), ind)
    elif t == "records":
        o("if ((rc = fmq_kafka_rd_records(r, %s, %s, a, &%s)) < 0)"
          % (compact, nullable, lhs), ind)
    else:
        die("read " + t)
    o("return rc;", ind + 1)


def emit_read_field(o, msg, f, lhs, ind):
    """Read field f (its version condition already checked) into lhs."""
    compact = compact_expr(msg, f)
    nullable = vcond(msg, f.nullable)
    if f.is_array:
        o("{", ind)
        o("int32_t n, i;", ind + 1)
        o()
        o("if ((rc = fmq_kafka_rd_array_len(r, %s, %s, %d, &n)) < 0)"
          % (compact, nullable, elem_min_size(msg, f)), ind + 1)
        o("return rc;", ind + 2)
        o("%s_count = n;" % lhs, ind + 1)
        o("%s = NULL;" % lhs, ind + 1)
        o("if (n > 0) {", ind + 1)
        o("%s = fmq_kafka_arena_alloc(a, (size_t)n * sizeof(*%s));"
          % (lhs, lhs), ind + 2)
        o("if (%s == NULL)" % lhs, ind + 2)
        o("return -ENOMEM;", ind + 3)
        o("}", ind + 1)
        o("for (i = 0; i < n; i++) {", ind + 1)
        if f.struct is not None:
            o("if ((rc = dec_%s(r, v, a, &%s[i])) < 0)"
              % (f.struct.cname, lhs), ind + 2)
            o("return rc;", ind + 3)
        else:
            emit_read_scalar(o, msg, f, f.elem, "%s[i]" % lhs, compact,
                             "false", ind + 2)
        o("}", ind + 1)
        o("}", ind)
    elif f.nullable_struct and nullable != "false":
        o("{", ind)
        o("int8_t pm = 1;", ind + 1)
        o()
        o("if ((%s) && (rc = fmq_kafka_rd_i8(r, &pm)) < 0)" % nullable,
          ind + 1)
        o("return rc;", ind + 2)
        o("%s_present = pm >= 0;" % lhs, ind + 1)
        o("if (pm >= 0 && (rc = dec_%s(r, v, a, &%s)) < 0)"
          % (f.struct.cname, lhs), ind + 1)
        o("return rc;", ind + 2)
        o("}", ind)
    elif f.struct is not None:
        o("if ((rc = dec_%s(r, v, a, &%s)) < 0)" % (f.struct.cname, lhs), ind)
        o("return rc;", ind + 1)
        if f.nullable_struct:
            o("%s_present = true;" % lhs, ind)
    else:
        emit_read_scalar(o, msg, f, f.type, lhs, compact, nullable, ind)


def emit_dec(o, msg, s):
    o("static int")
    o("dec_%s(struct fmq_kafka_reader *r, int16_t v, "
      "struct fmq_kafka_arena *a, struct %s *o)" % (s.cname, s.cname))
    o("{")
    flexible = msg.flexible_in_range()
    o("int rc = 0;", 1)
    if flexible:
        o("const bool flex = v >= %d;" % msg.flex_min, 1)
    o()
    o("(void)rc;", 1)
    o("(void)a;", 1)
    o("(void)v;", 1)
    o("init_%s(o);" % s.cname, 1)
    for f in s.inline_fields():
        cond = vcond(msg, f.versions)
        if cond == "false":
            continue
        if cond == "true":
            emit_read_field(o, msg, f, "o->" + f.cname, 1)
        else:
            o("if (%s) {" % cond, 1)
            emit_read_field(o, msg, f, "o->" + f.cname, 2)
            o("}", 1)
    if flexible:
        o("if (flex) {", 1)
        o("uint32_t ntag, t;", 2)
        o()
        o("if ((rc = fmq_kafka_rd_uvarint(r, &ntag)) < 0)", 2)
        o("return rc;", 3)
        o("if (ntag > fmq_kafka_rd_left(r) / 2)", 2)
        o("return -EBADMSG;", 3)
        o("for (t = 0; t < ntag; t++) {", 2)
        o("struct fmq_kafka_reader sub;", 3)
        o("uint32_t tag, tsz;", 3)
        o("bool known = false;", 3)
        o()
        o("if ((rc = fmq_kafka_rd_uvarint(r, &tag)) < 0 ||", 3)
        o("    (rc = fmq_kafka_rd_uvarint(r, &tsz)) < 0)", 3)
        o("return rc;", 4)
        o("if (tsz > fmq_kafka_rd_left(r))", 3)
        o("return -EBADMSG;", 4)
        o("sub = *r;", 3)
        o("sub.left = tsz;", 3)
        tf = s.tagged_fields()
        if tf:
            o("switch (tag) {", 3)
            for f in tf:
                o("case %d:" % f.tag, 3)
                cond = vcond(msg, f.tagged)
                o("if (%s) {" % cond, 4)
                o("struct fmq_kafka_reader *outer = r;", 5)
                o()
                o("r = &sub;", 5)
                o("known = true;", 5)
                # Tagged values use the flexible encoding.
                emit_read_field(o, msg, f, "o->" + f.cname, 5)
                o("r = outer;", 5)
                o("}", 4)
                o("break;", 4)
            o("default:", 3)
            o("break;", 4)
            o("}", 3)
        o("if (!known && (rc = fmq_kafka__rd_unknown_tag(&sub, tag, tsz, "
          "ntag, a, &o->unknown_tags, &o->n_unknown_tags)) < 0)", 3)
        o("return rc;", 4)
        o("if ((rc = fmq_kafka_rd_skip(r, tsz)) < 0)", 3)
        o("return rc;", 4)
        o("}", 2)
        o("}", 1)
    o("return 0;", 1)
    o("}")
    o()


# --- encode -----------------------------------------------------------------

def emit_write_scalar(o, msg, t, val, compact, nullable, ind, ptr=False):
    if t in PRIM:
        if t == "uuid":
            o("if ((rc = fmq_kafka_wr_uuid(w, &%s)) < 0)" % val, ind)
        else:
            o("if ((rc = fmq_kafka_wr_%s(w, %s)) < 0)" % (PRIM[t][2], val),
              ind)
    elif t == "string":
        o("if ((rc = fmq_kafka_wr_string(w, %s, %s, %s)) < 0)"
          % (compact, nullable, val), ind)
    elif t == "bytes":
        o("if ((rc = fmq_kafka_wr_bytes(w, %s, %s, %s)) < 0)"
          % (compact, nullable, val), ind)
    elif t == "records":
        o("if ((rc = fmq_kafka_wr_records(w, %s, %s, &%s)) < 0)"
          % (compact, nullable, val), ind)
    else:
        die("write " + t)
    o("return rc;", ind + 1)


def emit_write_field(o, msg, f, lhs, ind):
    compact = compact_expr(msg, f)
    nullable = vcond(msg, f.nullable)
    if f.is_array:
        o("if (%s_count > 0 && %s == NULL)" % (lhs, lhs), ind)
        o("return -EINVAL;", ind + 1)
        o("if ((rc = fmq_kafka_wr_array_len(w, %s, %s, %s_count)) < 0)"
          % (compact, nullable, lhs), ind)
        o("return rc;", ind + 1)
        o("for (int32_t i = 0; i < %s_count; i++) {" % lhs, ind)
        if f.struct is not None:
            o("if ((rc = enc_%s(w, v, &%s[i])) < 0)" % (f.struct.cname, lhs),
              ind + 1)
            o("return rc;", ind + 2)
        else:
            emit_write_scalar(o, msg, f.elem, "%s[i]" % lhs, compact, "false",
                              ind + 1)
        o("}", ind)
    elif f.nullable_struct:
        # Null where the version does not allow it is refused.
        o("if (!%s_present && !(%s))" % (lhs, nullable), ind)
        o("return -EINVAL;", ind + 1)
        o("if ((%s) && (rc = fmq_kafka_wr_i8(w, %s_present ? 1 : -1)) < 0)"
          % (nullable, lhs), ind)
        o("return rc;", ind + 1)
        o("if (%s_present && (rc = enc_%s(w, v, &%s)) < 0)"
          % (lhs, f.struct.cname, lhs), ind)
        o("return rc;", ind + 1)
    elif f.struct is not None:
        o("if ((rc = enc_%s(w, v, &%s)) < 0)" % (f.struct.cname, lhs), ind)
        o("return rc;", ind + 1)
    else:
        emit_write_scalar(o, msg, f.type, lhs, compact, nullable, ind)


def emit_size_field(o, msg, f, lhs, ind, s="s"):
    compact = compact_expr(msg, f)
    if f.is_array:
        o("fmq_kafka_sz_array_len(%s, %s, %s_count);" % (s, compact, lhs), ind)
        o("for (int32_t i = 0; i < %s_count; i++) {" % lhs, ind)
        emit_size_value(o, msg, f, f.elem, "%s[i]" % lhs, compact, ind + 1, s)
        o("}", ind)
    else:
        emit_size_value(o, msg, f, f.type, lhs, compact, ind, s)


def emit_size_value(o, msg, f, t, val, compact, ind, s):
    if f.nullable_struct and t == f.type:
        o("if (%s)" % vcond(msg, f.nullable), ind)
        o("%s->bytes += 1;" % s, ind + 1)
        o("if (%s_present)" % val, ind)
        o("sz_%s(%s, v, &%s);" % (f.struct.cname, s, val), ind + 1)
    elif f.struct is not None:
        o("sz_%s(%s, v, &%s);" % (f.struct.cname, s, val), ind)
    elif t in PRIM:
        o("%s->bytes += %d;" % (s, PRIM[t][3]), ind)
    elif t == "string":
        o("fmq_kafka_sz_string(%s, %s, %s);" % (s, compact, val), ind)
    elif t == "bytes":
        o("fmq_kafka_sz_bytes(%s, %s, %s);" % (s, compact, val), ind)
    elif t == "records":
        o("fmq_kafka_sz_records(%s, %s, &%s);" % (s, compact, val), ind)


def tag_present(msg, f):
    return cand(vcond(msg, f.tagged), "!" + isdef_expr(f, "o->" + f.cname))


def emit_enc(o, msg, s):
    o("static int")
    o("enc_%s(struct fmq_kafka_writer *w, int16_t v, const struct %s *o)"
      % (s.cname, s.cname))
    o("{")
    flexible = msg.flexible_in_range()
    o("int rc;", 1)
    if flexible:
        o("const bool flex = v >= %d;" % msg.flex_min, 1)
    o()
    o("(void)v;", 1)
    o("(void)o;", 1)
    o("(void)rc;", 1)
    for f in s.inline_fields():
        cond = vcond(msg, f.versions)
        if cond == "false":
            continue
        if cond == "true":
            emit_write_field(o, msg, f, "o->" + f.cname, 1)
        else:
            o("if (%s) {" % cond, 1)
            emit_write_field(o, msg, f, "o->" + f.cname, 2)
            o("}", 1)
    if flexible:
        tf = s.tagged_fields()
        o("if (flex) {", 1)
        o("uint32_t ntag = o->n_unknown_tags, u = 0;", 2)
        o()
        for f in tf:
            o("if (%s)" % tag_present(msg, f), 2)
            o("ntag++;", 3)
        o("if ((rc = fmq_kafka_wr_uvarint(w, ntag)) < 0)", 2)
        o("return rc;", 3)
        for f in tf:
            o("if (%s) {" % tag_present(msg, f), 2)
            o("struct fmq_kafka_sizer ts;", 3)
            o()
            o("fmq_kafka_sizer_init(&ts, w->ref_min);", 3)
            emit_size_field(o, msg, f, "o->" + f.cname, 3, "(&ts)")
            o("if ((rc = fmq_kafka__wr_unknown_tags(w, o->unknown_tags, "
              "o->n_unknown_tags, &u, %d)) < 0)" % f.tag, 3)
            o("return rc;", 4)
            o("if ((rc = fmq_kafka_wr_uvarint(w, %d)) < 0 ||" % f.tag, 3)
            o("    (rc = fmq_kafka_wr_uvarint(w, (uint32_t)ts.bytes)) < 0)", 3)
            o("return rc;", 4)
            emit_write_field(o, msg, f, "o->" + f.cname, 3)
            o("}", 2)
        o("if ((rc = fmq_kafka__wr_unknown_tags(w, o->unknown_tags, "
          "o->n_unknown_tags, &u, FMQ_KAFKA__ALL_TAGS)) < 0)", 2)
        o("return rc;", 3)
        o("}", 1)
    o("return 0;", 1)
    o("}")
    o()


def emit_sz(o, msg, s):
    o("static void")
    o("sz_%s(struct fmq_kafka_sizer *s, int16_t v, const struct %s *o)"
      % (s.cname, s.cname))
    o("{")
    flexible = msg.flexible_in_range()
    if flexible:
        o("const bool flex = v >= %d;" % msg.flex_min, 1)
        o()
    o("(void)v;", 1)
    o("(void)o;", 1)
    o("(void)s;", 1)
    for f in s.inline_fields():
        cond = vcond(msg, f.versions)
        if cond == "false":
            continue
        if cond == "true":
            emit_size_field(o, msg, f, "o->" + f.cname, 1)
        else:
            o("if (%s) {" % cond, 1)
            emit_size_field(o, msg, f, "o->" + f.cname, 2)
            o("}", 1)
    if flexible:
        tf = s.tagged_fields()
        o("if (flex) {", 1)
        o("uint32_t ntag = o->n_unknown_tags;", 2)
        o()
        for f in tf:
            o("if (%s) {" % tag_present(msg, f), 2)
            o("struct fmq_kafka_sizer ts;", 3)
            o()
            o("fmq_kafka_sizer_init(&ts, s->ref_min);", 3)
            emit_size_field(o, msg, f, "o->" + f.cname, 3, "(&ts)")
            o("ntag++;", 3)
            o("s->bytes += fmq_kafka_uvarint_len(%d) + "
              "fmq_kafka_uvarint_len((uint32_t)ts.bytes) + ts.bytes;"
              % f.tag, 3)
            o("s->ref_bytes += ts.ref_bytes;", 3)
            o("s->ref_pieces += ts.ref_pieces;", 3)
            o("}", 2)
        o("s->bytes += fmq_kafka_uvarint_len(ntag);", 2)
        o("for (uint32_t t = 0; t < o->n_unknown_tags; t++) {", 2)
        o("uint32_t n = (uint32_t)o->unknown_tags[t].data.len;", 3)
        o()
        o("s->bytes += fmq_kafka_uvarint_len(o->unknown_tags[t].tag) + "
          "fmq_kafka_uvarint_len(n) + n;", 3)
        o("}", 2)
        o("}", 1)
    o("}")
    o()


def emit_init(o, msg, s):
    o("static void")
    o("init_%s(struct %s *o)" % (s.cname, s.cname))
    o("{")
    o("memset(o, 0, sizeof(*o));", 1)
    for f in s.fields:
        for l in default_init_lines(f, "o->" + f.cname):
            o(l, 1)
    o("}")
    o()


def emit_isdef(o, msg, s):
    o("static bool")
    o("isdef_%s(const struct %s *o)" % (s.cname, s.cname))
    o("{")
    parts = [isdef_expr(f, "o->" + f.cname) for f in s.fields]
    if msg.flexible_in_range():
        parts.append("o->n_unknown_tags == 0")
    if not parts:
        parts = ["true"]
    o("return " + " &&\n\t    ".join(parts) + ";", 1)
    o("}")
    o()


def tagged_struct_users(msg):
    """Structs whose default-ness is tested (tagged struct fields)."""
    need = set()

    def add(s):
        if s.cname in need:
            return
        need.add(s.cname)
        for f in s.fields:
            if f.struct is not None and not f.is_array:
                add(f.struct)
    for s in msg.all_structs_bottom_up():
        for f in s.fields:
            if f.tag is not None and f.struct is not None and not f.is_array:
                add(f.struct)
    return need


def emit_message_c(o, msg):
    structs = msg.all_structs_bottom_up()
    need_isdef = tagged_struct_users(msg)
    for s in structs:
        o("static void init_%s(struct %s *o);" % (s.cname, s.cname))
    o()
    for s in structs:
        emit_init(o, msg, s)
        if s.cname in need_isdef:
            emit_isdef(o, msg, s)
        emit_dec(o, msg, s)
        emit_enc(o, msg, s)
        emit_sz(o, msg, s)
    t = msg.top.cname
    o("void")
    o("%s_init(struct %s *m)" % (t, t))
    o("{")
    o("init_%s(m);" % t, 1)
    o("}")
    o()
    o("int")
    o("%s_decode(struct fmq_kafka_reader *r, int16_t v,"
      " struct fmq_kafka_arena *a, struct %s *m)" % (t, t))
    o("{")
    o("if (v < %d || v > %d)" % (msg.vmin, msg.vmax), 1)
    o("return -ENOTSUP;", 2)
    o("return dec_%s(r, v, a, m);" % t, 1)
    o("}")
    o()
    o("int")
    o("%s_encode(struct fmq_kafka_writer *w, int16_t v, const struct %s *m)"
      % (t, t))
    o("{")
    o("int rc;", 1)
    o()
    o("if (v < %d || v > %d)" % (msg.vmin, msg.vmax), 1)
    o("return -ENOTSUP;", 2)
    o("rc = enc_%s(w, v, m);" % t, 1)
    o("if (rc < 0 && w->err == 0)", 1)
    o("w->err = rc;", 2)
    o("return rc;", 1)
    o("}")
    o()
    o("int")
    o("%s_size(struct fmq_kafka_sizer *s, int16_t v, const struct %s *m)"
      % (t, t))
    o("{")
    o("if (v < %d || v > %d)" % (msg.vmin, msg.vmax), 1)
    o("return -ENOTSUP;", 2)
    o("sz_%s(s, v, m);" % t, 1)
    o("return 0;", 1)
    o("}")
    o()


def emit_message_protos(o, msg):
    t = msg.top.cname
    o("/** Set every field of a %s to its schema default. */" % msg.name)
    o("void %s_init(struct %s *m);" % (t, t))
    o("/** Decode a %s body at version v (%d-%d); see "
      "fmq_kafka_decode_request(). */" % (msg.name, msg.vmin, msg.vmax))
    o("int %s_decode(struct fmq_kafka_reader *r, int16_t v,"
      " struct fmq_kafka_arena *a, struct %s *m);" % (t, t))
    o("/** Encode a %s body at version v. */" % msg.name)
    o("int %s_encode(struct fmq_kafka_writer *w, int16_t v,"
      " const struct %s *m);" % (t, t))
    o("/** Add the encoded size of a %s body at version v to s. */"
      % msg.name)
    o("int %s_size(struct fmq_kafka_sizer *s, int16_t v,"
      " const struct %s *m);" % (t, t))
    o()


HEADER_NOTE = ("/* Generated by lib/kafka/gen/kgen.py from Apache Kafka's message "
               "schemas.\n * Do not edit: see lib/kafka/gen/README.md. */")


def gen_lib(msgs, outdir):
    by_api = {}
    for m in msgs:
        by_api.setdefault(m.api_name, []).append(m)
    # Header
    o = Out()
    o("/* SPDX-License-Identifier: Apache-2.0 */")
    o(HEADER_NOTE)
    o("#ifndef FMQ_KAFKA_MSGS_H")
    o("#define FMQ_KAFKA_MSGS_H")
    o()
    o("/* Included by fmq_kafka.h only. */")
    o()
    o("/** API keys served by FluxMQ. */")
    o("enum fmq_kafka_api_key {")
    for name, key, lo, hi in APIS:
        o("FMQ_KAFKA_API_%s = %d," % (snake(name).upper(), key), 1)
    o("};")
    o()
    o("/** Number of APIs in the advertised table. */")
    o("#define FMQ_KAFKA_N_APIS %d" % len(APIS))
    o()
    for name, key, lo, hi in APIS:
        for m in by_api[name]:
            for s in m.all_structs_bottom_up():
                emit_struct_decl(o, m, s)
            emit_message_protos(o, m)
    o("/** Any request body. */")
    o("union fmq_kafka_request {")
    for name, key, lo, hi in APIS:
        o("struct fmq_kafka_%s_req %s;" % (snake(name), snake(name)), 1)
    o("};")
    o()
    o("/** Any response body. */")
    o("union fmq_kafka_response {")
    for name, key, lo, hi in APIS:
        o("struct fmq_kafka_%s_resp %s;" % (snake(name), snake(name)), 1)
    o("};")
    o()
    o("#endif /* FMQ_KAFKA_MSGS_H */")
    write(os.path.join(outdir, "fmq_kafka_msgs.h"), o.text())

    sources = []
    for name, key, lo, hi in APIS:
        o = Out()
        o("/* SPDX-License-Identifier: Apache-2.0 */")
        o(HEADER_NOTE)
        o("#include <errno.h>")
        o("#include <stdint.h>")
        o("#include <string.h>")
        o()
        o('#include "../fmq_kafka.h"')
        o('#include "../kafka_internal.h"')
        o()
        for m in by_api[name]:
            emit_message_c(o, m)
        fn = "kafka_gen_%s.c" % snake(name)
        sources.append(fn)
        write(os.path.join(outdir, fn), o.text())

    # Dispatch and version table
    o = Out()
    o("/* SPDX-License-Identifier: Apache-2.0 */")
    o(HEADER_NOTE)
    o("#include <errno.h>")
    o("#include <stdint.h>")
    o()
    o('#include "../fmq_kafka.h"')
    o('#include "../kafka_internal.h"')
    o()
    o("const struct fmq_kafka_api_info fmq_kafka__apis[FMQ_KAFKA_N_APIS] = {")
    for name, key, lo, hi in APIS:
        req = [m for m in by_api[name] if m.kind == "request"][0]
        resp = [m for m in by_api[name] if m.kind == "response"][0]
        if req.flex_min != resp.flex_min:
            die("%s: request/response flexibleVersions differ" % name)
        fm = "FMQ_KAFKA_NOT_FLEXIBLE" if req.flex_min > hi else str(req.flex_min)
        o("{ %d, %d, %d, %s, \"%s\" }," % (key, lo, hi, fm, name), 1)
    o("};")
    o()
    for kind, sfx in (("request", "req"), ("response", "resp")):
        for op, sig, call in (
            ("decode", "int16_t api_key, int16_t v, struct fmq_kafka_reader *r, "
             "struct fmq_kafka_arena *a, void *out", "_decode(r, v, a, out)"),
            ("encode", "struct fmq_kafka_writer *w, int16_t api_key, "
             "int16_t v, const void *body", "_encode(w, v, body)"),
            ("size", "struct fmq_kafka_sizer *s, int16_t api_key, "
             "int16_t v, const void *body", "_size(s, v, body)"),
        ):
            o("int")
            o("fmq_kafka_%s_%s(%s)" % (op, kind, sig))
            o("{")
            o("switch (api_key) {", 1)
            for name, key, lo, hi in APIS:
                o("case %d:" % key, 1)
                o("return fmq_kafka_%s_%s%s;" % (snake(name), sfx, call), 2)
            o("default:", 1)
            o("return -ENOTSUP;", 2)
            o("}", 1)
            o("}")
            o()
        o("int")
        o("fmq_kafka_init_%s(int16_t api_key, int16_t v, void *body)" % kind)
        o("{")
        o("if (!fmq_kafka_api_supported(api_key, v))", 1)
        o("return -ENOTSUP;", 2)
        o("switch (api_key) {", 1)
        for name, key, lo, hi in APIS:
            o("case %d:" % key, 1)
            o("fmq_kafka_%s_%s_init(body);" % (snake(name), sfx), 2)
            o("return 0;", 2)
        o("default:", 1)
        o("return -ENOTSUP;", 2)
        o("}", 1)
        o("}")
        o()
    write(os.path.join(outdir, "kafka_gen_dispatch.c"), o.text())
    sources.append("kafka_gen_dispatch.c")

    o = Out()
    o("# Generated by kgen.py: the generated codec sources.")
    o("fmq_kafka_gen_sources = files(")
    for s in sources:
        o("'%s'," % s, 1)
    o(")")
    write(os.path.join(outdir, "meson.build"), o.text())


# ---------------------------------------------------------------------------
# Test fillers: random, version-valid values for round-trip tests
# ---------------------------------------------------------------------------

def emit_fill_scalar(o, msg, t, lhs, nullable, ind):
    if t == "bool":
        o("%s = (kt_rand(g) & 1) != 0;" % lhs, ind)
    elif t in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
        o("%s = (%s)kt_rand_int(g);" % (lhs, PRIM[t][0]), ind)
    elif t == "float64":
        o("%s = (double)(int32_t)kt_rand(g) / 8.0;" % lhs, ind)
    elif t == "uuid":
        o("kt_rand_uuid(g, &%s);" % lhs, ind)
    elif t == "string":
        o("%s = kt_rand_str(g, a, %s);" % (lhs, nullable), ind)
    elif t == "bytes":
        o("%s = kt_rand_bytes(g, a, %s);" % (lhs, nullable), ind)
    elif t == "records":
        o("kt_rand_records(g, a, %s, &%s);" % (nullable, lhs), ind)


def emit_fill_field(o, msg, f, lhs, ind):
    nullable = vcond(msg, f.nullable)
    if f.is_array:
        o("%s_count = kt_rand_count(g, depth, %s);" % (lhs, nullable), ind)
        o("%s = NULL;" % lhs, ind)
        o("if (%s_count > 0) {" % lhs, ind)
        o("%s = fmq_kafka_arena_alloc(a, (size_t)%s_count * sizeof(*%s));"
          % (lhs, lhs, lhs), ind + 1)
        o("if (%s == NULL)" % lhs, ind + 1)
        o("return -ENOMEM;", ind + 2)
        o("}", ind)
        o("for (int32_t i = 0; i < %s_count; i++) {" % lhs, ind)
        if f.struct is not None:
            o("if (fill_%s(g, v, a, depth + 1, &%s[i]) < 0)"
              % (f.struct.cname, lhs), ind + 1)
            o("return -ENOMEM;", ind + 2)
        else:
            emit_fill_scalar(o, msg, f.elem, "%s[i]" % lhs, "false", ind + 1)
        o("}", ind)
    elif f.nullable_struct:
        o("%s_present = !(%s) || (kt_rand(g) & 3) != 0;" % (lhs, nullable),
          ind)
        o("if (%s_present && fill_%s(g, v, a, depth + 1, &%s) < 0)"
          % (lhs, f.struct.cname, lhs), ind)
        o("return -ENOMEM;", ind + 1)
    elif f.struct is not None:
        o("if (fill_%s(g, v, a, depth + 1, &%s) < 0)" % (f.struct.cname, lhs),
          ind)
        o("return -ENOMEM;", ind + 1)
    else:
        emit_fill_scalar(o, msg, f.type, lhs, nullable, ind)


def gen_tests(msgs, outdir):
    o = Out()
    o("/* SPDX-License-Identifier: Apache-2.0 */")
    o(HEADER_NOTE)
    o("#include <errno.h>")
    o("#include <stdint.h>")
    o("#include <string.h>")
    o()
    o('#include "fmq_kafka.h"')
    o('#include "../kafka_test_rand.h"')
    o()
    # The library's per-struct init functions are static; nested defaults
    # are re-created here (tops use the public _init).
    for m in msgs:
        for s in m.all_structs_bottom_up():
            o("static int fill_%s(struct kt_rng *g, int16_t v, "
              "struct fmq_kafka_arena *a, int depth, struct %s *o);"
              % (s.cname, s.cname))
            if not s.top:
                o("static void kt_init_%s(struct %s *o);" % (s.cname, s.cname))
    o()
    for m in msgs:
        for s in m.all_structs_bottom_up():
            if s.top:
                continue
            o("static void")
            o("kt_init_%s(struct %s *o)" % (s.cname, s.cname))
            o("{")
            o("memset(o, 0, sizeof(*o));", 1)
            for f in s.fields:
                for l in default_init_lines(f, "o->" + f.cname):
                    if l.startswith("init_"):
                        l = "kt_" + l
                    o(l, 1)
            o("}")
            o()
    for m in msgs:
        for s in m.all_structs_bottom_up():
            o("static int")
            o("fill_%s(struct kt_rng *g, int16_t v, struct fmq_kafka_arena *a,"
              " int depth, struct %s *o)" % (s.cname, s.cname))
            o("{")
            flexible = m.flexible_in_range()
            if flexible:
                o("const bool flex = v >= %d;" % m.flex_min, 1)
                o()
            o("(void)g;", 1)
            o("(void)a;", 1)
            o("(void)v;", 1)
            o("(void)depth;", 1)
            if s.top:
                o("%s_init(o);" % s.cname, 1)
            else:
                o("kt_init_%s(o);" % s.cname, 1)
            for f in s.fields:
                cond = vcond(m, f.tagged if f.tag is not None else f.versions)
                if f.tag is not None:
                    cond = cand("flex", cond, "(kt_rand(g) & 1)")
                if cond == "false":
                    continue
                o("if (%s) {" % cond, 1)
                emit_fill_field(o, m, f, "o->" + f.cname, 2)
                o("}", 1)
            if flexible:
                o("if (flex && (kt_rand(g) % 4) == 0 &&", 1)
                o("    kt_rand_unknown_tags(g, a, &o->unknown_tags, "
                  "&o->n_unknown_tags) < 0)", 1)
                o("return -ENOMEM;", 2)
            o("return 0;", 1)
            o("}")
            o()
        t = m.top.cname
        o("static int")
        o("fillv_%s(struct kt_rng *g, int16_t v, struct fmq_kafka_arena *a,"
          " void *o)" % t)
        o("{")
        o("return fill_%s(g, v, a, 0, o);" % t, 1)
        o("}")
        o()
    o("const struct kt_msg kt_msgs[] = {")
    for m in msgs:
        t = m.top.cname
        o("{ %d, %d, %d, %d, \"%s\", sizeof(struct %s), fillv_%s },"
          % (m.api_key, 1 if m.kind == "request" else 0, m.vmin, m.vmax,
             m.name, t, t), 1)
    o("};")
    o("const size_t kt_nmsgs = sizeof(kt_msgs) / sizeof(kt_msgs[0]);")
    write(os.path.join(outdir, "kafka_gen_fill.c"), o.text())


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = None
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if old != text:
        with open(path, "w") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("schema_dir", nargs="?",
                    default=os.path.join(here, "..", "schemas"))
    ap.add_argument("--lib-out", default=here)
    ap.add_argument("--test-out", default=os.path.join(
        here, "..", "..", "..", "tests", "unit", "kafka", "gen"))
    args = ap.parse_args()
    msgs = []
    for api in APIS:
        for kind in ("Request", "Response"):
            path = os.path.join(args.schema_dir, api[0] + kind + ".json")
            if not os.path.exists(path):
                die("missing schema " + path)
            j = load_json(path)
            if j.get("apiKey") != api[1]:
                die("%s: apiKey %s, expected %d" % (path, j.get("apiKey"),
                                                    api[1]))
            msgs.append(Message(j, api))
    gen_lib(msgs, args.lib_out)
    gen_tests(msgs, args.test_out)


if __name__ == "__main__":
    main()
