"""`bizlogic maintain`: run the maintenance steps once and report each; `maintain history`
lists the runs recorded in maintenance_runs."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bizlogic.cli.options import EXIT_FAILED, EXIT_LOCKED, EXIT_USAGE, error

if TYPE_CHECKING:
    from bizlogic.settings import Settings

_STYLES = {"ok": "green", "failed": "bold red", "skipped": "yellow", "interrupted": "bold red"}


def _migrated_url(settings: Settings) -> str:
    """The database URL, once it is known to be at the head revision (else exit 1)."""
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
    return url


def maintain(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated steps: cache, retention, database, logs, disk, capacity, restart."
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
    """Housekeeping: cache, retention, VACUUM/REINDEX, old logs, disk alert, capacity
    samples (and restart).

    One run at a time; every run is recorded in maintenance_runs
    (`bizlogic maintain history` lists them) and logged, one line a step.
    Exit code 1 when a step failed, 3 when another run holds the lock.

    Examples:

      bizlogic maintain --dry-run

      bizlogic maintain --only retention,database

      bizlogic maintain --only capacity

      bizlogic maintain history --limit 5
    """
    if ctx.invoked_subcommand is not None:
        if dry_run or only or restart or flush_cache or as_json:
            error(
                f"the options of a maintenance run go without a command; "
                f"`bizlogic maintain {ctx.invoked_subcommand} --help` lists its own"
            )
            raise typer.Exit(EXIT_USAGE)
        return
    from bizlogic.ops.maintenance import DEFAULT_STEPS, AlreadyRunning, Maintenance
    from bizlogic.settings import get_settings
    from bizlogic.store.db import Database
    from bizlogic.telemetry.logging import configure_logging

    settings = get_settings()
    # stdout is for the report; the log file is the maintenance's own (maintenance.log)
    configure_logging(settings, stream=sys.stderr, process="maintenance")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the revision check is routine
    steps = tuple(s.strip() for s in only.split(",") if s.strip()) if only else DEFAULT_STEPS
    if restart and "restart" not in steps:
        steps = (*steps, "restart")
    db = Database(_migrated_url(settings))
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
            style = _STYLES[step.status]
            summary = step.error or json.dumps(step.details, default=str)
            table.add_row(
                step.name, f"[{style}]{step.status}[/]", f"{step.duration_s:.2f}", summary
            )
        Console().print(table)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def history(
    limit: Annotated[
        int, typer.Option(min=1, help="How many runs, newest first.", show_default=True)
    ] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the runs as JSON, each with its full report.")
    ] = False,
) -> None:
    """The latest maintenance runs: when, how long, each step's result, errors.

    A run that never recorded its end shows as running while it is the newest,
    else as interrupted (killed, or its host lost).

    Examples:

      bizlogic maintain history

      bizlogic maintain history --limit 5 --json
    """
    from bizlogic.ops.maintenance import history as read_history
    from bizlogic.settings import get_settings
    from bizlogic.store.db import Database

    db = Database(_migrated_url(get_settings()))
    try:
        runs = read_history(db, limit)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(runs, indent=2, default=str))
        return
    if not runs:
        typer.echo("no maintenance run recorded yet")
        return
    table = Table(title="maintenance runs, newest first")
    for column in ("run", "started (UTC)", "seconds", "result", "steps", "error"):
        table.add_column(column, justify="right" if column in ("run", "seconds") else "left")
    for run in runs:
        style = _STYLES.get(run["status"], "")
        result = f"[{style}]{run['status']}[/]" if style else run["status"]
        steps = ", ".join(
            step["name"] if step["status"] is None else f"{step['name']} {step['status']}"
            for step in run["steps"]
        )
        table.add_row(
            str(run["run_id"]),
            run["started_at"][:19].replace("T", " "),
            "–" if run["duration_s"] is None else f"{run['duration_s']:.2f}",
            result + (" (dry run)" if run["dry_run"] else ""),
            steps,
            run["error"] or "",
        )
    Console(width=max(Console().width, 160)).print(table)  # errors are long


def register(app: typer.Typer) -> None:
    # A group whose callback is the run itself: `bizlogic maintain [OPTIONS]` runs the
    # steps as it always has; `bizlogic maintain history` lists the runs.
    maintain_app = typer.Typer(no_args_is_help=False)
    maintain_app.callback(invoke_without_command=True)(maintain)
    maintain_app.command("history")(history)
    app.add_typer(maintain_app, name="maintain")
