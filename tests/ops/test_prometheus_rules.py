"""deploy/prometheus: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), the sample scrape configuration is valid, and the Grafana
dashboard's queries are valid PromQL over metric families the server really exposes."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from calls import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: scripts/setup.sh test installs Debian's prometheus package")
    return path


def run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def exposed_families() -> set[str]:
    collectors = (metrics.CALLS_ACTIVE, metrics.CALLS, metrics.REFUSED, metrics.TURN_LATENCY,
                  metrics.PROVIDER_FAILURES, metrics.PROVIDER_FALLBACKS, metrics.BREAKER_OPEN,
                  metrics.CALL_DURATION, metrics.ANSWERS, metrics.RECORDS_LOST, metrics.WEBHOOK_DELIVERIES,
                  metrics.WEBHOOK_OLDEST_UNDELIVERED, metrics.WEBHOOK_DESTINATION_FAILING, metrics.RECORDING_DROPPED,
                  metrics.RECORDINGS_STORED, metrics.RECORDINGS_WAITING, metrics.CAMPAIGN_DIALS)
    return {family.name for collector in collectors for family in collector.describe()}


def referenced_metrics(expr: str) -> set[str]:
    """voicebot_* names in a PromQL expression, with the exposition suffixes taken off."""
    names = set(re.findall(r"\bvoicebot_[a-z_]+", expr))
    return {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in names}


def test_alert_rules_are_valid(promtool):
    out = run(promtool, "check", "rules", "alerts.yml", cwd=DEPLOY)
    assert "SUCCESS: 14 rules found" in out


def test_alert_rule_unit_tests_pass(promtool):
    out = run(promtool, "test", "rules", "alerts_test.yml", cwd=DEPLOY)
    assert "SUCCESS" in out


def test_every_alert_of_the_issue_is_there_and_unit_tested():
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert names == {"VoicebotResponseSlow", "VoicebotProviderFailing", "VoicebotBreakerOpen",
                     "VoicebotErrorOutcomes", "VoicebotCallsRefusedBusy", "VoicebotScrapeFailing",
                     "VoicebotNotScraped", "VoicebotRecordsLost", "VoicebotWebhookDestinationFailing",
                     "VoicebotWebhooksUndelivered", "VoicebotWebhookGivenUp", "VoicebotRecordingsNotStored",
                     "VoicebotRecordingAudioDropped", "VoicebotCampaignDialsFailing"}
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    fired = {case["alertname"] for group in tests for case in group.get("alert_rule_test", []) if case["exp_alerts"]}
    assert fired == names  # each alert is shown firing at least once
    for rule in rules:
        assert referenced_metrics(rule["expr"]) <= exposed_families(), rule["alert"]


def test_sample_scrape_config_is_valid(promtool, tmp_path):
    token = tmp_path / "voicebot-metrics-token"
    token.write_text("example-token\n")
    config = (DEPLOY / "prometheus.yml").read_text().replace("/etc/prometheus/voicebot-metrics-token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(DEPLOY / "alerts.yml", tmp_path / "alerts.yml")
    out = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS" in out


def test_grafana_dashboard_queries_are_valid_promql(promtool, tmp_path):
    """Each panel query, checked by promtool as a recording rule, over exposed families only."""
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        assert referenced_metrics(expr) <= exposed_families(), expr
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)
    ]}]}
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    out = run(promtool, "check", "rules", "dashboard-rules.yml", cwd=tmp_path)
    assert f"SUCCESS: {len(exprs)} rules found" in out
