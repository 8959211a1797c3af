"""JSON array, JSONL and CSV importers, format detection and the rejects report."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bizlogic.records import importers
from bizlogic.records.importers import (
    SNIFF_BYTES,
    ImportOptions,
    ImportSummary,
    Reject,
    detect_format,
    iter_import,
    read_records,
    write_rejects,
)
from bizlogic.records.schema import Record, derived_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- JSONL --------------------------------------------------------------------------------


def test_jsonl_records_are_read_exactly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "records.jsonl",
        b'{"id": "a1", "text": "Battery died fast", "sentiment": "Negative", "rating": 2,'
        b' "label": "Battery", "annotator": "ann1", "task_id": 7, "lead_time": 3.5,'
        b' "status": "completed", "created_at": "2024-01-02T03:04:05Z", "keywords": ["battery"]}\n'
        b"\n"
        b'{"text": "\xe5\xbe\x88\xe5\xa5\xbd", "created_at": 1704164645}\r\n',
    )
    records, summary = read_records(path, ImportOptions(project_id="p1"))
    stamp = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert records == [
        Record(
            id="a1",
            text="Battery died fast",
            project_id="p1",
            sentiment="negative",
            rating=2.0,
            label="battery",
            annotator="ann1",
            task_id="7",
            lead_time=3.5,
            status="completed",
            created_at=stamp,
            keywords=["battery"],
        ),
        Record(
            id=derived_id("很好", None, None, "2024-01-02T03:04:05Z"),
            text="很好",
            project_id="p1",
            created_at=stamp,
        ),
    ]
    assert summary == ImportSummary("jsonl", 2, [], 0)


JSONL_ERRORS = [
    pytest.param(b'{"text": "a",}', "json",
                 "invalid JSON: trailing comma is not allowed at column 13", '{"text": "a",}',
                 id="invalid-json"),
    pytest.param(b'{"text": "a"', "json", "invalid JSON: unexpected end of data at column 13",
                 '{"text": "a"', id="truncated-json"),
    pytest.param(b'{"id": "x"}', "text", "missing", '{"id": "x"}', id="missing-text"),
    pytest.param(b'{"text": "  "}', "text", "empty", '{"text": "  "}', id="empty-text"),
    pytest.param(b'{"text": "a", "created_at": "yesterday"}', "created_at",
                 "not an ISO-8601 timestamp: 'yesterday'",
                 '{"text": "a", "created_at": "yesterday"}', id="bad-timestamp"),
    pytest.param(b'{"text": "a", "rating": "five"}', "rating", "not a number: 'five'",
                 '{"text": "a", "rating": "five"}', id="non-numeric-rating"),
    pytest.param(b'{"text": "caf\xe9"}', "encoding", "invalid UTF-8: byte 0xe9 at byte 14",
                 '{"text": "caf\ufffd"}', id="invalid-utf8"),
    pytest.param(b"[1, 2]", "record", "expected an object, got list", "[1, 2]", id="array"),
    pytest.param(b'"just text"', "record", "expected an object, got str", '"just text"',
                 id="string"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "field", "reason", "excerpt"), JSONL_ERRORS)
def test_jsonl_error_is_rejected_with_its_line(
    tmp_path: Path, line: bytes, field: str, reason: str, excerpt: str
) -> None:
    # Line 2 is blank: locations are physical line numbers, blank lines are skipped.
    data = b'{"id": "first", "text": "ok"}\n\n' + line + b'\n{"id": "last", "text": "ok"}\n'
    records, summary = read_records(write(tmp_path, "in.jsonl", data))
    assert [record.id for record in records] == ["first", "last"]
    assert summary.rejected == [Reject(3, field, reason, excerpt)]
    assert summary.accepted == 2


def test_jsonl_overlong_line_is_rejected_without_buffering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importers, "MAX_LINE_BYTES", 40)
    data = (
        b'{"id": "a", "text": "short"}\n'
        + b'{"id": "b", "text": "'
        + b"x" * 100
        + b'"}\n'
        + b'{"id": "c", "text": "short again"}\n'
    )
    records, summary = read_records(write(tmp_path, "in.jsonl", data))
    assert [record.id for record in records] == ["a", "c"]
    assert summary.rejected == [Reject(2, "line", "longer than 40 bytes", "")]


def test_long_excerpt_is_cut_to_200_characters(tmp_path: Path) -> None:
    line = '{"text": "' + "y" * 500 + '", "rating": "bad"}'
    _, summary = read_records(write(tmp_path, "in.jsonl", line.encode()))
    assert summary.rejected == [Reject(1, "rating", "not a number: 'bad'", line[:200])]
    assert len(Reject(1, "f", "r", "z" * 201).excerpt) == 200


# --- JSON arrays --------------------------------------------------------------------------


JSON_ERRORS = [
    pytest.param(b'{"id": "x"}', "text", "missing", '{"id":"x"}', id="missing-text"),
    pytest.param(b'{"text": ""}', "text", "empty", '{"text":""}', id="empty-text"),
    pytest.param(b'{"text": "a", "created_at": "2024-02-30"}', "created_at",
                 "not an ISO-8601 timestamp: '2024-02-30'",
                 '{"text":"a","created_at":"2024-02-30"}', id="bad-timestamp"),
    pytest.param(b'{"text": "a", "rating": [4]}', "rating", "not a number: [4]",
                 '{"text":"a","rating":[4]}', id="non-numeric-rating"),
    pytest.param(b'{"text": "bad \xff\xfe bytes"}', "encoding",
                 "invalid UTF-8: byte 0xff and 1 more", '{"text":"bad \ufffd\ufffd bytes"}',
                 id="invalid-utf8"),
    pytest.param(b"42", "record", "expected an object, got int", "42", id="number"),
    pytest.param(b"null", "record", "expected an object, got NoneType", "null", id="null"),
]  # fmt: skip


@pytest.mark.parametrize(("element", "field", "reason", "excerpt"), JSON_ERRORS)
def test_json_array_error_is_rejected_with_its_element_index(
    tmp_path: Path, element: bytes, field: str, reason: str, excerpt: str
) -> None:
    first, last = b'{"id": "first", "text": "ok"}', b'{"id": "last", "text": "ok"}'
    data = b"[\n  " + first + b",\n  " + element + b",\n  " + last + b"\n]"
    records, summary = read_records(write(tmp_path, "in.json", data))
    assert [record.id for record in records] == ["first", "last"]
    assert summary.rejected == [Reject(2, field, reason, excerpt)]
    assert summary.format == "json"


@pytest.mark.parametrize(
    ("data", "accepted", "location", "reason"),
    [
        (
            b'[{"text": "a"}, {"text": }, {"text": "b"}]',
            ["a"],
            2,
            "invalid JSON: parse error: unallowed token at this point in JSON text; "
            "the rest of the array cannot be read",
        ),
        (
            b'[{"text": "a"}, {"text": "b"}',
            ["a", "b"],
            3,
            "invalid JSON: parse error: premature EOF; the rest of the array cannot be read",
        ),
        (
            b'[{"text": "a"}] {"text": "b"}',
            ["a"],
            2,
            "invalid JSON: parse error: trailing garbage; the rest of the array cannot be read",
        ),
    ],
    ids=["syntax-error", "truncated", "trailing-data"],
)
def test_json_syntax_error_ends_the_array(
    tmp_path: Path, data: bytes, accepted: list[str], location: int, reason: str
) -> None:
    records, summary = read_records(write(tmp_path, "in.json", data))
    assert [record.text for record in records] == accepted
    assert summary.rejected == [Reject(location, "json", reason, "")]


def test_json_file_that_is_not_an_array_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "in.json", b'{"text": "a"}')
    with pytest.raises(ValueError) as caught:
        iter_import(path, ImportOptions(fmt="json"))
    assert str(caught.value) == (
        f"{path} is not a JSON array (it starts with '{{'); "
        "use --format jsonl (HTTP: format=jsonl) for one object per line"
    )


class CountingReader(io.RawIOBase):
    """A binary file object that remembers how many bytes were handed out."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


def test_json_array_is_parsed_incrementally_from_a_file_object() -> None:
    elements = (
        json.dumps({"id": f"r{i:05d}", "text": f"review number {i} about delivery"})
        for i in range(40_000)
    )
    data = ("[" + ",\n".join(elements) + "]").encode()
    assert len(data) > 8 * SNIFF_BYTES
    reader = CountingReader(data)
    stream = iter_import(reader, ImportOptions())
    first = next(stream)
    assert first == Record(id="r00000", text="review number 0 about delivery")
    # Only the sniffed head and a few parser buffers have been read, not the file.
    assert reader.bytes_read < 2 * SNIFF_BYTES
    rest = list(stream)
    assert len(rest) == 39_999
    assert rest[-1] == Record(id="r39999", text="review number 39999 about delivery")
    assert (stream.format, stream.accepted, stream.rejected) == ("json", 40_000, 0)


# --- CSV ----------------------------------------------------------------------------------


TICKETS_MAPPING = {
    "id": "Ticket",
    "text": "Body",
    "sentiment": "Mood",
    "rating": "Stars",
    "annotator": "Agent",
    "created_at": "Opened",
    "keywords": "Tags",
    "lead_time": "Handle time",
}


def test_csv_column_mapping_produces_exact_records() -> None:
    opened = datetime(2024, 5, 1, 10, tzinfo=UTC)
    records, summary = read_records(
        FIXTURES / "importers" / "tickets.csv", ImportOptions(csv_mapping=TICKETS_MAPPING)
    )
    assert records == [
        Record(
            id="T-1",
            text="Refund took two weeks",
            sentiment="negative",
            rating=2.0,
            annotator="alice",
            created_at=opened,
            keywords=["refund", "delay"],
            lead_time=35.5,
        ),
        Record(
            id="T-2",
            text="App crashes on login\nafter the update",
            sentiment="negative",
            rating=1.0,
            annotator="bob",
            created_at=opened,  # a numeric cell is an epoch
            keywords=["crash", "login"],
        ),
        Record(id="T-3", text="Great support", sentiment="positive", rating=5.0, lead_time=12.0),
    ]
    assert summary == ImportSummary("csv", 3, [], 0)


def test_csv_without_mapping_reads_columns_named_after_fields(tmp_path: Path) -> None:
    data = "\ufeffid,text,label,extra\r\n1,Screen cracked,Hardware,ignored\r\n".encode()
    records, _ = read_records(write(tmp_path, "in.csv", data))
    assert records == [Record(id="1", text="Screen cracked", label="hardware")]


CSV_ERRORS = [
    pytest.param(b"2,,,", 3, "text", "missing", "2,,,", id="missing-text"),
    pytest.param(b'2,"   ",,', 3, "text", "empty", '2,"   ",,', id="empty-text"),
    pytest.param(b"2,hi,yesterday,", 3, "created_at", "not an ISO-8601 timestamp: 'yesterday'",
                 "2,hi,yesterday,", id="bad-timestamp"),
    pytest.param(b"2,hi,,five", 3, "rating", "not a number: 'five'", "2,hi,,five",
                 id="non-numeric-rating"),
    pytest.param(b"2,caf\xe9,,", 3, "encoding", "invalid UTF-8: byte 0xe9 at byte 6",
                 "2,caf\ufffd,,", id="invalid-utf8"),
    pytest.param(b"2,hi", 3, "csv", "expected 4 cells, found 2", "2,hi", id="too-few-cells"),
    pytest.param(b"2,hi,,,", 3, "csv", "expected 4 cells, found 5", "2,hi,,,",
                 id="too-many-cells"),
    pytest.param(b'2,"hi"x,,', 3, "csv", "',' expected after '\"'", '2,"hi"x,,',
                 id="bad-quoting"),
    pytest.param(b'2,"first line\nsecond \xff line",,', 3, "encoding",
                 "line 4: invalid UTF-8: byte 0xff at byte 8",
                 '2,"first line\nsecond \ufffd line",,', id="invalid-utf8-in-multiline-row"),
    pytest.param(b'2,"multi\nline",2024-13-01,', 3, "created_at",
                 "not an ISO-8601 timestamp: '2024-13-01'", '2,"multi\nline",2024-13-01,',
                 id="multiline-row-reports-its-first-line"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "location", "field", "reason", "excerpt"), CSV_ERRORS)
def test_csv_error_is_rejected_with_its_line(
    tmp_path: Path, row: bytes, location: int, field: str, reason: str, excerpt: str
) -> None:
    data = b"id,text,created_at,rating\n1,first,,\n" + row + b"\n\n9,last,,4\n"
    records, summary = read_records(write(tmp_path, "in.csv", data))
    assert [record.id for record in records] == ["1", "9"]
    assert summary.rejected == [Reject(location, field, reason, excerpt)]


def test_csv_rows_after_a_multiline_field_keep_physical_line_numbers(tmp_path: Path) -> None:
    data = (
        b'id,text,rating\n1,"three\nline\ntext",1\n'  # lines 2-4
        b"2,ok,bad\n"  # line 5
        b'3,"two\nlines",worse\n'  # lines 6-7
        b'4,"never closed,1\n'  # line 8 to the end of the file
    )
    records, summary = read_records(write(tmp_path, "in.csv", data))
    assert records == [Record(id="1", text="three\nline\ntext", rating=1.0)]
    assert summary.rejected == [
        Reject(5, "rating", "not a number: 'bad'", "2,ok,bad"),
        Reject(6, "rating", "not a number: 'worse'", '3,"two\nlines",worse'),
        Reject(8, "csv", "unexpected end of data", '4,"never closed,1'),
    ]


def test_unknown_mapped_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", b"id,comment\n1,hello\n")
    with pytest.raises(ValueError) as caught:
        iter_import(path, ImportOptions(csv_mapping={"text": "Body"}))
    assert str(caught.value) == (
        f"{path}: --csv-map (HTTP: csv_map) maps 'text' to column 'Body', "
        "which is not in the header (id, comment)"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"id,comment\n1,hello\n", "the CSV header has no 'text' column (id, comment); "
         "map one with --csv-map text=COLUMN (HTTP: csv_map)"),
        (b"", "no CSV header row; the first line must name the columns"),
        (b"text,text\n", "CSV header repeats column 'text'"),
        (b"text,,rating\n", "CSV header column 2 has no name"),
        (b"te\xffxt\n", "CSV header on line 1: encoding: invalid UTF-8: byte 0xff at byte 3"),
    ],
    ids=["no-text-column", "empty", "duplicate", "unnamed", "bad-encoding"],
)  # fmt: skip
def test_bad_csv_header_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path, "in.csv", data)
    with pytest.raises(ValueError) as caught:
        iter_import(path, ImportOptions(fmt="csv"))
    assert str(caught.value) == f"{path}: {message}"


def test_csv_mapping_is_refused_for_other_formats(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", b'{"text": "a"}\n')
    with pytest.raises(ValueError) as caught:
        iter_import(path, ImportOptions(csv_mapping={"text": "Body"}))
    assert str(caught.value) == (
        f"--csv-map (HTTP: csv_map) applies to CSV/TSV files, but {path} is read as jsonl"
    )


# --- options, detection, streams ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "xml"}, "unknown format 'xml'; expected one of auto, labelstudio, json, jsonl, "
         "csv, tsv, labelstudio-json, labelstudio-json-min, labelstudio-csv, labelstudio-tsv"),
        ({"csv_mapping": {"body": "Body"}}, "csv_mapping: 'body' is not a record field; fields: "
         "id, project_id, text, sentiment, rating, label, annotator, task_id, lead_time, status, "
         "created_at, keywords"),
        ({"csv_mapping": {"text": " "}},
         "csv_mapping: column for 'text' must be a non-empty string"),
        ({"class_controls": {"topic": "category"}},
         "class_controls['topic'] must be one of sentiment, label, ignore, got 'category'"),
        ({"text_key": ""}, "text_key must not be empty"),
    ],
    ids=["format", "mapping-field", "mapping-column", "control-target", "text-key"],
)  # fmt: skip
def test_bad_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        ImportOptions(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.jsonl", b'{"text": "x"}\n', "jsonl"),
        ("a.ndjson", b'{"text": "x"}\n', "jsonl"),
        ("a.json", b'[{"text": "x"}]', "json"),
        ("a.json", b'{"text": "x"}\n{"text": "y"}\n', "jsonl"),
        ("a.json", b'[{"id": 1, "annotations": [{"id": 2, "result": [', "labelstudio-json"),
        ("a.json", b'[{"data": {"text": "x"}}]', "labelstudio-json"),
        ("a.json", b'[{"text": "x", "id": 1, "sentiment": "Positive", "annotator": 3,'
         b' "annotation_id": 9}]', "labelstudio-json-min"),
        ("a.json", b'[{"text": "x", "annotator": "ann1", "sentiment": "positive"}]', "json"),
        ("a.csv", b"text,sentiment\nhi,positive\n", "csv"),
        ("a.csv", b"text,annotator,sentiment\n", "csv"),
        ("a.csv", b'"annotation_id","annotator","text"\n', "labelstudio-csv"),
        ("a.csv", b'\xef\xbb\xbf"annotation_id","annotator","text"\n', "labelstudio-csv"),
        (None, b'  \n[{"text": "x"}]', "json"),
        (None, b'{"text": "x"}\n', "jsonl"),
        (None, b"text,rating\nhi,3\n", "csv"),
        ("notes.txt", b"text\nhello\n", "csv"),
    ],
)  # fmt: skip
def test_detect_format(name: str | None, head: bytes, expected: str) -> None:
    assert detect_format(head, name) == expected


@pytest.mark.parametrize(("name", "head"), [("notes.txt", b"hello world\n"), ("a.json", b"hello")])
def test_undetectable_format_is_a_clear_error(name: str, head: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        detect_format(head, name)
    assert str(caught.value) == (
        f"cannot detect the format of {name}: expected a JSON array, one JSON object per line, "
        "or a CSV/TSV header line; name the format with --format (HTTP: format)"
    )


def test_detect_format_reads_the_head_of_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, "export", b'[{"id": 3, "annotations": [], "data": {"text": "x"}}]')
    assert detect_format(path) == "labelstudio-json"
    assert detect_format(str(path)) == "labelstudio-json"


def test_open_file_object_is_detected_by_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", b"text\nhello\n")
    with path.open("rb") as handle:
        records, summary = read_records(handle)
    assert records == [Record(id=derived_id("hello", None, None, None), text="hello")]
    assert summary.format == "csv"


def test_stream_counts_and_context_manager(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", b'{"text": "a"}\n{"id": 1}\n{"text": "b"}\n')
    with iter_import(path) as stream:
        assert stream.format == "jsonl"
        items = list(stream)
    assert [type(item) for item in items] == [Record, Reject, Record]
    assert (stream.accepted, stream.rejected, stream.skipped_cancelled) == (2, 1, 0)


def test_record_project_id_wins_over_the_option(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", b'{"text": "a", "project_id": "own"}\n{"text": "b"}\n')
    records, _ = read_records(path, ImportOptions(project_id="opt"))
    assert [record.project_id for record in records] == ["own", "opt"]


# --- rejects report -----------------------------------------------------------------------


def test_write_rejects_writes_one_json_object_per_line(tmp_path: Path) -> None:
    rejects = [
        Reject(3, "text", "missing", '{"id": "x"}'),
        Reject(7, "encoding", "invalid UTF-8: byte 0xe9 at byte 4", "caf\ufffd 好"),
    ]
    target = tmp_path / "rejects.jsonl"
    assert write_rejects(rejects, target) == 2
    lines = target.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == [
        {"location": 3, "field": "text", "reason": "missing", "excerpt": '{"id": "x"}'},
        {
            "location": 7,
            "field": "encoding",
            "reason": "invalid UTF-8: byte 0xe9 at byte 4",
            "excerpt": "caf\ufffd 好",
        },
    ]
    assert lines[1].endswith('"excerpt":"caf\ufffd 好"}'.encode())  # UTF-8, not \u escapes
    assert write_rejects(iter(()), tmp_path / "none.jsonl") == 0
    assert (tmp_path / "none.jsonl").read_bytes() == b""


def test_closing_a_stream_part_way_stops_it(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", b'{"text": "a"}\n{"text": "b"}\n')
    stream = iter_import(path)
    assert next(stream) == Record(id=derived_id("a", None, None, None), text="a")
    stream.close()
    assert list(stream) == []
