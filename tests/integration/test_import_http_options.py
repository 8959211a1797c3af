"""POST /projects/{id}/records takes the CLI's import options and reads the format from the
content: Label Studio CSV/TSV whatever the content type or file name, the control map and
text key as query parameters, notes about columns read as task data."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.records.importers import ImportOptions, read_records
from bizlogic.settings import Settings
from bizlogic.store.annotations import iter_project_records
from bizlogic.telemetry.metrics import Metrics

SECRET = "test-secret-" + "y" * 40
BASE = "/api/business-logic"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "labelstudio"
LS_CSV = (FIXTURES / "export.csv").read_bytes()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}", jwt_secret=SECRET
    )
    with TestClient(create_app(settings, metrics=Metrics(50))) as test_client:
        yield test_client


def _headers(content_type: str | None) -> dict[str, str]:
    token = create_token(SECRET, "lead", "system_admin")
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _post(client: TestClient, body: bytes, content_type: str | None, project: str = "p", **params):
    return client.post(
        f"{BASE}/projects/{project}/records",
        content=body,
        headers=_headers(content_type),
        params=params,
    )


def _stored(client: TestClient, project: str) -> dict[str, dict]:
    state = client.app.state.bl
    with state.db.scope() as session:
        return {
            record.id: {"label": record.label, "sentiment": record.sentiment, "text": record.text}
            for record, _ in iter_project_records(session, project)
        }


def _tab_separated(data: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    "content_type",
    ["text/csv", "application/.csv", "application/x-www-form-urlencoded", None],
)
def test_labelstudio_csv_is_recognised_from_its_content(client, content_type) -> None:
    response = _post(client, LS_CSV, content_type)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["format"] == "labelstudio-csv"
    assert (body["received"], body["rejected"], body["imported"]) == (4, 0, 4)
    assert sorted(_stored(client, "p")) == ["ls-1001", "ls-1002", "ls-1004", "ls-1005"]


def test_tab_separated_export_named_csv_is_read_as_tsv(client) -> None:
    tsv = _tab_separated(LS_CSV)
    response = _post(client, tsv, "text/csv", control="topic=label")
    assert response.status_code == 200, response.text
    assert response.json()["format"] == "labelstudio-tsv"
    expected, _ = read_records(io.BytesIO(LS_CSV), ImportOptions(class_controls={"topic": "label"}))
    stored = _stored(client, "p")
    assert stored == {
        r.id: {"label": r.label, "sentiment": r.sentiment, "text": r.text} for r in expected
    }


def test_control_map_over_http_keeps_the_second_choices_control(client) -> None:
    without = _post(client, LS_CSV, "text/csv", project="plain").json()
    assert without["notes"] and "topic" in without["notes"][0]
    assert "control=topic=label" in without["notes"][0]
    assert _stored(client, "plain")["ls-1001"]["label"] is None  # the bare "Shipping" is lost

    mapped = _post(client, LS_CSV, "text/csv", project="mapped", control="topic=label")
    assert mapped.status_code == 200, mapped.text
    notes = mapped.json()["notes"]  # a control map given: the user chose the controls
    assert not any(note.startswith("columns read as task data") for note in notes)
    labels = {rid: row["label"] for rid, row in _stored(client, "mapped").items()}
    assert labels["ls-1001"] == "shipping"
    assert labels["ls-1002"] == "packaging"  # a multi-choice answer keeps its first choice


def test_text_key_over_http(client) -> None:
    response = _post(client, LS_CSV, "text/csv", text_key="review")
    assert response.status_code == 200, response.text
    stored = _stored(client, "p")
    assert stored["ls-1005"]["text"] == "Price is fair for what you get."


@pytest.mark.parametrize(
    ("params", "parameter", "message"),
    [
        ({"control": "topic"}, "control", "control: expected CONTROL=sentiment|label|ignore"),
        ({"control": "topic=tag"}, "control", "control: topic=tag: the target must be one of"),
        ({"csv_map": "body=text"}, "csv_map", "csv_map: 'body' is not a record field"),
        ({"text_key": " "}, "text_key", "text_key: must not be empty"),
        ({"format": "xml"}, "format", "format: unknown format 'xml'"),
    ],
)
def test_bad_import_parameters_are_named(client, params, parameter, message) -> None:
    response = _post(client, LS_CSV, "text/csv", **params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"].startswith(message), error
    assert error["details"]["parameter"] == parameter
    assert _stored(client, "p") == {}


def test_csv_map_over_http(client) -> None:
    body = b"Body,Mood\nGreat value,positive\nBroke in a day,negative\n"
    response = _post(client, body, "text/csv", csv_map=["text=Body", "sentiment=Mood"])
    assert response.status_code == 200, response.text
    assert response.json()["format"] == "csv"
    stored = sorted((row["text"], row["sentiment"]) for row in _stored(client, "p").values())
    assert stored == [("Broke in a day", "negative"), ("Great value", "positive")]


def test_one_column_csv_needs_its_content_type(client) -> None:
    body = b"text\nfirst review\nsecond review\n"
    assert _post(client, body, "text/csv").json()["imported"] == 2
    refused = _post(client, b"review\nfirst\n", None, project="q")
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("cannot detect the format of body")
