"""`bizlogic tune`: measure, recommend, and optionally apply bizlogic's own settings."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.table import Table

from bizlogic.cli.options import EXIT_BAD_INPUT, err, error

STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def default_metrics_url(health_url: str) -> str:
    """The API's /metrics on the host and port of BL_HEALTH_URL."""
    parts = urlsplit(health_url)
    return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))


def tune(
    output: Annotated[
        Path | None, typer.Option(help="Also write the full report (JSON) to this file.")
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Write the recommended bizlogic settings to the "
            "overrides file (BL_DATA_DIR/tuning.env), after showing the diff.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --apply: do not ask.")] = False,
    metrics_url: Annotated[
        list[str] | None,
        typer.Option(
            help="A /metrics endpoint to read (repeat for workers) "
            "(default: the API's, from BL_HEALTH_URL)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    sample_seconds: Annotated[
        float,
        typer.Option(
            min=0.5,
            max=60.0,
            help="The window over which CPU usage and disk I/O rates are measured.",
        ),
    ] = 3.0,
) -> None:
    """Measure the system, database, cache and service; print prioritised recommendations.

    CPU usage and disk I/O rates are measured over --sample-seconds (3 s by
    default), as the report's window_s records. The capacity section projects
    the samples `bizlogic maintain` keeps to each resource's limit; limits
    nearer than BL_CAPACITY_HORIZON_DAYS join the recommendations. Every run
    is stored in ops_reports (kind tune) for the periodic report.

    Reads only, except --apply, which changes nothing but bizlogic's own
    settings (BL_DB_POOL_SIZE, BL_CACHE_TTL_S, BL_WORKER_THREADS,
    BL_MAX_CONCURRENT_ANALYSES) in BL_DATA_DIR/tuning.env, keeping a backup;
    they take effect when the services restart. PostgreSQL, Redis and system
    changes are recommended, never made.

    Examples:

      bizlogic tune

      bizlogic tune --output tune.json --metrics-url http://127.0.0.1:9191/metrics

      bizlogic tune --json --sample-seconds 10

      bizlogic tune --apply
    """
    from bizlogic.ops.overrides import OverridesError

    if yes and not apply:
        error("--yes: only meaningful with --apply")
        raise typer.Exit(EXIT_BAD_INPUT)
    if output is not None and output.is_dir():
        error(f"--output: {output} is a directory")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        report, settings = gather_report(metrics_url, sample_seconds)
    except OverridesError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    if apply:
        apply_changes(report, settings, yes)
    save_run(report, settings)


def gather_report(
    metrics_urls: list[str] | None, sample_seconds: float = 3.0
) -> tuple[dict[str, Any], Any]:
    from bizlogic.ops import tune_facts as facts_mod
    from bizlogic.ops.overrides import TUNABLE, overrides_path, read_overrides
    from bizlogic.ops.tune_advice import advise
    from bizlogic.settings import env_name, get_settings
    from bizlogic.store.db import Database

    get_settings.cache_clear()
    settings = get_settings()
    urls = metrics_urls or [default_metrics_url(settings.health_url)]
    texts: dict[str, str | Exception] = {}
    for url in urls:
        try:
            texts[url] = facts_mod.fetch_metrics(url)
        except Exception as exc:
            texts[url] = exc
    db = Database(settings.effective_database_url, pooled=False)
    try:
        facts = {
            "system": facts_mod.system_facts(settings, sample_s=sample_seconds),
            "database": facts_mod.database_facts(db),
            "jobs": facts_mod.job_facts(db),
            "cache": facts_mod.cache_facts(settings),
            "application": facts_mod.application_facts(texts),
        }
        capacity = capacity_section(db, settings)
    finally:
        db.dispose()
    path = overrides_path(settings.data_dir)
    overrides = read_overrides(path)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "embedded" if settings.embedded else "redis",
        "settings": {
            "overrides_file": str(path),
            "values": {env_name(n): getattr(settings, n) for n in TUNABLE},
            "from_overrides": sorted(env_name(n) for n in overrides),
            "from_environment": sorted(env_name(n) for n in TUNABLE if env_name(n) in os.environ),
        },
        "facts": facts,
        "capacity": capacity,
        "recommendations": [r.as_dict() for r in advise(facts, settings, capacity)],
    }
    return report, settings


def capacity_section(db: Any, settings: Any) -> dict[str, Any]:
    """The capacity projections, or why there are none (e.g. a database not migrated)."""
    from bizlogic.ops.capacity.project import projections

    try:
        return {"available": True, **projections(db, settings)}
    except Exception as exc:
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}".splitlines()[0]}


def save_run(report: dict[str, Any], settings: Any) -> int | None:
    """Keep this run in ops_reports, so the periodic report can list the open
    recommendations; status is the highest priority among them, ``ok`` when none."""
    from bizlogic.ops.tune_advice import PRIORITIES
    from bizlogic.store import ops_reports
    from bizlogic.store.db import Database

    by_priority = {p: 0 for p in PRIORITIES}
    for rec in report["recommendations"]:
        by_priority[rec["priority"]] += 1
    status = next((p for p in PRIORITIES if by_priority[p]), "ok")
    summary = {"recommendations": len(report["recommendations"]), "by_priority": by_priority}
    body = json.loads(json.dumps(report, default=str))
    db = Database(settings.effective_database_url, pooled=False)
    try:
        saved = ops_reports.save(db, "tune", "tune", status, summary, body)
    except Exception as exc:  # the report was shown; say why it could not be kept
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        err.print(f"[yellow]warning:[/] this run was not stored in ops_reports: {reason}")
        return None
    finally:
        db.dispose()
    err.print(f"[dim]stored as tune report {saved}[/]")
    return saved


def print_report(report: dict[str, Any]) -> None:
    console = Console()
    unavailable = {
        name: f.get("reason") for name, f in report["facts"].items() if not f.get("available")
    }
    for name, reason in unavailable.items():
        console.print(f"[yellow]{name}: not measured[/] — {reason}")
    measured = Table(title="measured", show_header=False, box=None, padding=(0, 1))
    measured.add_column("area", style="bold")
    measured.add_column("figures", overflow="fold")
    for name, fact in report["facts"].items():
        if fact.get("available"):
            measured.add_row(name, ", ".join(f"{k}={v}" for k, v in _figures(fact)))
    console.print(measured)
    print_capacity(console, report.get("capacity"))
    recommendations = report["recommendations"]
    if not recommendations:
        console.print("[green]No recommendations: every measured figure is within bounds.[/]")
        return
    table = Table(title=f"bizlogic tune ({report['mode']} mode)", show_lines=True)
    table.add_column("priority")
    table.add_column("finding: why, and the figures", ratio=3, overflow="fold")
    table.add_column("change", ratio=1, overflow="fold")
    for rec in recommendations:
        change = rec["change"]
        what = ""
        if change:
            what = f"{change['target']}: {change['setting']} = {change['value']}"
            if change.get("current") is not None:
                what += f" (now {change['current']})"
            if rec["applicable"]:
                what += "\n[green]--apply sets it[/]"
        evidence = ", ".join(f"{k}={v}" for k, v in rec["evidence"].items())
        table.add_row(
            f"[{STYLE[rec['priority']]}]{rec['priority']}[/]\n{rec['area']}",
            f"[bold]{rec['title']}[/]\n{rec['reason']}\n[dim]{evidence}[/]",
            what,
        )
    console.print(table)


CAPACITY_STYLE = {"reached": "bold red", "within_horizon": "yellow", "ok": "green"}


def print_capacity(console: Console, section: dict[str, Any] | None) -> None:
    """One row a series: where it stands, how fast it grows, when it reaches its limit."""
    from bizlogic.ops.capacity.resources import human

    if section is None:
        return
    if not section.get("available"):
        console.print(f"[yellow]capacity: not projected[/] — {section.get('reason')}")
        return
    if not section["series"]:
        console.print("[yellow]capacity: no samples yet[/] — `bizlogic maintain` takes them daily")
        return
    table = Table(
        title=f"capacity (horizon {section['horizon_days']} days, "
        f"latest sample {section['taken_at']})"
    )
    for column in ("resource", "item", "current", "limit", "growth/day", "model", "reaches"):
        table.add_column(column, no_wrap=column != "item", overflow="fold")
    table.add_column("status", no_wrap=True)
    for entry in section["series"]:
        reaches = "–"
        if entry["reaches_at"]:
            reaches = entry["reaches_at"][:10]
            if entry["days_left"] is not None:
                reaches += f" ({entry['days_left']:.0f} d)"
            if entry["reaches_at_earliest"]:
                latest = (entry["reaches_at_latest"] or "later")[:10]
                reaches += f"\n90%: {entry['reaches_at_earliest'][:10]} – {latest}"
        growth = entry["growth_per_day"]
        style = CAPACITY_STYLE.get(entry["status"], "dim")
        table.add_row(
            entry["resource"] + ("" if entry["scope"] == "deployment" else f"\n{entry['scope']}"),
            entry["item"],
            human(entry["current"], entry["unit"]),
            "–"
            if entry["limit"] is None
            else f"{human(entry['limit'], entry['unit'])}\n{entry['limit_label']}",
            "–" if growth is None else human(growth, entry["unit"], sign=True),
            entry["model"] or "–",
            reaches,
            f"[{style}]{entry['status']}[/]",
        )
    Console(width=max(console.width, 170)).print(table)


def _figures(fact: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The measured numbers and words of one area, as dotted keys: the evidence a person
    reads even when nothing needs changing (lists are counted, the JSON has them whole)."""
    figures: list[tuple[str, Any]] = []
    for key, value in fact.items():
        if key == "available" or value is None:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            figures.extend(_figures(value, f"{name}."))
        elif isinstance(value, list):
            figures.append((name, f"{len(value)} items"))
        else:
            figures.append((name, value))
    return figures


def apply_changes(report: dict[str, Any], settings: Any, yes: bool) -> None:
    from bizlogic.ops.overrides import diff, overrides_path, read_overrides, write

    changes: dict[str, str] = {}
    for rec in report["recommendations"]:  # highest priority first: it wins a setting
        change = rec["change"]
        if rec["applicable"] and change["name"] not in changes:
            changes[change["name"]] = str(change["value"])
    if not changes:
        err.print("nothing to apply: no recommendation changes a bizlogic setting")
        return
    path = overrides_path(settings.data_dir)
    current = read_overrides(path)
    err.print(diff(path, current, changes), end="", markup=False, highlight=False)
    shadowed = [n for n in changes if f"BL_{n.upper()}" in os.environ]
    for name in shadowed:
        err.print(
            f"[yellow]warning:[/] BL_{name.upper()} is set in the environment, which takes "
            "precedence over the overrides file: remove it there for this change to count"
        )
    if not yes:
        if not sys.stdin.isatty():
            error("--apply: not a terminal to confirm on; add --yes")
            raise typer.Exit(EXIT_BAD_INPUT)
        if not typer.confirm("Write these settings?", err=True):
            err.print("nothing written")
            raise typer.Exit(1)
    backup = write(path, changes)
    err.print(f"wrote {path}" + (f" (previous file kept as {backup})" if backup else ""))
    err.print("the new values take effect when the bizlogic services restart")


def register(app: typer.Typer) -> None:
    app.command("tune")(tune)
