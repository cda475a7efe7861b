#!/usr/bin/env python3
"""check_observability.py: the Grafana dashboard and the PrometheusRule of deploy/observability
against scrapes of the services' /metrics.

  check_observability.py DASHBOARD.json RULES.yaml SCRAPE [SCRAPE...]

Checks: the dashboard is a Grafana dashboard (uid, title, panels with PromQL targets on a Prometheus
datasource, unique panel ids); the rules are a PrometheusRule whose every rule has an alert name, an
expression, a duration, a severity and a summary; every expression is balanced; every metric name an
expression uses (histogram series through their _bucket/_sum/_count samples) is in some scrape,
`up` excepted (Prometheus records it per target). Prints each metric with the scrape that has it;
exit 1 on the first class of failure, listing every offender.
"""
import json
import re
import sys

import yaml

# PromQL words that look like metric names
FUNCS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "histogram_quantile",
    "vector", "scalar", "abs", "absent", "absent_over_time", "ceil", "floor", "round", "clamp_min",
    "clamp_max", "label_replace", "label_join", "time", "timestamp", "sort", "sort_desc", "changes", "resets",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "inf", "nan", "humanize",
}
PROMETHEUS_OWN = {"up"}


def exprs_of_dashboard(d):
    errs, out, ids = [], [], set()
    for k in ("uid", "title", "panels", "schemaVersion"):
        if k not in d:
            errs.append("dashboard: no %s" % k)
    for p in d.get("panels", []):
        if p.get("id") in ids:
            errs.append("dashboard: panel id %s twice" % p.get("id"))
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        if not p.get("title") or not p.get("targets"):
            errs.append("dashboard: panel %s without a title or targets" % p.get("id"))
        if (p.get("datasource") or {}).get("type") != "prometheus":
            errs.append("dashboard: panel %r not on a Prometheus datasource" % p.get("title"))
        for t in p.get("targets", []):
            out.append(("panel %r" % p.get("title"), t.get("expr", "")))
    return errs, out


def exprs_of_rules(r):
    errs, out = [], []
    if r.get("apiVersion") != "monitoring.coreos.com/v1" or r.get("kind") != "PrometheusRule":
        errs.append("rules: not a monitoring.coreos.com/v1 PrometheusRule")
    groups = (r.get("spec") or {}).get("groups") or []
    if not groups:
        errs.append("rules: no groups")
    for g in groups:
        for rule in g.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            if not name or not rule.get("expr"):
                errs.append("rules: a rule of %s without a name or expr" % g.get("name"))
                continue
            if rule.get("alert"):
                if "for" not in rule or (rule.get("labels") or {}).get("severity") not in ("warning", "critical", "info"):
                    errs.append("rules: %s needs `for` and a severity" % name)
                if not (rule.get("annotations") or {}).get("summary"):
                    errs.append("rules: %s has no summary" % name)
            out.append(("alert %s" % name, rule["expr"]))
    return errs, out


def balanced(e):
    stack, pairs, quote = [], {")": "(", "]": "[", "}": "{"}, None
    for c in e:
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in ")]}":
            if not stack or stack.pop() != pairs[c]:
                return False
    return not stack and not quote


def names_in(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)            # label values
    e = re.sub(r"\{[^}]*\}", "{}", e)                        # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1()", e)  # label lists
    e = re.sub(r"\[[^\]]*\]", "[]", e)                       # ranges
    e = re.sub(r"\$\w+", "", e)                              # dashboard variables
    return {w for w in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", e) if w not in FUNCS and not w.isdigit()}


def scraped(paths):
    have = {}
    for p in paths:
        for line in open(p):
            if line.startswith("#") or not line.strip():
                continue
            have.setdefault(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0), p)
    return have


def main():
    dash = json.load(open(sys.argv[1]))
    rules = yaml.safe_load(open(sys.argv[2]))
    have = scraped(sys.argv[3:])
    errs, exprs = exprs_of_dashboard(dash)
    e2, x2 = exprs_of_rules(rules)
    errs += e2
    exprs += x2
    errs += ["%s: unbalanced expression %r" % (w, e) for w, e in exprs if not e.strip() or not balanced(e)]
    used = {}
    for where, e in exprs:
        for n in names_in(e):
            used.setdefault(n, where)
    for n, where in sorted(used.items()):
        if n in PROMETHEUS_OWN:
            print("ok: %s (recorded by Prometheus per target)" % n)
        elif n in have:
            print("ok: %s in %s" % (n, have[n]))
        else:
            errs.append("%s uses %s, which no service's /metrics has" % (where, n))
    print("%d expressions, %d metric names" % (len(exprs), len(used)))
    for e in errs:
        print("FAIL: " + e)
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
