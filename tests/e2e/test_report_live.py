"""`bizlogic report` after a real service ran for a while: every figure against the
service's own records (its API, its /metrics, its audit trail).

A real `bizlogic serve` with a JSON log file takes two uploads, two analyses and two
curation actions; `bizlogic maintain` and `bizlogic tune` run as an operator runs them;
then `bizlogic report --hours 1` is compared with what the API and /metrics say.
With ``BL_UPDATE_DOCS=1`` the report it made becomes the example in
docs/examples/ (the one docs/operations.md shows).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from bizlogic.records.synthetic import generate
from tests.polling import poll
from tests.servers import Server, admin_headers, bizlogic, clean_env

BASE = "/api/business-logic"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
PROJECTS = {"shop": (3000, 11), "mall": (1500, 12)}  # records, seed


def _requests_counted(metrics_text: str) -> int:
    return round(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics_text.splitlines()
            if line.startswith("bl_http_requests_total{")
        )
    )


def _logged(log_dir: Path, request_id: str) -> bool:
    return any(request_id in path.read_text() for path in log_dir.glob("api*.log"))


@pytest.fixture
def live(tmp_path: Path):
    env = clean_env(tmp_path / "data", BL_LOG_FILE=str(tmp_path / "logs" / "{process}.log"))
    server = Server(env, tmp_path / "serve.out")
    try:
        yield server, env, tmp_path
    finally:
        server.stop()


def test_report_figures_match_the_services_own_records(live) -> None:
    server, env, tmp_path = live
    auth = admin_headers(env)
    with httpx.Client(base_url=server.url, headers=auth, timeout=120) as client:
        for project, (size, seed) in PROJECTS.items():
            data = tmp_path / f"{project}.jsonl"
            generate(data, size, seed=seed)
            imported = client.post(
                f"{BASE}/projects/{project}/records",
                content=data.read_bytes(),
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert imported.json()["imported"] == size
            status_url = client.post(f"{BASE}/analyze", json={"project_id": project}).json()[
                "status_url"
            ]
            job = poll(
                lambda url=status_url: (
                    (j := client.get(url).json())["status"] in ("completed", "failed") and j
                ),
                180,
                f"the analysis of {project}",
            )
            assert job["status"] == "completed", job["error"]
        rule = client.get(f"{BASE}/rules/shop", params={"limit": 1}).json()["rules"][0]
        assert client.post(f"{BASE}/rules/{rule['id']}/toggle").status_code == 200
        insight = client.get(f"{BASE}/insights/shop").json()["insights"][0]
        assert client.post(f"{BASE}/insights/{insight['id']}/acknowledge").status_code == 200

        maintained = bizlogic(env, "maintain", "--json")
        assert maintained.returncode == 0, maintained.stderr
        tuned = bizlogic(
            env, "tune", "--json", "--sample-seconds", "0.5", "--metrics-url",
            f"{server.url}/metrics",
        )  # fmt: skip
        assert tuned.returncode == 0, tuned.stderr
        tune_report = json.loads(tuned.stdout)

        jobs = client.get(f"{BASE}/jobs").json()["jobs"]
        rules_total = sum(client.get(f"{BASE}/rules/{p}").json()["total"] for p in PROJECTS)
        insights_total = sum(client.get(f"{BASE}/insights/{p}").json()["total"] for p in PROJECTS)
        audit = client.get(f"{BASE}/audit").json()["events"]
        counted = _requests_counted(httpx.get(f"{server.url}/metrics").text)
        # One more request, and its line seen in the log: every request before it is there.
        httpx.get(f"{server.url}/livez", headers={"X-Request-ID": "report-check"})
        poll(lambda: _logged(tmp_path / "logs", "report-check"), 30, "the last access line")

    html, md = tmp_path / "weekly.html", tmp_path / "weekly.md"
    made = bizlogic(env, "report", "--since", "7d", "--json", "--html", str(html), "--md", str(md))
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)

    service = body["service"]
    assert service["source"] == "log"
    assert service["requests"] == counted + 2  # the /metrics read above, then /livez
    assert service["errors_5xx"] == 0 and service["availability"] == 1.0
    assert 0 < service["latency_s"]["p50"] <= service["latency_s"]["p95"]

    analyses = body["analyses"]
    assert analyses["total"] == len(jobs) == 2
    assert analyses["by_status"] == {"completed": 2} and analyses["success_rate"] == 1.0
    assert [(p["project_id"], p["records"]) for p in analyses["largest_projects"]] == [
        ("shop", 3000),
        ("mall", 1500),
    ]
    durations = sorted(
        (
            datetime.fromisoformat(j["finished_at"]) - datetime.fromisoformat(j["started_at"])
        ).total_seconds()
        for j in jobs
    )
    [by_algorithms] = analyses["by_algorithm"]  # both ran the default set
    assert by_algorithms["runs"] == 2 and by_algorithms["completed"] == 2
    assert by_algorithms["duration_p50_s"] == pytest.approx(durations[0], abs=1e-6)
    assert by_algorithms["duration_p95_s"] == pytest.approx(durations[1], abs=1e-6)

    curation = body["curation"]
    assert curation["rules"]["created"] == rules_total
    assert curation["insights"]["created"] == insights_total
    assert curation["insights"]["acknowledged"] == 1
    curated = [e for e in audit if e["action"] in ("rule.toggle", "insight.acknowledge")]
    assert curation["curation"]["total"] == len(curated) == 2
    assert curation["curation"]["by_user"] == {"ops": 2}

    maintenance = body["maintenance"]
    assert maintenance["runs"] == 1 and maintenance["by_status"] == {"ok": 1}
    assert {s["name"] for s in maintenance["steps"]} >= {"capacity", "retention", "disk"}

    assert body["tuner"]["open"] == len(tune_report["recommendations"])
    records = [s for s in body["capacity"]["series"] if s["resource"] == "records"]
    assert records and records[0]["current"] == sum(size for size, _ in PROJECTS.values())
    assert body["status"] == "ok" and body["errors"] == []

    page = html.read_text()
    assert f"{service['requests']:,}" in page and "<svg" in page
    assert md.read_text().startswith("## ")
    if os.environ.get("BL_UPDATE_DOCS") == "1":
        EXAMPLES.mkdir(exist_ok=True)
        shutil.copyfile(md, EXAMPLES / "operations-report.md")
        shutil.copyfile(html, EXAMPLES / "operations-report.html")
