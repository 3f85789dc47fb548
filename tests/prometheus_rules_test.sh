#!/usr/bin/env bash
# The alert rules (deploy/prometheus/dipgate-rules.yml) and the Grafana
# dashboard (deploy/grafana/dipgate.json) with Debian's promtool
# (deploy/setup.sh installs the prometheus package; missing is a failure):
#   - promtool check rules: the rules are valid;
#   - promtool test rules: their unit tests (dipgate-rules.test.yml, whose
#     rule_files are relative to it) pass;
#   - tests/monitoring_check.py: every alert has a severity, a summary and its
#     runbook anchor, and is tested firing and silent; the dashboard uses its
#     datasource variable everywhere and every panel has expressions; every
#     metric named exists;
#   - promtool check rules on the dashboard's expressions (as recording
#     rules): each one parses.
set -euo pipefail

RULES=deploy/prometheus/dipgate-rules.yml
RULE_TESTS=deploy/prometheus/dipgate-rules.test.yml
DASHBOARD=deploy/grafana/dipgate.json
BRIDGE_METRICS=kafka_bridge/metrics.cc
NGINX_METRICS=nginx_module/ngx_dip_metrics.cc

PROMTOOL=$(command -v promtool || true)
if [ -z "$PROMTOOL" ]; then
  echo "FAIL: promtool not found (PATH=$PATH): run deploy/setup.sh (Debian's prometheus)" >&2
  exit 1
fi
"$PROMTOOL" --version 2>&1 | head -1

failed=0
step() {
  echo "== $*"
  if ! "$@"; then
    echo "FAIL: $*" >&2
    failed=1
  fi
}

step "$PROMTOOL" check rules "$RULES"
step "$PROMTOOL" test rules "$RULE_TESTS"
OUT=${TEST_TMPDIR:-$(mktemp -d)}/dashboard-expressions.yml
step python3 tests/monitoring_check.py "$RULES" "$RULE_TESTS" "$DASHBOARD" "$BRIDGE_METRICS" "$OUT" "$NGINX_METRICS"
if [ -s "$OUT" ]; then
  step "$PROMTOOL" check rules "$OUT"
else
  echo "FAIL: no dashboard expressions to check" >&2
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  echo "prometheus_rules_test: FAILED"
  exit 1
fi
echo "prometheus_rules_test: passed"
