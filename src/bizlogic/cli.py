"""The ``bizlogic`` command line: one Typer app, one function per verb."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from bizlogic.cli_output import EXIT_NO_RECORDS, EXIT_PARTIAL, EXIT_USAGE, err, fail, write_stdout
from bizlogic.mining.model import DEFAULT_MAX_RULES, Filters, MiningParams
from bizlogic.mining.registry import ALGORITHM_NAMES

app = typer.Typer(
    help="bizlogic — patterns, business rules and insights from annotation records.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
# MiningParams fields whose option has another name.
_PARAM_OPTIONS = {"holdout_fraction": "--holdout", "time_range": "--since/--until"}

# The input options of `analyze` and `import`, defined once.
FormatOption = Annotated[
    str, typer.Option("--format", help="auto | json | jsonl | csv | labelstudio")
]
CsvMapOption = Annotated[
    list[str] | None, typer.Option("--csv-map", help="FIELD=COLUMN for CSV input (repeatable).")
]
ControlOption = Annotated[
    list[str] | None,
    typer.Option("--control", help="Label Studio CONTROL=sentiment|label|ignore (repeatable)."),
]
TextKeyOption = Annotated[
    str, typer.Option("--text-key", help="Label Studio task data key holding the text.")
]
RejectsOption = Annotated[
    Path | None,
    typer.Option(help="Where to write the rejects report (JSONL); default FILE.rejects.jsonl."),
]


def _pairs(values: list[str] | None, option: str, shape: str) -> dict[str, str] | None:
    """NAME=VALUE option values as a dict; ``shape`` is how the error describes one."""
    if not values:
        return None
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise fail(f"{option}: expected {shape}, got {item!r}", EXIT_USAGE)
        out[key.strip()] = value.strip()
    return out


def _import_options(
    fmt: str, csv_map: list[str] | None, control: list[str] | None, text_key: str
):  # -> ImportOptions (imported lazily, like every command's heavy modules)
    """The importer's options from the CLI's, each bad one named (exit EXIT_USAGE)."""
    from bizlogic.records.importers import REQUESTABLE_FORMATS, ImportOptions
    from bizlogic.records.labelstudio import CONTROL_TARGETS
    from bizlogic.records.schema import FIELDS

    targets = "|".join(CONTROL_TARGETS)
    if fmt not in REQUESTABLE_FORMATS:
        raise fail(
            f"--format: unknown format {fmt!r}; expected one of {', '.join(REQUESTABLE_FORMATS)}",
            EXIT_USAGE,
        )
    mapping = _pairs(csv_map, "--csv-map", "FIELD=COLUMN")
    for name in mapping or {}:
        if name not in FIELDS:
            raise fail(
                f"--csv-map: {name!r} is not a record field; fields: {', '.join(FIELDS)}",
                EXIT_USAGE,
            )
    controls = _pairs(control, "--control", f"CONTROL={targets}")
    for name, target in (controls or {}).items():
        if target not in CONTROL_TARGETS:
            raise fail(
                f"--control: {name}={target}: the target must be one of "
                f"{', '.join(CONTROL_TARGETS)}",
                EXIT_USAGE,
            )
    if not text_key.strip():
        raise fail("--text-key: must not be empty", EXIT_USAGE)
    return ImportOptions(
        fmt=fmt, csv_mapping=mapping, class_controls=controls, text_key=text_key.strip()
    )


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from bizlogic.records.schema import RecordError, parse_timestamp

    try:
        return parse_timestamp(value, option)
    except RecordError as exc:
        raise fail(str(exc)) from None


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        from bizlogic import __version__

        typer.echo(__version__)
        raise typer.Exit()
    from pydantic import ValidationError

    from bizlogic.ops.overrides import OverridesError
    from bizlogic.settings import describe_invalid, get_settings

    try:  # a broken tuning.env or BL_* variable is named here, not as a traceback later
        get_settings()
    except OverridesError as exc:
        raise fail(str(exc), 2) from None
    except ValidationError as exc:
        raise fail(describe_invalid(exc), 2) from None


@app.command()
def analyze(
    file: Annotated[
        Path, typer.Argument(help="Records: JSON, JSONL, CSV or a Label Studio export.")
    ],
    fmt: FormatOption = "auto",
    algorithms: Annotated[
        str, typer.Option(help="Comma-separated: " + ", ".join(ALGORITHM_NAMES))
    ] = ",".join(ALGORITHM_NAMES),
    min_support: Annotated[
        int | None,
        typer.Option(
            help="Minimum number of distinct texts behind a rule "
            "(default: max(10, 0.05% of the distinct texts))."
        ),
    ] = None,
    min_confidence: Annotated[float, typer.Option(help="Minimum rule confidence (0..1).")] = 0.7,
    max_fdr: Annotated[float, typer.Option(help="Maximum Benjamini–Hochberg q-value.")] = 0.05,
    max_len: Annotated[int, typer.Option(help="Largest keyword set in co-occurrence mining.")] = 3,
    holdout: Annotated[
        float,
        typer.Option(help="Share of texts held out: half selects rules, half measures accuracy."),
    ] = 0.3,
    max_rules: Annotated[
        int, typer.Option(help="Rules kept, best interestingness score first.")
    ] = DEFAULT_MAX_RULES,
    all_rules: Annotated[
        bool, typer.Option("--all-rules", help="Keep every validated rule (no --max-rules cap).")
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="Only records created at or after (ISO-8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only records created before (ISO-8601).")
    ] = None,
    annotator: Annotated[
        list[str] | None, typer.Option("--annotator", help="Only these annotators (repeatable).")
    ] = None,
    sentiment: Annotated[
        list[str] | None, typer.Option("--sentiment", help="Only these sentiments (repeatable).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Insight language: en | zh.")] = "en",
    strict: Annotated[bool, typer.Option(help="Reject the whole file if any row is bad.")] = False,
    rejects: RejectsOption = None,
    csv_map: CsvMapOption = None,
    control: ControlOption = None,
    text_key: TextKeyOption = "text",
    min_token_length: Annotated[int, typer.Option(help="Shortest Latin keyword kept.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the full JSON result here.")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows per table in the human summary.")] = 10,
) -> None:
    """Mine patterns, rules and insights from a file of annotation records.

    Exit codes: 0 every row used, 1 nothing usable (no file, empty, every row rejected,
    --strict with a bad row), 2 bad option, 3 some rows rejected (report written).

    Examples:

      bizlogic analyze demo/records.jsonl

      bizlogic analyze export.json --format labelstudio --control topic=label --lang zh

      bizlogic analyze reviews.csv --csv-map text=body --csv-map sentiment=polarity -o report.json
    """
    from bizlogic.analysis_cli import run_analyze_command

    options = _import_options(fmt, csv_map, control, text_key)
    names = [a.strip() for a in algorithms.split(",") if a.strip()]
    unknown = [a for a in names if a not in ALGORITHM_NAMES]
    if unknown or not names:
        raise fail(f"--algorithms: unknown {unknown}; choose from {', '.join(ALGORITHM_NAMES)}")
    try:
        params = MiningParams(
            min_support=min_support,
            min_confidence=min_confidence,
            max_fdr=max_fdr,
            max_len=max_len,
            holdout_fraction=holdout,
            max_rules=None if all_rules else max_rules,
            time_range=(_parse_time(since, "--since"), _parse_time(until, "--until")),
            filters=Filters(
                annotators=tuple(annotator) if annotator else None,
                sentiments=tuple(s.lower() for s in sentiment) if sentiment else None,
            ),
            lang=lang,
        )
    except ValueError as exc:
        name, _, reason = str(exc).partition(": ")
        option = _PARAM_OPTIONS.get(name, "--" + name.replace("_", "-"))
        raise fail(f"{option}: {reason}") from None
    code = run_analyze_command(
        file=file,
        options=options,
        algorithms=names,
        params=params,
        strict=strict,
        rejects_path=rejects,
        min_token_length=min_token_length,
        as_json=as_json,
        output=output,
        top=top,
        console=err,
    )
    raise typer.Exit(code)


@app.command("demo-data")
def demo_data(
    output: Annotated[Path, typer.Argument(help="File to write; the ground truth goes beside it.")],
    records: Annotated[int, typer.Option(help="Number of records (1,000 … 5,000,000).")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 7,
    days: Annotated[int, typer.Option(help="Length of the period in days.")] = 120,
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl (canonical records) | labelstudio (full export)")
    ] = "jsonl",
) -> None:
    """Write a seeded synthetic project with planted rules, trends and annotator quirks.

    The ground truth (planted rules, null keywords, change point, biased and
    fast annotators) is written to <name>.truth.json; see docs/demo-data.md.

    Examples:

      bizlogic demo-data demo/records.jsonl --records 20000

      bizlogic demo-data /tmp/big.jsonl --records 1000000 --seed 3

      bizlogic demo-data demo/export.json --format labelstudio --records 10000
    """
    from rich.progress import Progress

    from bizlogic.records.synthetic import generate, iter_record_chunks, truth_path

    if not 1_000 <= records <= 5_000_000:
        raise fail("--records: must be between 1000 and 5000000")
    if days < 21:
        raise fail("--days: must be at least 21")
    if fmt not in ("jsonl", "labelstudio"):
        raise fail("--format: must be jsonl or labelstudio")
    output.parent.mkdir(parents=True, exist_ok=True)
    with Progress(console=err) as progress:
        task = progress.add_task("generating", total=records)
        if fmt == "jsonl":
            generate(
                output,
                records,
                seed=seed,
                days=days,
                progress=lambda written: progress.update(task, completed=written),
            )
            where = f" and the ground truth to {truth_path(output)}"
        else:
            from bizlogic.records.labelstudio_export import write_labelstudio_export

            def chunks():
                done = 0
                for chunk in iter_record_chunks(records, seed=seed, days=days):
                    yield chunk
                    done += len(chunk)
                    progress.update(task, completed=done)

            write_labelstudio_export(chunks(), output)
            where = " (Label Studio full JSON export; the ground truth is that of the jsonl format)"
    err.print(f"wrote {records:,} records to {output}{where}", soft_wrap=True)


@app.command("detect-changes")
def detect_changes(
    before: Annotated[Path, typer.Argument(help="Earlier `analyze --output` JSON.")],
    after: Annotated[Path, typer.Argument(help="Later `analyze --output` JSON.")],
    threshold: Annotated[float, typer.Option(help="Smallest confidence shift reported.")] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
) -> None:
    """Compare two analysis results: new and vanished rules, confidence shifts, change points.

    Example:

      bizlogic detect-changes march.json april.json --threshold 0.05
    """
    from bizlogic.mining.changes import detect_changes as compare
    from bizlogic.mining.engine import AnalysisResult

    results = []
    for path in (before, after):
        try:
            results.append(AnalysisResult.from_dict(orjson.loads(path.read_bytes())))
        except FileNotFoundError:
            raise fail(f"{path}: no such file") from None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise fail(f"{path}: not an analysis result ({exc})") from None
    if not 0.0 < threshold <= 1.0:
        raise fail("--threshold: must be in (0, 1]")
    changes = compare(results[0], results[1], threshold)
    if as_json:
        write_stdout(orjson.dumps(changes.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    from bizlogic.report import print_changes

    print_changes(changes, Console())


# ---------------------------------------------------------------- token


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes; more than 1 needs Redis mode.")
    ] = 1,
) -> None:
    """Run the HTTP API (FastAPI on Uvicorn) with the configured backends.

    With no configuration it uses SQLite and a generated JWT secret in
    BL_DATA_DIR, migrates the database and runs analyses in-process.

    Examples:

      bizlogic serve

      BL_DATA_DIR=/var/lib/bizlogic bizlogic serve --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from bizlogic.api.app import create_app
    from bizlogic.private_fs import ensure_private_dir, restrict_umask
    from bizlogic.settings import get_settings
    from bizlogic.telemetry.logging import configure_logging

    if not 1 <= port <= 65535:
        raise fail("--port: must be between 1 and 65535")
    restrict_umask()  # before any thread or server process exists
    settings = get_settings()
    configure_logging(settings)
    ensure_private_dir(settings.data_dir)  # before the app, its database and its secret
    if workers < 1:
        raise fail("--workers: must be at least 1")
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_config=None,
            proxy_headers=True,
            access_log=True,
        )
        return
    if not settings.redis_url:
        raise fail(
            "--workers: more than 1 needs Redis mode (BL_REDIS_URL): with the embedded "
            "defaults each process would keep its own cache and run its own analyses"
        )
    from bizlogic.store import migrations
    from bizlogic.telemetry.multiprocess import prepare_dir

    if settings.auto_migrate:  # once here, not concurrently in every process
        migrations.upgrade(settings.effective_database_url)
    os.environ["BL_AUTO_MIGRATE"] = "false"
    prepare_dir(settings.data_dir / "metrics" / f"api-{port}")
    uvicorn.run(
        "bizlogic.api.app:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        access_log=True,
    )


@app.command()
def health(
    url: Annotated[str, typer.Option(help="Base URL of a running service.")] = (
        "http://127.0.0.1:8000"
    ),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the health document.")] = False,
) -> None:
    """Ask a running service for its health; exit 0 when healthy, 1 otherwise.

    Examples:

      bizlogic health

      bizlogic health --url http://bizlogic.internal:8080 --json
    """
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/api/business-logic/health", timeout=timeout)
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise fail(f"{url}: no health answer ({exc.__class__.__name__}: {exc})") from None
    if as_json:
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    else:
        checks = document.get("checks", {})
        summary = ", ".join(f"{name} {check.get('status')}" for name, check in checks.items())
        typer.echo(f"{document.get('status')} — {summary} (version {document.get('version')})")
    if response.status_code != 200 or document.get("status") != "healthy":
        raise typer.Exit(1)


@app.command("import")
def import_records(
    file: Annotated[
        Path, typer.Argument(help="Records: JSON, JSONL, CSV or a Label Studio export.")
    ],
    project: Annotated[str, typer.Option("--project", help="Project to import into.")],
    fmt: FormatOption = "auto",
    strict: Annotated[bool, typer.Option(help="Import nothing if any row is bad.")] = False,
    rejects: RejectsOption = None,
    csv_map: CsvMapOption = None,
    control: ControlOption = None,
    text_key: TextKeyOption = "text",
) -> None:
    """Import records straight into the configured database (BL_DATABASE_URL or SQLite).

    Idempotent on record id: importing again updates changed records and never
    duplicates. Bad rows are listed and written to the rejects report; with
    --strict nothing is written.

    Exit codes: 0 every row stored, 1 nothing usable (no file, empty, every row
    rejected, --strict with a bad row), 2 bad option, 3 some rows rejected (the
    others stored; report written). See docs/importing.md.

    Examples:

      bizlogic import demo/records.jsonl --project demo

      bizlogic import reviews.csv --project shop --csv-map text=body

      BL_DATABASE_URL=postgresql+psycopg://bl@db/bizlogic bizlogic import export.json \\
          --project shop --format labelstudio --control topic=label --strict
    """
    from bizlogic.analysis_cli import check_input, default_rejects_path, named
    from bizlogic.private_fs import ensure_private_dir
    from bizlogic.records.importers import Reject, iter_import
    from bizlogic.records.tokenizer import Tokenizer
    from bizlogic.settings import get_settings
    from bizlogic.store import migrations
    from bizlogic.store.annotations import upsert_records
    from bizlogic.store.db import Database
    from bizlogic.store.projects import validate_project_id

    options = _import_options(fmt, csv_map, control, text_key)
    try:
        validate_project_id(project)
    except ValueError as exc:
        raise fail(f"--{exc}", EXIT_USAGE) from None
    if not file.is_file():
        raise fail(f"{file}: no such file", EXIT_NO_RECORDS)
    settings = get_settings()
    ensure_private_dir(settings.data_dir)
    tokenizer = Tokenizer()
    records, tokens, bad = [], [], []
    try:
        with iter_import(file, options) as stream:
            for item in stream:
                if isinstance(item, Reject):
                    bad.append(item)
                else:
                    records.append(item)
                    tokens.append(tokenizer.record_tokens(item.text, item.keywords))
    except ValueError as exc:
        raise fail(named(file, exc), EXIT_NO_RECORDS) from None
    unusable = check_input(
        file,
        stream.format,
        len(records),
        bad,
        stream.skipped_cancelled,
        rejects_path=rejects or default_rejects_path(file),
        strict_action="imported" if strict else None,
        console=err,
    )
    if unusable is not None:
        raise typer.Exit(unusable)
    url = settings.effective_database_url
    if settings.auto_migrate:
        migrations.upgrade(url)
    database = Database(url)
    try:
        with database.scope() as session:
            counts = upsert_records(session, project, records, tokens)
    finally:
        database.dispose()
    unchanged = len({r.id for r in records}) - counts.inserted - counts.updated
    typer.echo(
        f"{project}: {counts.inserted} imported, {counts.updated} updated, "
        f"{unchanged} unchanged, {len(bad)} rejected"
    )
    if bad:
        raise typer.Exit(EXIT_PARTIAL)


token_app = typer.Typer(
    help="API tokens: signed JWT bearer tokens for the HTTP API.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="User id (the token's sub claim).")],
    role: Annotated[
        str,
        typer.Option("--role", help="system_admin | business_expert | data_analyst | viewer"),
    ],
    project: Annotated[
        list[str] | None,
        typer.Option(
            "--project",
            "--projects",
            help="Limit the token to this project id (repeatable or comma-separated). "
            "Default: every project.",
        ),
    ] = None,
    ttl: Annotated[
        str, typer.Option(help="Lifetime: a number and a unit s, m, h, d or w; at most 366d.")
    ] = "30d",
) -> None:
    """Create an API token and print it alone on the last line of stdout.

    The token is signed with BL_JWT_SECRET or, when that is unset, with the
    secret generated in BL_DATA_DIR — the one `bizlogic serve` uses. What the
    token grants is written to stderr, so scripts capture only the token.

    Examples:

      bizlogic token create --user alice --role system_admin

      bizlogic token create --user bob --role viewer --project p1 --ttl 12h

      TOKEN=$(bizlogic token create --user ci --role data_analyst --projects a,b)
    """
    from pydantic import ValidationError

    from bizlogic.api.auth import create_token, parse_role, parse_ttl
    from bizlogic.api.secrets import SecretError, jwt_secret
    from bizlogic.settings import get_settings

    try:
        known_role = parse_role(role)
    except ValueError as exc:
        raise fail(f"--role: {exc}") from None
    try:
        ttl_s = parse_ttl(ttl)
    except ValueError as exc:
        raise fail(f"--ttl: {exc}") from None
    projects = None
    if project:
        projects = [p.strip() for value in project for p in value.split(",")]
        if any(not p for p in projects):
            raise fail("--project: project ids must not be empty")
    if not user.strip():
        raise fail("--user: must not be empty")
    try:
        secret = jwt_secret(get_settings())
    except ValidationError as exc:
        raise fail(f"invalid settings: {exc}") from None
    except SecretError as exc:
        raise fail(str(exc)) from None
    token = create_token(secret, user, known_role, projects, ttl_s)
    scope = ", ".join(sorted(set(projects))) if projects else "every project"
    err.print(
        f"token for user {user.strip()!r}, role {known_role.value}, {scope}, "
        f"valid for {ttl} — send it as 'Authorization: Bearer <token>'",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(token)


db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: BL_DATABASE_URL or SQLite).")
]


def _database_url(url: str | None, *, create: bool = True) -> str:
    """``create=False`` for commands that only inspect: they must not make the data dir."""
    from bizlogic.private_fs import ensure_private_dir
    from bizlogic.settings import get_settings

    settings = get_settings()
    if url is None and create:
        ensure_private_dir(settings.data_dir)
    return url or settings.effective_database_url


@db_app.command("upgrade")
def db_upgrade(
    url: UrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the schema up to REVISION (the server also does this at start-up).

    Examples:

      bizlogic db upgrade

      bizlogic db upgrade --url postgresql+psycopg://bl@db.internal/bizlogic
    """
    from bizlogic.store import migrations
    from bizlogic.store.db import safe_url

    target = _database_url(url)
    try:
        migrations.upgrade(target, revision)
        at = migrations.current(target)
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    err.print(f"{safe_url(target)} is at revision {at}", soft_wrap=True)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Option(help="Target revision, e.g. 'base' for empty.")],
    url: UrlOption = None,
) -> None:
    """Migrate the schema down to REVISION ('base' drops every table).

    Example:

      bizlogic db downgrade --revision base --url sqlite:////tmp/scratch.db
    """
    from bizlogic.store import migrations
    from bizlogic.store.db import safe_url

    target = _database_url(url)
    try:
        migrations.downgrade(target, revision)
        at = migrations.current(target)
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    err.print(f"{safe_url(target)} is at revision {at}", soft_wrap=True)


@db_app.command("current")
def db_current(url: UrlOption = None) -> None:
    """Print the schema revision of the database (empty when not migrated).

    Read-only: a SQLite database that does not exist is an error (exit 1), not created.
    """
    from bizlogic.store import migrations

    try:
        revision = migrations.current(_database_url(url, create=False))
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    typer.echo(revision or "")


from bizlogic.rules_cli import rules_app  # noqa: E402  (registered after the core verbs)

app.add_typer(rules_app, name="rules")

from bizlogic.jobs_cli import jobs_app, worker  # noqa: E402

app.command("worker")(worker)
app.add_typer(jobs_app, name="jobs")

from bizlogic.maintain_cli import maintain  # noqa: E402

app.command("maintain")(maintain)

from bizlogic.logs_cli import logs_app  # noqa: E402

app.add_typer(logs_app, name="logs")

from bizlogic.tune_cli import tune  # noqa: E402

app.command("tune")(tune)

from bizlogic.recover_cli import recover_app  # noqa: E402

app.add_typer(recover_app, name="recover")
