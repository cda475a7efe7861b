#!/usr/bin/python3
"""promtext.py: a strict reader of the Prometheus text exposition format (version 0.0.4), for the
integration tests that scrape /metrics.

  promtext.py check FILE...                 validate; exit 1 listing every problem
  promtext.py value FILE NAME [LABEL=V]...  sum of the samples of NAME whose labels match; exit 3
                                            when there is none (histograms: NAME_count, NAME_bucket)
  promtext.py series FILE NAME              one line per sample of NAME: labels and value

check: every line is a comment (# HELP name text / # TYPE name kind) or a sample
`name{label="v",...} value`; names and labels are well formed, label values correctly escaped;
a family's TYPE comes before its samples, once, and its samples are contiguous; no series twice;
values are numbers; counters (and histogram counts and buckets) are non-negative and counters end
in _total; each histogram series has buckets with increasing `le` ending in +Inf, cumulative
counts that never decrease, +Inf equal to _count, and a _sum.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
KINDS = ("counter", "gauge", "histogram", "summary", "untyped")


class Bad(Exception):
    pass


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    try:
        return float(s)
    except ValueError:
        raise Bad("value %r is not a number" % s)


def parse_labels(s):
    """s: the text between { and } -> list of (name, value); raises Bad."""
    out, i = [], 0
    while i < len(s):
        m = re.match(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*\"", s[i:])
        if not m:
            raise Bad("bad label syntax at %r" % s[i:])
        name = m.group(1)
        i += m.end()
        val = []
        while True:
            if i >= len(s):
                raise Bad("unterminated label value of %s" % name)
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in 'n"\\':
                    raise Bad("bad escape in label %s" % name)
                val.append({"n": "\n", '"': '"', "\\": "\\"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise Bad("newline in label %s" % name)
            else:
                val.append(c)
                i += 1
        out.append((name, "".join(val)))
        m = re.match(r"\s*(,|$)", s[i:])
        if not m:
            raise Bad("expected , between labels at %r" % s[i:])
        i += m.end()
    return out


def split_sample(line):
    """'name{labels} value [ts]' -> (name, [(k, v)], value)."""
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
    if not m:
        raise Bad("bad metric name")
    name, rest = m.group(1), line[m.end():]
    labels = []
    if rest.startswith("{"):
        # find the closing brace outside quotes
        i, inq = 1, False
        while i < len(rest):
            c = rest[i]
            if inq and c == "\\":
                i += 2
                continue
            if c == '"':
                inq = not inq
            elif c == "}" and not inq:
                break
            i += 1
        if i >= len(rest):
            raise Bad("unterminated label set")
        labels = parse_labels(rest[1:i])
        rest = rest[i + 1:]
    parts = rest.split()
    if len(parts) not in (1, 2) or not rest[:1].isspace():
        raise Bad("expected 'value [timestamp]' after the name and labels")
    if len(parts) == 2 and not re.fullmatch(r"-?\d+", parts[1]):
        raise Bad("bad timestamp %r" % parts[1])
    return name, labels, parse_value(parts[0])


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
            return name[: -len(suffix)]
    return name


def parse(text):
    """-> (samples [(name, labels dict, value)], types {family: kind}, problems [str])."""
    problems, samples, types, helps = [], [], {}, {}
    seen_series, done_families, current = set(), set(), None
    if text and not text.endswith("\n"):
        problems.append("the exposition does not end with a newline")
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                    if len(parts) < 3 or not NAME.match(parts[2]):
                        raise Bad("# %s without a valid metric name" % parts[1])
                    fam = parts[2]
                    if parts[1] == "TYPE":
                        kind = parts[3].strip() if len(parts) > 3 else ""
                        if kind not in KINDS:
                            raise Bad("unknown type %r" % kind)
                        if fam in types:
                            raise Bad("second TYPE line for %s" % fam)
                        if fam in done_families or any(family_of(s[0], types) == fam for s in samples):
                            raise Bad("TYPE of %s after its samples" % fam)
                        types[fam] = kind
                    else:
                        if fam in helps:
                            raise Bad("second HELP line for %s" % fam)
                        helps[fam] = parts[3] if len(parts) > 3 else ""
                continue
            name, labels, value = split_sample(line)
            for k, _ in labels:
                if not LABEL.match(k) or k.startswith("__"):
                    raise Bad("bad label name %r" % k)
            if len({k for k, _ in labels}) != len(labels):
                raise Bad("label repeated")
            fam = family_of(name, types)
            if fam != current:
                if fam in done_families:
                    raise Bad("samples of %s are not contiguous" % fam)
                if current is not None:
                    done_families.add(current)
                current = fam
            key = (name, tuple(sorted(labels)))
            if key in seen_series:
                raise Bad("series repeated")
            seen_series.add(key)
            samples.append((name, dict(labels), value))
        except Bad as e:
            problems.append("line %d: %s: %s" % (n, e, line[:160]))
    # per-kind rules
    for name, labels, value in samples:
        fam = family_of(name, types)
        kind = types.get(fam, "untyped")
        where = "%s%s" % (name, labels or "")
        if kind == "counter":
            if not name.endswith("_total"):
                problems.append("counter %s does not end in _total" % name)
            if not value >= 0:
                problems.append("counter %s is negative or NaN: %r" % (where, value))
        if kind == "histogram" and name != fam + "_sum" and not value >= 0:
            problems.append("histogram sample %s is negative or NaN" % where)
        if kind == "histogram" and name == fam:
            problems.append("histogram %s has a bare sample (expected _bucket/_sum/_count)" % fam)
    for fam, kind in types.items():
        if kind != "histogram":
            continue
        groups = {}
        for name, labels, value in samples:
            if family_of(name, types) != fam:
                continue
            base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            g = groups.setdefault(base, {"buckets": [], "sum": None, "count": None})
            if name == fam + "_bucket":
                if "le" not in labels:
                    problems.append("%s_bucket without le" % fam)
                    continue
                g["buckets"].append((parse_value(labels["le"]), value))
            elif name == fam + "_sum":
                g["sum"] = value
            elif name == fam + "_count":
                g["count"] = value
        for base, g in groups.items():
            where = "%s%s" % (fam, dict(base))
            b = g["buckets"]
            if not b:
                problems.append("%s: no buckets" % where)
                continue
            les = [le for le, _ in b]
            if les != sorted(les) or len(set(les)) != len(les):
                problems.append("%s: le bounds not increasing: %s" % (where, les))
            if les[-1] != math.inf:
                problems.append("%s: last bucket is not +Inf" % where)
            counts = [c for _, c in sorted(b)]
            if any(c2 < c1 for c1, c2 in zip(counts, counts[1:])):
                problems.append("%s: bucket counts decrease: %s" % (where, counts))
            if g["count"] is None or g["sum"] is None:
                problems.append("%s: _count or _sum missing" % where)
            elif counts[-1] != g["count"]:
                problems.append("%s: +Inf bucket %r != _count %r" % (where, counts[-1], g["count"]))
    return samples, types, problems


def matches(labels, want):
    return all(labels.get(k) == v for k, v in want.items())


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "value", "series"):
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "check":
        bad = 0
        for path in argv[2:]:
            samples, types, problems = parse(open(path, encoding="utf-8").read())
            for p in problems:
                print("%s: %s" % (path, p))
            if not samples:
                print("%s: no samples" % path)
                problems.append("empty")
            bad += len(problems)
            if not problems:
                print("%s: %d samples in %d families, well formed" % (path, len(samples), len(types)))
        return 1 if bad else 0
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    samples, _, _ = parse(open(argv[2], encoding="utf-8").read())
    name = argv[3]
    if cmd == "series":
        for n, labels, value in samples:
            if n == name:
                print("%s %r" % (labels, value))
        return 0
    want = dict(a.split("=", 1) for a in argv[4:])
    vals = [v for n, labels, v in samples if n == name and matches(labels, want)]
    if not vals:
        print("absent")
        return 3
    total = sum(vals)
    print(int(total) if total == int(total) else total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
