"""Reading input files for `bizlogic import` and `bizlogic analyze`: bytes counted for the
progress bar, the rejects report written as rows fail, one verdict on what was usable
(exit codes in docs/importing.md), and the body of `import` — a file streamed into the
database through the same path as HTTP uploads (store/ingest.py), so memory stays flat
whatever the file's size."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from bizlogic.cli.options import EXIT_NO_RECORDS, EXIT_OK, EXIT_PARTIAL, error, fail

if TYPE_CHECKING:
    from rich.progress import Progress

    from bizlogic.records.importers import ImportOptions, Reject

REJECTS_SHOWN = 5


class CountingReader(io.RawIOBase):
    """The file, counting the bytes read (and telling ``on_read``); keeps the file's name so
    that format detection and messages see the path."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self.name = raw.name
        self.consumed = 0
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer) or 0  # type: ignore[attr-defined]
        self.consumed += count
        if count and self._on_read is not None:
            self._on_read(count)
        return count


class RejectsReport:
    """The rejects report (JSONL), opened at the first reject and written as rows fail."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.first: list[Reject] = []
        self._out: IO[bytes] | None = None

    def add(self, reject: Reject) -> None:
        import orjson

        if self._out is None:
            self._out = self.path.open("wb")
        self._out.write(orjson.dumps(reject.to_dict()) + b"\n")
        self.count += 1
        if len(self.first) < REJECTS_SHOWN:
            self.first.append(reject)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def show(self, console: Console) -> None:
        if not self.count:
            return
        console.print(f"[yellow]{self.count} row(s) rejected[/]; report: {escape(str(self.path))}")
        for reject in self.first:
            line = f"  line {reject.location}: {reject.field}: {reject.reason}"
            console.print(line, markup=False)


def named(file: Path, exc: Exception) -> str:
    """An importer's error naming the file once (most importer messages already name it)."""
    message = str(exc)
    return message if str(file) in message else f"{file}: {message}"


def default_rejects_path(file: Path, output: Path | None = None) -> Path:
    """<output or file stem>.rejects.jsonl beside it."""
    base = output if output is not None else file
    return base.with_name(base.stem + ".rejects.jsonl")


def verdict(
    file: Path,
    fmt: str,
    accepted: int,
    rejects: RejectsReport,
    skipped: int,
    *,
    strict_action: str | None,
    console: Console,
) -> int | None:
    """Report skipped and rejected rows; the exit code when nothing may be used, else None.
    ``strict_action``: what --strict stops, e.g. "imported"."""
    from bizlogic.records.importers import why_no_records

    if skipped:
        console.print(f"{skipped} cancelled Label Studio annotation(s) skipped")
    rejects.show(console)
    if rejects.count and strict_action:
        error(f"--strict: {rejects.count} bad row(s); nothing was {strict_action}", console)
        return EXIT_NO_RECORDS
    if accepted:
        return None
    if rejects.count:
        why = f"all {rejects.count} row(s) were rejected (report: {rejects.path})"
    elif skipped:
        why = f"all {skipped} annotation(s) were cancelled"
    else:
        why = why_no_records(file, fmt)
    error(f"{file}: no valid records: {why}", console)
    return EXIT_NO_RECORDS


def _progress_bar(console: Console) -> Progress:
    """Bytes read, speed and time left: drawn only on a terminal, and gone when done."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def run_import(
    file: Path,
    project: str,
    options: ImportOptions,
    *,
    strict: bool,
    rejects_path: Path,
    console: Console,
) -> int:
    """Import ``file`` into ``project``; the exit code (docs/importing.md)."""
    from bizlogic.private_fs import ensure_private_dir
    from bizlogic.records.importers import is_blank, iter_import
    from bizlogic.settings import get_settings
    from bizlogic.store import migrations
    from bizlogic.store.db import Database
    from bizlogic.store.ingest import StrictImportFailed, ingest

    if is_blank(file):
        error(f"{file}: no valid records: the file is empty", console)
        return EXIT_NO_RECORDS
    settings = get_settings()
    ensure_private_dir(settings.data_dir)
    report = RejectsReport(rejects_path)
    progress = _progress_bar(console)
    with file.open("rb") as raw, progress:
        task = progress.add_task("import", total=file.stat().st_size)
        source = CountingReader(raw, lambda count: progress.advance(task, count))
        try:
            stream = iter_import(source, options)  # format and header checked here
        except ValueError as exc:
            raise fail(named(file, exc), EXIT_NO_RECORDS) from None
        url = settings.effective_database_url
        if settings.auto_migrate:
            migrations.upgrade(url)
        database = Database(url)
        try:
            with database.scope() as session:
                tally = ingest(session, project, stream, strict=strict, on_reject=report.add)
        except StrictImportFailed as exc:
            tally = exc.tally
        except ValueError as exc:
            raise fail(named(file, exc), EXIT_NO_RECORDS) from None
        finally:
            report.close()
            database.dispose()
    for note in tally.notes:
        console.print(f"[cyan]note:[/] {escape(note)}")
    unusable = verdict(
        file,
        tally.format,
        tally.accepted,
        report,
        tally.skipped_cancelled,
        strict_action="imported" if strict else None,
        console=console,
    )
    if unusable is not None:
        return unusable
    print(
        f"{project}: {tally.inserted} imported, {tally.updated} updated, "
        f"{tally.unchanged} unchanged, {tally.rejected} rejected"
    )
    return EXIT_PARTIAL if tally.rejected else EXIT_OK
