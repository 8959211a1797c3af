"""`bizlogic token …` and `bizlogic db …`: API tokens and the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from bizlogic.cli.options import DatabaseUrlOption, err, fail


def token_create(
    user: Annotated[str, typer.Option("--user", help="User id (the token's sub claim).")],
    role: Annotated[
        str,
        typer.Option("--role", help="system_admin | business_expert | data_analyst | viewer"),
    ],
    project: Annotated[
        list[str] | None,
        typer.Option(
            "--project",
            "--projects",
            help="Limit the token to this project id (repeatable or comma-separated). "
            "Default: every project.",
        ),
    ] = None,
    ttl: Annotated[
        str, typer.Option(help="Lifetime: a number and a unit s, m, h, d or w; at most 366d.")
    ] = "30d",
    open_link: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Print a one-time console sign-in link instead of the token (valid 10 "
            "minutes, one use; the token is signed when the link is opened).",
        ),
    ] = False,
    url: Annotated[
        str, typer.Option(help="The service's address, for --open.")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Create an API token and print it alone on the last line of stdout.

    The token is signed with BL_JWT_SECRET or, when that is unset, with the
    secret generated in BL_DATA_DIR — the one `bizlogic serve` uses. What the
    token grants is written to stderr, so scripts capture only the token.

    Examples:

      bizlogic token create --user alice --role system_admin

      bizlogic token create --user bob --role viewer --project p1 --ttl 12h

      TOKEN=$(bizlogic token create --user ci --role data_analyst --projects a,b)

      bizlogic token create --user alice --role business_expert --open
    """
    from pydantic import ValidationError

    from bizlogic.api.auth import create_token, parse_role, parse_ttl
    from bizlogic.api.secrets import SecretError, jwt_secret
    from bizlogic.settings import get_settings

    try:
        known_role = parse_role(role)
    except ValueError as exc:
        raise fail(f"--role: {exc}") from None
    try:
        ttl_s = parse_ttl(ttl)
    except ValueError as exc:
        raise fail(f"--ttl: {exc}") from None
    projects = None
    if project:
        projects = [p.strip() for value in project for p in value.split(",")]
        if any(not p for p in projects):
            raise fail("--project: project ids must not be empty")
    if not user.strip():
        raise fail("--user: must not be empty")
    try:
        secret = jwt_secret(get_settings())
    except ValidationError as exc:
        raise fail(f"invalid settings: {exc}") from None
    except SecretError as exc:
        raise fail(str(exc)) from None
    scope = ", ".join(sorted(set(projects))) if projects else "every project"
    if open_link:
        typer.echo(_signin_link(url, user.strip(), known_role.value, projects, ttl_s))
        err.print(
            f"one-time sign-in link for user {user.strip()!r}, role {known_role.value}, {scope} "
            f"(the token it gives is valid for {ttl}); open it within 10 minutes",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    token = create_token(secret, user, known_role, projects, ttl_s)
    err.print(
        f"token for user {user.strip()!r}, role {known_role.value}, {scope}, "
        f"valid for {ttl} — send it as 'Authorization: Bearer <token>'",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(token)


def _signin_link(
    base: str, user: str, role: str, projects: list[str] | None, ttl_s: int
) -> str:
    """Store the grant (the service's database, migrated if new) and return the link."""
    import httpx

    from bizlogic.store import migrations
    from bizlogic.store.db import Database
    from bizlogic.store.signin import Grant, create_link

    parsed = httpx.URL(base)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise fail(f"--url: expected http(s)://host[:port], got {base!r}")
    database_url = _database_url(None)
    migrations.upgrade(database_url)
    db = Database(database_url)
    try:
        scope = sorted(set(projects)) if projects else None
        code = create_link(db, Grant(user, role, scope, ttl_s))
    finally:
        db.dispose()
    return f"{str(parsed).rstrip('/')}/console/#signin={code}"


def _database_url(url: str | None, *, create: bool = True) -> str:
    """``create=False`` for commands that only inspect: they must not make the data dir."""
    from bizlogic.private_fs import ensure_private_dir
    from bizlogic.settings import get_settings

    settings = get_settings()
    if url is None and create:
        ensure_private_dir(settings.data_dir)
    return url or settings.effective_database_url


def db_upgrade(
    url: DatabaseUrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the schema up to REVISION (the server also does this at start-up).

    Examples:

      bizlogic db upgrade

      bizlogic db upgrade --url postgresql+psycopg://bl@db.internal/bizlogic
    """
    from bizlogic.store import migrations
    from bizlogic.store.db import safe_url

    target = _database_url(url)
    try:
        migrations.upgrade(target, revision)
        at = migrations.current(target)
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    err.print(f"{safe_url(target)} is at revision {at}", soft_wrap=True)


def db_downgrade(
    revision: Annotated[str, typer.Option(help="Target revision, e.g. 'base' for empty.")],
    url: DatabaseUrlOption = None,
) -> None:
    """Migrate the schema down to REVISION ('base' drops every table).

    Example:

      bizlogic db downgrade --revision base --url sqlite:////tmp/scratch.db
    """
    from bizlogic.store import migrations
    from bizlogic.store.db import safe_url

    target = _database_url(url)
    try:
        migrations.downgrade(target, revision)
        at = migrations.current(target)
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    err.print(f"{safe_url(target)} is at revision {at}", soft_wrap=True)


def db_current(url: DatabaseUrlOption = None) -> None:
    """Print the schema revision of the database (empty when not migrated).

    Read-only: a SQLite database that does not exist is an error (exit 1), not created.
    """
    from bizlogic.store import migrations

    try:
        revision = migrations.current(_database_url(url, create=False))
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    typer.echo(revision or "")


def register(app: typer.Typer) -> None:
    token_app = typer.Typer(
        help="API tokens: signed JWT bearer tokens for the HTTP API.",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )
    token_app.command("create")(token_create)
    app.add_typer(token_app, name="token")
    db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    db_app.command("downgrade")(db_downgrade)
    db_app.command("current")(db_current)
    app.add_typer(db_app, name="db")
