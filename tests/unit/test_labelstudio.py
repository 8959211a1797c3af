"""Label Studio exports: full JSON, JSON_MIN and CSV, hand-written from the documented formats.

The three fixtures are exports of one project with the controls ``sentiment`` (Choices),
``topic`` (Choices, multiple) and ``quality`` (Rating).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bizlogic.records.importers import (
    ImportOptions,
    ImportSummary,
    Reject,
    detect_format,
    iter_import,
    read_records,
)
from bizlogic.records.labelstudio import ControlMap
from bizlogic.records.schema import Record, derived_id

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "labelstudio"
FULL = EXPORTS / "export_full.json"
MIN = EXPORTS / "export_min.json"
CSV = EXPORTS / "export.csv"

DELIVERY = "The delivery was late and the box was damaged."
EXPECTED = [
    Record(
        id="ls-1001",
        text=DELIVERY,
        sentiment="negative",
        label="shipping",
        rating=2.0,
        annotator="7",
        task_id="101",
        lead_time=12.5,
        created_at=datetime(2024, 3, 1, 9, 15, 0, 123456, tzinfo=UTC),
    ),
    Record(
        id="ls-1002",
        text=DELIVERY,
        sentiment="negative",
        label="packaging",  # first of a multi-choice answer
        annotator="li.wei@example.com",  # the flat exports' annotator column
        task_id="101",
        lead_time=8.25,
        created_at=datetime(2024, 3, 1, 9, 15, tzinfo=UTC),  # from epoch milliseconds
    ),
    Record(
        id="ls-1004",
        text="客服回复很快，问题当天就解决了。",
        sentiment="positive",
        rating=5.0,
        annotator="9",
        task_id="102",
        lead_time=30.0,
        created_at=datetime(2024, 3, 2, 2, 0, tzinfo=UTC),  # 10:00+08:00
    ),
    Record(
        id="ls-1005",
        text="Price is fair for what you get.",  # the only non-numeric string in data
        sentiment="neutral",
        annotator="7",
        task_id="104",
        lead_time=4.0,
        created_at=datetime(2024, 3, 3, 8, tzinfo=UTC),
    ),
]
TOPIC_IS_LABEL = ImportOptions(class_controls={"topic": "label"})
# The full export's completed_by is a user object {"id": 8, "email": …}: its id names the
# annotator, as in Label Studio's default exports; the flat exports only carry the e-mail.
EXPECTED_FULL = [EXPECTED[0], dataclasses.replace(EXPECTED[1], annotator="8"), *EXPECTED[2:]]


def test_full_export_gives_one_record_per_annotation() -> None:
    records, summary = read_records(FULL)
    assert records == EXPECTED_FULL
    # Annotation 1003 was cancelled; task 103 has no annotations.
    assert summary == ImportSummary("labelstudio-json", 4, [], skipped_cancelled=1)


def test_json_min_export_with_topic_mapped() -> None:
    records, summary = read_records(MIN, TOPIC_IS_LABEL)
    assert records == EXPECTED
    # The row of unannotated task 103 is skipped, not rejected.
    assert summary == ImportSummary("labelstudio-json-min", 4, [], 0)


def test_json_min_single_choice_of_an_unmapped_control_is_task_data() -> None:
    # A bare "Shipping" cannot be told from a data field; only {"choices": [...]} can.
    records, _ = read_records(MIN)
    assert records == [dataclasses.replace(EXPECTED[0], label=None), *EXPECTED[1:]]


def test_csv_export_with_topic_mapped() -> None:
    records, summary = read_records(CSV, TOPIC_IS_LABEL)
    assert records == EXPECTED
    assert summary == ImportSummary("labelstudio-csv", 4, [], 0)


@pytest.mark.parametrize(
    ("path", "variant"),
    [(FULL, "labelstudio-json"), (MIN, "labelstudio-json-min"), (CSV, "labelstudio-csv")],
)
def test_labelstudio_format_sniffs_the_variant(path: Path, variant: str) -> None:
    assert detect_format(path) == variant
    stream = iter_import(path, ImportOptions(fmt="labelstudio", class_controls={"topic": "label"}))
    assert stream.format == variant
    assert list(stream) == (EXPECTED_FULL if path == FULL else EXPECTED)


def test_labelstudio_format_refuses_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text('{"data": {"text": "x"}}\n')
    with pytest.raises(ValueError) as caught:
        iter_import(path, ImportOptions(fmt="labelstudio"))
    assert str(caught.value) == f"{path}: Label Studio exports are JSON arrays or CSV/TSV files"


# --- full-export rules, on hand-built tasks -----------------------------------------------


def choices(name: str, *values: str) -> dict[str, Any]:
    return {
        "value": {"choices": list(values)},
        "from_name": name,
        "to_name": "text",
        "type": "choices",
    }


def rating(name: str, value: Any) -> dict[str, Any]:
    return {"value": {"rating": value}, "from_name": name, "to_name": "text", "type": "rating"}


def annotation(ident: int | None, *result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ident} if ident is not None else {}
    body.update(
        {"completed_by": 7, "result": list(result), "was_cancelled": False, "lead_time": 2.0}
    )
    body.update(extra)
    return body


def task(ident: int, *annotations: Any, data: Any = None) -> dict[str, Any]:
    return {
        "id": ident,
        "annotations": list(annotations),
        "data": {"text": f"task {ident}"} if data is None else data,
    }


def export(tmp_path: Path, tasks: list[Any], name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def test_two_choices_controls_map_to_sentiment_and_label(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        [
            task(
                1,
                annotation(
                    11,
                    choices("TONE", "Angry"),
                    choices("category", "Billing"),
                    choices("urgency", "High"),
                    rating("stars", "4"),
                ),
            )
        ],
    )
    options = ImportOptions(
        class_controls={"tone": "sentiment", "Category": "label", "urgency": "ignore"}
    )
    records, _ = read_records(path, options)
    assert records == [
        Record(
            id="ls-11",
            text="task 1",
            sentiment="angry",
            label="billing",
            rating=4.0,
            annotator="7",
            task_id="1",
            lead_time=2.0,
        )
    ]


def test_default_control_rule_is_case_insensitive(tmp_path: Path) -> None:
    path = export(tmp_path, [task(1, annotation(11, choices("Sentiment", "POSITIVE")))])
    records, _ = read_records(path)
    assert (records[0].sentiment, records[0].label) == ("positive", None)


def test_two_controls_feeding_one_field_are_rejected(tmp_path: Path) -> None:
    conflicted = annotation(21, choices("topic", "Shipping"), choices("urgency", "High"))
    path = export(tmp_path, [task(1, annotation(11)), task(2, conflicted)])
    records, summary = read_records(path)
    assert [record.id for record in records] == ["ls-11"]
    reason = (
        "controls 'topic' and 'urgency' both map to label; "
        "map one of them to 'ignore' with --control NAME=ignore (HTTP: control)"
    )
    excerpt = json.dumps(conflicted, separators=(",", ":"))[:200]
    assert summary.rejected == [Reject(2, "label", reason, excerpt)]


@pytest.mark.parametrize(
    ("completed_by", "annotator"),
    [
        (7, "7"),
        ({"id": 8, "email": "a@example.com", "first_name": "A"}, "8"),
        ({"id": 8, "email": ""}, "8"),
        ({"email": "a@example.com"}, "a@example.com"),
        ("b@example.com", "b@example.com"),
        (None, None),
    ],
)
def test_completed_by_becomes_the_annotator(
    tmp_path: Path, completed_by: Any, annotator: str | None
) -> None:
    path = export(tmp_path, [task(1, annotation(11, completed_by=completed_by))])
    records, _ = read_records(path)
    assert records[0].annotator == annotator


def test_annotation_without_id_gets_a_derived_id(tmp_path: Path) -> None:
    path = export(tmp_path, [task(5, annotation(None, created_at="2024-03-01T09:15:00+00:00"))])
    records, _ = read_records(path)
    assert records[0].id == derived_id("task 5", "7", "5", "2024-03-01T09:15:00Z")


def test_text_key_option_and_single_string_fallback(tmp_path: Path) -> None:
    tasks = [
        task(1, annotation(11), data={"title": "Short", "body": "The long body"}),
        task(2, annotation(21), data={"body": "Only body", "stars": 3}),
    ]
    records, summary = read_records(export(tmp_path, tasks), ImportOptions(text_key="body"))
    assert [record.text for record in records] == ["The long body", "Only body"]
    assert summary.rejected == []


def test_old_exports_with_completions_and_skipped(tmp_path: Path) -> None:
    old = {
        "id": 3,
        "completions": [annotation(31), annotation(32, skipped=True)],
        "data": {"text": "old"},
    }
    records, summary = read_records(export(tmp_path, [old]))
    assert [record.id for record in records] == ["ls-31"]
    assert summary.skipped_cancelled == 1


LS_ERRORS = [
    pytest.param(task(2, annotation(21, created_at="03/01/2024")), "created_at",
                 "not an ISO-8601 timestamp: '03/01/2024'", id="bad-timestamp"),
    pytest.param(task(2, annotation(21, created_at="yesterday")), "created_at",
                 "not an ISO-8601 timestamp: 'yesterday'", id="bad-timestamp-word"),
    pytest.param(task(2, annotation(21, rating("quality", "five"))), "rating",
                 "not a number: 'five'", id="non-numeric-rating"),
    pytest.param(task(2, annotation(21), data={"text": "  "}), "text", "empty", id="empty-text"),
    pytest.param(task(2, annotation(21), data={"title": "A", "body": "B"}), "text",
                 "task data has no 'text' value and 2 string values (title, body); "
                 "name the key with --text-key (HTTP: text_key)",
                 id="ambiguous-text"),
    pytest.param(task(2, annotation(21), data={"n": 1}), "text",
                 "task data has no 'text' value and no string value; "
                 "name the key with --text-key (HTTP: text_key)",
                 id="no-text"),
    pytest.param(task(2, annotation(21), data=["x"]), "data", "expected an object, got list",
                 id="data-not-object"),
    pytest.param(task(2, annotation(21, completed_by=[1])), "annotator",
                 "expected a user id or object, got list", id="bad-completed-by"),
    pytest.param(task(2, annotation(21, result={"x": 1})), "result", "expected a list, got dict",
                 id="result-not-list"),
    pytest.param(task(2, 5), "annotation", "expected an object, got int",
                 id="annotation-not-object"),
    pytest.param({"id": 2, "annotations": {"id": 21}, "data": {"text": "x"}}, "annotations",
                 "expected a list, got dict", id="annotations-not-list"),
    pytest.param("task two", "record", "expected an object, got str", id="task-not-object"),
]  # fmt: skip


@pytest.mark.parametrize(("bad_task", "field", "reason"), LS_ERRORS)
def test_full_export_error_is_rejected_at_its_task_index(
    tmp_path: Path, bad_task: Any, field: str, reason: str
) -> None:
    path = export(tmp_path, [task(1, annotation(11)), bad_task, task(3, annotation(31))])
    records, summary = read_records(path)
    assert [record.id for record in records] == ["ls-11", "ls-31"]
    assert [(r.location, r.field, r.reason) for r in summary.rejected] == [(2, field, reason)]


def test_each_annotation_of_a_task_without_text_is_rejected(tmp_path: Path) -> None:
    bad = task(1, annotation(11), annotation(12), data={"text": None, "a": "x", "b": "y"})
    _, summary = read_records(export(tmp_path, [bad]))
    reason = (
        "task data has no 'text' value and 2 string values (a, b); "
        "name the key with --text-key (HTTP: text_key)"
    )
    assert [(r.location, r.field, r.reason, r.excerpt[:9]) for r in summary.rejected] == [
        (1, "text", reason, '{"id":11,'),
        (1, "text", reason, '{"id":12,'),
    ]


def test_invalid_utf8_rejects_only_its_task(tmp_path: Path) -> None:
    good = json.dumps(task(1, annotation(11))).encode()
    bad = json.dumps(task(2, annotation(21))).encode().replace(b"task 2", b"task \xff")
    path = tmp_path / "export.json"
    path.write_bytes(
        b"[" + good + b"," + bad + b"," + json.dumps(task(3, annotation(31))).encode() + b"]"
    )
    records, summary = read_records(path)
    assert [record.id for record in records] == ["ls-11", "ls-31"]
    assert [(r.location, r.field, r.reason) for r in summary.rejected] == [
        (2, "encoding", "invalid UTF-8: byte 0xff")
    ]


# --- flat exports (JSON_MIN, CSV) ---------------------------------------------------------


def test_json_min_cancelled_and_error_rows(tmp_path: Path) -> None:
    rows = [
        {"text": "fine", "id": 1, "sentiment": "Positive", "annotator": 7, "annotation_id": 11},
        {"text": "gone", "id": 2, "annotator": 7, "annotation_id": 21, "was_cancelled": True},
        {"text": "late", "id": 3, "annotator": 7, "annotation_id": 31, "created_at": "soon"},
        ["not", "a", "row"],
        {"text": "rated", "id": 5, "stars": [{"rating": "x"}], "annotator": 7, "annotation_id": 51},
    ]
    stream = iter_import(export(tmp_path, rows))
    items = list(stream)
    assert stream.format == "labelstudio-json-min"
    assert items[0] == Record(
        id="ls-11", text="fine", sentiment="positive", annotator="7", task_id="1"
    )
    assert [(r.location, r.field, r.reason) for r in items[1:]] == [
        (3, "created_at", "not an ISO-8601 timestamp: 'soon'"),
        (4, "record", "expected an object, got list"),
        (5, "rating", "not a number: 'x'"),
    ]
    assert (stream.accepted, stream.rejected, stream.skipped_cancelled) == (1, 3, 1)


def test_csv_export_with_json_encoded_answers_and_cancelled_rows(tmp_path: Path) -> None:
    path = tmp_path / "project.csv"
    path.write_text(
        "id,text,sentiment,topic,stars,annotator,annotation_id,created_at,lead_time,was_cancelled\n"
        '1,"Fast, friendly",Positive,"{""choices"": [""Service"", ""Speed""]}",'
        '"[{""rating"": 4}]",ann@example.com,11,1709284500,1.5,false\n'
        "2,Skipped one,,,,ann@example.com,21,,,True\n"
        "3,Bad rating,Negative,,[{'rating': 'lots'}],ann@example.com,31,,,\n",
        encoding="utf-8",
    )
    records, summary = read_records(path)
    assert records == [
        Record(
            id="ls-11",
            text="Fast, friendly",
            sentiment="positive",
            label="service",
            rating=4.0,
            annotator="ann@example.com",
            task_id="1",
            lead_time=1.5,
            created_at=datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
        )
    ]
    assert summary.skipped_cancelled == 1
    assert summary.rejected == [
        Reject(
            4,
            "rating",
            "not a number: 'lots'",
            "3,Bad rating,Negative,,[{'rating': 'lots'}],ann@example.com,31,,,",
        )
    ]


def test_csv_export_rows_needing_text_key(tmp_path: Path) -> None:
    path = tmp_path / "project.csv"
    path.write_text(
        "annotation_id,annotator,id,title,body,sentiment\n"
        "11,7,1,Hello,World,Positive\n"
        "21,7,2,,Body only,Negative\n",
        encoding="utf-8",
    )
    _, summary = read_records(path)
    reason = (
        "task data has no 'text' value and 2 string values (title, body); "
        "name the key with --text-key (HTTP: text_key)"
    )
    assert [(r.location, r.field, r.reason) for r in summary.rejected] == [(2, "text", reason)]
    records, summary = read_records(path, ImportOptions(text_key="body"))
    assert [(record.text, record.sentiment) for record in records] == [
        ("World", "positive"),
        ("Body only", "negative"),
    ]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("sentiment", "Positive", ("sentiment", "Positive")),
        ("SENTIMENT", {"choices": ["A", "B"]}, ("sentiment", ["A", "B"])),
        ("label", "Bug", ("label", "Bug")),
        ("topic", {"choices": ["Bug"]}, ("label", ["Bug"])),
        ("topic", "{'choices': ['Bug']}", ("label", ["Bug"])),
        ("topic", "Bug", None),
        ("stars", [{"rating": 3}], ("rating", 3)),
        ("stars", '[{"rating": 3}]', ("rating", 3)),
        ("rating", "3", ("rating", "3")),
        ("source", "[draft]", None),
        ("mapped", "Bug", ("label", "Bug")),
        ("muted", {"choices": ["Bug"]}, None),
    ],
)
def test_flat_column_classification(column: str, value: Any, expected: Any) -> None:
    controls = ControlMap({"Mapped": "label", "muted": "ignore"})
    assert controls.column_target(column, value) == expected


def test_csv_mapping_reads_a_labelstudio_csv_as_generic_csv() -> None:
    options = ImportOptions(csv_mapping={"id": "annotation_id", "task_id": "id"})
    records, summary = read_records(CSV, options)
    assert summary.format == "csv"
    assert [(record.id, record.task_id, record.sentiment) for record in records] == [
        ("1001", "101", "negative"),
        ("1002", "101", "negative"),
        ("1004", "102", "positive"),
        # Generic CSV knows nothing of unannotated tasks: the row of task 103 is a record.
        (derived_id("Nobody has labelled this review yet.", None, "103", None), "103", None),
    ]
    assert [(r.location, r.field, r.reason) for r in summary.rejected] == [(6, "text", "missing")]
