"""Each drill's sequence against a deployment: set up the work the fault interrupts,
inject, then poll for detection and recovery within the drill's timeout.

A scenario returns an ``Outcome``: the times it measured (from the injection), the
drill's own analyses (those expected to end cancelled named apart) and the evidence
of detection (the event, the alert) for the report. The common before/after
measurements (records, jobs, recovery events) are the runner's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from bizlogic.ops.drills import faults
from bizlogic.ops.drills.measure import FINAL, Probe, Timeline, wait_for, worker_pid
from bizlogic.ops.drills.target import Deployment
from bizlogic.ops.recovery import history
from bizlogic.store import clock

START_TIMEOUT_S = 120.0  # for the drill's analysis to start (a busy queue delays it)
PROJECT = "bizlogic-drill"
# A small project for the analyses that show the service works again after the fault:
# done in a second or two, well within any time limit.
SMALL_PROJECT = "bizlogic-drill-small"
SMALL_RECORDS = 2_000
# The drill project: deterministic records, heavy enough that an analysis runs for
# seconds (the fault must land mid-analysis).
RECORDS = 20_000
SEED = 20261207
HEAVY: dict[str, Any] = {}
RUNAWAY = {"max_len": 5, "min_support": 2, "min_confidence": 0.1}
CACHE_FILL_BYTES = 64 * 1024 * 1024


@dataclass
class Outcome:
    detect_s: float | None = None
    recover_s: float | None = None
    failure: str | None = None  # why the drill did not recover (None: it did)
    jobs: list[str] = field(default_factory=list)  # the drill's own analyses
    expected_cancelled: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


class Scenario:
    """One run of one drill; ``run()`` is the drill's own sequence."""

    def __init__(
        self,
        drill: str,
        deployment: Deployment,
        probe: Probe,
        timeline: Timeline,
        timeout_s: float,
        window_start: datetime,
    ) -> None:
        self.drill, self.deployment, self.probe = drill, deployment, probe
        self.timeline, self.timeout_s, self.window_start = timeline, timeout_s, window_start
        self.outcome = Outcome()
        self.injected_at: float | None = None

    # -- helpers --------------------------------------------------------------------------

    def left(self) -> float:
        """Seconds of the timeout left since the injection."""
        if self.injected_at is None:
            return self.timeout_s
        return self.timeout_s - (time.monotonic() - self.injected_at)

    def since_injection(self) -> float:
        assert self.injected_at is not None
        return round(time.monotonic() - self.injected_at, 3)

    def fail(self, reason: str) -> Outcome:
        self.outcome.failure = reason
        self.timeline.add("drill failed", reason=reason)
        return self.outcome

    def submit(self, what: str, project: str = PROJECT, **parameters: Any) -> str:
        job_id = self.probe.analyze(project, **parameters)
        self.outcome.jobs.append(job_id)
        self.timeline.add("analysis submitted", job_id=job_id, what=what, parameters=parameters)
        return job_id

    def running(self, job_id: str) -> dict[str, Any] | None:
        def check() -> dict[str, Any] | None:
            job = self.probe.job(job_id)
            if job and job["status"] == "running" and worker_pid(job):
                return job
            return None

        job = wait_for(check, START_TIMEOUT_S)
        if job:
            self.timeline.add("analysis running", job_id=job_id, worker_id=job["worker_id"])
        return job

    def inject(self, values: dict[str, str]) -> bool:
        began = time.monotonic()  # the fault may land while the command still runs
        try:
            result = self.deployment.inject(self.drill, values)
        except (faults.InjectionError, OSError) as exc:
            self.fail(f"the injection failed: {exc}")
            return False
        self.injected_at = began
        self.timeline.add("fault injected", result=result)
        self.outcome.evidence["injection"] = result
        return True

    def detected(self, what: str, **details: Any) -> None:
        self.outcome.detect_s = self.since_injection()
        self.timeline.add("detected", what=what, detect_s=self.outcome.detect_s, **details)

    def recovered(self, what: str) -> None:
        self.outcome.recover_s = self.since_injection()
        self.timeline.add("recovered", what=what, recover_s=self.outcome.recover_s)

    def finished(self, job_ids: list[str]) -> list[dict[str, Any]] | None:
        """The jobs once all have ended, within the time left; None if some have not."""

        def check() -> list[dict[str, Any]] | None:
            jobs = [self.probe.job(j) for j in job_ids]
            return jobs if all(j and j["status"] in FINAL for j in jobs) else None  # type: ignore[misc]

        return wait_for(check, self.left())

    def healthy_and_done(self, job_ids: list[str], what: str) -> Outcome:
        """Recovered: every job in ``job_ids`` completed (or ended as expected) and
        /readyz ready with every check up."""
        jobs = self.finished(job_ids) if job_ids else []
        if jobs is None:
            return self.fail(f"not all of {job_ids} ended within the timeout")
        for job in jobs:
            expected = (
                "cancelled" if job["job_id"] in self.outcome.expected_cancelled else "completed"
            )
            if job["status"] != expected:
                return self.fail(f"analysis {job['job_id']} ended {job['status']}: {job['error']}")
        if not wait_for(self.probe.all_up, self.left()):
            return self.fail("/readyz did not show every check up within the timeout")
        self.recovered(what)
        return self.outcome

    def recovery_event(self, **match: Any) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            for event in self.probe.recovery_events(self.window_start):
                if all(event[k] == v for k, v in match.items()):
                    return event
            return None

        return check

    # -- the drills -----------------------------------------------------------------------

    def run(self) -> Outcome:
        return {
            "worker-kill": self.worker_kill,
            "redis-stop": self.redis_stop,
            "pg-terminate": self.pg_terminate,
            "cache-fill": self.cache_fill,
            "runaway-analysis": self.runaway_analysis,
            "disk-alert": self.disk_alert,
        }[self.drill]()

    def worker_kill(self) -> Outcome:
        job_id = self.submit("interrupted analysis", **HEAVY)
        job = self.running(job_id)
        if job is None:
            return self.fail("the drill's analysis did not start")
        victim, attempts = worker_pid(job), job["attempts"]
        if not self.inject({"worker_pid": str(victim), "job_id": job_id}):
            return self.outcome

        def taken_over() -> dict[str, Any] | None:
            now = self.probe.job(job_id)
            if now and now["attempts"] > attempts and worker_pid(now) not in (None, victim):
                return now
            return None

        over = wait_for(taken_over, self.left())
        if over is None:
            return self.fail("the killed worker's job was not taken over within the timeout")
        self.detected("job taken over", worker_id=over["worker_id"], attempts=over["attempts"])
        self.outcome.evidence["taken_over_by"] = over["worker_id"]
        self.outcome.evidence["killed_pid"] = victim
        return self.healthy_and_done([job_id], "the interrupted analysis completed")

    def _redis_answers(self) -> bool:
        url = self.deployment.settings.redis_url
        if not url:
            return False
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def redis_stop(self) -> Outcome:
        if not self.deployment.settings.redis_url:
            return self.fail("the deployment has no BL_REDIS_URL: there is no Redis to stop")
        before = self.submit("analysis in flight when Redis stops", **HEAVY)
        if self.running(before) is None:
            return self.fail("the drill's analysis did not start")
        if not self.inject({"job_id": before}):
            return self.outcome
        seen: dict[str, float] = {}

        def noticed() -> bool:
            if (
                "event" not in seen
                and self.recovery_event(failure_type="redis_connection", outcome="detected")()
            ):
                seen["event"] = self.since_injection()
            if "readyz" not in seen and not self.probe.all_up():
                seen["readyz"] = self.since_injection()
            return bool(seen)

        if not wait_for(noticed, self.left()):
            return self.fail("neither auto-recovery nor /readyz noticed Redis was down")
        self.detected("Redis down", by=sorted(seen, key=seen.__getitem__)[0], seen_s=seen)
        auto = self.deployment.settings.recovery_mode == "act"
        if auto:  # auto-recovery restarts it; the drill restores only if it did not
            self.timeline.add("waiting for auto-recovery to restart Redis")
            wait_for(self._redis_answers, self.left() / 2)
        else:  # dry-run: let auto-recovery record its plan first, then restore
            planned = wait_for(
                self.recovery_event(failure_type="redis_connection", action="restart_service"),
                self.left() / 4,
            )
            if planned:
                self.timeline.add("auto-recovery planned", outcome=planned["outcome"],
                                  dry_run=planned["dry_run"], event_id=planned["id"])  # fmt: skip
        if not self._redis_answers():
            if not self.deployment.can_restore(self.drill):
                return self.fail("Redis is still down and the drill has nothing to restore it")
            try:
                self.timeline.add("restored", result=self.deployment.restore(self.drill, {}))
            except (faults.InjectionError, OSError) as exc:
                return self.fail(f"the restore failed: {exc}")
        if not wait_for(self._redis_answers, self.left()):
            return self.fail("Redis did not answer again within the timeout")
        self.timeline.add("Redis answers", after_s=self.since_injection())
        if not wait_for(self.probe.all_up, self.left()):
            return self.fail("/readyz did not show every check up within the timeout")
        after = self.submit("analysis after the outage", SMALL_PROJECT)
        return self.healthy_and_done([before, after], "Redis back and every analysis completed")

    def pg_terminate(self) -> Outcome:
        url = self.deployment.settings.effective_database_url
        job_id = self.submit("analysis whose connections are terminated", **HEAVY)
        if self.running(job_id) is None:
            return self.fail("the drill's analysis did not start")
        before = faults.pg_backends(url)
        self.timeline.add("service connections", backends=len(before))
        if not self.inject({"job_id": job_id}):
            return self.outcome
        gone = set(self.outcome.evidence["injection"].get("terminated", before))

        def reconnected() -> set[int]:
            return faults.pg_backends(url) - gone - before

        new = wait_for(reconnected, self.left())
        if not new:
            return self.fail("no service opened a new database connection within the timeout")
        self.detected("a service reconnected", new_backends=len(new))
        self.outcome.evidence["terminated"] = len(gone)
        return self.healthy_and_done([job_id], "the analysis completed and /readyz is ready")

    def runaway_analysis(self) -> Outcome:
        job_id = self.submit("runaway analysis", **RUNAWAY)
        self.outcome.expected_cancelled.append(job_id)
        job = self.running(job_id)
        if job is None:
            return self.fail("the runaway analysis did not start")
        limit = self.deployment.settings.analysis_timeout_s

        def past_limit() -> bool:
            now = self.probe.job(job_id)
            if not now or now["status"] != "running":
                return False
            started = datetime.fromisoformat(now["started_at"])
            return (clock.utcnow() - started).total_seconds() > limit

        if not wait_for(past_limit, limit + START_TIMEOUT_S):
            ended = self.probe.job(job_id) or {}
            return self.fail(f"the analysis ended ({ended.get('status')}) before its time limit")
        self.injected_at = time.monotonic()
        self.timeline.add("fault injected", what=f"the analysis ran past {limit:g} s")
        event = wait_for(
            self.recovery_event(failure_type="algorithm_timeout", outcome="detected"), self.left()
        )
        if event is None:
            return self.fail("auto-recovery recorded no algorithm_timeout within the timeout")
        self.detected("algorithm_timeout recorded", event_id=event["id"])
        self.outcome.evidence["detection_event"] = event["id"]
        if self.deployment.settings.recovery_mode == "act":
            wait_for(lambda: (self.probe.job(job_id) or {}).get("status") in FINAL, self.left() / 2)
            done = wait_for(self._kill_finished, self.left())
            if done is None:
                return self.fail("auto-recovery's kill_processes did not finish within the timeout")
            self.timeline.add("auto-recovery's action ended", action=done["action"],
                              outcome=done["outcome"], event_id=done["id"])  # fmt: skip
        if (self.probe.job(job_id) or {}).get("status") not in FINAL:
            # dry-run: what the operator would do — cancel it, then stop its worker process
            # (a step that never checks for cancellation holds the worker, and the messages
            # it prefetched, until then)
            status = self.probe.cancel(job_id)
            self.timeline.add("drill cancelled the runaway analysis", http_status=status)
            if self.deployment.can_restore(self.drill):
                values = {"worker_pid": str(worker_pid(job)), "job_id": job_id}
                try:
                    result = self.deployment.restore(self.drill, values)
                except (faults.InjectionError, OSError) as exc:
                    return self.fail(f"the restore failed: {exc}")
                self.timeline.add("restored", result=result)
        follow_up = self.submit("normal analysis after the runaway", SMALL_PROJECT)
        return self.healthy_and_done(
            [job_id, follow_up], "runaway stopped and a normal analysis completed"
        )

    def _kill_finished(self) -> dict[str, Any] | None:
        for event in self.probe.recovery_events(self.window_start):
            if (
                event["failure_type"] == "algorithm_timeout"
                and event["action"] == "kill_processes"
                and event["outcome"] in history.EXECUTED
            ):
                return event
        return None

    def disk_alert(self) -> Outcome:
        from bizlogic.telemetry.disk import disk_usage

        receiver = getattr(self.deployment, "receiver", None)
        values: dict[str, str] = {}
        if receiver is not None:
            used = disk_usage(self.deployment.settings.data_dir).percent
            # a point under the use: files other processes remove meanwhile do not untrip it
            threshold = int(used) - 1
            if threshold < 1:
                return self.fail(f"the disk is {used:.1f}% used: no threshold ≥ 1% trips below it")
            values = {"BL_DISK_ALERT_PERCENT": str(threshold), "BL_ALERT_WEBHOOK_URL": receiver.url}
            self.timeline.add("disk use", percent=used, threshold=threshold)
        if not self.inject(values):
            return self.outcome
        if receiver is not None:
            got = wait_for(lambda: list(receiver.received), self.left())
            if not got:
                return self.fail("the webhook received no disk alert")
            first = got[0]
            self.outcome.detect_s = round(first["at"] - self.injected_at, 3)
            self.timeline.add("detected", what="alert received", detect_s=self.outcome.detect_s)
            self.outcome.evidence["alert"] = first["payload"]
            report = self.outcome.evidence["injection"].get("report", {})
            step = next((s for s in report.get("steps", []) if s["name"] == "disk"), {})
            if step.get("status") != "ok" or step.get("details", {}).get("alert") != "sent":
                return self.fail(f"maintenance's disk step did not report the alert sent: {step}")
            return self.healthy_and_done([], "the alert was delivered and /readyz is ready")
        run = wait_for(self._disk_alert_run, self.left())
        if run is None:
            return self.fail("no maintenance run in the drill window recorded a disk alert sent")
        self.detected("maintenance recorded the disk alert sent", run_id=run["id"])
        self.outcome.evidence["maintenance_run"] = run["id"]
        if run["status"] != "ok":
            return self.fail(f"the maintenance run ended {run['status']}")
        return self.healthy_and_done([], "the alert was delivered and /readyz is ready")

    def _disk_alert_run(self) -> dict[str, Any] | None:
        from sqlalchemy import select

        from bizlogic.store.tables import MaintenanceRun

        with self.probe.db.scope() as session:
            rows = session.scalars(
                select(MaintenanceRun).where(MaintenanceRun.started_at >= self.window_start)
            ).all()
            for row in rows:
                steps = (row.details or {}).get("steps", [])
                if any(
                    s.get("name") == "disk" and s.get("details", {}).get("alert") == "sent"
                    for s in steps
                ):
                    return {"id": row.id, "status": row.status}
        return None

    def cache_fill(self) -> Outcome:
        url = self.deployment.settings.redis_url
        if not url:
            return self.fail("the deployment has no BL_REDIS_URL: there is no cache to fill")
        project = f"{PROJECT}-cache"
        values = {"project": project, "amount_bytes": str(CACHE_FILL_BYTES)}
        if not self.inject(values):
            return self.outcome
        found = wait_for(lambda: faults.obsolete_keys(url, project), self.left())
        if not found:
            return self.fail("no obsolete bl: keys of the drill project are in Redis")
        self.detected("obsolete cache keys stored", keys=found)
        if self.deployment.can_restore(self.drill):
            try:
                self.timeline.add("restored", result=self.deployment.restore(self.drill, {}))
            except (faults.InjectionError, OSError) as exc:
                return self.fail(f"the restore failed: {exc}")
        if wait_for(lambda: faults.obsolete_keys(url, project) == 0, self.left()) is None:
            return self.fail("obsolete cache keys were still there at the timeout")
        self.timeline.add("obsolete keys gone", after_s=self.since_injection())
        after = self.submit("analysis after the cleanup", SMALL_PROJECT)
        return self.healthy_and_done([after], "cache cleaned and an analysis completed")
