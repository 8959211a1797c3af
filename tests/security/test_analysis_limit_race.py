"""The per-user analysis limit holds under parallel requests, on SQLite and PostgreSQL.

Counting a user's queued/running jobs and inserting the new one in separate
statements let parallel requests all see the same count: 12 requests with a
limit of 2 got 4, 3, 2 and 7 accepted. The count is slowed down here
(``WINDOW_S`` after it is taken) so that such a race happens on every run,
not by luck; the fixed code counts inside a per-user critical section, where
the delay only makes requests wait their turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.api.routes import analysis as analysis_routes
from bizlogic.settings import Settings
from bizlogic.store import jobs as job_store
from bizlogic.store import migrations
from bizlogic.store.db import Database
from bizlogic.telemetry.metrics import Metrics
from tests.conftest import fresh_pg_database

SECRET = "limit-race-" + "z" * 40
BASE = "/api/business-logic"
PARALLEL = 20
LIMIT = 2
WINDOW_S = 0.1  # how long a count is held before the caller may act on it
RECORDS = b"".join(
    b'{"id": "r%d", "text": "refund late parcel %d", "sentiment": "negative"}\n' % (i, i)
    for i in range(20)
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'limit.db'}"
        return
    with fresh_pg_database("bl_limit") as (_, _, pg_url):
        yield pg_url


@pytest.fixture
def slow_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold every count of active jobs for WINDOW_S: the window a racing request needs."""
    real = job_store.count_active_jobs

    def slow(*args: Any, **kwargs: Any) -> int:
        counted = real(*args, **kwargs)
        time.sleep(WINDOW_S)
        return counted

    monkeypatch.setattr(job_store, "count_active_jobs", slow)
    monkeypatch.setattr(analysis_routes, "count_active_jobs", slow)


def _all_at_once(call: Callable[[], Any]) -> list[Any]:
    """``call()`` from PARALLEL threads released together by a barrier."""
    barrier = threading.Barrier(PARALLEL)

    def run() -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run) for _ in range(PARALLEL)]]


def test_user_lock_key_is_stable_64_bit_and_per_user() -> None:
    """Pinned: API processes of one deployment (or two versions mid-rollout) must agree
    on the key, which a salted ``hash()`` would not."""
    key = job_store.user_lock_key("alice")
    assert key == 8560483677920887985
    assert -(2**63) <= key < 2**63
    assert key != job_store.user_lock_key("bob")


def test_store_create_job_within_limit_from_parallel_sessions(url: str, slow_count: None) -> None:
    migrations.upgrade(url)
    db = Database(url, pool_size=PARALLEL)
    try:

        def accept() -> bool:
            with db.scope() as session:
                job = job_store.create_job_within_limit(
                    session, "p", ["sentiment_correlation"], {}, requested_by="alice", limit=LIMIT
                )
                return job is not None

        accepted = _all_at_once(accept)
        with db.scope() as session:
            other = job_store.create_job_within_limit(
                session, "p", ["sentiment_correlation"], {}, requested_by="bob", limit=LIMIT
            )
            assert other is not None  # the limit is per user
            assert job_store.count_active_jobs(session, requested_by="alice") == LIMIT
    finally:
        db.dispose()
    assert sum(accepted) == LIMIT


def test_parallel_analyze_requests_accept_exactly_the_limit(
    url: str, tmp_path: Path, slow_count: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        jwt_secret=SECRET,
        max_user_analyses=LIMIT,
        db_pool_size=PARALLEL,
    )
    analyst = {"Authorization": f"Bearer {create_token(SECRET, 'dana', 'data_analyst')}"}
    with TestClient(create_app(settings, metrics=Metrics(50))) as client:
        imported = client.post(
            f"{BASE}/projects/p/records",
            content=RECORDS,
            headers={**analyst, "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200, imported.text
        # Accepted jobs stay queued: a job finishing mid-test would rightly free a slot.
        monkeypatch.setattr(client.app.state.bl.runner, "submit", lambda job_id: None)

        responses = _all_at_once(
            lambda: client.post(f"{BASE}/analyze", json={"project_id": "p"}, headers=analyst)
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [202] * LIMIT + [429] * (PARALLEL - LIMIT)
        for refused in (r for r in responses if r.status_code == 429):
            assert refused.json()["error"]["code"] == "RATE_LIMITED"
            assert refused.headers["Retry-After"] == "30"
        with client.app.state.bl.db.scope() as session:
            assert job_store.count_active_jobs(session, requested_by="dana") == LIMIT
