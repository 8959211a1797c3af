"""The five recovery actions. Each has a plan — its precondition and exactly what it
would do, which is all a dry run records — and a run that does that and nothing else.

* ``restart_service`` restarts the units configured for the failure type
  (``systemctl restart UNIT``, or ``BL_RESTART_COMMAND``: an argument list, no shell);
  for a database or Redis failure only a configured server unit, never bizlogic's own;
* ``clear_cache``     SCAN + UNLINK of ``bl:`` keys, never another prefix;
* ``kill_processes``  cancels the offending analyses and terminates the worker
  processes that run them, found by the PID their job records hold — never by name;
  a PID is only signalled if that process is still the bizlogic worker that started
  the job: same host, started before the job, the job's worker nonce in the process's
  own environment and exactly a worker's command line (``bizlogic.jobs.identity``);
* ``scale_up``        starts the first inactive unit of ``BL_RECOVERY_SCALE_UNITS``;
* ``notify_admin``    POSTs an alert-style JSON to ``BL_ALERT_WEBHOOK_URL`` (3 tries).
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psutil
import redis
from sqlalchemy import select

from bizlogic.cache import unlink_in_batches
from bizlogic.jobs.identity import NONCE_ENV, WORKER_ARGS, WorkerRef, parse_worker_id
from bizlogic.ops.notify import DeliveryError, alert_payload, send_alert
from bizlogic.ops.recovery.checks import Checker, Observation
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.ops.services import restart_commands, run_command, split_units, wait_healthy
from bizlogic.settings import Settings
from bizlogic.store.db import Database
from bizlogic.store.errors import ConflictError
from bizlogic.store.jobs import cancel_job
from bizlogic.store.tables import AnalysisJob

TERMINATE_GRACE_S = 5.0
# The checks of these open a fresh connection: when they fail, the server is unreachable
# from this host, and restarting bizlogic's processes (new pools) cannot change that.
SERVER_FAILURES = ("database_connection", "redis_connection")
SCAN_BATCH = 1000


class Refused(Exception):
    """The precondition does not hold: the action must not run (the reason says why)."""


class ActionFailed(Exception):
    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


@dataclass
class ActionContext:
    settings: Settings
    db: Database
    config: RecoveryConfig
    failure_type: str
    observation: Observation
    trigger: str
    reason: str = ""  # notify_admin: why a person is needed


# -- restart_service ---------------------------------------------------------------------


def plan_restart(ctx: ActionContext) -> dict[str, Any]:
    units = list(ctx.config.restart_units.get(ctx.failure_type, ()))
    command = ctx.settings.restart_command
    if not units and not command:
        raise Refused("no units to restart: set BL_SERVICE_UNITS or BL_RECOVERY_RESTART_UNITS")
    if not command and shutil.which("systemctl") is None:
        raise Refused("systemctl is not available and BL_RESTART_COMMAND is not set")
    commands = restart_commands(units, command)
    ours = set(split_units(ctx.settings.service_units))
    if ctx.failure_type in SERVER_FAILURES and set(units) <= ours:
        raise Refused(
            f"{_server_state(ctx)}: restarting bizlogic's own units "
            f"({', '.join(units) or 'none named'}) cannot fix that; name the server's unit "
            f"in BL_RECOVERY_RESTART_UNITS ({ctx.failure_type}=UNIT) to restart it"
        )
    return {
        "commands": [shlex.join(c) for c in commands],
        "units": units,
        "health_check": bool(units) and set(units) <= ours,
    }


def _server_state(ctx: ActionContext) -> str:
    """What this process's own check saw of the server, for the refusal to state it."""
    server = "the database" if ctx.failure_type == "database_connection" else "Redis"
    details = ctx.observation.details
    if not ctx.observation.failing:
        if details.get("configured") is False:
            return f"{server} is not configured here (BL_REDIS_URL is empty)"
        return f"{server} answers from this host, so the failure lies elsewhere"
    error = details.get("error")
    return f"{server} is unreachable from this host" + (f" ({error})" if error else "")


def run_restart(ctx: ActionContext, plan: dict[str, Any]) -> dict[str, Any]:
    ran = []
    for command in plan["commands"]:
        done = run_command(shlex.split(command))
        ran.append({"command": done.command, "exit_code": done.exit_code})
        if not done.ok:
            raise ActionFailed(
                f"{done.command} exited {done.exit_code}: {done.stderr.strip()}", {"ran": ran}
            )
    details: dict[str, Any] = {"ran": ran}
    if plan["health_check"]:  # our own services: wait until they answer again
        healthy, waited = wait_healthy(
            ctx.settings.health_url, ctx.settings.recovery_verify_timeout_s
        )
        details.update(healthy=healthy, waited_s=round(waited, 1))
    return details


# -- clear_cache --------------------------------------------------------------------------


def _redis(settings: Settings) -> redis.Redis:
    if not settings.redis_url:
        raise Refused("embedded mode: the cache lives in the API process and expires by TTL")
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)


def plan_clear_cache(ctx: ActionContext) -> dict[str, Any]:
    client = _redis(ctx.settings)
    try:
        keys = sum(1 for _ in client.scan_iter(match="bl:*", count=SCAN_BATCH))
    except redis.RedisError as exc:
        raise Refused(f"Redis does not answer ({type(exc).__name__})") from None
    finally:
        client.close()
    return {"match": "bl:*", "keys": keys}


def run_clear_cache(ctx: ActionContext, plan: dict[str, Any]) -> dict[str, Any]:
    client = _redis(ctx.settings)
    try:
        removed = unlink_in_batches(client, client.scan_iter(match="bl:*", count=SCAN_BATCH))
    except redis.RedisError as exc:
        raise ActionFailed(f"Redis: {exc}", {}) from None
    finally:
        client.close()
    return {"removed": removed}


# -- kill_processes -----------------------------------------------------------------------


def _running_jobs(db: Database) -> list[dict[str, Any]]:
    with db.scope() as session:
        rows = session.execute(
            select(AnalysisJob.job_id, AnalysisJob.worker_id, AnalysisJob.started_at).where(
                AnalysisJob.status == "running"
            )
        ).all()
    return [{"job_id": j, "worker_id": w, "started_at": s.isoformat()} for j, w, s in rows]


def _process_of(job: dict[str, Any]) -> tuple[int | None, str]:
    """The PID to signal for ``job``, or None and why not."""
    process, why = _worker_process(job)
    return (process.pid if process is not None else None), why


def _worker_process(job: dict[str, Any]) -> tuple[psutil.Process | None, str]:
    """The verified worker process of ``job`` (psutil re-checks its identity at signal time).

    A job row is only a claim: anyone who can write one could name any PID. The
    process itself must prove it is the worker that claimed the job (its nonce).
    """
    ref = parse_worker_id(job.get("worker_id"))
    if ref is None:
        return None, "the job records no worker process"
    if ref.host != socket.gethostname():
        return None, f"runs on {ref.host}: that host's recovery acts on it"
    if ref.pid == os.getpid():
        return None, "that is this process"
    if ref.nonce is None:
        return None, "not a dedicated worker (embedded mode runs analyses in the API): cancel only"
    try:
        process = psutil.Process(ref.pid)
        return _verify_worker(process, ref, datetime.fromisoformat(job["started_at"]))
    except psutil.NoSuchProcess:
        return None, "the process has already ended"
    except psutil.Error as exc:  # AccessDenied: another user's process, never ours
        return None, f"refused: cannot inspect PID {ref.pid} ({type(exc).__name__}): not ours"


def _verify_worker(
    process: psutil.Process, ref: WorkerRef, job_started: datetime
) -> tuple[psutil.Process | None, str]:
    """The checks a foreign process cannot pass by imitating a worker's command line."""
    if process.create_time() > job_started.timestamp() + 1:
        return None, "the PID now belongs to a process started after the job (PID reused)"
    if process.environ().get(NONCE_ENV) != ref.nonce:
        return None, (
            f"refused: PID {ref.pid} does not hold the job's worker nonce: not the worker "
            "that claimed the job (forged or stale job record)"
        )
    if tuple(process.cmdline()[1:]) != WORKER_ARGS:
        return None, f"refused: PID {ref.pid} does not run exactly {' '.join(WORKER_ARGS)}"
    return process, "worker process"


def _heaviest(jobs: list[dict[str, Any]], measure: Callable[[psutil.Process], float]) -> list:
    scored = []
    for job in jobs:
        pid, _ = _process_of(job)
        if pid is not None:
            try:
                scored.append((measure(psutil.Process(pid)), job))
            except psutil.Error:
                continue
    return [max(scored, key=lambda item: item[0])[1]] if scored else []


def _cpu_share(process: psutil.Process) -> float:
    """CPU seconds per second of life: the process burning the most CPU."""
    user, system = process.cpu_times()[:2]
    return (user + system) / max(1e-3, time.time() - process.create_time())


def plan_kill(ctx: ActionContext) -> dict[str, Any]:
    if ctx.failure_type == "algorithm_timeout":
        jobs = list(ctx.observation.details.get("jobs", []))
        if not jobs:  # the observation may predate a manual run: look again
            jobs = Checker(ctx.settings, ctx.db).algorithm_timeout().details.get("jobs", [])
    elif ctx.failure_type == "high_memory_usage":
        jobs = _heaviest(_running_jobs(ctx.db), lambda p: float(p.memory_info().rss))
    else:
        jobs = _heaviest(_running_jobs(ctx.db), _cpu_share)
    if not jobs:
        raise Refused("no analysis to stop: the target set is empty")
    targets = []
    for job in jobs:
        pid, why = _process_of(job)
        targets.append({**job, "pid": pid, "why": why})
    pids = {t["pid"] for t in targets if t["pid"] is not None}
    bound = ctx.settings.recovery_max_targets
    if len(pids) > bound:
        raise Refused(
            f"{len(pids)} worker processes to terminate exceed BL_RECOVERY_MAX_TARGETS "
            f"({bound}): a person should look"
        )
    return {"jobs": targets, "terminate_pids": sorted(pids)}


def run_kill(ctx: ActionContext, plan: dict[str, Any]) -> dict[str, Any]:
    cancelled, already = [], []
    for target in plan["jobs"]:  # first: a redelivered message then finds the job ended
        try:
            with ctx.db.scope() as session:
                cancel_job(session, target["job_id"])
            cancelled.append(target["job_id"])
        except ConflictError:
            already.append(target["job_id"])
    processes = []
    for target in plan["jobs"]:
        process, _ = _worker_process(target)  # look again just before signalling
        if process is not None and process.pid in plan["terminate_pids"]:
            processes.append(process)
    for process in processes:
        process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=TERMINATE_GRACE_S)
    for process in alive:  # a runaway step ignores SIGTERM's graceful stop
        process.kill()
    _, survivors = psutil.wait_procs(alive, timeout=TERMINATE_GRACE_S)
    details = {
        "cancelled": cancelled,
        "already_ended": already,
        "terminated": sorted(p.pid for p in processes),
        "killed": sorted(p.pid for p in alive),
    }
    if survivors:
        raise ActionFailed(f"processes {sorted(p.pid for p in survivors)} did not exit", details)
    return details


# -- scale_up -----------------------------------------------------------------------------


def plan_scale_up(ctx: ActionContext) -> dict[str, Any]:
    units = ctx.config.scale_units
    if not units:
        raise Refused("BL_RECOVERY_SCALE_UNITS is empty: no extra workers to start")
    if shutil.which("systemctl") is None:
        raise Refused("systemctl is not available")
    for unit in units:
        if not run_command(["systemctl", "is-active", "--quiet", unit]).ok:
            return {"start": unit, "command": shlex.join(["systemctl", "start", unit])}
    raise Refused(f"all {len(units)} extra worker units already run: the maximum")


def run_scale_up(ctx: ActionContext, plan: dict[str, Any]) -> dict[str, Any]:
    done = run_command(shlex.split(plan["command"]))
    if not done.ok:
        raise ActionFailed(f"{done.command} exited {done.exit_code}: {done.stderr.strip()}", {})
    return {"started": plan["start"]}


# -- notify_admin -------------------------------------------------------------------------


def plan_notify(ctx: ActionContext) -> dict[str, Any]:
    url = ctx.settings.alert_webhook_url
    if not url:
        raise Refused("BL_ALERT_WEBHOOK_URL is not set: nobody to notify")
    summary = ctx.reason or f"{ctx.failure_type}: automatic recovery asks for a person"
    payload = alert_payload(
        "BusinessLogicRecoveryNeedsAttention",
        "critical",
        summary,
        failure_type=ctx.failure_type,
        trigger=ctx.trigger,
        observation=ctx.observation.details,
    )
    return {"payload": payload}


def run_notify(ctx: ActionContext, plan: dict[str, Any]) -> dict[str, Any]:
    url = ctx.settings.alert_webhook_url
    assert url is not None  # the plan refused otherwise
    try:
        attempts = send_alert(url, plan["payload"])
    except DeliveryError as exc:
        raise ActionFailed(str(exc), {}) from None
    return {"attempts": attempts}


@dataclass(frozen=True)
class Action:
    plan: Callable[[ActionContext], dict[str, Any]]
    run: Callable[[ActionContext, dict[str, Any]], dict[str, Any]]
    repairs: bool  # verified afterwards and counted against the budget


REGISTRY: dict[str, Action] = {
    "restart_service": Action(plan_restart, run_restart, True),
    "clear_cache": Action(plan_clear_cache, run_clear_cache, True),
    "kill_processes": Action(plan_kill, run_kill, True),
    "scale_up": Action(plan_scale_up, run_scale_up, True),
    "notify_admin": Action(plan_notify, run_notify, False),
}
