"""`bizlogic worker` and `bizlogic jobs …`: the Dramatiq side of Redis mode."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from bizlogic.cli.options import error


def _redis_settings():
    """The settings with ``tuning.env`` applied: the worker pins BL_WORKER_THREADS from them
    for its processes, so a tuned value read only there would be overridden."""
    from pydantic import ValidationError

    from bizlogic.ops.overrides import OverridesError
    from bizlogic.settings import describe_invalid, get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        error(describe_invalid(exc))
        raise typer.Exit(1) from None
    except OverridesError as exc:
        error(str(exc))
        raise typer.Exit(1) from None
    if not settings.redis_url:
        error(
            "BL_REDIS_URL is not set: workers take jobs from Redis "
            "(without it the API runs analyses in-process and needs no worker)"
        )
        raise typer.Exit(1)
    return settings


def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Analyses at once per process (default: BL_WORKER_THREADS, 1)."
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Interface of the /metrics endpoint (0.0.0.0: all).")
    ] = "127.0.0.1",
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Port of the /metrics endpoint of this worker; 0: none."
        ),
    ] = 9191,
) -> None:
    """Run analysis workers: Dramatiq processes taking jobs from Redis.

    Any number of workers on any number of hosts may share one PostgreSQL and
    one Redis. A worker process killed mid-analysis loses nothing: after
    BL_JOB_STALE_S its job is delivered again to a surviving worker, and this
    worker starts a new process in its place (it gives up, exit 1, after 5
    deaths within 60 s).

    Examples:

      BL_REDIS_URL=redis://127.0.0.1:6379/0 BL_DATABASE_URL=postgresql://… bizlogic worker

      bizlogic worker --processes 2 --threads 1 --metrics-port 9192

    Metrics of all the processes of one worker are summed on
    http://METRICS_HOST:METRICS_PORT/metrics (a second worker on the same host
    needs another port). They are kept in BL_DATA_DIR/metrics/worker-PORT,
    emptied at every start.
    """
    settings = _redis_settings()
    from bizlogic.jobs.worker_metrics import ADDR_ENV
    from bizlogic.private_fs import restrict_umask

    restrict_umask()  # inherited by the supervisor and its worker processes through exec
    os.environ["BL_WORKER_THREADS"] = str(threads or settings.worker_threads)
    argv = [sys.executable, "-m", "bizlogic.jobs.supervisor", "--processes", str(processes)]
    os.environ.pop(ADDR_ENV, None)
    if metrics_port:
        from bizlogic.private_fs import ensure_private_dir
        from bizlogic.telemetry.multiprocess import prepare_dir

        ensure_private_dir(settings.data_dir)
        prepare_dir(settings.data_dir / "metrics" / f"worker-{metrics_port}")
        os.environ[ADDR_ENV] = f"{metrics_host}:{metrics_port}"
        argv.append("--metrics")
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # a lean supervisor (bizlogic.jobs.supervisor) takes over


def reconcile_once() -> None:
    """Compare the database with the broker once: resend lost jobs, fail exhausted ones.

    The API does this every BL_RECONCILE_INTERVAL_S; run it by hand after
    restoring Redis, for instance.
    """
    settings = _redis_settings()
    from bizlogic.jobs.broker import make_broker
    from bizlogic.jobs.reconcile import reconcile
    from bizlogic.store.db import Database

    db = Database(settings.effective_database_url)
    broker = make_broker(settings)
    try:
        report = reconcile(db, broker, settings)
    finally:
        broker.close()
        db.dispose()
    typer.echo(
        f"examined {report.examined} stale job(s): {report.held_by_broker} still held by "
        f"the broker, {len(report.requeued)} sent again, {len(report.failed)} failed "
        "(attempts exhausted)"
    )
    for job_id in report.requeued:
        typer.echo(f"  sent again  {job_id}")
    for job_id in report.failed:
        typer.echo(f"  failed      {job_id}")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    jobs_app = typer.Typer(
        help="Analysis jobs in Redis mode (Dramatiq on BL_REDIS_URL).", no_args_is_help=True
    )
    jobs_app.command("reconcile")(reconcile_once)
    app.add_typer(jobs_app, name="jobs")
