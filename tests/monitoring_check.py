#!/usr/bin/env python3
"""Checks of deploy/prometheus/dipgate-rules.yml, its unit tests and
deploy/grafana/dipgate.json that promtool does not make (run by
tests/prometheus_rules_test.sh):

- every alert has severity warning or critical, a summary, and its runbook
  anchor docs/operator-guide.md#monitoring-<alert name in lower case>;
- every alert has a unit test where it fires and one where it stays silent;
- the dashboard is a JSON model with a Prometheus `datasource` variable that
  every panel and query uses (no data source hard-coded), every panel other
  than a row has queries, each with an expression;
- every dipgate_* metric the rules and the dashboard name exists: the bridge's
  in kafka_bridge/metrics.cc, nginx's in nginx_module/ngx_dip_metrics.cc.

Usage: monitoring_check.py RULES TEST_RULES DASHBOARD BRIDGE_METRICS_CC OUT_RULES NGINX_METRICS_CC
Writes OUT_RULES: the dashboard's expressions as recording rules, for
`promtool check rules` to parse.
"""
import json
import re
import sys

import yaml

# Grafana's variables a query may use, and what stands for them when the
# expression is parsed.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def metric_names(expr):
    return set(re.findall(r"\bdipgate_[a-z0-9_]+", expr))


def check_names(where, expr, known):
    for name in sorted(metric_names(expr) - known):
        fail(f"{where}: no such metric {name} in: {expr}")


def main():
    rules_path, tests_path, dashboard_path, bridge_cc, out_rules, nginx_cc = sys.argv[1:7]
    bridge_metrics = set(re.findall(r"dipgate_bridge_[a-z0-9_]+", open(bridge_cc).read()))
    if "dipgate_bridge_dip_answers_total" not in bridge_metrics:
        fail(f"{bridge_cc}: the bridge's metric names not found")
    nginx_metrics = set(re.findall(r"dipgate_nginx_[a-z0-9_]+", open(nginx_cc).read()))
    if "dipgate_nginx_verify_total" not in nginx_metrics:
        fail(f"{nginx_cc}: nginx's metric names not found")
    known = bridge_metrics | nginx_metrics

    # ---- the alert rules
    rules = yaml.safe_load(open(rules_path))
    alerts = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            if name is None:
                continue
            alerts.append(name)
            where = f"alert {name}"
            severity = rule.get("labels", {}).get("severity")
            if severity not in ("warning", "critical"):
                fail(f"{where}: severity {severity!r}, not warning or critical")
            annotations = rule.get("annotations", {})
            if not annotations.get("summary", "").strip():
                fail(f"{where}: no summary")
            runbook = "docs/operator-guide.md#monitoring-" + name.lower()
            if annotations.get("runbook") != runbook:
                fail(f"{where}: runbook {annotations.get('runbook')!r}, want {runbook!r}")
            check_names(where, rule["expr"], known)
    if len(alerts) != len(set(alerts)):
        fail("an alert name used twice: " + ", ".join(sorted(alerts)))
    print(f"{len(alerts)} alerts: " + ", ".join(alerts))

    # ---- every alert tested both ways
    tests = yaml.safe_load(open(tests_path))
    fires, silent = set(), set()
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    for name in alerts:
        if name not in fires:
            fail(f"alert {name}: no unit test where it fires")
        if name not in silent:
            fail(f"alert {name}: no unit test where it stays silent")
    for name in sorted((fires | silent) - set(alerts)):
        fail(f"{tests_path}: tests an alert that does not exist: {name}")

    # ---- the dashboard
    dashboard = json.load(open(dashboard_path))
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 36:
        fail(f"schemaVersion {dashboard.get('schemaVersion')!r}: want 36 or later")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail(f"no datasource variable of type datasource for prometheus: {ds!r}")
    for name, v in variables.items():
        if name != "datasource" and v.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"variable {name}: not queried through ${{datasource}}")

    def is_ours(source):
        return (isinstance(source, dict) and source.get("uid") == "${datasource}"
                and source.get("type") in (None, "prometheus"))

    panels, ids, expressions = [], set(), []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # a collapsed row's panels
    for panel in panels:
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            fail(f"{where}: id used twice")
        ids.add(panel.get("id"))
        if "gridPos" not in panel:
            fail(f"{where}: no gridPos")
        if panel.get("type") == "row":
            continue
        if not panel.get("title"):
            fail(f"{where}: no title")
        if not is_ours(panel.get("datasource")):
            fail(f"{where}: datasource {panel.get('datasource')!r}, not ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            fail(f"{where}: no queries")
        for target in targets:
            expr = (target.get("expr") or "").strip()
            if not expr:
                fail(f"{where} query {target.get('refId')}: no expression")
                continue
            if "datasource" in target and not is_ours(target["datasource"]):
                fail(f"{where} query {target.get('refId')}: datasource {target['datasource']!r}")
            check_names(where, expr, known)
            if not metric_names(expr):
                fail(f"{where}: names no dipgate metric: {expr}")
            parsed = expr
            for variable, value in GRAFANA_VARIABLES.items():
                parsed = parsed.replace(variable, value)
            if "$" in parsed:
                fail(f"{where}: an unknown variable in: {expr}")
            expressions.append((where, expr, parsed))
    # No data source named anywhere else either (annotations: Grafana's own).
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasource" and isinstance(value, dict):
                    if value.get("uid") not in ("${datasource}", "-- Grafana --"):
                        fail(f"{path}: datasource {value!r}")
                elif key == "datasource" and value not in (None, "${datasource}"):
                    fail(f"{path}: datasource {value!r}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
    walk(dashboard, "dashboard")
    print(f"dashboard: {len(panels)} panels, {len(expressions)} expressions")
    for where, expr, _ in expressions:
        print(f"  {where}: {expr}")

    # The expressions as recording rules: promtool check rules parses them.
    with open(out_rules, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
            {"record": f"dipgate_dashboard:expression_{i}", "expr": parsed}
            for i, (_, _, parsed) in enumerate(expressions)]}]}, f, sort_keys=False)

    if failures:
        print(f"{len(failures)} failures")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
