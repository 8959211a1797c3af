"""The browser console, served by the API process itself under ``/console/``.

One HTML page (the shell, translated on the server) and static ES modules that
draw every view from the same REST routes a script would call, with the same
bearer token — kept in the tab's ``sessionStorage`` and sent in the
``Authorization`` header, never in a cookie, so no other site can make the
browser act with it (no CSRF). Everything is served from the package: no CDN,
no build step, works offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import jinja2
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bizlogic import __version__
from bizlogic.api.auth import Permission, Principal, require_host_wide
from bizlogic.api.state import AppState, app_state
from bizlogic.console import i18n

HERE = Path(__file__).parent
PREFIX = "/console"
API_BASE = "/api/business-logic"

# No inline script or style anywhere: the page's code and styles come from our own files.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # a sign-in link's fragment never leaves the page
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}

router = APIRouter()
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
)


@router.get(PREFIX, include_in_schema=False)
async def console_root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get(f"{PREFIX}/", response_class=HTMLResponse, include_in_schema=False)
async def console_page(
    lang: Annotated[str | None, Query(max_length=8)] = None,
    accept_language: Annotated[str | None, Header(max_length=512)] = None,
) -> HTMLResponse:
    chosen = i18n.negotiate(lang, accept_language)
    html = _templates.get_template("console.html").render(
        _=lambda text: i18n.gettext(chosen, text),
        lang=chosen,
        languages=i18n.LANGUAGES,
        api_base=API_BASE,
        static=f"{PREFIX}/static",
        version=__version__,
    )
    return HTMLResponse(html, headers={"cache-control": "no-store", "vary": "accept-language"})


@router.get(f"{PREFIX}/messages/{{lang}}.json", include_in_schema=False)
async def console_messages(lang: str) -> JSONResponse:
    if lang not in i18n.LANGUAGES:
        raise HTTPException(404, f"no messages for language {lang!r}")
    return JSONResponse(i18n.messages(lang), headers={"cache-control": "no-cache"})


@router.get(f"{PREFIX}/config.json", include_in_schema=False)
async def console_config() -> JSONResponse:
    """What the forms offer, from the code that checks it (no list kept twice)."""
    from bizlogic.mining.catalogue import ALGORITHM_NAMES
    from bizlogic.mining.model import RULE_TYPES
    from bizlogic.records.importers import REQUESTABLE_FORMATS

    return JSONResponse(
        {
            "formats": list(REQUESTABLE_FORMATS),
            "algorithms": list(ALGORITHM_NAMES),
            "rule_types": list(RULE_TYPES),
            "languages": list(i18n.LANGUAGES),
            "version": __version__,
        },
        headers={"cache-control": "no-cache"},
    )


@router.get(f"{API_BASE}/console/links", tags=["console"])
async def console_links(
    state: Annotated[AppState, Depends(app_state)],
    _: Annotated[
        Principal,
        Depends(require_host_wide(Permission.ADMIN_SYSTEM, "see the monitoring links")),
    ],
) -> dict[str, str | None]:
    """The operators' Prometheus and Grafana (BL_PROMETHEUS_URL, BL_GRAFANA_URL): for
    administrators only, since they name internal hosts."""
    return {"prometheus": state.settings.prometheus_url, "grafana": state.settings.grafana_url}


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


class ConsoleHeaders:
    """Adds the security headers to every response under ``/console``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
