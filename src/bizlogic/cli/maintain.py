"""`bizlogic maintain`: run the maintenance steps once and report each."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bizlogic.cli.options import EXIT_FAILED, EXIT_LOCKED, error


def maintain(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated steps: cache, retention, database, logs, disk, restart."
        ),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Also restart BL_SERVICE_UNITS and wait for health.")
    ] = False,
    flush_cache: Annotated[
        bool,
        typer.Option("--flush-cache", help="Remove every bl: cache key, not just obsolete ones."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Housekeeping: cache, retention, VACUUM/REINDEX, old logs, disk alert (and restart).

    One run at a time; every run is recorded in maintenance_runs. Exit code 1
    when a step failed, 3 when another run holds the lock.

    Examples:

      bizlogic maintain --dry-run

      bizlogic maintain --only retention,database
    """
    from bizlogic.ops.maintenance import DEFAULT_STEPS, AlreadyRunning, Maintenance
    from bizlogic.settings import get_settings
    from bizlogic.store.db import Database
    from bizlogic.telemetry.logging import configure_logging

    settings = get_settings()
    configure_logging(settings, stream=sys.stderr)  # stdout is for the report
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the revision check is routine
    steps = tuple(s.strip() for s in only.split(",") if s.strip()) if only else DEFAULT_STEPS
    if restart and "restart" not in steps:
        steps = (*steps, "restart")
    from bizlogic.store import migrations

    url = settings.effective_database_url
    try:
        revision = migrations.current(url)
    except migrations.MigrationError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_FAILED) from None
    if revision != migrations.head():
        error(
            f"the database is at revision {revision or 'none'}, not "
            f"{migrations.head()}: run `bizlogic db upgrade` first"
        )
        raise typer.Exit(EXIT_FAILED)
    db = Database(url)
    try:
        job = Maintenance(settings, db, dry_run=dry_run, flush_cache=flush_cache, steps=steps)
        report = job.run()
    except ValueError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_FAILED) from None
    except AlreadyRunning as exc:
        error(f"{exc}; try again when it has finished")
        raise typer.Exit(EXIT_LOCKED) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        table = Table(title=f"maintenance run {report.run_id}" + (" (dry run)" if dry_run else ""))
        for column in ("step", "result", "seconds", "details"):
            table.add_column(column)
        for step in report.steps:
            style = {"ok": "green", "failed": "bold red", "skipped": "yellow"}[step.status]
            summary = step.error or json.dumps(step.details, default=str)
            table.add_row(
                step.name, f"[{style}]{step.status}[/]", f"{step.duration_s:.2f}", summary
            )
        Console().print(table)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command("maintain")(maintain)
