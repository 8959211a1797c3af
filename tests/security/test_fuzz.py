"""Property-based fuzz: hostile shapes in every upload format and JSON route, never a 5xx.

The budget is small for `make test` (BL_FUZZ_EXAMPLES, default 40 per
property); a release check runs it with BL_FUZZ_EXAMPLES=2000 (docs/security.md).
Properties: the answer is never a 5xx, and an accepted upload's counts add up.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics

SECRET = "fuzz-secret-" + "f" * 40
BASE = "/api/business-logic"
ADMIN = {"Authorization": f"Bearer {create_token(SECRET, 'fuzzer', 'system_admin')}"}
BUDGET = settings(
    max_examples=int(os.environ.get("BL_FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,  # the same cases on every run; BL_FUZZ_EXAMPLES widens them
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\u0000", "=HYPERLINK(\"x\")", "\ud800", "𝔘𝔫𝔦", " ", "", "a" * 5000,
                     "\r\n", "1e309", "NaN", "-0", "[[[[", "{{", "\"", "\\"]),
)  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), hostile_text,
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["id", "text", "sentiment", "rating", "label", "annotator", "task_id", "lead_time",
          "status", "created_at", "keywords"]  # fmt: skip
records = st.lists(
    st.dictionaries(st.sampled_from(FIELDS) | hostile_text, values, max_size=8), max_size=6
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    app_settings = Settings(
        data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'fuzz.db'}", jwt_secret=SECRET
    )
    app = create_app(app_settings, metrics=Metrics(50))
    with TestClient(app, raise_server_exceptions=False) as c:
        seeded = c.post(
            f"{BASE}/projects/seed/records",
            content=b'{"id": "1", "text": "good", "sentiment": "positive"}\n',
            headers={**ADMIN, "Content-Type": "application/x-ndjson"},
        )
        assert seeded.status_code == 200
        yield c


def _upload(client: TestClient, body: bytes, media: str, fmt: str | None = None):
    params = {"format": fmt} if fmt else {}
    response = client.post(
        f"{BASE}/projects/fuzz/records",
        content=body,
        params=params,
        headers={**ADMIN, "Content-Type": media},
    )
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        result = response.json()
        kept = result["imported"] + result["updated"] + result["unchanged"]
        assert kept + result["rejected"] <= result["received"]
    return response


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@BUDGET
@given(rows=records)
def test_json_array_upload(client, rows):
    _upload(client, _dumps(rows), "application/json")


@BUDGET
@given(rows=records, depth=st.integers(min_value=0, max_value=3000))
def test_jsonl_upload(client, rows, depth):
    lines = [_dumps(row) for row in rows] + [_deep(depth).encode()]
    _upload(client, b"\n".join(lines), "application/x-ndjson")


@BUDGET
@given(rows=st.lists(st.lists(hostile_text, max_size=6), max_size=6), header=st.lists(
    st.sampled_from(FIELDS) | hostile_text, min_size=1, max_size=8))  # fmt: skip
def test_csv_upload(client, rows, header):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    _upload(client, out.getvalue().encode("utf-8", "surrogatepass"), "text/csv")


@BUDGET
@given(tasks=st.lists(st.fixed_dictionaries({
    "id": values, "data": st.dictionaries(st.just("text") | hostile_text, values, max_size=3),
    "annotations": st.lists(st.dictionaries(
        st.sampled_from(["result", "completed_by", "was_cancelled", "created_at"]), values,
        max_size=4), max_size=3),
}), max_size=4))  # fmt: skip
def test_label_studio_upload(client, tasks):
    _upload(client, _dumps(tasks), "application/json", fmt="labelstudio")


ROUTES = [
    ("post", "/analyze"),
    ("post", "/export"),
    ("post", "/detect-changes"),
    ("post", "/visualization"),
    ("post", "/apply"),
    ("put", "/rules/1/confidence"),
    ("post", "/rules/1/toggle"),
    ("post", "/insights/1/acknowledge"),
    ("post", "/rules/import?project_id=fuzz"),
]


@BUDGET
@given(route=st.sampled_from(ROUTES), body=values, extra=st.dictionaries(hostile_text, values))
def test_json_routes(client, route, body, extra):
    method, path = route
    if isinstance(body, dict):
        body = {"project_id": "seed", **body, **extra}
    response = getattr(client, method)(
        f"{BASE}{path}", content=_dumps(body), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code < 500, (route, response.text)


@BUDGET
@given(body=values)
def test_rules_import_yaml(client, body):
    import yaml

    document = yaml.safe_dump({"rules": [body]}, allow_unicode=True)
    response = client.post(
        f"{BASE}/rules/import",
        params={"project_id": "fuzz"},
        content=document.encode("utf-8", "surrogatepass"),
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert response.status_code < 500, response.text
