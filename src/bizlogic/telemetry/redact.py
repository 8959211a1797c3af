"""Secret redaction for log events (DESIGN §8: secrets never reach a log line).

Two independent nets, because secrets arrive both as named fields and inside
free text (exception messages, headers dumps, URLs):

* a **key** that names a secret (token, password, secret, authorization,
  api_key, cookie, …; any case, camelCase or kebab-case, at any depth) has its
  whole value replaced;
* inside **every string**, bearer credentials, JWTs, ``Authorization:``
  headers, ``password=…``-style pairs and passwords in URLs are replaced.

Over-redaction (``token_count=3`` loses its value) is accepted; a leak is not.
Applying ``redact`` twice gives the same result as applying it once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"
_MAX_DEPTH = 32

_SECRET_WORDS = frozenset(
    {
        "token",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "authorization",
        "cookie",
        "apikey",
        "jwt",
        "bearer",
        "credential",
        "credentials",
    }
)
_SECRET_PHRASES = ("api_key", "private_key", "access_key")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")

_KEYWORDS = r"(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|cookie|jwt)"
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer abc", "authorization=Basic dXNlcg==", JSON-ish dumps
    (
        re.compile(
            r"""(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:[a-z]+\s+)?[^\s"',;}]+"""
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), rf"\1{REDACTED}"),
    # JWT: three base64url segments; a JSON header always starts "eyJ" ('{"').
    (
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
        REDACTED,
    ),
    # password=hunter2, "api_key": "abc", ?access_token=… (query strings)
    (
        re.compile(
            rf"""(?i)([\w-]*{_KEYWORDS}[\w-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}}]+)"""
        ),
        rf"\1{REDACTED}",
    ),
    # scheme://user:password@host
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@"),
        rf"\1{REDACTED}@",
    ),
)


def is_secret_key(key: str) -> bool:
    """Whether a field name says its value is a secret (``accessToken``, ``X-Api-Key``, …)."""
    normalized = _CAMEL_BOUNDARY.sub("_", key).lower()
    words = set(_WORD_SPLIT.split(normalized))
    if words & _SECRET_WORDS:
        return True
    snake = "_".join(w for w in _WORD_SPLIT.split(normalized) if w)
    return any(phrase in snake for phrase in _SECRET_PHRASES)


def redact_text(text: str) -> str:
    """``text`` with every credential-looking substring replaced by ``[REDACTED]``."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, _depth: int = 0) -> Any:
    """A redacted copy of a JSON-like value; other objects become redacted strings.

    Unknown objects are stringified here, not later by the renderer, so that
    their text passes through the same filters.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if _depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_secret_key(str(key)) else redact(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", errors="replace"))
    return redact_text(str(value))
