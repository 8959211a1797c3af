"""`bizlogic rules …`: list, export, import and apply rules through a running service."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from bizlogic.cli import client as api_client
from bizlogic.cli.client import BASE, ApiCallError
from bizlogic.cli.options import (
    DEFAULT_SERVICE_URL,
    ServiceUrlOption,
    TokenOption,
    err,
    fail,
    write_stdout,
)

APPLY_BATCH = 1000  # the most rule ids POST /apply takes at once


def _token(token: str | None) -> str:
    if not token:
        raise fail(
            "--token: required (or set BL_TOKEN); create one with "
            "`bizlogic token create --user USER --role ROLE`"
        )
    return token


def _print_json(document: object) -> None:
    write_stdout(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _rules_table(rules: list[dict], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "rule", "type", "confidence", "support", "lift", "q", "active"):
        table.add_column(column, justify="right" if column not in ("rule", "type") else "left")
    for rule in rules:
        table.add_row(
            str(rule["id"]),
            rule["pattern"],
            rule["rule_type"],
            _num(rule["confidence"]),
            _num(rule["support"], 4),
            _num(rule["lift"], 2),
            "–" if rule.get("q_value") is None else f"{rule['q_value']:.1e}",
            "yes" if rule["is_active"] else "no",
        )
    return table


def list_rules(
    project: Annotated[str, typer.Argument(help="Project id.")],
    rule_type: Annotated[
        str | None, typer.Option(help="Only this rule type, e.g. keyword_sentiment.")
    ] = None,
    active_only: Annotated[bool, typer.Option(help="Leave out switched-off rules.")] = False,
    min_confidence: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Lowest confidence shown.")
    ] = None,
    sort: Annotated[
        str, typer.Option(help="score (the analysis's ranking) | confidence | support | lift")
    ] = "score",
    order: Annotated[str, typer.Option(help="asc | desc")] = "desc",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rules per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rules to skip.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API page as JSON.")] = False,
    url: ServiceUrlOption = DEFAULT_SERVICE_URL,
    token: TokenOption = None,
) -> None:
    """List a project's rules, highest confidence first.

    Examples:

      bizlogic rules list demo --active-only --min-confidence 0.8

      bizlogic rules list demo --rule-type keyword_sentiment --json
    """
    params = {
        "rule_type": rule_type,
        "active_only": active_only,
        "min_confidence": min_confidence,
        "sort": sort,
        "order": order,
        "limit": limit,
        "offset": offset,
    }
    params = {key: value for key, value in params.items() if value is not None}
    try:
        with api_client.session(url, _token(token)) as client:
            page = api_client.check(client.get(f"{BASE}/rules/{project}", params=params)).json()
    except ApiCallError as exc:
        raise fail(str(exc)) from None
    if as_json:
        _print_json(page)
        return
    shown = len(page["rules"])
    first = page["offset"] + 1 if shown else 0
    title = f"{project}: rules {first}–{page['offset'] + shown} of {page['total']}"
    Console(width=max(Console().width, 120)).print(_rules_table(page["rules"], title))


def export(
    project: Annotated[str, typer.Argument(help="Project id.")],
    fmt: Annotated[str, typer.Option("--format", help="json | yaml | csv")] = "json",
    include: Annotated[
        str, typer.Option(help="Comma-separated: rules, patterns, insights.")
    ] = "rules,patterns,insights",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write; default bizlogic-PROJECT.FORMAT; - for stdout."
        ),
    ] = None,
    url: ServiceUrlOption = DEFAULT_SERVICE_URL,
    token: TokenOption = None,
) -> None:
    """Download a project's rules, patterns and insights as a JSON, YAML or CSV file.

    The file appears only when the download completed: an interrupted export
    leaves no partial file behind. JSON and YAML exports load back with
    `bizlogic rules import`.

    Examples:

      bizlogic rules export demo -o demo-rules.yaml --format yaml --include rules

      bizlogic rules export demo --format csv -o - | head
    """
    body = {
        "project_id": project,
        "format": fmt,
        "include": [p.strip() for p in include.split(",")],
    }
    target = output or Path(f"bizlogic-{project}.{fmt}")
    try:
        with (
            api_client.session(url, _token(token), timeout_s=300) as client,
            client.stream("POST", f"{BASE}/export", json=body) as response,
        ):
            if response.status_code >= 400:
                response.read()
                api_client.check(response)
            if str(target) == "-":
                write_stdout(response.iter_bytes())  # `| head` closing the pipe ends quietly
                return
            size = _write_atomically(target, response.iter_bytes())
    except ApiCallError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"--output: {exc}") from None
    err.print(f"wrote {target} ({size:,} bytes)", highlight=False)


def _write_atomically(target: Path, chunks) -> int:
    """Stream into a temporary file beside ``target`` and rename it into place at the end."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return size


def import_rules(
    file: Annotated[Path, typer.Argument(help="A JSON or YAML file made by `rules export`.")],
    project: Annotated[str, typer.Option("--project", help="Project to import into.")],
    conflict: Annotated[
        str, typer.Option(help="skip: keep existing rules | override: replace them")
    ] = "skip",
    fmt: Annotated[
        str, typer.Option("--format", help="auto (by file suffix) | json | yaml")
    ] = "auto",
    url: ServiceUrlOption = DEFAULT_SERVICE_URL,
    token: TokenOption = None,
) -> None:
    """Load exported rules into a project; all of them or, on any bad rule, none.

    A rule that already exists (same algorithm and pattern) is skipped, or
    replaced with --conflict override.

    Examples:

      bizlogic rules import demo-rules.yaml --project shop

      bizlogic rules import demo-rules.json --project shop --conflict override
    """
    if fmt == "auto":
        fmt = "yaml" if file.suffix.lower() in (".yaml", ".yml") else "json"
    if fmt not in ("json", "yaml"):
        raise fail("--format: expected auto, json or yaml")
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror or exc}") from None
    try:
        with api_client.session(url, _token(token), timeout_s=300) as client:
            result = api_client.check(
                client.post(
                    f"{BASE}/rules/import",
                    params={"project_id": project, "conflict": conflict, "format": fmt},
                    content=content,
                    headers={"Content-Type": f"application/{fmt}"},
                )
            ).json()
    except ApiCallError as exc:
        raise fail(f"{file}: {exc}") from None
    typer.echo(
        f"{project}: {result['imported']} imported, {result['replaced']} replaced, "
        f"{result['skipped']} skipped"
    )


def apply(
    source: Annotated[str, typer.Option("--from", help="Project the rules come from.")],
    target: Annotated[str, typer.Option("--to", help="Project the rules go to.")],
    rule_id: Annotated[
        list[int] | None,
        typer.Option(
            "--rule-id",
            help="Only these rules (repeatable). Default: every rule matching the filters below.",
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="copy: as measured | adapt: re-measured on the target's records")
    ] = "copy",
    min_confidence: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Only rules at least this confident.")
    ] = None,
    rule_type: Annotated[str | None, typer.Option(help="Only this rule type.")] = None,
    include_inactive: Annotated[bool, typer.Option(help="Also apply switched-off rules.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API answer(s) as JSON.")] = (
        False
    ),
    url: ServiceUrlOption = DEFAULT_SERVICE_URL,
    token: TokenOption = None,
) -> None:
    """Copy a project's rules into another project, or re-measure them there (adapt).

    Every application is recorded in business_rule_applications with the
    source rule, the target project, who applied it and the measured result.

    Examples:

      bizlogic rules apply --from demo --to shop --min-confidence 0.8

      bizlogic rules apply --from demo --to shop --mode adapt --rule-id 12 --rule-id 14
    """
    if mode not in ("copy", "adapt"):
        raise fail("--mode: expected copy or adapt")
    answers = []
    try:
        with api_client.session(url, _token(token), timeout_s=600) as client:
            ids = list(rule_id or [])
            if not ids:
                filters = {"active_only": not include_inactive, "rule_type": rule_type}
                if min_confidence is not None:
                    filters["min_confidence"] = min_confidence
                filters = {k: v for k, v in filters.items() if v is not None}
                ids = [rule["id"] for rule in api_client.fetch_all_rules(client, source, **filters)]
            if not ids:
                raise fail(f"--from: project {source!r} has no rules matching the filters")
            for start in range(0, len(ids), APPLY_BATCH):
                body = {
                    "rule_ids": ids[start : start + APPLY_BATCH],
                    "target_project_id": target,
                    "mode": mode,
                }
                answers.append(api_client.check(client.post(f"{BASE}/apply", json=body)).json())
    except ApiCallError as exc:
        raise fail(str(exc)) from None
    applied = [item for answer in answers for item in answer["applied"]]
    if as_json:
        _print_json({"target_project_id": target, "mode": mode, "applied": applied})
        return
    _print_applied(applied, source, target, mode)


def _print_applied(applied: list[dict], source: str, target: str, mode: str) -> None:
    table = Table(
        title=f"{len(applied)} rule(s) {source} → {target} ({mode})", title_justify="left"
    )
    for column in ("source id", "target id", "rule", "confidence", "was", "support n", "lift"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for item in applied:
        table.add_row(
            str(item["rule_id"]),
            str(item["target_rule_id"]),
            item["pattern"],
            _num(item["confidence"]),
            _num(item["source_confidence"]),
            str(item["support_count"]),
            _num(item["lift"], 2),
        )
    Console(width=max(Console().width, 120)).print(table)


def register(app: typer.Typer) -> None:
    rules_app = typer.Typer(
        help="Stored business rules, through the HTTP API of a running service "
        "(--url / BL_URL, --token / BL_TOKEN).",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )
    rules_app.command("list")(list_rules)
    rules_app.command("export")(export)
    rules_app.command("import")(import_rules)
    rules_app.command("apply")(apply)
    app.add_typer(rules_app, name="rules")
