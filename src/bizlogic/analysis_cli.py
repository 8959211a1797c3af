"""The work behind ``bizlogic analyze``: import with progress, analyse, report.

Kept out of cli.py so the option parsing stays readable and this flow can be
tested without Typer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from bizlogic.cli_output import error
from bizlogic.mining.engine import run_analysis
from bizlogic.mining.model import MiningParams
from bizlogic.records.dataset import DatasetBuilder
from bizlogic.records.importers import ImportOptions, Reject, iter_import, write_rejects
from bizlogic.records.tokenizer import Tokenizer

EXIT_OK = 0
EXIT_BAD_INPUT = 1
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
    fmt: str,
    algorithms: list[str],
    params: MiningParams,
    strict: bool,
    rejects_path: Path | None,
    csv_mapping: dict[str, str] | None,
    class_controls: dict[str, str] | None,
    text_key: str,
    min_token_length: int,
    as_json: bool,
    output: Path | None,
    top: int,
    console: Console,
) -> int:
    if not file.is_file():
        error(f"{file}: no such file", console)
        return EXIT_BAD_INPUT
    if min_token_length < 1:
        error("--min-token-length: must be at least 1", console)
        return EXIT_BAD_INPUT
    options = ImportOptions(
        fmt=fmt, csv_mapping=csv_mapping, class_controls=class_controls, text_key=text_key
    )
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
            error(f"{file}: {exc}", console)
            return EXIT_BAD_INPUT
        progress.update(task, completed=size, note=f"{len(builder):,} records")
        skipped = stream.skipped_cancelled
        if skipped:
            console.print(f"{skipped} cancelled Label Studio annotation(s) skipped")
        if rejects:
            _report_rejects(rejects, rejects_path or _default_rejects_path(file, output), console)
            if strict:
                progress.stop()
                error(f"--strict: {len(rejects)} bad row(s); nothing was analysed", console)
                return EXIT_BAD_INPUT
        if len(builder) == 0:
            progress.stop()
            error(f"{file}: no valid records", console)
            return EXIT_BAD_INPUT
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
        sys.stdout.buffer.write(encoded + b"\n")
        sys.stdout.flush()
    else:
        from bizlogic.report import print_summary

        print_summary(result, Console(), top=top)
        if output is not None:
            console.print(f"full result written to {output}", soft_wrap=True)
    return EXIT_OK


def _default_rejects_path(file: Path, output: Path | None) -> Path:
    base = output if output is not None else file
    return base.with_name(base.stem + ".rejects.jsonl")


def _report_rejects(rejects: list[Reject], path: Path, console: Console) -> None:
    write_rejects(rejects, path)
    console.print(f"[yellow]{len(rejects)} row(s) rejected[/]; report: {path}", soft_wrap=True)
    for reject in rejects[:5]:
        console.print(f"  line {reject.location}: {reject.field}: {reject.reason}")
