"""The console's languages: gettext catalogues (``locales/<lang>/LC_MESSAGES/console.po``)
read with Babel, shared by the page template (Jinja2's i18n extension) and the
browser code (the same catalogue served as JSON), so every string has one source.

English is the source language: its msgids are the English text, and a missing
translation falls back to it. The language follows the browser's
``Accept-Language`` unless the user picked one (``?lang=``, remembered by the page).
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LOCALES = Path(__file__).parent / "locales"


@functools.cache
def catalogue(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / "console.po").open("rb") as handle:
        return read_po(handle, locale=lang)


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """msgid → translation, for the browser (untranslated and fuzzy entries left out)."""
    found: dict[str, str] = {}
    for message in catalogue(lang):
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy:
            found[message.id] = str(message.string)
    return found


def gettext(lang: str, text: str) -> str:
    return messages(lang).get(text, text)


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """The user's pick if it is one of ours, else the browser's best match, else English."""
    if requested in LANGUAGES:
        return str(requested)
    for tag, _quality in _preferences(accept_language or ""):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def _preferences(header: str) -> list[tuple[str, float]]:
    """``zh-CN,zh;q=0.9,en;q=0.8`` → tags by descending quality (stable for equal ones)."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    return [(tag, -q) for q, _, tag in sorted(ranked)]
