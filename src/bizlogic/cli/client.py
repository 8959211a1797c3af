"""A thin HTTP client for the CLI verbs that work through a running service.

Going through the API (rather than the database) means the CLI obeys the same
permissions, project scopes, cache invalidation and audit log as every other
client, and works against a remote deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the commands that call the service, not to show help
    import httpx

__all__ = [
    "BASE",
    "ApiCallError",
    "check",
    "describe_error",
    "fetch_all_rules",
    "make_client",
    "session",
]

BASE = "/api/business-logic"


class ApiCallError(Exception):
    """A request that did not succeed, with the message the CLI prints."""


def make_client(url: str, token: str, timeout_s: float) -> httpx.Client:
    """The client the CLI uses; tests replace this to talk to an in-process app."""
    import httpx

    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout_s,
    )


def describe_error(response: httpx.Response) -> str:
    """`CODE: message` from the error envelope, with the first field errors."""
    try:
        error = response.json()["error"]
        text = f"{error['code']}: {error['message']}"
        details = error.get("details")
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:300]}"
    for detail in details[:5] if isinstance(details, list) else []:
        if isinstance(detail, dict):
            text += f"\n  {detail.get('field', '?')}: {detail.get('message', '')}"
    return text


def check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise ApiCallError(describe_error(response))
    return response


@contextmanager
def session(url: str, token: str, timeout_s: float = 60.0) -> Iterator[httpx.Client]:
    """A client whose transport failures become ApiCallError naming the URL."""
    import httpx

    try:
        with make_client(url, token, timeout_s) as client:
            yield client
    except httpx.TransportError as exc:
        raise ApiCallError(f"{url}: no answer ({exc.__class__.__name__}: {exc})") from None


def fetch_all_rules(client: httpx.Client, project_id: str, **filters: Any) -> list[dict]:
    """Every rule matching ``filters``, page by page (the API caps a page at 1000)."""
    rules: list[dict] = []
    while True:
        params = {**filters, "limit": 1000, "offset": len(rules)}
        page = check(client.get(f"{BASE}/rules/{project_id}", params=params)).json()
        rules.extend(page["rules"])
        if not page["rules"] or len(rules) >= page["total"]:
            return rules
