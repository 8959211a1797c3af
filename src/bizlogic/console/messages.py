"""The console's message catalogues kept in step with the code.

``python -m bizlogic.console.messages`` extracts every ``_("…")`` of the
templates and ``t("…")`` of the browser code (Babel's extractors), adds new
msgids to each language's ``console.po`` and drops those no longer used; the
English catalogue translates each msgid to itself. A test runs the same
extraction and fails while a msgid lacks its Chinese translation.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bizlogic.console.i18n import LANGUAGES, LOCALES

HERE = Path(__file__).parent
METHODS = [("static/js/**.js", "javascript"), ("templates/**.html", "jinja2")]
OPTIONS = {"static/js/**.js": {}, "templates/**.html": {}}
KEYWORDS = {"t": None, "_": None}
FIXED_DATE = datetime(2026, 12, 6, tzinfo=UTC)  # headers that do not change on every run
HEADER = "# bizlogic console messages ({lang}); update: python -m bizlogic.console.messages"


def extracted() -> dict[str, list[tuple[str, int]]]:
    """msgid → where it is used (file, line), vendor code excluded."""
    found: dict[str, list[tuple[str, int]]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        HERE, METHODS, OPTIONS, KEYWORDS, comment_tags=()
    ):
        if "vendor/" in filename or not isinstance(message, str):
            continue
        found.setdefault(message, []).append((filename, line))
    return found


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "console.po"


def update() -> dict[str, list[str]]:
    """Bring every catalogue in step; returns, per language, the msgids still untranslated."""
    used = extracted()
    untranslated: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        path = po_path(lang)
        old: Catalog | None = None
        if path.exists():
            with path.open("rb") as handle:
                old = read_po(handle, locale=lang)
        catalog = Catalog(
            locale=lang,
            project="bizlogic console",
            version="1",
            header_comment=HEADER.format(lang=lang),
            creation_date=FIXED_DATE,
            revision_date=FIXED_DATE,
            fuzzy=False,
        )
        for msgid in sorted(used):
            previous = old.get(msgid) if old is not None else None
            string = msgid if lang == "en" else (previous.string if previous is not None else "")
            catalog.add(msgid, string, locations=sorted(used[msgid]))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=True)
        untranslated[lang] = [m for m in sorted(used) if not catalog.get(m).string]
    return untranslated


def main() -> int:
    missing = update()
    for lang, ids in missing.items():
        for msgid in ids:
            print(f"{lang}: untranslated: {msgid}")
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
