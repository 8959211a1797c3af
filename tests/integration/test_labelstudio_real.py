"""Exports made by a real Label Studio 1.23.2 server (tests/fixtures/labelstudio/real-1.23.2,
see its README): every format gives the records of the full JSON export, through the
importer, over HTTP (with Label Studio's own content types) and through `bizlogic import`.

The reference is checked first against expected.json, which a separate stdlib script
derived from the full export without any bizlogic code.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.records.importers import ImportOptions, detect_format, read_records
from bizlogic.records.schema import Record
from bizlogic.settings import Settings
from bizlogic.store.annotations import iter_project_records
from bizlogic.store.db import Database
from bizlogic.telemetry.metrics import Metrics
from tests.servers import bizlogic, clean_env

REAL = Path(__file__).parents[1] / "fixtures" / "labelstudio" / "real-1.23.2"
EXPECTED = json.loads((REAL / "expected.json").read_text(encoding="utf-8"))
TOPIC = ImportOptions(class_controls={"topic": "label"})
SECRET = "test-secret-" + "z" * 40
# file → (format detected, Content-Type Label Studio sent, annotators named by)
EXPORTS = {
    "export_full.json": ("labelstudio-json", "application/.json", "id"),
    "export_full_users.json": ("labelstudio-json", "application/json", "id"),
    "export_min.json": ("labelstudio-json-min", "application/.json", "id"),
    "export.csv": ("labelstudio-csv", "application/.csv", "id"),
    "export.tsv": ("labelstudio-tsv", "application/.csv", "id"),  # LS names the TSV .csv too
    "export_min_users.json": ("labelstudio-json-min", "application/json", "email"),
    "export_users.csv": ("labelstudio-csv", "application/csv", "email"),
}
EMAILS = {str(a["annotator_id"]): a["annotator_email"] for a in EXPECTED["annotations"]}


def _key(record: Record) -> tuple:
    return (
        record.id,
        record.task_id,
        record.text,
        record.sentiment,
        record.label,
        record.rating,
        record.annotator,
        record.created_at,
        record.lead_time,
    )


def _reference() -> dict[str, tuple]:
    records, _ = read_records(REAL / "export_full.json", TOPIC)
    return {record.id: _key(record) for record in records}


def _as_ids(rows: dict[str, tuple], named_by: str) -> dict[str, tuple]:
    """E-mail-named annotators back to their Label Studio user ids (expected.json's table)."""
    if named_by == "id":
        return rows
    ids = {email: user_id for user_id, email in EMAILS.items()}
    return {rid: (*row[:6], ids[row[6]], *row[7:]) for rid, row in rows.items()}


def test_full_export_matches_the_independent_reading() -> None:
    records, summary = read_records(REAL / "export_full.json", TOPIC)
    counts = EXPECTED["counts"]
    assert summary.accepted == counts["annotations_not_cancelled"] == 31
    assert summary.skipped_cancelled == counts["cancelled_annotations"] == 5
    assert summary.rejected == []
    by_id = {record.id: record for record in records}
    for truth in EXPECTED["annotations"]:
        record = by_id[f"ls-{truth['annotation_id']}"]
        assert record.task_id == str(truth["task_id"])
        assert record.text == truth["text"].strip()
        assert record.sentiment == (truth["sentiment"] or "").lower() or None
        topics = truth["topic"] if isinstance(truth["topic"], list) else [truth["topic"]]
        allowed = {t.lower() for t in topics if t} or {None}
        assert record.label in allowed
        assert record.rating == (None if truth["rating"] is None else float(truth["rating"]))
        assert record.annotator == str(truth["annotator_id"])
    assert len(by_id) == len(EXPECTED["annotations"])


@pytest.mark.parametrize("name", list(EXPORTS))
def test_every_format_gives_the_full_exports_records(name: str) -> None:
    fmt, _, named_by = EXPORTS[name]
    assert detect_format(REAL / name) == fmt
    records, summary = read_records(REAL / name, TOPIC)
    assert summary.rejected == []
    got = {record.id: _key(record) for record in records}
    assert _as_ids(got, named_by) == _reference()


def test_flat_exports_drop_cancelled_annotations() -> None:
    """What Label Studio 1.23 writes: no cancelled annotation in JSON_MIN/CSV/TSV."""
    for name in ("export_min.json", "export.csv", "export.tsv"):
        _, summary = read_records(REAL / name, TOPIC)
        assert summary.skipped_cancelled == 0
    _, full = read_records(REAL / "export_full.json", TOPIC)
    assert full.skipped_cancelled == 5


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}", jwt_secret=SECRET
    )
    with TestClient(create_app(settings, metrics=Metrics(50))) as test_client:
        yield test_client


def _stored(database: Database, project: str) -> dict[str, tuple]:
    with database.scope() as session:
        return {r.id: _key(r) for r, _ in iter_project_records(session, project)}


def test_every_format_over_http_stores_the_same_records(client) -> None:
    headers = {"Authorization": f"Bearer {create_token(SECRET, 'lead', 'system_admin')}"}
    database = client.app.state.bl.db
    for number, (name, (fmt, content_type, named_by)) in enumerate(EXPORTS.items()):
        project = f"p{number}"
        response = client.post(
            f"/api/business-logic/projects/{project}/records",
            content=(REAL / name).read_bytes(),
            headers={**headers, "Content-Type": content_type},
            params={"control": "topic=label"},
        )
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert (body["format"], body["imported"], body["rejected"]) == (fmt, 31, 0), name
        assert _as_ids(_stored(database, project), named_by) == _reference(), name
        email_note = any("named by e-mail" in note for note in body["notes"])
        assert email_note == (named_by == "email"), (name, body["notes"])


def test_mixing_id_and_email_exports_is_pointed_out(client) -> None:
    headers = {"Authorization": f"Bearer {create_token(SECRET, 'lead', 'system_admin')}"}

    def post(name: str) -> dict:
        response = client.post(
            "/api/business-logic/projects/mixed/records",
            content=(REAL / name).read_bytes(),
            headers={**headers, "Content-Type": "application/.csv"},
            params={"control": "topic=label"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert not any("two names" in note for note in post("export.csv")["notes"])
    second = post("export_users.csv")
    assert second["updated"] == 31  # the same annotations, now under e-mail names
    assert any("two names each" in note for note in second["notes"]), second["notes"]


def test_without_the_control_map_the_topic_column_is_named(client) -> None:
    headers = {"Authorization": f"Bearer {create_token(SECRET, 'lead', 'system_admin')}"}
    response = client.post(
        "/api/business-logic/projects/nomap/records",
        content=(REAL / "export_min.json").read_bytes(),
        headers={**headers, "Content-Type": "application/.json"},
    )
    notes = response.json()["notes"]
    assert notes and notes[0].startswith("columns read as task data, not answers: topic")
    assert "control=topic=label" in notes[0]


@pytest.mark.parametrize("name", list(EXPORTS))
def test_every_format_through_the_cli(tmp_path: Path, name: str) -> None:
    named_by = EXPORTS[name][2]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = clean_env(tmp_path, BL_DATABASE_URL=url)
    done = bizlogic(env, "import", str(REAL / name), "--project", "shop", "--control=topic=label")
    assert done.returncode == 0, done.stderr
    assert "shop: 31 imported, 0 updated, 0 unchanged, 0 rejected" in done.stdout
    database = Database(url)
    try:
        assert _as_ids(_stored(database, "shop"), named_by) == _reference()
    finally:
        database.dispose()


def test_tsv_content_is_read_whatever_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "project-1-at-2026-12-06.csv"
    renamed.write_bytes((REAL / "export.tsv").read_bytes())
    records, _ = read_records(io.BytesIO(renamed.read_bytes()), TOPIC)
    assert {r.id: _key(r) for r in records} == _reference()
    assert detect_format(renamed) == "labelstudio-tsv"
