"""The report's message catalogues kept in step with the code.

``python -m bizlogic.ops.report.catalogue`` extracts every ``_("…")`` of this package,
adds new msgids to each language's ``report.po`` and drops
those no longer used; the English catalogue translates each msgid to itself. A test
runs the same extraction and fails while a msgid lacks its Chinese translation.

The extraction is a pattern over the source rather than Babel's Python extractor: on
Python 3.11 that extractor does not look inside f-strings, where many of the report's
labels are; a msgid is a plain literal without escapes, so the pattern is exact.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bizlogic.ops.report.i18n import LANGUAGES, po_path

HERE = Path(__file__).parent
FIXED_DATE = datetime(2026, 12, 7, tzinfo=UTC)  # headers that do not change on every run
HEADER = "# bizlogic report messages ({lang}); update: python -m bizlogic.ops.report.catalogue"


_MSGID = re.compile(r"""\b_\(\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')\s*\)""")


def extracted() -> dict[str, list[tuple[str, int]]]:
    """msgid → where it is used (file, line)."""
    found: dict[str, list[tuple[str, int]]] = {}
    for path in sorted(HERE.glob("*.py")):
        if path.name in ("catalogue.py", "i18n.py"):  # they only mention _("…") in prose
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _MSGID.finditer(line):
                msgid = match.group(1) if match.group(1) is not None else match.group(2)
                found.setdefault(msgid, []).append((path.name, number))
    return found


def update() -> dict[str, list[str]]:
    """Bring every catalogue in step; returns, per language, the msgids untranslated."""
    used = extracted()
    untranslated: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        path = po_path(lang)
        old: dict[str, str] = {}
        if path.exists():
            with path.open("rb") as handle:
                old = {str(m.id): str(m.string) for m in read_po(handle, locale=lang) if m.id}
        catalog = Catalog(
            locale=lang,
            project="bizlogic report",
            version="1",
            header_comment=HEADER.format(lang=lang),
            creation_date=FIXED_DATE,
            revision_date=FIXED_DATE,
        )
        for msgid in sorted(used):
            text = msgid if lang == "en" else old.get(msgid, "")
            catalog.add(msgid, text, locations=sorted(used[msgid]))
            if not text:
                untranslated.setdefault(lang, []).append(msgid)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=True)
    return untranslated


if __name__ == "__main__":
    missing = update()
    for lang, ids in missing.items():
        print(f"{lang}: {len(ids)} untranslated", file=sys.stderr)
    sys.exit(1 if missing else 0)
