"""`bizlogic import` and `bizlogic demo-data`: records into the database, and made up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bizlogic.cli.options import (
    EXIT_NO_RECORDS,
    EXIT_USAGE,
    ControlOption,
    CsvMapOption,
    FormatOption,
    RejectsOption,
    TextKeyOption,
    err,
    fail,
    import_options,
)


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
    from bizlogic.cli.importing import default_rejects_path, run_import
    from bizlogic.store.projects import validate_project_id

    options = import_options(fmt, csv_map, control, text_key)
    try:
        validate_project_id(project)
    except ValueError as exc:
        raise fail(f"--{exc}", EXIT_USAGE) from None
    if not file.is_file():
        raise fail(f"{file}: no such file", EXIT_NO_RECORDS)
    code = run_import(
        file,
        project,
        options,
        strict=strict,
        rejects_path=rejects or default_rejects_path(file),
        console=err,
    )
    raise typer.Exit(code)


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


def register(app: typer.Typer) -> None:
    app.command("import")(import_records)
    app.command("demo-data")(demo_data)
