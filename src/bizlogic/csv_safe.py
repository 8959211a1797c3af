"""Spreadsheet-safe CSV cells (OWASP "CSV Injection").

Spreadsheet programs treat a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula, and some also strip a leading tab or carriage return before
doing so. Exported text comes from records, annotators and imported rules,
i.e. from people who never had access to the analyst's spreadsheet, so a
value like ``=HYPERLINK("http://evil","click")`` must reach it as text. A
leading single quote makes every common spreadsheet show the cell as text.
"""

from __future__ import annotations

from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` prepended when it is a string a spreadsheet would evaluate.

    Only strings are touched: numbers the service writes as numbers (a negative
    leverage, say) must stay numbers, and cannot carry a formula anyway.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
