"""The console's languages: negotiation, and catalogues complete for the code as it is."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bizlogic.console import i18n, messages


@pytest.mark.parametrize(
    ("requested", "header", "chosen"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "en-GB,en;q=0.9,zh;q=0.5", "en"),
        (None, "fr-FR,fr;q=0.9,zh-TW;q=0.5", "zh"),  # the best language we have
        (None, "en;q=0.2,zh;q=0.8", "zh"),  # quality, not order, decides
        (None, "de,fr", "en"),  # none of ours: English
        (None, "", "en"),
        (None, "zh;q=0,en", "en"),  # q=0 means "not this one"
        (None, "!!,zh", "zh"),  # a malformed tag is skipped
        ("en", "zh-CN", "en"),  # the user's pick wins
        ("xx", "zh-CN", "zh"),  # an unknown pick is ignored
    ],
)
def test_language_negotiation(requested, header, chosen):
    assert i18n.negotiate(requested, header) == chosen


def test_every_string_of_the_console_is_translated():
    """Extract as `python -m bizlogic.console.messages` does; every msgid must be in each
    catalogue, the Chinese one with a translation, and no catalogue keeps unused ones."""
    used = messages.extracted()
    assert len(used) > 150  # the extraction found the code's strings at all
    for lang in i18n.LANGUAGES:
        catalogue = {m.id: m.string for m in i18n.catalogue(lang) if m.id}
        assert sorted(catalogue) == sorted(used), f"{lang}: run python -m bizlogic.console.messages"
    zh = i18n.messages("zh")
    assert [m for m in used if m not in zh] == []


def test_placeholders_survive_translation():
    """A translation that drops or renames {name} would show the raw braces or lose a figure."""
    for msgid, text in i18n.messages("zh").items():
        names = sorted(re.findall(r"\{(\w+)\}", msgid))
        assert sorted(re.findall(r"\{(\w+)\}", text)) == names, msgid


def test_no_dynamic_calls_hide_strings_from_extraction():
    """t(variable) cannot be extracted: every call takes a literal string."""
    for path in (messages.HERE / "static" / "js").rglob("*.js"):
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            for call in re.finditer(r"(?<!function )\bt\(\s*([^\s)])", line):
                assert call.group(1) == '"', f"{path.name}:{line_no}: t() of a non-literal"


def test_the_update_command_of_docs_console_md_changes_nothing_when_in_step():
    """`python -m bizlogic.console.messages` (docs/console.md) on the committed catalogues:
    exit 0 and the files unchanged (restored if it did change them, and the test fails)."""
    paths = [messages.po_path(lang) for lang in i18n.LANGUAGES]
    before = {path: path.read_bytes() for path in paths}
    done = subprocess.run(
        [sys.executable, "-m", "bizlogic.console.messages"], capture_output=True, text=True
    )
    changed = [path.name for path in paths if path.read_bytes() != before[path]]
    for path in paths:
        path.write_bytes(before[path])
    assert done.returncode == 0, done.stdout + done.stderr
    assert changed == [], "the catalogues were not in step: run the command and commit"
