"""`bizlogic rules list|export|import|apply` against the real app (in-process, SQLite).

The CLI's HTTP client is pointed at a Starlette TestClient, so every request
goes through the real routes, auth, cache and database.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.cli import app as cli_app
from bizlogic.cli import client as api_client
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.telemetry.logging import configure_logging, reset_logging
from bizlogic.telemetry.metrics import Metrics

SECRET = "rules-cli-secret-" + "y" * 40
BASE = "/api/business-logic"
runner = CliRunner()


def _token(role: str = "system_admin", projects: list[str] | None = None) -> str:
    return create_token(SECRET, "carol", role, projects)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[TestClient]:
    """One analysed project `demo` (3,000 generated records)."""
    tmp: Path = tmp_path_factory.mktemp("rules-cli")
    records = tmp / "records.jsonl"
    generate(records, 3000, seed=5)
    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'bl.db'}", jwt_secret=SECRET)
    # The service logs to a buffer: CliRunner captures stdout, which must hold only CLI output.
    configure_logging(settings, stream=io.StringIO())
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        auth = {"Authorization": f"Bearer {_token()}"}
        imported = client.post(
            f"{BASE}/projects/demo/records",
            content=records.read_bytes(),
            headers={**auth, "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200, imported.text
        job_id = client.post(f"{BASE}/analyze", json={"project_id": "demo"}, headers=auth).json()[
            "job_id"
        ]
        deadline = time.monotonic() + 120
        while (job := client.get(f"{BASE}/jobs/{job_id}", headers=auth).json())["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, "analysis did not finish"
            time.sleep(0.05)
        assert job["status"] == "completed", job["error"]
        yield client
    reset_logging()


@pytest.fixture
def cli(service, monkeypatch):
    """Run `bizlogic …` with its HTTP client bound to the in-process service."""

    def borrowed(url: str, token: str, timeout_s: float):
        service.headers["Authorization"] = f"Bearer {token}"
        return contextlib.nullcontext(service)

    monkeypatch.setattr(api_client, "make_client", borrowed)

    def invoke(*args: str, token: str | None = None):
        env = {"BL_TOKEN": token if token is not None else _token()}
        return runner.invoke(cli_app, ["rules", *args], env=env, catch_exceptions=False)

    return invoke


def _api_rules(service: TestClient, project: str, **params) -> dict:
    response = service.get(
        f"{BASE}/rules/{project}",
        params={"limit": 1000, **params},
        headers={"Authorization": f"Bearer {_token()}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_list_prints_the_api_page(cli, service):
    expected = _api_rules(service, "demo", min_confidence=0.8, limit=5)
    result = cli("list", "demo", "--min-confidence", "0.8", "--limit", "5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected
    table = cli("list", "demo", "--min-confidence", "0.8", "--limit", "5")
    assert table.exit_code == 0
    assert f"demo: rules 1–5 of {expected['total']}" in table.stdout
    assert all(f"{rule['confidence']:.3f}" in table.stdout for rule in expected["rules"])


def test_list_without_token_or_with_a_foreign_token_fails(cli):
    missing = cli("list", "demo", token="")
    assert missing.exit_code == 1
    assert "--token: required" in missing.stderr
    foreign = cli("list", "demo", token=_token("viewer", ["other"]))
    assert foreign.exit_code == 1
    assert "FORBIDDEN" in foreign.stderr
    bad = cli("list", "demo", "--sort", "colour")
    assert bad.exit_code == 1
    assert "INVALID_REQUEST" in bad.stderr and "sort" in bad.stderr


def test_unreachable_service_is_a_clear_error():
    result = runner.invoke(
        cli_app,
        ["rules", "list", "demo", "--url", "http://127.0.0.1:9", "--token", "t"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "http://127.0.0.1:9: no answer" in result.stderr


def test_export_writes_the_file_the_api_serves(cli, service, tmp_path):
    target = tmp_path / "out" / "demo.yaml"
    result = cli("export", "demo", "--format", "yaml", "--include", "rules", "-o", str(target))
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(target.read_text("utf-8"))
    assert set(document) == {"project_id", "rules"}
    assert [r["id"] for r in document["rules"]] == [
        r["id"] for r in _api_rules(service, "demo")["rules"]
    ]
    csv_out = cli("export", "demo", "--format", "csv", "-o", "-")
    assert csv_out.exit_code == 0
    lines = csv_out.stdout.splitlines()
    assert lines[0].startswith("kind,")
    assert {line.split(",")[0] for line in lines[1:]} == {"rules", "patterns", "insights"}


def test_failed_export_leaves_no_file(cli, tmp_path):
    target = tmp_path / "never.json"
    result = cli("export", "demo", "--format", "xml", "-o", str(target))
    assert result.exit_code == 1
    assert "INVALID_REQUEST" in result.stderr and "format" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_import_counts_and_conflict_modes(cli, service, tmp_path):
    exported = tmp_path / "demo.json"
    assert cli("export", "demo", "--include", "rules", "-o", str(exported)).exit_code == 0
    n = len(json.loads(exported.read_bytes())["rules"])
    first = cli("import", str(exported), "--project", "copy-target")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == f"copy-target: {n} imported, 0 replaced, 0 skipped"
    again = cli("import", str(exported), "--project", "copy-target")
    assert again.stdout.strip() == f"copy-target: 0 imported, 0 replaced, {n} skipped"
    override = cli("import", str(exported), "--project", "copy-target", "--conflict", "override")
    assert override.stdout.strip() == f"copy-target: 0 imported, {n} replaced, 0 skipped"
    assert _api_rules(service, "copy-target")["total"] == n


def test_import_of_a_bad_file_imports_nothing(cli, service, tmp_path):
    exported = tmp_path / "demo.yaml"
    assert cli("export", "demo", "--format", "yaml", "-o", str(exported)).exit_code == 0
    document = yaml.safe_load(exported.read_text("utf-8"))
    del document["rules"][1]["confidence"]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(document), "utf-8")
    result = cli("import", str(broken), "--project", "never-filled")
    assert result.exit_code == 1
    assert "nothing was imported" in result.stderr and "rules[1]" in result.stderr
    assert _api_rules(service, "never-filled")["total"] == 0
    missing = cli("import", str(tmp_path / "nope.json"), "--project", "x")
    assert missing.exit_code == 1 and "nope.json" in missing.stderr


def test_apply_copies_the_selected_rules_and_records_them(cli, service):
    chosen = _api_rules(service, "demo", min_confidence=0.9, active_only=True)["rules"]
    assert chosen, "the demo project must have confident rules"
    result = cli("apply", "--from", "demo", "--to", "shop", "--min-confidence", "0.9", "--json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)["applied"]
    assert [a["rule_id"] for a in applied] == [r["id"] for r in chosen]
    assert [a["confidence"] for a in applied] == [r["confidence"] for r in chosen]
    target = _api_rules(service, "shop")
    assert sorted(r["pattern"] for r in target["rules"]) == sorted(r["pattern"] for r in chosen)


def test_apply_adapt_re_measures_on_the_target(cli, service):
    rule = _api_rules(service, "demo", limit=1)["rules"][0]
    same = cli("apply", "--from", "demo", "--to", "demo", "--rule-id", str(rule["id"]))
    assert same.exit_code == 0, same.output
    adapt = cli(
        "apply", "--from", "demo", "--to", "demo", "--mode", "adapt", "--rule-id", str(rule["id"])
    )
    assert adapt.exit_code == 0, adapt.output
    (answer,) = json.loads(
        cli(
            "apply",
            "--from",
            "demo",
            "--to",
            "demo",
            "--mode",
            "adapt",
            "--rule-id",
            str(rule["id"]),
            "--json",
        ).stdout
    )["applied"]
    # Re-measured on all of demo's records (train + hold-out), so the counts are the
    # full-data counts: at least the training support the rule was mined with.
    assert answer["support_count"] >= rule["support_count"]
    empty = cli("apply", "--from", "demo", "--to", "empty", "--mode", "adapt", "--rule-id", "1")
    assert empty.exit_code == 1
    assert "has no records to adapt to" in empty.stderr
    none = cli("apply", "--from", "demo", "--to", "x", "--rule-type", "no_such_type")
    assert none.exit_code == 1 and "no rules matching" in none.stderr
