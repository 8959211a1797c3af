"""The import options as users write them — `--control topic=label` on the command line,
`?control=topic=label` over HTTP — turned into ImportOptions, with each bad value named by
the option the user typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bizlogic.records.importers import REQUESTABLE_FORMATS, ImportOptions
from bizlogic.records.labelstudio import CONTROL_TARGETS
from bizlogic.records.schema import FIELDS

CLI_NAMES = {
    "format": "--format",
    "csv_map": "--csv-map",
    "control": "--control",
    "text_key": "--text-key",
}
HTTP_NAMES = {name: name for name in CLI_NAMES}


class ImportOptionError(ValueError):
    """A bad option value; ``option`` is the name the user wrote it under."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def import_options(
    fmt: str,
    csv_map: Sequence[str] | None,
    control: Sequence[str] | None,
    text_key: str,
    *,
    names: Mapping[str, str] = HTTP_NAMES,
    **limits: Any,
) -> ImportOptions:
    """ImportOptions from the user's strings; ``limits`` are the server's size limits."""
    if fmt not in REQUESTABLE_FORMATS:
        raise ImportOptionError(
            names["format"],
            f"unknown format {fmt!r}; expected one of {', '.join(REQUESTABLE_FORMATS)}",
        )
    mapping = _pairs(csv_map, names["csv_map"], "FIELD=COLUMN")
    for name in mapping or {}:
        if name not in FIELDS:
            raise ImportOptionError(
                names["csv_map"], f"{name!r} is not a record field; fields: {', '.join(FIELDS)}"
            )
    controls = _pairs(control, names["control"], f"CONTROL={'|'.join(CONTROL_TARGETS)}")
    for name, target in (controls or {}).items():
        if target not in CONTROL_TARGETS:
            raise ImportOptionError(
                names["control"],
                f"{name}={target}: the target must be one of {', '.join(CONTROL_TARGETS)}",
            )
    if not text_key.strip():
        raise ImportOptionError(names["text_key"], "must not be empty")
    return ImportOptions(
        fmt=fmt,
        csv_mapping=mapping,
        class_controls=controls,
        text_key=text_key.strip(),
        **limits,
    )


def _pairs(values: Sequence[str] | None, option: str, shape: str) -> dict[str, str] | None:
    """NAME=VALUE strings as a dict; ``shape`` is how the error describes one."""
    if not values:
        return None
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImportOptionError(option, f"expected {shape}, got {item!r}")
        out[key.strip()] = value.strip()
    return out
