"""The ``bizlogic`` command line: the root Typer app and, in one place, its verbs.

Each module below holding commands exposes ``register(app)``, which adds its commands
(and its group, for ``token``, ``db``, ``rules``, ``jobs``, ``maintain``, ``logs``,
``recover``) to the root app; ``options`` holds what they share (options, exit codes,
error output), ``tables`` and ``client`` the terminal tables and the HTTP client of
the commands that need them. Modules import their heavy dependencies (numpy, the
mining, the store, the API) inside the commands, so that ``bizlogic --help`` starts
quickly.
"""

from __future__ import annotations

from typing import Annotated

import typer
import typer.core

from bizlogic.cli import (
    admin,
    analyze,
    data,
    drill,
    jobs,
    logs,
    maintain,
    recover,
    report,
    rules,
    service,
    tune,
)
from bizlogic.cli.options import fail

# The modules with commands, each registered once, in this order.
MODULES = (analyze, data, service, admin, rules, jobs, maintain, logs, tune, report, recover, drill)
# The order of `bizlogic --help`: the single verbs, then the groups.
HELP_ORDER = (
    "analyze",
    "demo-data",
    "detect-changes",
    "serve",
    "health",
    "import",
    "worker",
    "maintain",
    "tune",
    "report",
    "token",
    "db",
    "rules",
    "jobs",
    "logs",
    "recover",
    "drill",
)


class _Listed(typer.core.TyperGroup):
    """Lists the commands in HELP_ORDER (any other after them, as registered)."""

    def list_commands(self, ctx) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: HELP_ORDER.index(n) if n in HELP_ORDER else len(names))


def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        from bizlogic import __version__

        typer.echo(__version__)
        raise typer.Exit()
    from pydantic import ValidationError

    from bizlogic.settings import OverridesError, describe_invalid, get_settings

    try:  # a broken tuning.env or BL_* variable is named here, not as a traceback later
        get_settings()
    except OverridesError as exc:
        raise fail(str(exc), 2) from None
    except ValidationError as exc:
        raise fail(describe_invalid(exc), 2) from None


app = typer.Typer(
    cls=_Listed,
    help="bizlogic — patterns, business rules and insights from annotation records.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.callback(invoke_without_command=True)(main)
for module in MODULES:
    module.register(app)
