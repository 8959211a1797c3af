"""Label Studio exports (full JSON, JSON_MIN, CSV) turned into canonical record mappings.

The functions here only reshape Label Studio's structures into the plain dicts
that :func:`bizlogic.records.schema.record_from_mapping` validates, so the
rules for what a valid record is stay in one place. Reading bytes, locations
and reject reports are the importers' job.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any

from bizlogic.records.nesting import NestingTooDeep, check_nesting
from bizlogic.records.schema import RecordError

# What a choices control may be mapped to; "ignore" drops a control so that a
# project with several classification controls can pick the one that matters.
CONTROL_TARGETS = ("sentiment", "label", "ignore")

# Columns Label Studio writes in every JSON_MIN / CSV row besides the task data and controls.
META_COLUMNS = frozenset(
    {"id", "annotation_id", "annotator", "created_at", "updated_at", "lead_time", "agreement"}
)
CANCEL_KEYS = ("was_cancelled", "skipped")  # "skipped" is the spelling of old exports

TASK_KEYS = frozenset({"annotations", "completions", "data"})
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_MAX_LITERAL_CHARS = 10_000  # CSV cells parsed as Python/JSON literals; larger ones stay text


class Skip(Enum):
    """Annotations that produce no record and are not errors either."""

    CANCELLED = "cancelled"  # was_cancelled / skipped: counted by the importers
    UNANNOTATED = "unannotated"  # a flat-export row of a task nobody annotated


def is_task(keys: set[str] | frozenset[str]) -> bool:
    """A full-export task carries ``data`` and ``annotations`` (``completions`` in old exports)."""
    return bool(keys & TASK_KEYS)


def is_min_row(keys: set[str] | frozenset[str]) -> bool:
    """Label Studio writes both columns in every JSON_MIN and CSV row; canonical data has no
    ``annotation_id``, so the pair tells the flat exports apart from our own schema."""
    return "annotation_id" in keys and "annotator" in keys


class ControlMap:
    """Decides which canonical field a control's answer goes to.

    Control names compare case-insensitively. Explicit ``class_controls`` entries win;
    otherwise a choices control named "sentiment" feeds ``sentiment`` and any other
    choices control feeds ``label``.
    """

    def __init__(self, class_controls: Mapping[str, str] | None = None) -> None:
        explicit: dict[str, str] = {}
        for name, target in (class_controls or {}).items():
            if target not in CONTROL_TARGETS:
                raise ValueError(
                    f"class_controls[{name!r}] must be one of {', '.join(CONTROL_TARGETS)}, "
                    f"got {target!r}"
                )
            explicit[name.casefold()] = target
        self._explicit = explicit
        self.as_data: set[str] = set()  # flat-export columns read as task data somewhere
        self.answered: set[str] = set()  # … and as answers somewhere

    def explicit(self, name: str) -> str | None:
        return self._explicit.get(name.casefold())

    def choices_target(self, name: str) -> str | None:
        """Field for a choices control of the full export; None when it is ignored."""
        target = self.explicit(name)
        if target is None:
            target = "sentiment" if name.casefold() == "sentiment" else "label"
        return None if target == "ignore" else target

    def column_target(self, name: str, value: Any) -> tuple[str, Any] | None:
        """Field and raw answer for a JSON_MIN / CSV column, or None for task data.

        A single-choice answer is a bare string there, indistinguishable from a task
        data field, so only explicitly mapped columns, columns named sentiment, label or
        rating, and values shaped like Label Studio answers count as controls.
        """
        found = self._column_target(name, value)
        if found is not None:
            self.answered.add(name)
        elif not _blank(value):
            self.as_data.add(name)
        return found

    def _column_target(self, name: str, value: Any) -> tuple[str, Any] | None:
        shaped = _answer_shape(value)
        target = self.explicit(name)
        if target == "ignore":
            return None
        if target is not None:
            return target, _choice_answer(shaped if shaped is not None else value)
        if shaped is not None and "rating" in shaped:
            return "rating", shaped["rating"]
        folded = name.casefold()
        if folded == "rating":
            return "rating", value
        if folded in ("sentiment", "label"):
            return folded, _choice_answer(shaped if shaped is not None else value)
        if shaped is not None and "choices" in shaped:
            return "label", shaped["choices"]
        return None


def data_columns(columns: Iterable[str], controls: ControlMap, text_key: str) -> list[str]:
    """Columns of a JSON_MIN / CSV export that are neither metadata, the text, nor a known
    control: task data, or a single-choice control whose answers look like plain text."""
    known = META_COLUMNS | set(CANCEL_KEYS) | {text_key, "sentiment", "label", "rating"}
    return [
        column for column in columns if column not in known and controls.explicit(column) is None
    ]


def annotator_of(value: Any) -> str | None:
    """``completed_by`` / ``annotator``: a user id, a user object, or an e-mail string.

    A user object gives its id, as Label Studio's default exports do (they write the
    bare id), so one person keeps one name whichever export a project was loaded from;
    its e-mail only when it has no id. Flat exports of a snapshot with user details
    carry only the e-mail, which the importers point out (ImportStream.notes).
    """
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        user_id = value.get("id")
        if user_id is None or user_id == "":
            email = value.get("email")
            return email.strip() or None if isinstance(email, str) else None
        value = user_id
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError("annotator", f"expected a user id or object, got {type(value).__name__}")
    return str(value).strip() or None


def _ls_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError("id", f"annotation id must be a string or integer, got {value!r}")
    return f"ls-{value}"


def is_cancelled(annotation: Mapping[str, Any]) -> bool:
    for key in CANCEL_KEYS:
        flag = annotation.get(key)
        if isinstance(flag, str):
            # CSV cells carry booleans as text.
            if flag.strip().lower() in ("true", "1", "yes"):
                return True
        elif flag:
            return True
    return False


def task_text(data: Any, text_key: str) -> Any:
    """The text of a task: ``data[text_key]``, else the only non-numeric string in ``data``."""
    if not isinstance(data, dict):
        raise RecordError("data", f"expected an object, got {type(data).__name__}")
    if data.get(text_key) is not None:
        return data[text_key]
    # Flat exports hold the union of all tasks' keys, so an empty cell counts as absent,
    # and CSV turns numeric fields into text, so numbers never count as the text.
    strings = [
        key
        for key, value in data.items()
        if isinstance(value, str) and not _NUMBER.fullmatch(value.strip())
    ]
    if len(strings) == 1:
        return data[strings[0]]
    if text_key in data and not strings:
        return None  # record validation reports the text as missing
    detail = (
        f"{len(strings)} string values ({', '.join(strings)})" if strings else "no string value"
    )
    raise RecordError(
        "text",
        f"task data has no {text_key!r} value and {detail}; "
        "name the key with --text-key (HTTP: text_key)",
    )


def _answers_from_result(result: Any, controls: ControlMap) -> dict[str, Any]:
    """sentiment / label / rating answers of one annotation's ``result`` list."""
    if result is None:
        return {}
    if not isinstance(result, list):
        raise RecordError("result", f"expected a list, got {type(result).__name__}")
    answers: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for item in result:
        if not isinstance(item, dict):
            raise RecordError("result", f"expected an object, got {type(item).__name__}")
        kind = str(item.get("type", "")).lower()
        name = str(item.get("from_name", ""))
        value = item.get("value")
        if kind not in ("choices", "rating"):
            continue
        if not isinstance(value, dict):
            raise RecordError("result", f"{name}: value must be an object")
        if kind == "choices":
            target = controls.choices_target(name)
            answer = value.get("choices")
        else:
            target, answer = "rating", value.get("rating")
        if target is None:
            continue
        _put(answers, sources, target, name, answer)
    return answers


def _put(
    answers: dict[str, Any], sources: dict[str, str], target: str, name: str, value: Any
) -> None:
    previous = sources.get(target)
    if previous is None:
        sources[target] = name
        answers[target] = value
    elif previous.casefold() != name.casefold():
        raise RecordError(
            target,
            f"controls {previous!r} and {name!r} both map to {target}; "
            "map one of them to 'ignore' with --control NAME=ignore (HTTP: control)",
        )
    # The same control twice (per-region answers): the first answer is kept.


def mappings_from_task(
    task: Any, controls: ControlMap, text_key: str
) -> Iterator[tuple[dict[str, Any] | RecordError | Skip, Any]]:
    """One ``(mapping | error | Skip.CANCELLED, annotation)`` per annotation of a task.

    A task with no annotations yields nothing, so unlabelled tasks never become records.
    """
    if not isinstance(task, dict):
        yield RecordError("record", f"expected an object, got {type(task).__name__}"), task
        return
    annotations = task.get("annotations", task.get("completions"))
    if annotations is None:
        return
    if not isinstance(annotations, list):
        error = RecordError("annotations", f"expected a list, got {type(annotations).__name__}")
        yield error, annotations
        return
    text: Any = None
    text_error: RecordError | None = None
    text_known = False
    for annotation in annotations:
        if not isinstance(annotation, dict):
            kind = type(annotation).__name__
            yield RecordError("annotation", f"expected an object, got {kind}"), annotation
            continue
        if is_cancelled(annotation):
            yield Skip.CANCELLED, annotation
            continue
        if not text_known:
            # Resolved once per task and only when some annotation needs it.
            try:
                text = task_text(task.get("data"), text_key)
            except RecordError as exc:
                text_error = exc
            text_known = True
        if text_error is not None:
            yield text_error, annotation
            continue
        try:
            mapping = {
                "id": _ls_id(annotation.get("id")),
                "task_id": task.get("id", annotation.get("task")),
                "text": text,
                "annotator": annotator_of(annotation.get("completed_by")),
                "created_at": annotation.get("created_at"),
                "lead_time": annotation.get("lead_time"),
                **_answers_from_result(annotation.get("result"), controls),
            }
        except RecordError as exc:
            yield exc, annotation
            continue
        yield mapping, annotation


def mapping_from_row(
    row: Mapping[str, Any], controls: ControlMap, text_key: str
) -> dict[str, Any] | Skip:
    """A JSON_MIN element or CSV row as a record mapping, or why it yields no record."""
    if is_cancelled(row):
        return Skip.CANCELLED
    answers: dict[str, Any] = {}
    sources: dict[str, str] = {}
    data: dict[str, Any] = {}
    for column, value in row.items():
        if column in META_COLUMNS or column in CANCEL_KEYS:
            continue
        found = None if column == text_key else controls.column_target(column, value)
        if found is None:
            data[column] = value
        else:
            _put(answers, sources, found[0], column, found[1])
    annotated = any(value is not None for value in answers.values())
    if not annotated and _blank(row.get("annotation_id")) and _blank(row.get("annotator")):
        # Label Studio still writes a row for a task without annotations.
        return Skip.UNANNOTATED
    return {
        "id": _ls_id(row.get("annotation_id")),
        "task_id": row.get("id"),
        "text": task_text(data, text_key),
        "annotator": annotator_of(row.get("annotator")),
        "created_at": row.get("created_at"),
        "lead_time": row.get("lead_time"),
        **answers,
    }


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _answer_shape(value: Any) -> Any:
    """The structured answer inside a value, or None when the value is plain.

    JSON_MIN writes multi-choice answers as ``{"choices": [...]}`` and ratings as
    ``[{"rating": 4}]``; the CSV export writes the same objects as Python or JSON text.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text or text[0] not in "[{" or len(text) > _MAX_LITERAL_CHARS:
            return None
        value = _parse_literal(text)
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        value = value[0]
    if isinstance(value, dict) and ("choices" in value or "rating" in value):
        return value
    return None


def _parse_literal(text: str) -> Any:
    try:
        check_nesting(text.encode("utf-8", "surrogatepass"))
    except NestingTooDeep:
        return None  # kept as plain text, as any cell that is not a small literal
    with contextlib.suppress(ValueError):  # not JSON: maybe the Python repr the CSV export writes
        return json.loads(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _choice_answer(value: Any) -> Any:
    if isinstance(value, dict) and "choices" in value:
        return value["choices"]
    return value
