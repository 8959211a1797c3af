"""The body of `bizlogic import`: a file streamed into the database through the same path
as HTTP uploads (store/ingest.py), with a progress bar on a terminal and the rejects
report written as rows fail, so memory stays flat whatever the file's size."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from bizlogic.cli.options import EXIT_NO_RECORDS, EXIT_OK, EXIT_PARTIAL, error, fail

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from bizlogic.records.importers import ImportOptions, Reject

REJECTS_SHOWN = 5


class _CountedFile(io.RawIOBase):
    """The file, advancing the progress bar by the bytes read; keeps the file's name so
    that format detection and messages see the path."""

    def __init__(self, raw: IO[bytes], name: str, progress: Progress, task: TaskID) -> None:
        self._raw = raw
        self.name = name
        self._progress = progress
        self._task = task

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._progress.advance(self._task, count)
        return count or 0


class _RejectsReport:
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
    from bizlogic.cli.analyze import named
    from bizlogic.private_fs import ensure_private_dir
    from bizlogic.records.importers import iter_import, why_no_records
    from bizlogic.settings import get_settings
    from bizlogic.store import migrations
    from bizlogic.store.db import Database
    from bizlogic.store.ingest import StrictImportFailed, ingest

    settings = get_settings()
    ensure_private_dir(settings.data_dir)
    report = _RejectsReport(rejects_path)
    progress = _progress_bar(console)
    with file.open("rb") as raw, progress:
        task = progress.add_task("import", total=file.stat().st_size)
        source = _CountedFile(raw, str(file), progress, task)
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
    if tally.skipped_cancelled:
        console.print(f"{tally.skipped_cancelled} cancelled Label Studio annotation(s) skipped")
    report.show(console)
    if strict and tally.rejected:
        error(f"--strict: {tally.rejected} bad row(s); nothing was imported", console)
        return EXIT_NO_RECORDS
    if not tally.accepted:
        if tally.rejected:
            why = f"all {tally.rejected} row(s) were rejected (report: {rejects_path})"
        elif tally.skipped_cancelled:
            why = f"all {tally.skipped_cancelled} annotation(s) were cancelled"
        else:
            why = why_no_records(file, tally.format)
        error(f"{file}: no valid records: {why}", console)
        return EXIT_NO_RECORDS
    print(
        f"{project}: {tally.inserted} imported, {tally.updated} updated, "
        f"{tally.unchanged} unchanged, {tally.rejected} rejected"
    )
    return EXIT_PARTIAL if tally.rejected else EXIT_OK
