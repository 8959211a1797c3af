"""CSV export must not hand formulas to the analyst's spreadsheet (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.csv_safe import safe_cell
from bizlogic.settings import Settings
from bizlogic.store.projects import get_or_create_project
from bizlogic.store.tables import InsightRow, PatternRow
from bizlogic.telemetry.metrics import Metrics

SECRET = "test-secret-" + "x" * 40
BASE = "/api/business-logic"
PROJECT = "hostile"
HYPERLINK = '=HYPERLINK("http://x","click")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("plain = text", "plain = text"),
        ("", ""),
        (-0.25, -0.25),
        (3, 3),
        (True, True),
        (None, None),
    ],
)
def test_safe_cell_prefixes_only_formula_strings(value, expected):
    assert safe_cell(value) == expected


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}", jwt_secret=SECRET
    )
    with TestClient(create_app(settings, metrics=Metrics(50))) as test_client:
        yield test_client


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, 'alice', 'system_admin')}"}


def _hostile_rule() -> dict:
    return {
        "algorithm": HYPERLINK,
        "rule_type": "+cmd|' /C calc'!A0",
        "conditions": [{"field": "-2+3", "operator": "eq", "value": "x"}],
        "consequent": {"field": "sentiment", "operator": "eq", "value": "negative"},
        "support_count": 10,
        "support": 0.1,
        "antecedent_count": 12,
        "consequent_count": 40,
        "n_records": 100,
        "confidence": 0.83,
        "lift": 2.1,
        "leverage": -0.05,
        "conviction": 1.5,
        "p_value": 0.001,
        "q_value": 0.002,
        "examples": ["=1+1"],
    }


def _store_hostile_rows(client: TestClient) -> None:
    """Patterns and insights have no import route: write them as an analysis would."""
    imported = client.post(
        f"{BASE}/rules/import",
        params={"project_id": PROJECT},
        content=orjson.dumps({"rules": [_hostile_rule()]}),
        headers={**_auth(), "Content-Type": "application/json"},
    )
    assert imported.status_code == 200, imported.text
    with client.app.state.bl.db.scope() as session:
        get_or_create_project(session, PROJECT)
        session.add(
            PatternRow(
                project_id=PROJECT,
                algorithm="temporal",
                pattern_type="\r=1+1",
                description="@SUM(1+1)*cmd|' /C calc'!A0",
                strength=0.5,
                data={},
            )
        )
        session.add(
            InsightRow(
                project_id=PROJECT,
                algorithm="behavior",
                insight_key="k1",
                insight_type="annotator",
                title='\t=HYPERLINK("http://x")',
                description="annotator -evil- disagrees",
                impact_score=0.7,
                recommendations=[],
                evidence={},
            )
        )


def _exported_rows(client: TestClient) -> dict[str, dict[str, str]]:
    response = client.post(
        f"{BASE}/export", json={"project_id": PROJECT, "format": "csv"}, headers=_auth()
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    return {row["kind"]: row for row in rows}


def test_csv_export_neutralises_formula_cells(client):
    _store_hostile_rows(client)
    rows = _exported_rows(client)

    rule, pattern, insight = rows["rules"], rows["patterns"], rows["insights"]
    assert rule["algorithm"] == "'" + HYPERLINK
    assert rule["rule_type"] == "'+cmd|' /C calc'!A0"
    assert rule["key"] == "'-2+3 = 'x' => sentiment = 'negative'"
    assert pattern["pattern_type"] == "'\r=1+1"
    assert pattern["description"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert insight["title"] == '\'\t=HYPERLINK("http://x")'
    # Harmless text and the service's own numbers are written as they are.
    assert insight["description"] == "annotator -evil- disagrees"
    assert rule["pattern"] == "IF -2+3 = 'x' THEN sentiment = 'negative'"
    assert rule["examples"] == '["=1+1"]'
    assert (rule["confidence"], rule["leverage"], rule["support_count"]) == ("0.83", "-0.05", "10")
