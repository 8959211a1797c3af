"""The report's message catalogues are in step with the code and fully translated."""

from __future__ import annotations

from babel.messages.pofile import read_po

from bizlogic.ops.report.catalogue import extracted
from bizlogic.ops.report.i18n import LANGUAGES, po_path, translator


def test_every_msgid_is_in_each_catalogue_and_translated() -> None:
    used = set(extracted())
    assert "Service availability and latency" in used and "no data" in used
    for lang in LANGUAGES:
        with po_path(lang).open("rb") as handle:
            catalog = {str(m.id): str(m.string) for m in read_po(handle, locale=lang) if m.id}
        assert set(catalog) == used, f"{lang}: run python -m bizlogic.ops.report.catalogue"
        assert [msgid for msgid, text in catalog.items() if not text] == [], lang


def test_translator() -> None:
    assert translator("zh")("Weekly operations report") == "运维周报"
    assert translator("en")("Weekly operations report") == "Weekly operations report"
    assert translator("zh")("not in the catalogue") == "not in the catalogue"
