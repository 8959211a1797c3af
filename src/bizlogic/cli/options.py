"""What the commands share: their common options, exit codes and error output.

* The Typer option types used by more than one command: the input options of
  ``analyze`` and ``import``, and the two URLs: ``DatabaseUrlOption`` (``--url`` of
  ``bizlogic db``, a database URL) and ``ServiceUrlOption`` (``--url`` of ``bizlogic
  rules``, the base URL of a running service), with ``TokenOption`` beside it.
* The exit codes of every command (the table is in docs/importing.md).
* Where the commands write errors and notes: standard error, soft-wrapped (a long path
  or URL stays on one line, whole for copy and paste, whatever the terminal's width)
  and with the message escaped (a "[" in a file name or an exception is text, not Rich
  markup); and the writer of bytes to standard output that ends quietly when the
  reader closes the pipe.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from bizlogic.records.importers import ImportOptions

# Exit codes, one meaning each whatever the command.
EXIT_OK = 0
EXIT_FAILED = 1  # the command could not do its work
EXIT_NO_RECORDS = EXIT_FAILED  # import / analyze: nothing usable (empty, all rejected, --strict)
EXIT_USAGE = 2  # a bad option or setting, as click itself exits for an unknown option
EXIT_BAD_INPUT = EXIT_USAGE  # the name tune and recover use for a bad option or argument
EXIT_PARTIAL = 3  # import / analyze: some rows rejected, the others used; report written
EXIT_LOCKED = 3  # maintain / recover: another process holds the lock
# The reader of stdout went away (`bizlogic … | head`): a normal end for a command writing to
# a pipe. 128 + SIGPIPE is what a shell reports for `cat big | head`, so `set -o pipefail`
# scripts see the same code as with any Unix tool; nothing is printed.
EXIT_PIPE_CLOSED = 128 + int(getattr(signal, "SIGPIPE", 13))
_SLICE = 64 * 1024

err = Console(stderr=True, soft_wrap=True)


def error(message: str, console: Console = err) -> None:
    """``console``: one that is already showing progress bars, so that they stay in place."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print the error; the caller raises what this returns (``raise fail(...)``)."""
    error(message)
    return typer.Exit(code)


def write_stdout(data: bytes | Iterable[bytes]) -> None:
    """Write bytes to stdout and flush; a closed pipe ends the command quietly
    (``typer.Exit(EXIT_PIPE_CLOSED)``) instead of with an error or a traceback."""
    out = sys.stdout.buffer
    if isinstance(data, bytes | bytearray):  # in slices: a pipe closed mid-way is then noticed
        view = memoryview(data)
        data = (view[i : i + _SLICE] for i in range(0, len(view), _SLICE))
    try:
        for chunk in data:
            out.write(chunk)
        out.flush()
    except BrokenPipeError:
        raise pipe_closed() from None


def pipe_closed() -> typer.Exit:
    """Point stdout at /dev/null (the interpreter flushes it again at exit, which would
    raise once more) and return the exit to raise."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return typer.Exit(EXIT_PIPE_CLOSED)


# ---------------------------------------------------------------- shared options

# The input options of `analyze` and `import`, defined once.
FormatOption = Annotated[
    str, typer.Option("--format", help="auto | json | jsonl | csv | tsv | labelstudio")
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

# `bizlogic db …`: the database to migrate or inspect.
DatabaseUrlOption = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: BL_DATABASE_URL or SQLite).")
]

# `bizlogic rules …`: the running service to talk to, and the token to talk with.
DEFAULT_SERVICE_URL = "http://127.0.0.1:8000"
ServiceUrlOption = Annotated[
    str, typer.Option("--url", envvar="BL_URL", help="Base URL of the service.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="BL_TOKEN",
        help="API token (from `bizlogic token create`).",
        show_default=False,
    ),
]


def import_options(
    fmt: str, csv_map: list[str] | None, control: list[str] | None, text_key: str
) -> ImportOptions:
    """The importer's options from the CLI's, each bad one named (exit EXIT_USAGE); the
    same parser as the HTTP import's query parameters."""
    from bizlogic.records.import_request import CLI_NAMES, ImportOptionError
    from bizlogic.records.import_request import import_options as parse

    try:
        return parse(fmt, csv_map, control, text_key, names=CLI_NAMES)
    except ImportOptionError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
