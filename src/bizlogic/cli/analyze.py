"""`bizlogic analyze` and `bizlogic detect-changes`, and the work behind ``analyze``:
import with progress, analyse, report (this flow can be tested without Typer).

The input helpers (counting reader, rejects report, verdict) are shared with ``import``
in cli/importing.py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from bizlogic.cli.importing import (
    CountingReader,
    RejectsReport,
    default_rejects_path,
    named,
    verdict,
)
from bizlogic.cli.options import (
    EXIT_NO_RECORDS,
    EXIT_OK,
    EXIT_PARTIAL,
    ControlOption,
    CsvMapOption,
    FormatOption,
    RejectsOption,
    TextKeyOption,
    err,
    error,
    fail,
    import_options,
    write_stdout,
)
from bizlogic.mining.catalogue import ALGORITHM_NAMES, DEFAULT_MAX_RULES

if TYPE_CHECKING:
    from rich.progress import Progress

    from bizlogic.mining.model import MiningParams
    from bizlogic.records.importers import ImportOptions

# MiningParams fields whose option has another name.
_PARAM_OPTIONS = {"holdout_fraction": "--holdout", "time_range": "--since/--until"}
_PROGRESS_EVERY = 5_000


def _progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
    )


def run_analyze_command(
    *,
    file: Path,
    options: ImportOptions,
    algorithms: list[str],
    params: MiningParams,
    strict: bool,
    rejects_path: Path | None,
    min_token_length: int,
    as_json: bool,
    output: Path | None,
    top: int,
    console: Console,
) -> int:
    """The exit code: EXIT_OK, EXIT_PARTIAL (some rows rejected) or EXIT_NO_RECORDS."""
    from bizlogic.mining.engine import run_analysis
    from bizlogic.records.dataset import DatasetBuilder
    from bizlogic.records.importers import Reject, is_blank, iter_import
    from bizlogic.records.tokenizer import Tokenizer

    if not file.is_file():
        error(f"{file}: no such file", console)
        return EXIT_NO_RECORDS
    if is_blank(file):
        error(f"{file}: no valid records: the file is empty", console)
        return EXIT_NO_RECORDS
    if min_token_length < 1:
        error("--min-token-length: must be at least 1", console)
        return EXIT_NO_RECORDS
    builder = DatasetBuilder(Tokenizer(min_length=min_token_length))
    report = RejectsReport(rejects_path or default_rejects_path(file, output))
    size = file.stat().st_size
    with _progress(console) as progress:
        task = progress.add_task("import", total=size, note="")
        try:
            with file.open("rb") as raw:
                reader = CountingReader(raw)
                stream = iter_import(reader, options)
                for i, item in enumerate(stream, start=1):
                    if isinstance(item, Reject):
                        report.add(item)
                    else:
                        builder.add(item)
                    if i % _PROGRESS_EVERY == 0:
                        progress.update(
                            task, completed=reader.consumed, note=f"{len(builder):,} records"
                        )
        except ValueError as exc:
            progress.stop()
            error(named(file, exc), console)
            return EXIT_NO_RECORDS
        finally:
            report.close()
        progress.update(task, completed=size, note=f"{len(builder):,} records")
        skipped = stream.skipped_cancelled
        unusable = verdict(
            file,
            stream.format,
            len(builder),
            report,
            skipped,
            strict_action="analysed" if strict else None,
            console=console,
        )
        if unusable is not None:
            progress.stop()
            return unusable
        accepted = len(builder)
        data = builder.build()
        del builder  # its Python lists would otherwise stay alive during the analysis
        tasks: dict[str, Any] = {}

        def on_stage(stage: str, done: int, total: int) -> None:
            if "analysis" not in tasks:
                tasks["analysis"] = progress.add_task("analysis", total=total, note="")
            progress.update(tasks["analysis"], completed=done, note=stage)

        result = run_analysis(data, algorithms, params, progress=on_stage)
    document = result.to_dict()
    document["meta"]["source"] = {
        "file": str(file),
        "rejected": report.count,
        "accepted": accepted,
        "format": stream.format,
        "skipped_cancelled": skipped,
    }
    encoded = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_bytes(encoded + b"\n")
        tmp.replace(output)
    if as_json:
        write_stdout(encoded + b"\n")
    else:
        from bizlogic.cli.tables import print_summary

        print_summary(result, Console(), top=top)
        if output is not None:
            console.print(f"full result written to {output}", soft_wrap=True)
    return EXIT_PARTIAL if report.count else EXIT_OK


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from bizlogic.records.schema import RecordError, parse_timestamp

    try:
        return parse_timestamp(value, option)
    except RecordError as exc:
        raise fail(str(exc)) from None


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
    from bizlogic.mining.model import Filters, MiningParams

    options = import_options(fmt, csv_map, control, text_key)
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
    from bizlogic.cli.tables import print_changes

    print_changes(changes, Console())


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.command("detect-changes")(detect_changes)
