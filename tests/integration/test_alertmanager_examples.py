"""The commented receiver examples of deploy/alertmanager/alertmanager.yml (a
Slack-compatible chat, an SMS gateway's webhook) work as their comment says: with the
"#| " of their lines removed, the file passes `amtool check-config` and routes every bizlogic
alert to the chat and the critical ones to SMS as well, the rest as before."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.servers import system_tool

ALERTMANAGER = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
EXAMPLE = "#| "


@pytest.fixture
def uncommented(tmp_path: Path) -> Path:
    text = ALERTMANAGER.read_text()
    assert text.count(EXAMPLE) > 10  # the examples are there, off
    config = tmp_path / "alertmanager.yml"
    config.write_text(text.replace(EXAMPLE, ""))
    return config


def amtool() -> str:
    return system_tool("amtool", "prometheus-alertmanager")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([amtool(), *args], capture_output=True, text=True, timeout=30)


def test_the_examples_uncommented_are_a_valid_config(uncommented: Path) -> None:
    done = run("check-config", str(uncommented))
    assert done.returncode == 0, done.stdout + done.stderr
    receivers = {r["name"]: r for r in yaml.safe_load(uncommented.read_text())["receivers"]}
    assert set(receivers) == {"admin", "chat", "sms", "bizlogic-recovery"}
    (chat,) = receivers["chat"]["slack_configs"]
    assert chat["api_url_file"].startswith("/etc/alertmanager/")  # no secret in the file
    (sms,) = receivers["sms"]["webhook_configs"]
    assert sms["http_config"]["authorization"]["credentials_file"].startswith("/etc/alertmanager/")


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["service=business_logic", "severity=critical"], "admin,chat,sms,bizlogic-recovery"),
        (["service=business_logic", "severity=warning"], "admin,chat,bizlogic-recovery"),
        (["severity=critical"], "admin"),  # not bizlogic's
    ],
)
def test_the_examples_route_as_documented(
    uncommented: Path, labels: list[str], receivers: str
) -> None:
    done = run("config", "routes", "test", f"--config.file={uncommented}", "alertname=X", *labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receivers
