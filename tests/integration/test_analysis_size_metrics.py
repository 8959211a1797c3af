"""A failed analysis is observed in bl_analysis_duration_seconds under its project's size,
not as ``tiny`` because it left no result to count records from."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.jobs import execute
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics
from tests.polling import poll

SECRET = "size-metrics-" + "s" * 40
BASE = "/api/business-logic"
AUTH = {"Authorization": f"Bearer {create_token(SECRET, 'ops', 'system_admin')}"}


def _observed(metrics: Metrics, size: str) -> float:
    """Runs observed under ``size``, every algorithm together."""
    return sum(
        sample.value
        for family in metrics.registry.collect()
        if family.name == "bl_analysis_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count") and sample.labels["data_size_range"] == size
    )


def test_a_failed_analysis_is_observed_under_its_projects_size_range(tmp_path, monkeypatch) -> None:
    def broken(data: object, algorithms: list[str], params: object, progress) -> None:
        progress(algorithms[0], 0, len(algorithms) + 2)  # the first algorithm starts …
        raise RuntimeError("the miner broke")  # … and breaks

    monkeypatch.setattr(execute, "run_analysis", broken)
    metrics = Metrics(50)
    settings = Settings(data_dir=tmp_path, jwt_secret=SECRET)
    path = tmp_path / "p.jsonl"
    generate(path, 500, seed=3)  # 500 records: "small"
    with TestClient(create_app(settings, metrics=metrics)) as client:
        imported = client.post(
            f"{BASE}/projects/p/records",
            content=path.read_bytes(),
            headers={**AUTH, "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200, imported.text
        accepted = client.post(
            f"{BASE}/analyze",
            json={"project_id": "p"},
            headers=AUTH,
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        job = poll(
            lambda: (
                (s := client.get(f"{BASE}/jobs/{job_id}", headers=AUTH).json())["status"]
                in ("completed", "failed", "cancelled")
                and s
            ),
            60,
            "the analysis to end",
        )
    assert job["status"] == "failed" and "the miner broke" in job["error"], job
    # Only the algorithm that ran has a duration (not the whole job's time for each);
    # every algorithm of the failed job counts as an error request.
    assert _observed(metrics, "small") == 1
    assert _observed(metrics, "tiny") == 0
    errors = [
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "bl_analysis_requests_total" and sample.labels["status"] == "error"
    ]
    assert sum(errors) == len(job["algorithms"]) == 4
