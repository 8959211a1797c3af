"""The drills: names (a contract with operators' runbooks), what each injects, and the
definitions of "detected" and "recovered" the measurements follow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drill:
    name: str
    description: str  # one line, for `bizlogic drill list`
    injection: str
    detected: str
    recovered: str
    # Keys of the drill's entry in the drill config a --target / production run needs.
    target_keys: tuple[str, ...] = ("inject",)
    postgresql_only: bool = False
    # The failure types of auto-recovery whose events say whether it acted on this drill
    # (the host-wide CPU and memory checks fire on any busy host: listed, not counted).
    recovery_types: tuple[str, ...] = (
        "database_connection",
        "redis_connection",
        "algorithm_timeout",
    )


DRILLS: dict[str, Drill] = {
    drill.name: drill
    for drill in (
        Drill(
            "worker-kill",
            "SIGKILL the worker process running an analysis; another worker must finish it.",
            "SIGKILL to the worker process holding the drill's running analysis",
            "the job record is taken over: a new attempt by another worker process",
            "the interrupted analysis completed and /readyz is ready",
        ),
        Drill(
            "redis-stop",
            "Stop Redis, then restore it (or let auto-recovery restart it).",
            "Redis stopped while an analysis is queued or running",
            "a redis_connection detection is recorded, or /readyz shows the cache or queue "
            "not up — whichever comes first",
            "Redis answers, /readyz shows cache and queue up, and the analyses submitted "
            "around the outage completed",
            target_keys=("inject", "restore"),
            recovery_types=("redis_connection",),
        ),
        Drill(
            "pg-terminate",
            "Terminate the service's PostgreSQL connections (pg_terminate_backend).",
            "pg_terminate_backend on every connection to the service's database, mid-analysis",
            "a service opens a new connection (a backend not among the terminated ones)",
            "/readyz is ready and the analysis running at the time completed",
            postgresql_only=True,
            recovery_types=("database_connection",),
        ),
        Drill(
            "cache-fill",
            "Fill Redis with bl: cache keys of an obsolete project version; maintain cleans them.",
            "cache-sized bl: keys of an obsolete version of a drill project, up to Redis's "
            "maxmemory or a set amount",
            "Redis reports the fill: the drill's keys are stored (or eviction started)",
            "the obsolete keys are gone (maintain's cache step removed them, or eviction "
            "did), /readyz is ready and an analysis completes",
            recovery_types=("redis_connection", "high_memory_usage"),
        ),
        Drill(
            "runaway-analysis",
            "Run an analysis past its time limit; auto-recovery must cancel it.",
            "an analysis the drill submits, far heavier than the time limit allows",
            "an algorithm_timeout detection is recorded by auto-recovery",
            "the runaway analysis is no longer running (cancelled), /readyz is ready and a "
            "normal analysis completes",
            target_keys=(),
            recovery_types=("algorithm_timeout",),
        ),
        Drill(
            "disk-alert",
            "Trip the disk-usage alert of maintenance and check the alert is delivered.",
            "maintenance's disk step with BL_DISK_ALERT_PERCENT just under the current use",
            "the disk alert is delivered (sandbox: the drill's webhook receiver gets it; "
            "target: a maintenance run in the drill window records it sent)",
            "the maintenance run ended ok (the alert path works) and /readyz is ready",
        ),
    )
}


def names() -> list[str]:
    return list(DRILLS)
