"""The report's languages: gettext catalogues (``locales/<lang>/LC_MESSAGES/report.po``)
read with Babel, as the console's are. English is the source language; a msgid without
a translation falls back to it. Renderers call ``_ = translator(lang)`` and then
``_("…")``, which is what `bizlogic.ops.report.catalogue` extracts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "zh")
LOCALES = Path(__file__).parent / "locales"


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "report.po"


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """msgid → translation (untranslated and fuzzy entries left out)."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang: choose from {', '.join(LANGUAGES)}, not {lang!r}")
    with po_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def translator(lang: str) -> Callable[[str], str]:
    table = messages(lang)
    return lambda text: table.get(text, text)
