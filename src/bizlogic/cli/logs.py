"""`bizlogic logs analyze`: performance, errors and user activity from the JSON logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bizlogic.cli.options import err, fail

REPORTS = ("performance", "errors", "users", "all")


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from bizlogic.ops.logs import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise fail(f"{option}: not an ISO-8601 time: {value!r}") from None


def analyze(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Log files, plain or .gz, or quoted glob patterns ('/var/log/bizlogic/*.log*'); "
            "default: every process's BL_LOG_FILE and its rotations."
        ),
    ] = None,
    hours: Annotated[float | None, typer.Option(help="The last N hours (default 24).")] = None,
    since: Annotated[str | None, typer.Option(help="ISO-8601 start (naive = UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO-8601 end, exclusive.")] = None,
    report: Annotated[str, typer.Option(help="performance, errors, users or all.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")
    ] = None,
    top: Annotated[
        int,
        typer.Option(
            min=0,
            help="Entries of each per-event list: newest errors, newest user actions, "
            "top users and each one's top actions.",
        ),
    ] = 20,
) -> None:
    """Analyses started/completed/failed and their durations, errors, user activity.

    Examples:

      bizlogic logs analyze --hours 6

      bizlogic logs analyze /var/log/bizlogic/api.log.3.gz --since 2026-11-01 --json

      bizlogic logs analyze '/var/log/bizlogic/worker*' --top 50
    """
    from bizlogic.ops.logs import LogAnalyzer, LogReadError, family_files
    from bizlogic.settings import get_settings

    if report not in REPORTS:
        raise fail(f"--report: choose from {', '.join(REPORTS)}")
    if hours is not None and (since or until):
        raise fail("--hours: use either --hours or --since/--until")
    if hours is not None and not hours > 0:
        raise fail(f"--hours: must be a positive number of hours, not {hours:g}")
    start, end = _time(since, "--since"), _time(until, "--until")
    if hours is not None or (start is None and end is None):
        end = datetime.now(UTC)
        try:
            start = end - timedelta(hours=hours if hours is not None else 24)
        except OverflowError:
            raise fail(f"--hours: {hours:g} hours go back before the year 1") from None
    if start is not None and end is not None and start >= end:
        raise fail("--since: must be before --until")
    if not files:
        live = get_settings().log_file
        if live is None:
            raise fail("no files given and BL_LOG_FILE is not set")
        files = family_files(live)
        if not files:
            raise fail(f"no log files: BL_LOG_FILE ({live}) does not exist, nor any rotation")
    files = _expanded(files)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}")
    span = (end - start) if start and end else timedelta(days=1)
    bucket = timedelta(hours=1) if span <= timedelta(days=2) else timedelta(days=1)
    try:
        result = LogAnalyzer(start, end, bucket, top).feed_files(files).report(report)
    except LogReadError as exc:
        raise fail(str(exc)) from None
    if html is not None:
        from bizlogic.ops.logs_html import render_html

        try:
            html.write_text(render_html(result), encoding="utf-8")
        except OSError as exc:
            raise fail(f"--html: cannot write {html}: {exc.strerror}") from None
        err.print(f"HTML report written to {html}")
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _print(result)


def _expanded(files: list[Path]) -> list[Path]:
    """Each argument that names no file but holds ``*``, ``?`` or ``[`` is a glob pattern
    (quoted, so the shell left it): the files it matches, by name. A pattern that
    matches nothing stays, to be reported missing."""
    import glob

    paths: list[Path] = []
    for path in files:
        matches = [] if path.exists() or not glob.has_magic(str(path)) else glob.glob(str(path))
        paths += sorted(map(Path, matches)) if matches else [path]
    return list(dict.fromkeys(paths))  # a file named twice is read once


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _print(result: dict[str, Any]) -> None:
    # Ten columns of figures: narrower than 120, Rich would cut the algorithm names.
    out = Console(width=max(Console().width, 120), soft_wrap=True)
    window = result["window"]
    out.print(
        f"{result['lines_in_window']:,} of {result['lines']:,} lines in "
        f"[{window['since']}, {window['until']}); malformed: {result['malformed']['count']:,}"
    )
    for example in result["malformed"]["examples"]:
        out.print(f"  malformed {example['file']}:{example['line']}: {example['reason']}")
    if "performance" in result:
        table = Table(title="analyses")
        columns = ("algorithm", "started", "completed", "failed", "success")
        for column in (*columns, "avg s", "min s", "max s", "p50 s", "p95 s"):
            table.add_column(column, justify="left" if column == "algorithm" else "right")
        perf = result["performance"]
        for name, stats in [*perf["by_algorithm"].items(), ("all", perf)]:
            d, rate = stats["duration_s"], stats["success_rate"]
            table.add_row(
                name, str(stats["started"]), str(stats["completed"]), str(stats["failed"]),
                "–" if rate is None else f"{rate:.1%}", _fmt(d["avg"]), _fmt(d["min"]),
                _fmt(d["max"]), _fmt(d["p50"]), _fmt(d["p95"]),
            )  # fmt: skip
        out.print(table)
    for key, title, label in (
        ("errors", "analysis errors by type", "by_type"),
        ("errors", "analysis errors by project", "by_project"),
        ("users", "user actions", "by_action"),
    ):
        if key in result:
            table = Table(title=title)
            table.add_column(label.removeprefix("by_"))
            table.add_column("count", justify="right")
            for name, count in list(result[key][label].items())[: result["top"]]:
                table.add_row(_cell(name), str(count))
            out.print(table)
    if "errors" in result and result["errors"]["recent"]:
        table = Table(title=f"newest errors (at most {result['top']})")
        for column in ("time (UTC)", "level", "logger", "project", "algorithm", "type", "error"):
            table.add_column(column, overflow="fold", no_wrap=column in ("time (UTC)", "level"))
        for entry in result["errors"]["recent"]:
            table.add_row(
                entry["timestamp"][:19].replace("T", " "), _cell(entry["level"]),
                _cell(entry["logger"]), _cell(entry["project_id"]), _cell(entry["algorithm"]),
                _cell(entry["error_type"]), _cell(entry["error"], 200),
            )  # fmt: skip
        out.print(table)
    if "users" in result:
        users = result["users"]
        out.print(f"active users: {users['active_users']}")
        if users["top_users"]:
            table = Table(title=f"top users and their top actions (at most {result['top']})")
            for column in ("user", "actions", "action", "resource", "count"):
                numeric = column in ("actions", "count")
                table.add_column(column, justify="right" if numeric else "left")
            for user in users["top_users"]:
                for index, act in enumerate(user["top_actions"]):
                    table.add_row(
                        _cell(user["user_id"]) if index == 0 else "",
                        str(user["actions"]) if index == 0 else "",
                        _cell(act["action"]), _cell(act["resource"]), str(act["count"]),
                    )  # fmt: skip
            out.print(table)
        if users["recent"]:
            table = Table(title=f"newest user actions (at most {result['top']})")
            for column in ("time (UTC)", "user", "action", "resource"):
                table.add_column(column, overflow="fold", no_wrap=column == "time (UTC)")
            for entry in users["recent"]:
                table.add_row(
                    entry["timestamp"][:19].replace("T", " "), _cell(entry["user_id"]),
                    _cell(entry["action"]), _cell(entry["resource"]),
                )  # fmt: skip
            out.print(table)


def _cell(value: str | None, width: int = 80) -> str:
    """A value for a table cell: "–" for none, cut to ``width`` characters, and never
    read as Rich markup (the logs are input)."""
    from rich.markup import escape

    if value is None:
        return "–"
    return escape(value if len(value) <= width else value[: width - 1] + "…")


def register(app: typer.Typer) -> None:
    logs_app = typer.Typer(help="The service's JSON logs.", no_args_is_help=True)
    logs_app.command("analyze")(analyze)
    app.add_typer(logs_app, name="logs")
