"""`bizlogic recover`: the watcher, manual runs, history and the kill switch."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bizlogic.cli.options import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_LOCKED, err, fail


@contextmanager
def _recovery() -> Iterator[Any]:
    """The engine on a migrated database, with the configuration validated first."""
    from bizlogic.ops.recovery.config import RecoveryConfig, RecoveryConfigError
    from bizlogic.ops.recovery.engine import Recovery
    from bizlogic.settings import get_settings
    from bizlogic.store import migrations
    from bizlogic.store.db import Database
    from bizlogic.telemetry.logging import configure_logging

    settings = get_settings()
    configure_logging(settings, stream=sys.stderr, process="recover")  # stdout is for reports
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the revision check is routine
    try:
        config = RecoveryConfig.from_settings(settings)
    except RecoveryConfigError as exc:
        raise fail(str(exc), EXIT_BAD_INPUT) from None
    url = settings.effective_database_url
    try:
        revision = migrations.current(url)
    except migrations.MigrationError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    if revision != migrations.head():
        raise fail(
            f"the database is at revision {revision or 'none'}, not {migrations.head()}: "
            "run `bizlogic db upgrade` first",
            EXIT_FAILED,
        )
    db = Database(url, pool_size=2)
    try:
        yield Recovery(settings, db, config=config)
    finally:
        db.dispose()


def watch(
    once: Annotated[bool, typer.Option("--once", help="Look once, print, and exit.")] = False,
) -> None:
    """Watch the database, Redis, memory, CPU and analyses' time limits; act on failures.

    Runs until SIGTERM or Ctrl-C; run one on every host (API and workers). Each
    host's watcher acts on that host's memory and CPU; one of them leads (acts on)
    the database, Redis and time limits, the others stand by for it. Dry-run unless
    BL_RECOVERY_MODE=act.

    Examples:

      bizlogic recover watch

      BL_RECOVERY_MODE=act bizlogic recover watch
    """
    from bizlogic.ops.recovery.leader import LeaderLock
    from bizlogic.ops.recovery.watch import Watcher

    with _recovery() as recovery:
        data_dir = recovery.settings.data_dir
        host_lock = LeaderLock(recovery.db, data_dir, recovery.host)
        printer = (lambda o: typer.echo(json.dumps(o.as_dict()))) if once else None
        watcher = Watcher(
            recovery, LeaderLock(recovery.db, data_dir), host_lock, on_outcome=printer
        )
        err.print(
            f"recovery watcher on {recovery.host}: mode {recovery.settings.recovery_mode}, "
            f"every {recovery.settings.recovery_interval_s:g} s, {', '.join(watcher.types)}"
        )
        if once:
            try:
                watcher.look_once()
            finally:
                watcher.release()
            if not watcher.leading:
                raise fail("another recovery process leads; nothing was looked at", EXIT_LOCKED)
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: watcher.stop_event.set())
        watcher.run()


def run(
    failure_type: Annotated[
        str,
        typer.Argument(
            help="database_connection, redis_connection, high_memory_usage, high_cpu_usage "
            "or algorithm_timeout."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and record; run nothing (whatever the mode).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Run the action chain of a failure type now (trigger: manual), with every safeguard.

    Exit code 0 when the failure was fixed and verified (or planned, in dry-run),
    1 when it was not, 3 when another recovery process is acting.

    Examples:

      bizlogic recover run algorithm_timeout --dry-run

      BL_RECOVERY_MODE=act bizlogic recover run redis_connection
    """
    from bizlogic.ops.recovery.config import FAILURE_TYPES
    from bizlogic.ops.recovery.hosts import HOST_FAILURES
    from bizlogic.ops.recovery.leader import LeaderLock

    if failure_type not in FAILURE_TYPES:
        raise fail(
            f"FAILURE_TYPE: unknown {failure_type!r}; choose from {', '.join(FAILURE_TYPES)}",
            EXIT_BAD_INPUT,
        )
    with _recovery() as recovery:
        host = recovery.host if failure_type in HOST_FAILURES else None
        lock = LeaderLock(recovery.db, recovery.settings.data_dir, host)
        acting = not recovery.dry_run(dry_run)
        if acting and not lock.try_acquire():
            raise fail(
                "another recovery process (the watcher?) is acting; run "
                "`bizlogic recover pause` or stop it first",
                EXIT_LOCKED,
            )
        try:
            outcome = recovery.handle(failure_type, "manual", force_dry_run=dry_run)
        finally:
            lock.release()
    if as_json:
        typer.echo(json.dumps(outcome.as_dict(), indent=2))
    else:
        mode = "dry run" if outcome.dry_run else "act"
        typer.echo(f"{failure_type} ({mode}): {outcome.status} — {outcome.detail}")
        typer.echo(f"events {outcome.events}: see `bizlogic recover history`")
    if outcome.status not in ("resolved", "planned"):
        raise typer.Exit(EXIT_FAILED)


def show_history(
    hours: Annotated[float, typer.Option(min=0.01, help="How far back to look.")] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="Print the events as JSON.")] = False,
) -> None:
    """Detections and actions of the last hours, newest first."""
    from bizlogic.ops.recovery import history
    from bizlogic.store import clock

    with _recovery() as recovery:
        since = clock.utcnow() - timedelta(hours=hours)
        events = history.events_since(recovery.db, since)
        paused = history.pause_state(recovery.db)
    if as_json:
        typer.echo(json.dumps({"paused": paused, "events": events}, indent=2, default=str))
        return
    if paused:
        err.print(f"[yellow]recovery is paused since {paused['since']}[/]")
    table = Table(title=f"recovery events, last {hours:g} h")
    for column in ("time", "trigger", "failure", "host", "action", "outcome", "dry"):
        table.add_column(column, no_wrap=True)
    table.add_column("context", overflow="fold", ratio=1)
    for event in events:
        context = event["error"] or json.dumps(event["context"], default=str)[:300]
        table.add_row(
            event["created_at"][:19],
            event["trigger"],
            event["failure_type"] or "",
            event["host"] or "",
            event["action"] or "—",
            event["outcome"],
            "yes" if event["dry_run"] else "",
            context,
        )
    # Seven short columns and the context: below 140 columns the context is a sliver.
    Console(width=max(Console().width, 140)).print(table)


def _switch(action: str, reason: str) -> None:
    from bizlogic.ops.recovery import history

    with _recovery() as recovery:
        history.record(
            recovery.db,
            source="manual",
            action=action,
            status="ok",
            dry_run=False,
            details={"reason": reason} if reason else {},
        )


def pause(
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Stop every recovery action (the watcher keeps detecting and recording)."""
    _switch("pause", reason)
    typer.echo("recovery paused: detections are recorded, nothing is done until resume")


def resume(
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Let recovery act again."""
    _switch("resume", reason)
    typer.echo("recovery resumed")


def register(app: typer.Typer) -> None:
    recover_app = typer.Typer(
        help="Auto-recovery: detect failures, act safely, escalate, keep history.",
        no_args_is_help=True,
    )
    recover_app.command("watch")(watch)
    recover_app.command("run")(run)
    recover_app.command("history")(show_history)
    recover_app.command("pause")(pause)
    recover_app.command("resume")(resume)
    app.add_typer(recover_app, name="recover")
