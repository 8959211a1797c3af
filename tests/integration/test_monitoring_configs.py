"""Prometheus and Alertmanager configurations pass their own tools, and alerts route as
documented: everything to the admins, bizlogic's own alerts also to chat and to its
webhook, the critical ones by SMS too; no secret in the shipped file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.servers import system_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
RULES = DEPLOY / "prometheus" / "rules" / "business-logic.rules.yml"
SERVICE = "service=business_logic"
WARNING = "admin,chat,bizlogic-recovery"
CRITICAL = "admin,chat,sms,bizlogic-recovery"
# An Alertmanager route as an operator writes it from the operators' guide, whose alerts
# all carry `service: business_logic`.
GUIDE_ROUTE = """
route:
  receiver: everyone-else
  routes:
    - match:
        service: business_logic
      receiver: business-logic-team
receivers:
  - name: everyone-else
  - name: business-logic-team
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True)


def test_prometheus_config_and_its_rule_files_are_valid() -> None:
    done = run(
        system_tool("promtool", "prometheus"),
        "check",
        "config",
        str(DEPLOY / "prometheus" / "prometheus.yml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 15 rules found" in done.stdout


def test_alertmanager_config_is_valid() -> None:
    done = run(system_tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["alertname=BusinessLogicServiceDown", "severity=critical", SERVICE], CRITICAL),
        (["alertname=BusinessLogicHighErrorRate", "severity=critical", SERVICE], CRITICAL),
        (["alertname=BusinessLogicHighCPUUsage", "severity=warning", SERVICE], WARNING),
        (["alertname=BusinessLogicHighMemoryUsage", "severity=warning", SERVICE], WARNING),
        (["alertname=BusinessLogicRecoveryNeedsAttention", "severity=critical", SERVICE], CRITICAL),
        (["alertname=NodeFilesystemFull", "severity=critical"], "admin"),
        (["alertname=SomethingElse"], "admin"),
        (["alertname=BusinessLogicLookalike", "severity=critical"], "admin"),  # not ours
    ],
)
def test_alerts_route_to_the_documented_receivers(labels: list[str], receivers: str) -> None:
    amtool = system_tool("amtool", "prometheus-alertmanager")
    done = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receivers


def _alert_labels() -> list[list[str]]:
    """Each shipped alert's labels as amtool arguments (alertname plus the rule's labels)."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [
        [f"alertname={rule['alert']}", *(f"{k}={v}" for k, v in rule["labels"].items())]
        for group in groups
        for rule in group["rules"]
    ]


def test_every_shipped_alert_reaches_a_route_written_from_the_guide(tmp_path: Path) -> None:
    amtool = system_tool("amtool", "prometheus-alertmanager")
    config = tmp_path / "guide-route.yml"
    config.write_text(GUIDE_ROUTE)
    labels = _alert_labels()
    assert len(labels) == 15
    for alert in labels:
        done = run(amtool, "config", "routes", "test", f"--config.file={config}", *alert)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "business-logic-team", alert
        shipped = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *alert)
        expected = CRITICAL if "severity=critical" in alert else WARNING
        assert shipped.stdout.strip() == expected, alert


def test_the_shipped_channels_keep_their_secrets_in_files() -> None:
    """Chat (Slack-compatible natively, the relay's channel "chat") and SMS (the relay's
    channel "sms") are live receivers whose URLs and tokens are files an operator fills."""
    receivers = {r["name"]: r for r in yaml.safe_load(ALERTMANAGER.read_text())["receivers"]}
    (slack,) = receivers["chat"]["slack_configs"]
    assert slack["api_url_file"] == "/etc/alertmanager/chat-webhook-url" and "api_url" not in slack
    assert slack["send_resolved"] is True
    relayed = {
        hook["url"].rsplit("/", 1)[1]: hook
        for name in ("chat", "sms")
        for hook in receivers[name]["webhook_configs"]
    }
    assert set(relayed) == {"chat", "sms"}
    for channel, hook in relayed.items():
        assert hook["url"].endswith(f"/api/business-logic/alerts/notify/{channel}")
        auth = hook["http_config"]["authorization"]
        # The relay takes the same BL_WEBHOOK_TOKEN as the recovery webhook.
        assert auth == {
            "type": "Bearer",
            "credentials_file": "/etc/alertmanager/bizlogic-webhook-token",
        }
    assert relayed["sms"]["max_alerts"] == 3  # a text message is short
