"""The work behind ``bizlogic analyze``: import with progress, analyse, report.

Kept out of cli.py so the option parsing stays readable and this flow can be
tested without Typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from bizlogic.cli_output import EXIT_NO_RECORDS, EXIT_OK, EXIT_PARTIAL, error, write_stdout
from bizlogic.mining.engine import run_analysis
from bizlogic.mining.model import MiningParams
from bizlogic.records.dataset import DatasetBuilder
from bizlogic.records.importers import (
    ImportOptions,
    Reject,
    iter_import,
    why_no_records,
    write_rejects,
)
from bizlogic.records.tokenizer import Tokenizer

_PROGRESS_EVERY = 5_000


class _CountingReader:
    """Wraps a binary file so progress can follow the bytes consumed."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.name = raw.name  # the importer reads the extension and names the file in errors
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.consumed += len(chunk)
        return chunk


def _progress(console: Console) -> Progress:
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
    if not file.is_file():
        error(f"{file}: no such file", console)
        return EXIT_NO_RECORDS
    if min_token_length < 1:
        error("--min-token-length: must be at least 1", console)
        return EXIT_NO_RECORDS
    builder = DatasetBuilder(Tokenizer(min_length=min_token_length))
    rejects: list[Reject] = []
    size = file.stat().st_size
    with _progress(console) as progress:
        task = progress.add_task("import", total=size, note="")
        try:
            with file.open("rb") as raw:
                reader = _CountingReader(raw)
                stream = iter_import(reader, options)
                for i, item in enumerate(stream, start=1):
                    if isinstance(item, Reject):
                        rejects.append(item)
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
        progress.update(task, completed=size, note=f"{len(builder):,} records")
        skipped = stream.skipped_cancelled
        unusable = check_input(
            file,
            stream.format,
            len(builder),
            rejects,
            skipped,
            rejects_path=rejects_path or default_rejects_path(file, output),
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
        "rejected": len(rejects),
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
        from bizlogic.report import print_summary

        print_summary(result, Console(), top=top)
        if output is not None:
            console.print(f"full result written to {output}", soft_wrap=True)
    return EXIT_PARTIAL if rejects else EXIT_OK


def named(file: Path, exc: Exception) -> str:
    """An importer's error naming the file once (most importer messages already name it)."""
    message = str(exc)
    return message if str(file) in message else f"{file}: {message}"


def check_input(
    file: Path,
    fmt: str,
    accepted: int,
    rejects: list[Reject],
    skipped: int,
    *,
    rejects_path: Path,
    strict_action: str | None,
    console: Console,
) -> int | None:
    """Report skipped and rejected rows (writing the rejects report); the exit code when
    nothing may be used, else None. ``strict_action``: what --strict stops, e.g. "imported"."""
    if skipped:
        console.print(f"{skipped} cancelled Label Studio annotation(s) skipped")
    if rejects:
        _report_rejects(rejects, rejects_path, console)
        if strict_action:
            error(f"--strict: {len(rejects)} bad row(s); nothing was {strict_action}", console)
            return EXIT_NO_RECORDS
    if accepted:
        return None
    if rejects:
        why = f"all {len(rejects)} row(s) were rejected (report: {rejects_path})"
    elif skipped:
        why = f"all {skipped} annotation(s) were cancelled"
    else:
        why = why_no_records(file, fmt)
    error(f"{file}: no valid records: {why}", console)
    return EXIT_NO_RECORDS


def default_rejects_path(file: Path, output: Path | None = None) -> Path:
    """<output or file stem>.rejects.jsonl beside it."""
    base = output if output is not None else file
    return base.with_name(base.stem + ".rejects.jsonl")


def _report_rejects(rejects: list[Reject], path: Path, console: Console) -> None:
    write_rejects(rejects, path)
    console.print(f"[yellow]{len(rejects)} row(s) rejected[/]; report: {path}", soft_wrap=True)
    for reject in rejects[:5]:
        console.print(f"  line {reject.location}: {reject.field}: {reject.reason}", markup=False)
