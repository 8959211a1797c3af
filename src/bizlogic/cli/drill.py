"""`bizlogic drill`: rehearse failure recovery against a deployment the operator names.

`drill list` shows the drills; `drill run NAME` injects the fault into the sandbox
(a throwaway deployment the drill starts itself), a named target (an env file and the
commands of the drill config) or — with --yes and the typed name — production, and
reports time to detect, time to recover, whether auto-recovery acted and what was lost.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bizlogic.cli.options import EXIT_FAILED, EXIT_USAGE, err, fail

if TYPE_CHECKING:
    from bizlogic.ops.drills.report import DrillReport
    from bizlogic.ops.drills.target import Deployment

DEFAULT_TIMEOUT_S = 120.0


class RecoveryMode(StrEnum):
    act = "act"
    dry_run = "dry-run"


def list_drills() -> None:
    """Every drill, with what it does."""
    from bizlogic.ops.drills.catalogue import DRILLS

    table = Table(title="failure drills")
    table.add_column("drill", no_wrap=True)
    table.add_column("what it does")
    for drill in DRILLS.values():
        table.add_row(drill.name, drill.description)
    Console(width=max(Console().width, 120)).print(table)


def _deployment(
    name: str,
    sandbox: bool,
    target: Path | None,
    config_path: Path | None,
    yes: bool,
    database_url: str | None,
    recovery: RecoveryMode,
) -> Deployment:
    """The deployment to drill, every refusal before anything is started or touched."""
    from bizlogic.ops.drills.catalogue import DRILLS
    from bizlogic.ops.drills.config import DrillConfigError, load
    from bizlogic.ops.drills.target import CommandDeployment, TargetError, settings_from_env_file
    from bizlogic.settings import get_settings

    if sandbox and target is not None:
        raise fail("--sandbox and --target: choose one", EXIT_USAGE)
    if sandbox:
        from bizlogic.ops.drills.sandbox import Sandbox

        if DRILLS[name].postgresql_only and not database_url:
            raise fail(
                f"{name} needs PostgreSQL: give --sandbox-database-url with a database the "
                "sandbox may use (SQLite has no server connections to terminate)",
                EXIT_USAGE,
            )
        try:
            return Sandbox(name, database_url=database_url, recovery_mode=recovery.value)
        except TargetError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
    if database_url:
        raise fail("--sandbox-database-url goes with --sandbox only", EXIT_USAGE)
    if target is None and not yes:
        raise fail(
            "no target named: refusing to drill this environment's (production) deployment. "
            "Use --sandbox for a throwaway deployment or --target ENV_FILE for a named one "
            "(production needs --yes and the typed target name)",
            EXIT_USAGE,
        )
    config_path = config_path or get_settings().drill_config
    if config_path is None:
        raise fail(
            "--config: a drill config is needed to act on a deployment (or BL_DRILL_CONFIG)",
            EXIT_USAGE,
        )
    try:
        config = load(config_path)
        if target is not None:
            settings = settings_from_env_file(target)
            deployment = CommandDeployment(config.target_name, settings, config, "target")
        else:
            deployment = CommandDeployment(config.target_name, get_settings(), config, "production")
        deployment.check(name)
    except (DrillConfigError, TargetError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    return deployment


def _confirm(name: str, deployment: Deployment, yes: bool) -> None:
    """Show what will be done; the operator types the target's name (unless --yes on a
    target; production always asks)."""
    from bizlogic.ops.drills.catalogue import DRILLS
    from bizlogic.ops.drills.config import COMMAND_KEYS
    from bizlogic.telemetry.redact import redact_text

    drill = DRILLS[name]
    config = deployment.config  # type: ignore[attr-defined]
    err.print(f"drill {name} against {escape(deployment.label)} ({deployment.kind})")
    err.print(f"  fault: {escape(drill.injection)}")
    for key in COMMAND_KEYS:
        if config.has(name, key):
            err.print(f"  {key}: {escape(redact_text(json.dumps(config.argv(name, key))))}")
    err.print(f"  API: {escape(deployment.api_url)} (the drill submits its own analyses)")
    if yes and deployment.kind == "target":
        return
    err.print(f"Type the target's name ([bold]{escape(deployment.name)}[/]) to go on: ", end="")
    typed = sys.stdin.readline().strip()
    if typed != deployment.name:
        raise fail(
            f"the confirmation {typed!r} is not {deployment.name!r}: nothing was done", EXIT_USAGE
        )


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a temporary file beside it, renamed into place."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _print_summary(report: DrillReport, report_id: int | None, sandbox_kept: bool) -> None:
    from bizlogic.ops.drills.report import headline_rows

    table = Table(title=f"drill {report.drill}", show_header=False)
    table.add_column("")
    table.add_column("")
    for key, value in headline_rows(report):
        style = {"PASSED": "green", "FAILED": "bold red"}.get(value, "")
        table.add_row(key, f"[{style}]{escape(value)}[/]" if style else escape(value))
    Console().print(table)
    if report.body.get("failure"):
        typer.echo(f"why: {report.body['failure']}")
    for process, text in (report.body.get("logs") or {}).items():
        err.print(f"[bold]--- end of the sandbox's {escape(process)} log ---[/]")
        err.print(escape(text), highlight=False)
    if report_id is not None:
        where = (
            "the sandbox's database" if report.body["target_kind"] == "sandbox" else "ops_reports"
        )
        typer.echo(f"stored as ops_reports id {report_id} in {where}")
    if report.body["target_kind"] == "sandbox" and not sandbox_kept:
        typer.echo(
            "the sandbox's database is gone with it: keep this report with --json/--md/--html"
        )


def run(
    name: Annotated[str, typer.Argument(help="The drill (see `bizlogic drill list`).")],
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Drill a throwaway deployment the drill starts.")
    ] = False,
    target: Annotated[
        Path | None,
        typer.Option("--target", help="Env file (BL_* settings) of the deployment to drill."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Drill YAML: target name and commands (default BL_DRILL_CONFIG)."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Skip the target's confirmation (production still asks).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    md: Annotated[Path | None, typer.Option("--md", help="Write the report as Markdown.")] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Write the report as a self-contained page.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to recover, from the injection.")
    ] = DEFAULT_TIMEOUT_S,
    sandbox_database_url: Annotated[
        str | None,
        typer.Option(
            "--sandbox-database-url",
            help="PostgreSQL database for the sandbox (default: SQLite in its temp dir).",
        ),
    ] = None,
    recovery: Annotated[
        RecoveryMode, typer.Option("--recovery", help="The sandbox's auto-recovery mode.")
    ] = RecoveryMode.act,
) -> None:
    """Inject a failure, measure detection and recovery, store and print the report.

    Exit code 0 when the drill passed (recovered within --timeout, nothing lost),
    1 when it failed, 2 for a bad option, config or a refused target.

    Examples:

      bizlogic drill run worker-kill --sandbox

      bizlogic drill run redis-stop --target /etc/bizlogic/staging.env --config drills.yml
    """
    from bizlogic.ops.drills import runner
    from bizlogic.ops.drills.catalogue import DRILLS
    from bizlogic.ops.drills.report import to_html, to_markdown

    if name not in DRILLS:
        raise fail(f"NAME: unknown drill {name!r}; choose from {', '.join(DRILLS)}", EXIT_USAGE)
    for option, path in (("--md", md), ("--html", html_file)):
        if path is not None and not path.parent.is_dir():
            raise fail(f"{option}: {path.parent} is not a directory", EXIT_USAGE)
    deployment = _deployment(name, sandbox, target, config, yes, sandbox_database_url, recovery)
    if deployment.kind != "sandbox":
        _confirm(name, deployment, yes)
    report, report_id = runner.run(
        name, deployment, timeout, progress=lambda text: err.print(f"[dim]{escape(text)}…[/]")
    )
    if md is not None:
        _write(md, to_markdown(report))
    if html_file is not None:
        _write(html_file, to_html(report))
    if as_json:
        typer.echo(json.dumps(report.document(report_id), indent=2))
    else:
        _print_summary(report, report_id, sandbox_kept=bool(sandbox_database_url))
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    drill_app = typer.Typer(
        help="Failure drills: inject a fault, measure detection and recovery.",
        no_args_is_help=True,
    )
    drill_app.command("list")(list_drills)
    drill_app.command("run")(run)
    app.add_typer(drill_app, name="drill")
