"""`bizlogic serve` and `bizlogic health`: run the HTTP API, ask it how it is."""

from __future__ import annotations

import os
from typing import Annotated

import orjson
import typer

from bizlogic.cli.options import DEFAULT_SERVICE_URL, fail


def _check_listenable(host: str, port: int) -> None:
    """Fail with one plain line when the address cannot be listened on (another server on
    the port, a privileged port, an unknown host), before any log line or database work.

    Uvicorn would report it as an error log record after the app had started up."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise fail(f"--host: cannot resolve {host!r}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise fail(
                    f"--port: {host}:{port} is already in use (another `bizlogic serve`? "
                    f"`make demo` leaves one on 8000); stop it or choose another --port"
                ) from None
            if exc.errno == errno.EACCES:
                message = f"--port: {port} needs privileges to listen on; use 1024 or above"
                raise fail(message) from None
            raise fail(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes; more than 1 needs Redis mode.")
    ] = 1,
) -> None:
    """Run the HTTP API (FastAPI on Uvicorn) with the configured backends.

    With no configuration it uses SQLite and a generated JWT secret in
    BL_DATA_DIR, migrates the database and runs analyses in-process.

    Examples:

      bizlogic serve

      BL_DATA_DIR=/var/lib/bizlogic bizlogic serve --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from bizlogic.api.app import create_app
    from bizlogic.private_fs import ensure_private_dir, restrict_umask
    from bizlogic.settings import get_settings
    from bizlogic.telemetry.logging import configure_logging

    if not 1 <= port <= 65535:
        raise fail("--port: must be between 1 and 65535")
    _check_listenable(host, port)
    restrict_umask()  # before any thread or server process exists
    settings = get_settings()
    if settings.notify_config is not None:  # named in one line here, not in a traceback
        from bizlogic.ops.relay import NotifyConfigError, load_notify_config

        try:
            load_notify_config(settings.notify_config)
        except NotifyConfigError as exc:
            raise fail(f"BL_NOTIFY_CONFIG: {exc}") from None
    configure_logging(settings, process="api")
    ensure_private_dir(settings.data_dir)  # before the app, its database and its secret
    if workers < 1:
        raise fail("--workers: must be at least 1")
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_config=None,
            proxy_headers=True,
            access_log=False  # the app writes its own access line (telemetry/http.py),
        )
        return
    if not settings.redis_url:
        raise fail(
            "--workers: more than 1 needs Redis mode (BL_REDIS_URL): with the embedded "
            "defaults each process would keep its own cache and run its own analyses"
        )
    from bizlogic.store import migrations
    from bizlogic.telemetry.multiprocess import prepare_dir

    if settings.auto_migrate:  # once here, not concurrently in every process
        migrations.upgrade(settings.effective_database_url)
    os.environ["BL_AUTO_MIGRATE"] = "false"
    prepare_dir(settings.data_dir / "metrics" / f"api-{port}")
    uvicorn.run(
        "bizlogic.api.app:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        access_log=False  # the app writes its own access line (telemetry/http.py),
    )


def health(
    url: Annotated[str, typer.Option(help="Base URL of a running service.")] = DEFAULT_SERVICE_URL,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the health document.")] = False,
) -> None:
    """Ask a running service for its health; exit 0 when healthy, 1 otherwise.

    Examples:

      bizlogic health

      bizlogic health --url http://bizlogic.internal:8080 --json
    """
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/api/business-logic/health", timeout=timeout)
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise fail(f"{url}: no health answer ({exc.__class__.__name__}: {exc})") from None
    if as_json:
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    else:
        checks = document.get("checks", {})
        summary = ", ".join(f"{name} {check.get('status')}" for name, check in checks.items())
        typer.echo(f"{document.get('status')} — {summary} (version {document.get('version')})")
    if response.status_code != 200 or document.get("status") != "healthy":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("health")(health)
