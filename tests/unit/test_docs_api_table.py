"""docs/api.md's route table lists every route of the app, as one table.

A blank line inside a Markdown table ends it: the rows after it rendered as
plain text, and nothing noticed.
"""

from __future__ import annotations

import re
from pathlib import Path

from bizlogic.api.app import create_app
from bizlogic.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PREFIX = "/api/business-logic"


def _table_rows() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Routes available now", 1)[1].split("\n## ", 1)[0]
    table = section.strip().split("\n\n")
    assert len(table) == 1, "the route table is interrupted by a blank line"
    return [line for line in table[0].splitlines() if line.startswith("| `")]


def test_every_route_is_in_the_one_table(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, jwt_secret="s" * 40))
    documented = set()
    for row in _table_rows():
        match = re.match(r"\| `([A-Z]+) ([^`?\s]+)", row)
        assert match, row
        documented.add((match.group(1), match.group(2)))
    missing = []
    # The OpenAPI document lists every route in the schema, however routers are nested
    # (app.routes shows included routers as one entry each in newer FastAPI).
    paths = app.openapi()["paths"]
    assert len(paths) > 20  # the walk found the app's routes at all
    for full_path, operations in paths.items():
        path = full_path.removeprefix(PREFIX) or full_path
        for method in (m.upper() for m in operations if m != "parameters"):
            if (method, path) not in documented and (method, full_path) not in documented:
                missing.append(f"{method} {full_path}")
    assert not missing, f"routes missing from docs/api.md: {missing}"
