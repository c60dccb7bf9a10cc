#!/usr/bin/env python3
"""lint.py - checks of etc/grafana/zentoria-backupd.json and
etc/prometheus/zentoria-backupd.rules.yml that promtool does not make.

Usage: lint.py SRCDIR

Every PromQL expression of the dashboard (panel targets, variable queries)
and of the rules may only name metrics the daemon exports (EXPORTED below,
issue 10's list plus backup_rpo_seconds), with the labels the daemon gives
them (plus `instance`, which Prometheus adds); the rules may also name
Prometheus's own `up`.  Label names in matchers, in by/without/on/ignoring/
group_left/group_right lists, in legends ({{label}}) and in annotation
templates ({{ $labels.label }}) must be labels of a metric of the same
expression.  The dashboard must be valid JSON with unique panel ids, a
target on every panel, the templated data source, and the variables job,
source and sink.  Every alert must have summary and description
annotations and be tested by tests/prometheus/*.test.yml both firing and
not firing.  docs/monitoring.md must name every exported metric.

Prints one line per problem on stderr and exits 1 if there is any, else 0.
"""
import glob
import json
import os
import re
import sys

import yaml

COPY = {"job", "source", "stream", "sink"}
# The daemon's metrics and their labels (core/metrics.c; docs/monitoring.md).
EXPORTED = {
    "backup_last_run_timestamp": COPY,
    "backup_last_success_timestamp": COPY,
    "backup_duration_seconds": COPY,
    "backup_size_bytes": COPY,
    "backup_success": COPY,
    "backup_age_hours": COPY,
    "backup_bytes_read_total": COPY,
    "backup_bytes_stored_total": COPY,
    "backup_backpressure_seconds_total": COPY,
    "backup_runs_total": {"job", "outcome"},
    "backup_running": {"job"},
    "backup_next_run_timestamp": {"job"},
    "backup_rpo_seconds": {"job"},
    "backup_buffer_bytes": {"state"},
    "backup_verify_success": {"check", "kind"},
    "backup_verify_timestamp": {"check", "kind"},
    "backup_test_restore_seconds": {"check", "kind"},
    "backup_retained_copies": {"sink"},
    "zentoria_build_info": {"version"},
}
# Prometheus's own series, for the rules only.
PROMETHEUS_OWN = {"up": {"job"}}
# Added by the scrape to every series.
TARGET_LABELS = {"instance"}

FUNCTIONS = set("""
abs absent absent_over_time avg_over_time ceil changes clamp clamp_max
clamp_min count_over_time day_of_month day_of_week day_of_year
days_in_month delta deriv exp floor histogram_quantile holt_winters hour
idelta increase irate label_join label_replace last_over_time ln log10 log2
max_over_time min_over_time minute month predict_linear present_over_time
quantile_over_time rate resets round scalar sgn sort sort_desc sqrt
stddev_over_time stdvar_over_time sum_over_time time timestamp vector year
sum min max avg group stddev stdvar count count_values bottomk topk quantile
""".split())
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = LABEL_LISTS | {"bool", "and", "or", "unless", "offset", "atan2",
                          "inf", "nan"}

TOKEN = re.compile(r'''
    (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<braces>\{[^}]*\})
  | (?P<range>\[[^\]]*\])
  | (?P<var>\$\{?\w+\}?)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[smhdwy]?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<space>\s+)
  | (?P<other>.)
''', re.X | re.S)
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*'
                     r'("(?:\\.|[^"\\])*")\s*,?')

problems = []


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def analyse(expr, where, known):
    """The metric names of EXPR (checked against KNOWN) and the union of
    their labels; records every problem."""
    toks = [(m.lastgroup, m.group()) for m in TOKEN.finditer(expr)
            if m.lastgroup != "space"]
    metrics = []
    listed = []		# label names from by (...), on (...)
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "braces" and (i == 0 or toks[i - 1][0] != "ident"):
            problem(where, "a selector without a metric name: %s" % text)
        if kind != "ident":
            i += 1
            continue
        low = text.lower()
        if low in LABEL_LISTS and nxt[1] == "(":
            j = i + 2
            while j < len(toks) and toks[j][1] != ")":
                if toks[j][0] == "ident":
                    listed.append(toks[j][1])
                j += 1
            i = j + 1
            continue
        if low in KEYWORDS:
            if low == "offset":
                i += 1		# its duration is a num token
            i += 1
            continue
        if nxt[1] == "(" or (nxt[0] == "ident" and
                             nxt[1].lower() in ("by", "without")):
            if text not in FUNCTIONS:
                problem(where, "unknown function %s()" % text)
            i += 1
            continue
        if text not in known:
            problem(where, "%s is not a metric the daemon exports" % text)
            i += 1
            continue
        metrics.append(text)
        if nxt[0] == "braces":
            body = nxt[1][1:-1]
            pos = 0
            while body[pos:].strip():
                m = MATCHER.match(body, pos)
                if m is None:
                    problem(where, "cannot read the matchers %s" % nxt[1])
                    break
                if m.group(1) not in known[text] | TARGET_LABELS:
                    problem(where, "%s has no label %s" %
                            (text, m.group(1)))
                pos = m.end()
            i += 1
        i += 1
    labels = set(TARGET_LABELS)
    for m in metrics:
        labels |= known[m]
    for lab in listed:
        if lab not in labels:
            problem(where, "label %s is not a label of %s" %
                    (lab, ", ".join(metrics) or "any metric"))
    if not metrics:
        problem(where, "no metric in %r" % expr)
    return metrics, labels


def check_dashboard(path):
    try:
        with open(path) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        problem(path, "not valid JSON: %s" % e)
        return
    if not isinstance(dash.get("schemaVersion"), int) or \
            dash["schemaVersion"] < 36:
        problem(path, "schemaVersion %r: want 36 or later" %
                dash.get("schemaVersion"))
    for key in ("title", "uid"):
        if not dash.get(key):
            problem(path, "no %s" % key)
    tvars = {v.get("name"): v for v in
             dash.get("templating", {}).get("list", [])}
    ds = tvars.get("datasource")
    if ds is None or ds.get("type") != "datasource" or \
            ds.get("query") != "prometheus":
        problem(path, "no templated Prometheus data source variable "
                "`datasource`")
    for name in ("job", "source", "sink"):
        v = tvars.get(name)
        if v is None:
            problem(path, "no template variable %s" % name)
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "")
        if m is None:
            problem(path, "variable %s: not label_values(METRIC, LABEL): "
                    "%r" % (name, q))
            continue
        metrics, labels = analyse(m.group(1), "%s: variable %s" %
                                  (path, name), EXPORTED)
        if m.group(2) != name or name not in labels:
            problem(path, "variable %s lists label %s" % (name, m.group(2)))
    panels = []
    for p in dash.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))
    if not panels:
        problem(path, "no panels")
    ids = [p.get("id") for p in panels]
    for i in set(ids):
        if ids.count(i) > 1 or not isinstance(i, int):
            problem(path, "panel id %r: not a unique integer" % i)
    exprs = []
    for p in panels:
        if p.get("type") == "row":
            continue
        where = "%s: panel %r (%s)" % (path, p.get("id"), p.get("title"))
        if "gridPos" not in p:
            problem(where, "no gridPos")
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problem(where, "data source is not ${datasource}")
        targets = p.get("targets") or []
        if not targets:
            problem(where, "no targets")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            problem(where, "refIds not unique: %r" % refs)
        for t in targets:
            expr = t.get("expr")
            if not expr:
                problem(where, "target %s has no expr" % t.get("refId"))
                continue
            exprs.append(expr)
            twhere = "%s target %s" % (where, t.get("refId"))
            metrics, labels = analyse(expr, twhere, EXPORTED)
            for lab in re.findall(r"\{\{\s*(\w+)\s*\}\}",
                                  t.get("legendFormat", "")):
                if lab not in labels:
                    problem(twhere, "legend names label %s, not a label "
                            "of %s" % (lab, ", ".join(metrics)))
    for name in ("job", "source", "sink"):
        if not any("$" + name in e for e in exprs):
            problem(path, "no panel uses $%s" % name)


def check_rules(path, testdir):
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        problem(path, "cannot read: %s" % e)
        return
    known = dict(EXPORTED)
    known.update(PROMETHEUS_OWN)
    alerts = []
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            where = "%s: %s" % (path, name)
            metrics, labels = analyse(str(r.get("expr", "")), where, known)
            if "absent" in str(r.get("expr")):
                # absent() keeps only the equality matchers' labels
                labels = set(re.findall(r'(\w+)="', str(r["expr"])))
            ann = r.get("annotations") or {}
            if r.get("alert"):
                alerts.append(r["alert"])
                for key in ("summary", "description"):
                    if not ann.get(key):
                        problem(where, "no %s annotation" % key)
            for text in ann.values():
                for lab in re.findall(r"\$labels\.(\w+)", text):
                    if lab not in labels:
                        problem(where, "annotation names label %s, not a "
                                "label of the alert" % lab)
    fires, quiet = set(), set()
    for tf in sorted(glob.glob(os.path.join(testdir, "*.test.yml"))):
        with open(tf) as f:
            t = yaml.safe_load(f)
        for case in t.get("tests", []):
            for a in case.get("alert_rule_test", []):
                (fires if a.get("exp_alerts") else quiet).add(
                    a.get("alertname"))
    for a in alerts:
        if a not in fires:
            problem(path, "alert %s: no test where it fires" % a)
        if a not in quiet:
            problem(path, "alert %s: no test where it does not fire" % a)
    for a in (fires | quiet) - set(alerts):
        problem(testdir, "a test names alert %s, not in %s" % (a, path))


def check_docs(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        problem(path, "cannot read: %s" % e)
        return
    for m in sorted(EXPORTED):
        if "`%s" % m not in text:
            problem(path, "does not document %s" % m)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: lint.py SRCDIR\n")
        return 2
    src = sys.argv[1]
    check_dashboard(os.path.join(src, "etc/grafana/zentoria-backupd.json"))
    check_rules(os.path.join(src, "etc/prometheus/zentoria-backupd.rules.yml"),
                os.path.join(src, "tests/prometheus"))
    check_docs(os.path.join(src, "docs/monitoring.md"))
    for p in problems:
        sys.stderr.write(p + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
