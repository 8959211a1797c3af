"""Where the CLI commands write errors and notes: standard error, soft-wrapped (a long path or
URL stays on one line, whole for copy and paste, whatever the terminal's width) and with the
message escaped (a "[" in a file name or an exception is text, not Rich markup)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)


def error(message: str, console: Console = err) -> None:
    """``console``: one that is already showing progress bars, so that they stay in place."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print the error; the caller raises what this returns (``raise fail(...)``)."""
    error(message)
    return typer.Exit(code)
