"""The routing table of docs/operations.md is generated: for every alert of the shipped
rules, the receivers `amtool config routes test` finds for its labels in
deploy/alertmanager/alertmanager.yml. The docs' table (between the routing-table marker
comments) must be the generated one; regenerate it with

    BL_UPDATE_DOCS=1 .venv/bin/pytest tests/integration/test_routing_table.py

The one-machine config, deploy/alertmanager/alertmanager-local.yml, is checked here too:
valid, and bizlogic's alerts go to the webhook, nothing else anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.servers import system_tool

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "business-logic.rules.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
LOCAL = ROOT / "deploy" / "alertmanager" / "alertmanager-local.yml"
START, END = "<!-- routing-table:start -->", "<!-- routing-table:end -->"
TABLE = re.compile(rf"{re.escape(START)}\n(.*?){re.escape(END)}", re.S)


def amtool() -> str:
    return system_tool("amtool", "prometheus-alertmanager")


def routes(config: Path, labels: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}",
         *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",")


def shipped_alerts() -> list[dict[str, str]]:
    """Each shipped alert's labels: its alertname and the rule's labels."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [
        {"alertname": rule["alert"], **rule.get("labels", {})}
        for group in groups
        for rule in group["rules"]
        if "alert" in rule
    ]


def generated() -> str:
    rows = [
        "| alert | severity | receivers (`amtool config routes test`) |",
        "|---|---|---|",
    ]
    for labels in shipped_alerts():
        receivers = ", ".join(f"`{r}`" for r in routes(ALERTMANAGER, labels))
        rows.append(f"| {labels['alertname']} | {labels.get('severity', '–')} | {receivers} |")
    other = ", ".join(f"`{r}`" for r in routes(ALERTMANAGER, {"alertname": "AnyOtherAlert"}))
    rows.append(f'| any other alert (no `service="business_logic"`) | – | {other} |')
    return "\n" + "\n".join(rows) + "\n\n"  # blank lines: a table of its own in Markdown


def test_the_docs_routing_table_is_the_generated_one() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = TABLE.search(text)
    assert found, f"docs/operations.md has no {START} … {END} section"
    expected = generated()
    if found.group(1) != expected and os.environ.get("BL_UPDATE_DOCS") == "1":
        DOC.write_text(text[: found.start(1)] + expected + text[found.end(1) :], encoding="utf-8")
        return
    assert found.group(1) == expected, (
        "the routing table of docs/operations.md is out of date; regenerate it with "
        "BL_UPDATE_DOCS=1 .venv/bin/pytest tests/integration/test_routing_table.py, "
        f"or paste:\n{expected}"
    )


def test_the_one_machine_config_is_valid() -> None:
    done = subprocess.run(
        [amtool(), "check-config", str(LOCAL)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_one_machine_config_sends_bizlogic_alerts_to_its_webhook_only() -> None:
    for labels in shipped_alerts():
        assert routes(LOCAL, labels) == ["bizlogic-recovery"], labels
    assert routes(LOCAL, {"alertname": "NodeFilesystemFull"}) == ["null"]
    config = yaml.safe_load(LOCAL.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["null"] == {"name": "null"}  # sends nothing: no SMTP on a demo machine
    (hook,) = receivers["bizlogic-recovery"]["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:8000/api/business-logic/alerts"
    assert hook["send_resolved"] is True
    token = hook["http_config"]["authorization"]
    assert token["type"] == "Bearer"
    # Relative to the config file's directory (tests/e2e/test_alertmanager_loop.py shows
    # Alertmanager reads it so): the file the walkthrough of docs/operations.md writes.
    assert (LOCAL.parent / token["credentials_file"]).resolve() == ROOT / "demo" / "webhook-token"
    assert "demo/webhook-token" in DOC.read_text(encoding="utf-8")
