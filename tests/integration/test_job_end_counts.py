"""``bl_jobs_total`` counts every job's end once, whichever process ended it.

The transition that ends a job puts the end on record in the database
(``uncounted_job_ends``); the API process that serves a scrape takes the records
and counts them (``bizlogic.jobs.end_counts``). Here: on both databases, each
final transition leaves exactly one record and a lost race none, concurrent
takers never share one; through two API apps on one database, jobs ended by
recovery's kill action (a real worker process terminated), by the reconciler (a
worker that died with the job) and by the other API's cancel are counted once.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, func, select

from bizlogic.api.app import create_app
from bizlogic.api.auth import create_token
from bizlogic.jobs.broker import make_broker
from bizlogic.jobs.identity import format_worker_id, new_nonce
from bizlogic.jobs.reconcile import reconcile
from bizlogic.ops.recovery.actions import ActionContext, plan_kill, run_kill
from bizlogic.ops.recovery.checks import Checker, Observation
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.db import Database
from bizlogic.store.errors import ConflictError
from bizlogic.store.jobs import (
    cancel_job,
    claim_job,
    create_job,
    fail_job,
    finish_job,
    get_job,
    requeue_job,
    take_uncounted_job_ends,
)
from bizlogic.store.tables import AnalysisJob, UncountedJobEnd
from bizlogic.telemetry.metrics import Metrics
from tests.polling import poll
from tests.servers import clean_env, worker_process

SECRET = "job-ends-" + "j" * 40
BASE = "/api/business-logic"
HOST = socket.gethostname()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ends.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        migrations.downgrade(url, "base")
    migrations.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def uncounted(db: Database) -> int:
    with db.scope() as session:
        return int(session.scalar(select(func.count()).select_from(UncountedJobEnd)) or 0)


def test_each_job_end_is_on_record_once_and_taken_once(db) -> None:
    with db.scope() as session:
        ids = [create_job(session, "p", ["sentiment_correlation"], {}).job_id for _ in range(5)]
        cancel_job(session, ids[0])  # cancelled while queued (the API)
        for job_id in ids[1:]:
            claim_job(session, job_id, "w1")
        finish_job(session, ids[1], {}, worker_id="w1")  # the worker completes it
        cancel_job(session, ids[2])  # cancelled while running (the API, recovery)
        fail_job(session, ids[3], "attempts exhausted")  # the reconciler
        requeue_job(session, ids[4])  # not an end
    for late in (  # each loses its race: ConflictError, nothing on record
        lambda s: fail_job(s, ids[2], "stopped", worker_id="w1"),
        lambda s: cancel_job(s, ids[1]),
        lambda s: finish_job(s, ids[3], {}, worker_id="w1"),
    ):
        with pytest.raises(ConflictError), db.scope() as session:
            late(session)
    with db.scope() as session:  # maintenance prunes a record: its end is still counted
        session.execute(delete(AnalysisJob).where(AnalysisJob.job_id == ids[0]))

    with db.scope() as session:
        assert take_uncounted_job_ends(session) == {"completed": 1, "cancelled": 2, "failed": 1}
    with db.scope() as session:
        assert take_uncounted_job_ends(session) == {}


def test_a_rolled_back_end_leaves_no_record(db) -> None:
    with db.scope() as session:
        job_id = create_job(session, "p", ["sentiment_correlation"], {}).job_id
    with pytest.raises(RuntimeError), db.scope() as session:
        cancel_job(session, job_id)
        raise RuntimeError("the unit of work fails after the transition")
    with db.scope() as session:
        assert get_job(session, job_id).status == "queued"
    assert uncounted(db) == 0


def test_concurrent_takers_each_get_distinct_ends(db) -> None:
    ends = 120
    with db.scope() as session:
        for _ in range(ends):
            cancel_job(session, create_job(session, "p", ["sentiment_correlation"], {}).job_id)
    taken: list[Counter[str]] = []
    lock, start = threading.Lock(), threading.Barrier(4)

    def taker() -> None:
        mine: Counter[str] = Counter()
        start.wait()
        while True:
            with db.scope() as session:
                got = take_uncounted_job_ends(session, limit=7)
            if not got:
                break
            mine.update(got)
        with lock:
            taken.append(mine)

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with db.scope() as session:  # a taker that lost every row of a batch stopped early
        rest = take_uncounted_job_ends(session)
    assert sum(taken, Counter()) + Counter(rest) == Counter({"cancelled": ends})
    assert uncounted(db) == 0


# -- through the API ------------------------------------------------------------------------


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(SECRET, 'ops', 'system_admin')}"}


def job_counts(client: TestClient) -> dict[str, float]:
    """``bl_jobs_total`` of one scrape, by status."""
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "bl_jobs_total"
    }


def accept(client: TestClient) -> str:
    response = client.post(f"{BASE}/analyze", json={"project_id": "p"}, headers=auth())
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def test_jobs_ended_outside_the_api_are_counted_once(tmp_path: Path, redis_server) -> None:
    """Redis mode without a worker taking jobs: every end here happens outside the process
    that would have run the job. Two apps stand for two API processes (or replicas)."""
    url = f"sqlite:///{tmp_path / 'api.db'}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        redis_url=redis_server.url,
        jwt_secret=SECRET,
        job_heartbeat_s=0.05,
        job_stale_s=0.1,
        job_max_attempts=1,
        max_user_analyses=5,
        reconcile_interval_s=3600,  # the background pass runs at start-up only: here, by hand
    )
    recovery = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        analysis_timeout_s=0.01,
        job_heartbeat_s=0.01,
        job_stale_s=0.02,
    )
    # An idle real worker process, on a Redis database of its own: it takes no job here.
    own_redis = redis_server.url.rsplit("/", 1)[0] + "/1"
    env = clean_env(tmp_path / "worker", BL_REDIS_URL=own_redis, BL_LOG_FILE="")
    nonce = new_nonce()
    worker = worker_process(env, nonce)
    try:
        with (
            TestClient(create_app(settings, metrics=Metrics(50))) as api_a,
            TestClient(create_app(settings, metrics=Metrics(50))) as api_b,
        ):
            records = b"".join(
                b'{"id": "r%d", "text": "refund broken %d"}\n' % (i, i) for i in range(20)
            )
            imported = api_a.post(
                f"{BASE}/projects/p/records",
                content=records,
                headers={**auth(), "Content-Type": "application/x-ndjson"},
            )
            assert imported.status_code == 200, imported.text
            killed, died, cancelled = accept(api_a), accept(api_a), accept(api_b)
            db = api_a.app.state.bl.db
            with db.scope() as session:
                claim_job(session, killed, format_worker_id(HOST, worker.pid, nonce))

            # recovery's kill_processes: cancels the job, terminates its worker process
            def past_limit() -> Observation | None:
                seen = Checker(recovery, db).algorithm_timeout()
                return seen if [j["job_id"] for j in seen.details["jobs"]] == [killed] else None

            observation = poll(past_limit, 10, "the job past its limit")
            ctx = ActionContext(
                recovery,
                db,
                RecoveryConfig.from_settings(recovery),
                "algorithm_timeout",
                observation,
                "manual",
            )
            result = run_kill(ctx, plan_kill(ctx))
            assert result["cancelled"] == [killed] and result["terminated"] == [worker.pid]
            assert worker.wait(10) is not None

            # the other API process cancels a queued job (no runner would ever count it)
            assert api_b.delete(f"{BASE}/jobs/{cancelled}", headers=auth()).status_code == 202

            # the reconciler fails the dead worker's job: stale, attempts used up, and the
            # broker no longer holds it (lost with a Redis restart)
            with db.scope() as session:
                claim_job(session, died, "gone-host:4242")  # its worker died holding it
            redis_server.client().flushdb()
            broker = make_broker(settings)
            try:
                poll(
                    lambda: reconcile(db, broker, settings).failed == [died],
                    10,
                    "the reconciler to fail the dead worker's job",
                )
            finally:
                broker.close()

            with db.scope() as session:
                assert {j: get_job(session, j).status for j in (killed, died, cancelled)} == {
                    killed: "cancelled",
                    died: "failed",
                    cancelled: "cancelled",
                }
            first = job_counts(api_a)  # the first scrape takes every end
            assert first == {"queued": 2, "cancelled": 2, "failed": 1}
            assert job_counts(api_a) == first  # a second scrape adds nothing
            other = job_counts(api_b)
            assert other == {"queued": 1}  # nor does the other API process
            assert job_counts(api_a) == first
            total = Counter(first) + Counter(other)  # sum over processes, as Prometheus does
            assert total["queued"] == total["completed"] + total["failed"] + total["cancelled"]
            assert uncounted(db) == 0
    finally:
        worker.kill()
        worker.wait()


def test_a_job_run_in_process_is_counted_once(tmp_path: Path) -> None:
    """Embedded mode: the API's own runner completes the job; its end, too, is counted from
    the record, once."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'e.db'}", jwt_secret=SECRET
    )
    with TestClient(create_app(settings, metrics=Metrics(50))) as api:
        records = b"".join(
            b'{"id": "r%d", "text": "refund broken %d", "sentiment": "negative"}\n' % (i, i)
            for i in range(50)
        )
        imported = api.post(
            f"{BASE}/projects/p/records",
            content=records,
            headers={**auth(), "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200, imported.text
        job_id = accept(api)
        poll(
            lambda: api.get(f"{BASE}/jobs/{job_id}", headers=auth()).json()["status"]
            == "completed",
            60,
            "the analysis",
        )
        assert job_counts(api) == {"queued": 1, "completed": 1}
        assert job_counts(api) == {"queued": 1, "completed": 1}
