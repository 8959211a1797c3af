"""`bizlogic report`: the periodic operations report of a window (default the last 7 days),
printed, written as HTML/Markdown/JSON, stored in ops_reports and sent."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bizlogic.cli.options import EXIT_FAILED, EXIT_USAGE, err, error, fail

if TYPE_CHECKING:
    from bizlogic.settings import Settings

LANGS = ("en", "zh")


def write_atomic(path: Path, text: str, option: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place: a
    failure leaves nothing half-written (exit 1 naming the option and the file)."""
    temp: str | None = None
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise fail(f"{option}: cannot write {path}: {exc.strerror or exc}", EXIT_FAILED) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _expand(path: Path | None, values: dict[str, str]) -> Path | None:
    """``{date}`` (the window's end, UTC) and ``{name}`` (weekly, daily, custom) in a path."""
    if path is None:
        return None
    text = str(path)
    for key, value in values.items():
        text = text.replace(f"{{{key}}}", value)
    return Path(text)


def _database(settings: Settings) -> Any:
    """The database, once it is at the head revision (else exit 1)."""
    from bizlogic.store import migrations
    from bizlogic.store.db import Database

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
    return Database(url, pool_size=2)


def report(
    since: Annotated[
        str | None, typer.Option("--since", help="The span: Nd or Nh (default 7d).")
    ] = None,
    hours: Annotated[int | None, typer.Option("--hours", help="The last N hours.")] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write the HTML report here ({date}, {name} expanded)."),
    ] = None,
    md: Annotated[
        Path | None,
        typer.Option("--md", help="Write the Markdown summary here ({date}, {name} expanded)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    send: Annotated[
        bool,
        typer.Option("--send", help="Send it as the reports: section of BL_NOTIFY_CONFIG says."),
    ] = False,
    lang: Annotated[
        str | None, typer.Option("--lang", help="en or zh (default BL_REPORT_LANG).")
    ] = None,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="Do not store the report in ops_reports.")
    ] = False,
) -> None:
    """The operations report of a window: service, alerts, analyses, curation,
    maintenance, recovery, logs, tuner, drills, and what changed since the last one.

    Exit code 2 for a bad option or notification config, 1 when the report could not
    be made, written or sent, or when one of its sources failed (the report is still
    made from the others, and says so).

    Examples:

      bizlogic report

      bizlogic report --hours 24 --md /tmp/daily.md

      bizlogic report --html /var/lib/bizlogic/reports/{date}-{name}.html --send
    """
    from bizlogic.ops.report.window import SpanError, window_for
    from bizlogic.settings import get_settings
    from bizlogic.store import clock

    settings = get_settings()
    try:
        window = window_for(clock.utcnow(), since, hours)
    except SpanError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    lang = lang or settings.report_lang
    if lang not in LANGS:
        raise fail(f"--lang: choose from {', '.join(LANGS)}, not {lang!r}", EXIT_USAGE)
    delivery = _delivery(settings) if send else None

    from bizlogic.ops.report.gather import gather
    from bizlogic.ops.report.html import render_html
    from bizlogic.ops.report.i18n import translator
    from bizlogic.ops.report.markdown import render_markdown
    from bizlogic.ops.report.text import title, window_text
    from bizlogic.store import ops_reports
    from bizlogic.telemetry.logging import configure_logging

    configure_logging(settings, stream=sys.stderr, process="report")  # stdout: the report
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = _database(settings)
    try:
        body = gather(db, settings, window)
        names = {"date": window.end.date().isoformat(), "name": window.name}
        markdown = render_markdown(body, lang)
        page = render_html(body, lang) if html is not None or delivery is not None else ""
        if (html_path := _expand(html, names)) is not None:
            write_atomic(html_path, page, "--html")
            err.print(f"HTML report written to {html_path}", highlight=False)
        if (md_path := _expand(md, names)) is not None:
            write_atomic(md_path, markdown + "\n", "--md")
            err.print(f"Markdown summary written to {md_path}", highlight=False)
        if not no_save:
            ops_reports.save(
                db, "report", window.name, body["status"], summary=body["headline"], body=body,
                window_start=window.start, window_end=window.end, created_at=window.end,
            )  # fmt: skip
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
    elif html is None and md is None:
        from rich.console import Console
        from rich.markdown import Markdown

        Console(width=max(Console().width, 100)).print(Markdown(markdown))
    failed = False
    if delivery is not None:
        from bizlogic.ops.report.send import deliver

        _ = translator(lang)
        subject = f"{title(body, _)} {window_text(body)}"
        done, failures = deliver(delivery, subject, page, markdown)
        for target in done:
            err.print(f"sent to {target}", highlight=False)
        for message in failures:
            error(message)
        failed = bool(failures)
    for message in body["errors"]:
        error(f"source: {message}")
    if failed or body["errors"]:
        raise typer.Exit(EXIT_FAILED)


def _delivery(settings: Settings) -> Any:
    from bizlogic.ops.relay.config import NotifyConfigError
    from bizlogic.ops.report.delivery import load_delivery

    if settings.notify_config is None:
        raise fail(
            "--send: BL_NOTIFY_CONFIG is not set; its reports: section says where", EXIT_USAGE
        )
    try:
        return load_delivery(settings.notify_config)
    except NotifyConfigError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    app.command("report")(report)
