"""An analysis run never wipes or edits what an expert curated (docs/auth.md, storage.md).

Before the fix, a data_analyst's analysis whose ``filters`` matched nothing
replaced a project's curated rules (one with an edited confidence) and its
insights with nothing. Now a scoped run only keeps its job snapshot unless it
asks to ``replace`` (which needs ``bl.manage_rules``), and no re-run deletes a
curated rule or an acknowledged insight or resets their curated values.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.jobs.execute import replaces_project_results
from bizlogic.mining.engine import AnalysisResult
from bizlogic.mining.model import Condition, Insight, Rule
from bizlogic.records.synthetic import generate
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store import repositories as repo
from bizlogic.store.db import Database
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database

SECRET = "curation-" + "c" * 40
BASE = "/api/business-logic"
NOBODY = {"annotators": ["nobody-annotates-like-this"]}  # a filter that matches no record


def _auth(role: str, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, user, role)}"}


ADMIN = _auth("system_admin", "root")
ANALYST = _auth("data_analyst", "dana")
EXPERT = _auth("business_expert", "erik")


@pytest.fixture(scope="module")
def demo_lines(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path: Path = tmp_path_factory.mktemp("curation") / "records.jsonl"
    generate(path, 3000, seed=5)
    return path.read_bytes()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'curation.db'}"
        return
    with fresh_pg_database("bl_curation") as (_, _, pg_url):
        yield pg_url


@pytest.fixture
def client(url: str, tmp_path: Path, demo_lines: bytes) -> Iterator[TestClient]:
    """The real app with the demo records imported and analysed once (unscoped)."""
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=SECRET)
    with TestClient(create_app(settings, metrics=Metrics(50))) as test_client:
        imported = test_client.post(
            f"{BASE}/projects/demo/records",
            content=demo_lines,
            headers={**ANALYST, "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200, imported.text
        job = _analyze(test_client, ANALYST)
        assert job["parameters"]["replace"] is True  # unscoped: replaces, as always
        yield test_client


def _analyze(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    accepted = client.post(f"{BASE}/analyze", json={"project_id": "demo", **body}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"{BASE}/jobs/{job_id}", headers=ADMIN).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            assert job["status"] == "completed", job["error"]
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _rules(client: TestClient) -> dict[int, dict[str, Any]]:
    page = client.get(f"{BASE}/rules/demo", params={"limit": 1000}, headers=ADMIN).json()
    assert page["total"] == len(page["rules"])
    return {rule["id"]: rule for rule in page["rules"]}


def _insights(client: TestClient) -> dict[int, dict[str, Any]]:
    page = client.get(f"{BASE}/insights/demo", params={"limit": 1000}, headers=ADMIN).json()
    assert page["total"] == len(page["insights"])
    return {insight["id"]: insight for insight in page["insights"]}


def _curate(client: TestClient) -> tuple[int, int, int]:
    """The expert sets one rule's confidence and switches another off; the analyst
    acknowledges an insight. Returns (edited rule, deactivated rule, insight) ids."""
    edited, switched_off = list(_rules(client))[:2]
    changed = client.put(
        f"{BASE}/rules/{edited}/confidence", json={"confidence": 0.123}, headers=EXPERT
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["confidence"], changed.json()["curated_by"]) == (0.123, "erik")
    assert changed.json()["curated_at"] is not None
    off = client.post(
        f"{BASE}/rules/{switched_off}/toggle", json={"is_active": False}, headers=EXPERT
    )
    assert off.status_code == 200 and off.json()["is_active"] is False
    insight = next(iter(_insights(client)))
    acked = client.post(f"{BASE}/insights/{insight}/acknowledge", headers=ANALYST)
    assert acked.status_code == 200 and acked.json()["acknowledged"] is True
    return edited, switched_off, insight


def _assert_curated_kept(
    client: TestClient, curated: dict[int, dict[str, Any]], insight: dict[str, Any]
) -> None:
    rules = _rules(client)
    for rule_id, before in curated.items():
        after = rules[rule_id]
        for field in ("confidence", "is_active", "curated_at", "curated_by", "key", "created_at"):
            assert after[field] == before[field], (rule_id, field)
    kept = _insights(client)[insight["id"]]
    for field in ("acknowledged", "acknowledged_by", "acknowledged_at", "title"):
        assert kept[field] == insight[field], field


def test_analyst_scoped_run_leaves_project_results_alone(client: TestClient) -> None:
    edited, switched_off, acked = _curate(client)
    rules, insights = _rules(client), _insights(client)
    patterns = client.get(f"{BASE}/patterns/demo", params={"limit": 1000}, headers=ADMIN).json()
    first_job = rules[edited]["job_id"]
    assert len(rules) > 2 and len(insights) > 1

    job = _analyze(client, ANALYST, filters=NOBODY)
    assert job["parameters"]["replace"] is False
    assert job["results"]["rules"] == 0  # the run really found nothing

    assert _rules(client) == rules  # every rule, field for field (edited values included)
    assert _insights(client) == insights
    after = client.get(f"{BASE}/patterns/demo", params={"limit": 1000}, headers=ADMIN).json()
    assert after == patterns
    assert (rules[edited]["confidence"], rules[switched_off]["is_active"]) == (0.123, False)
    assert insights[acked]["acknowledged_by"] == "dana"
    # The run's result is kept as its job's snapshot, readable like any past run's.
    changes = client.post(
        f"{BASE}/detect-changes",
        json={"project_id": "demo", "before_job_id": first_job, "after_job_id": job["job_id"]},
        headers=ANALYST,
    )
    assert changes.status_code == 200, changes.text
    assert len(changes.json()["vanished_rules"]) == len(rules)

    forbidden = client.post(
        f"{BASE}/analyze",
        json={"project_id": "demo", "filters": NOBODY, "replace": True},
        headers=ANALYST,
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "FORBIDDEN"
    assert forbidden.json()["error"]["details"]["permission"] == "bl.manage_rules"
    assert _rules(client) == rules and _insights(client) == insights


def test_expert_replace_and_unscoped_rerun_keep_curated_rows(client: TestClient) -> None:
    edited, switched_off, acked = _curate(client)
    rules, insights = _rules(client), _insights(client)
    curated = {rule_id: rules[rule_id] for rule_id in (edited, switched_off)}

    job = _analyze(client, EXPERT, filters=NOBODY, replace=True)
    assert job["parameters"]["replace"] is True
    replaced = _rules(client)
    assert set(replaced) == {edited, switched_off}  # everything else of the run is gone
    _assert_curated_kept(client, curated, insights[acked])
    assert set(_insights(client)) == {acked}

    _analyze(client, ANALYST)  # unscoped: replaces the results, curated rows stay as edited
    rerun = _rules(client)
    assert {edited, switched_off} <= set(rerun) and len(rerun) >= len(rules)
    _assert_curated_kept(client, curated, insights[acked])
    assert (rerun[edited]["confidence"], rerun[switched_off]["is_active"]) == (0.123, False)
    assert sum(not r["is_active"] for r in rerun.values()) == 1


def test_replace_false_keeps_even_an_unscoped_run_to_its_snapshot(client: TestClient) -> None:
    """``replace: false`` is honoured on an unscoped run too: a dry run anyone may ask for."""
    rules = _rules(client)
    job = _analyze(client, ANALYST, replace=False, analysis_types=["sentiment_correlation"])
    assert job["parameters"]["replace"] is False
    assert _rules(client) == rules


@pytest.mark.parametrize(
    ("parameters", "replaces"),
    [
        ({}, True),  # a job queued before `replace` existed, unscoped
        ({"time_range": {"start": None, "end": None}, "filters": None}, True),  # selects all
        ({"filters": {"annotators": None, "sentiments": None}}, True),
        ({"filters": {"annotators": []}}, False),  # an old scoped job: never replaces
        ({"time_range": {"start": "2026-01-01T00:00:00Z", "end": None}}, False),
        ({"filters": {"sentiments": ["negative"]}, "replace": True}, True),  # as the API allowed
        ({"replace": False}, False),
    ],
)
def test_the_worker_obeys_the_jobs_replace_decision(
    parameters: dict[str, Any], replaces: bool
) -> None:
    assert replaces_project_results(parameters) is replaces


def test_docs_state_the_rule_in_the_same_words() -> None:
    """auth.md (who may do what) and storage.md (what a run writes) must not drift apart."""
    root = Path(__file__).resolve().parents[2] / "docs"
    heading = "**Analyses never overwrite curation.**"

    def paragraph(name: str) -> str:
        text = (root / name).read_text(encoding="utf-8")
        assert text.count(heading) == 1, name
        start = text.index(heading)
        return text[start : text.index("\n\n", start)]

    assert paragraph("auth.md") == paragraph("storage.md")
    assert '`"replace": true`' in paragraph("auth.md")


# --- the store's re-run rules, exactly -------------------------------------------------


def _rule(word: str, confidence: float, support_count: int) -> Rule:
    return Rule(
        algorithm="sentiment_correlation",
        rule_type="keyword_sentiment",
        conditions=(Condition("text", "contains", word),),
        consequent=Condition("sentiment", "eq", "negative"),
        support_count=support_count,
        support=support_count / 100,
        antecedent_count=25,
        consequent_count=40,
        n_records=100,
        confidence=confidence,
        lift=2.0,
        leverage=0.1,
        conviction=3.0,
        p_value=1e-6,
        q_value=1e-4,
        pmi=1.0,
        npmi=0.4,
        holdout_confidence=0.75,
        holdout_support_count=6,
        holdout_antecedent_count=8,
        examples=("r001",),
        score=0.5,
    )


def _result(rules: list[Rule], insights: list[Insight]) -> AnalysisResult:
    return AnalysisResult(
        rules=rules,
        patterns=[],
        insights=insights,
        meta={"algorithms": ["sentiment_correlation"]},
    )


def _insight(title: str) -> Insight:
    return Insight("pattern_insight", title, title, 0.5, [], "sentiment_correlation", {})


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    migrations.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def test_store_rerun_refreshes_measures_but_keeps_curated_values(db: Database) -> None:
    with db.scope() as session:
        repo.save_results(
            session,
            "p",
            None,
            _result(
                [_rule("late", 0.9, 20), _rule("refund", 0.8, 20), _rule("gone", 0.7, 20)],
                [_insight("seen"), _insight("unseen")],
            ),
        )
        by_word = {r.conditions[0]["value"]: r.id for r in repo.list_rules(session, "p")[0]}
        repo.set_rule_confidence(session, by_word["late"], 0.5, curated_by="erik")
        repo.toggle_rule(session, by_word["gone"], False, curated_by="erik")
        seen = next(i for i in repo.list_insights(session, "p")[0] if i.title == "seen")
        repo.acknowledge_insight(session, seen.id, "dana")
    with db.scope() as session:
        counts = repo.save_results(
            session, "p", None, _result([_rule("late", 0.95, 33), _rule("refund", 0.85, 33)], [])
        )
        rows = {r.conditions[0]["value"]: r for r in repo.list_rules(session, "p")[0]}
        insights, _ = repo.list_insights(session, "p")
    assert (counts.rules_deleted, counts.insights_deleted) == (0, 1)
    late, refund, gone = rows["late"], rows["refund"], rows["gone"]
    assert (late.confidence, late.support_count, late.curated_by) == (0.5, 33, "erik")
    assert (refund.confidence, refund.support_count, refund.curated_at) == (0.85, 33, None)
    assert (gone.is_active, gone.confidence, gone.support_count) == (False, 0.7, 20)
    assert [(i.title, i.acknowledged, i.acknowledged_by) for i in insights] == [
        ("seen", True, "dana")
    ]


def test_store_snapshot_only_save_changes_nothing(db: Database) -> None:
    with db.scope() as session:
        repo.save_results(session, "p", None, _result([_rule("late", 0.9, 20)], []))
        job = repo.create_job(session, "p", ["sentiment_correlation"], {})
        job_id = job.job_id
    with db.scope() as session:
        counts = repo.save_results(session, "p", job_id, _result([], []), replace=False)
        assert sum(counts.as_dict().values()) == 0
        assert repo.list_rules(session, "p")[1] == 1
        assert repo.load_job_result(session, job_id).rules == []
    with db.scope() as session, pytest.raises(ValueError, match="job_id needed"):
        repo.save_results(session, "p", None, _result([], []), replace=False)
