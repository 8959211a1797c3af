"""Prometheus and Alertmanager configurations pass their own tools, and alerts route as
documented: everything to the admins, bizlogic's own alerts also to its webhook."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is missing; CI=true requires it (Debian package {package})")
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True)


def test_prometheus_config_and_its_rule_files_are_valid() -> None:
    done = run(
        tool("promtool", "prometheus"),
        "check",
        "config",
        str(DEPLOY / "prometheus" / "prometheus.yml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 13 rules found" in done.stdout


def test_alertmanager_config_is_valid() -> None:
    done = run(tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["alertname=BusinessLogicServiceDown", "severity=critical"], "admin,bizlogic-recovery"),
        (["alertname=BusinessLogicHighErrorRate", "severity=critical"], "admin,bizlogic-recovery"),
        (["alertname=BusinessLogicHighCPUUsage", "severity=warning"], "admin,bizlogic-recovery"),
        (["alertname=BusinessLogicHighMemoryUsage", "severity=warning"], "admin,bizlogic-recovery"),
        (["alertname=NodeFilesystemFull", "severity=critical"], "admin"),
        (["alertname=SomethingElse"], "admin"),
    ],
)
def test_alerts_route_to_the_documented_receivers(labels: list[str], receivers: str) -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    done = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receivers
