"""Streaming record importers: JSON arrays, JSONL, CSV/TSV and Label Studio exports.

Every format is read as bytes and decoded one line, row or array element at a
time, so a 1 GB file imports in bounded memory and one bad line becomes a
:class:`Reject` instead of failing the file. Validation is left to
:func:`~bizlogic.records.schema.record_from_mapping`; this module only finds the
raw mappings and where they came from.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import ijson
import orjson

from bizlogic.records.labelstudio import (
    ControlMap,
    Skip,
    data_columns,
    is_min_row,
    is_task,
    mapping_from_row,
    mappings_from_task,
)
from bizlogic.records.nesting import DEFAULT_MAX_DEPTH, NestingGuard, NestingTooDeep, check_nesting
from bizlogic.records.schema import FIELDS, Record, RecordError, record_from_mapping

FORMATS = (
    "json",
    "jsonl",
    "csv",
    "tsv",
    "labelstudio-json",
    "labelstudio-json-min",
    "labelstudio-csv",
    "labelstudio-tsv",
)
REQUESTABLE_FORMATS = ("auto", "labelstudio", *FORMATS)
JSON_ARRAY_FORMATS = ("json", "labelstudio-json", "labelstudio-json-min")
# Delimited formats and their delimiter. Label Studio's "TSV" export is tab-separated text,
# and files are often named .csv whatever they hold, so the header line decides.
DELIMITERS = {"csv": ",", "tsv": "\t", "labelstudio-csv": ",", "labelstudio-tsv": "\t"}
_TAB_TWIN = {"csv": "tsv", "labelstudio-csv": "labelstudio-tsv"}

SNIFF_BYTES = 256 * 1024  # head read for format detection
MAX_LINE_BYTES = 16 * 1024 * 1024  # longer physical lines are rejected, not buffered
EXCERPT_CHARS = 200
DEFAULT_MAX_CSV_COLUMNS = 1_000
DEFAULT_MAX_CSV_HEADER_BYTES = 64 * 1024

_BOM = codecs.BOM_UTF8
# Invalid bytes inside a JSON array become this Unicode noncharacter (reserved for
# internal use) so the element holding them can be rejected while parsing goes on.
_MARK = "\ufdd0"
_ESCAPED = re.compile("[\udc80-\udcff]")
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")

# (location, payload, context): payload is a raw value to validate, a RecordError or
# Skip.CANCELLED; context is what the reject excerpt is made from.
Outcome = tuple[int, Any, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was not imported: where it was, which field, and why."""

    location: int  # line (JSONL, CSV: first line of the row) or 1-based array element
    field: str
    reason: str
    excerpt: str = ""

    def __post_init__(self) -> None:
        if len(self.excerpt) > EXCERPT_CHARS:
            object.__setattr__(self, "excerpt", self.excerpt[:EXCERPT_CHARS])

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "field": self.field,
            "reason": self.reason,
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True)
class ImportOptions:
    """How to read a source; validated up front so a bad option fails before any I/O."""

    fmt: str = "auto"
    csv_mapping: dict[str, str] | None = None  # canonical field -> CSV column name
    class_controls: dict[str, str] | None = None  # LS control -> sentiment | label | ignore
    text_key: str = "text"  # key of the text in Label Studio task data
    project_id: str | None = None
    max_depth: int = DEFAULT_MAX_DEPTH  # deepest JSON nesting read (records/nesting.py)
    max_csv_columns: int = DEFAULT_MAX_CSV_COLUMNS
    max_csv_header_bytes: int = DEFAULT_MAX_CSV_HEADER_BYTES

    def __post_init__(self) -> None:
        for limit in ("max_depth", "max_csv_columns", "max_csv_header_bytes"):
            value = getattr(self, limit)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{limit}: expected a positive integer")
        if self.fmt not in REQUESTABLE_FORMATS:
            raise ValueError(
                f"unknown format {self.fmt!r}; expected one of {', '.join(REQUESTABLE_FORMATS)}"
            )
        for name, column in (self.csv_mapping or {}).items():
            if name not in FIELDS:
                raise ValueError(
                    f"csv_mapping: {name!r} is not a record field; fields: {', '.join(FIELDS)}"
                )
            if not isinstance(column, str) or not column.strip():
                raise ValueError(f"csv_mapping: column for {name!r} must be a non-empty string")
        ControlMap(self.class_controls)  # raises ValueError on a bad target
        if not self.text_key:
            raise ValueError("text_key must not be empty")


@dataclass
class ImportSummary:
    """What an import did; strict callers discard everything when ``rejected`` is non-empty."""

    format: str
    accepted: int = 0
    rejected: list[Reject] = field(default_factory=list)
    skipped_cancelled: int = 0


class ImportStream(Iterator["Record | Reject"]):
    """Records and rejects in file order, with running counts.

    The format is detected and, for CSV, the header checked when the stream is
    created, so configuration errors raise ValueError before the first item.
    ``skipped_cancelled`` counts cancelled Label Studio annotations seen so far.
    """

    def __init__(self, source: Path | str | BinaryIO, options: ImportOptions) -> None:
        self.options = options
        self.accepted = 0
        self.rejected = 0
        self.skipped_cancelled = 0
        origin = _Source(source)
        self.format = _resolve_format(origin, options)
        self.annotator_kinds: set[str] = set()  # Label Studio exports: "email" and/or "id"
        self._columns = _flat_export_columns(self.format, origin)
        self._controls = ControlMap(options.class_controls)
        self._stream, self._owned = origin.open()
        try:
            outcomes = _PIPELINES[self.format](self._stream, options, origin.name, self._controls)
        except BaseException:
            self._release()
            raise
        self._items = self._validate(outcomes)

    @property
    def notes(self) -> list[str]:
        """What the reader did that the user may not expect (complete once the stream ends)."""
        controls = self._controls
        if self.options.class_controls:  # the user already chose what the controls are
            return self._annotator_notes()
        kept = [
            column
            for column in data_columns(self._columns, controls, self.options.text_key)
            if column in controls.as_data
        ]
        kept.sort(key=lambda column: column not in controls.answered)  # mixed columns first
        notes = []
        if kept:
            listed = ", ".join(kept[:10]) + (", …" if len(kept) > 10 else "")
            notes.append(
                f"columns read as task data, not answers: {listed}. A single-choice answer is "
                "a plain string in this export, so a Choices control among them must be named: "
                f"--control {kept[0]}=label (HTTP: control={kept[0]}=label)"
            )
        return notes + self._annotator_notes()

    def _annotator_notes(self) -> list[str]:
        notes = []
        if "email" in self.annotator_kinds:
            notes.append(
                "annotators are named by e-mail in this export (a Label Studio snapshot with "
                "user details); Label Studio's default exports name them by user id, so "
                "loading both kinds into one project gives one person two names"
            )
        return notes

    def __next__(self) -> Record | Reject:
        return next(self._items)

    def __enter__(self) -> ImportStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._items.close()
        self._release()

    def _release(self) -> None:
        if self._owned:
            self._stream.close()

    def _validate(self, outcomes: Iterator[Outcome]) -> Iterator[Record | Reject]:
        project_id = self.options.project_id
        labelstudio = self.format.startswith("labelstudio")
        try:
            for location, payload, context in outcomes:
                if payload is Skip.CANCELLED:
                    self.skipped_cancelled += 1
                    continue
                if isinstance(payload, RecordError):
                    error = payload
                else:
                    try:
                        record = record_from_mapping(payload, project_id)
                    except RecordError as exc:
                        error = exc
                    else:
                        self.accepted += 1
                        if labelstudio and record.annotator is not None:
                            kind = "email" if "@" in record.annotator else "id"
                            self.annotator_kinds.add(kind)
                        yield record
                        continue
                self.rejected += 1
                yield Reject(location, error.field, error.reason, _excerpt(context))
        finally:
            self._release()


def iter_import(
    source: Path | str | BinaryIO, options: ImportOptions | None = None
) -> ImportStream:
    """Stream records and rejects from a file path or a binary file object."""
    return ImportStream(source, options or ImportOptions())


def read_records(
    source: Path | str | BinaryIO, options: ImportOptions | None = None
) -> tuple[list[Record], ImportSummary]:
    """Everything at once, for inputs small enough to hold in memory."""
    records: list[Record] = []
    rejects: list[Reject] = []
    with iter_import(source, options) as stream:
        for item in stream:
            if isinstance(item, Record):
                records.append(item)
            else:
                rejects.append(item)
    summary = ImportSummary(stream.format, stream.accepted, rejects, stream.skipped_cancelled)
    return records, summary


def write_rejects(rejects: Iterable[Reject], path: Path | str) -> int:
    """Write a JSONL rejects report, one object per reject; returns how many were written."""
    count = 0
    with Path(path).open("wb") as out:
        for reject in rejects:
            out.write(orjson.dumps(reject.to_dict()) + b"\n")
            count += 1
    return count


def is_blank(path: Path | str) -> bool:
    """Only whitespace (or nothing, or a byte-order mark) in the file."""
    with Path(path).open("rb") as handle:
        head = _strip_bom(handle.read(SNIFF_BYTES))
        while head:
            if head.strip():
                return False
            head = handle.read(SNIFF_BYTES)
    return True


def why_no_records(source: Path | str, fmt: str) -> str:
    """Why a file read as ``fmt`` gave neither a record nor a reject, for an error message."""
    with Path(source).open("rb") as handle:
        head = _strip_bom(handle.read(SNIFF_BYTES)).lstrip()
    if not head:
        return "the file is empty"
    if fmt in JSON_ARRAY_FORMATS and head[:1] == b"[" and head[1:].lstrip()[:1] == b"]":
        return "the JSON array is empty"
    if fmt == "labelstudio-json":
        if not is_task(_first_element_keys(head)):
            return (
                "the array's objects are not Label Studio tasks (no 'data' / 'annotations' "
                "keys); drop --format labelstudio (HTTP: format=json)"
            )
        return "no task has an annotation (an unlabelled task has an empty 'annotations' list)"
    if fmt in ("labelstudio-json-min", "labelstudio-csv", "labelstudio-tsv"):
        return "no row is an annotation (no annotation_id, annotator or answer)"
    if fmt in ("csv", "tsv"):
        return "the file has a header line but no rows"
    return "the file holds no records"


# --- format detection -----------------------------------------------------------------


def detect_format(source: Path | str | bytes, name: str | None = None) -> str:
    """The concrete format of a file, or of its first bytes (``name`` supplies an extension).

    Extensions decide between JSON, JSONL and CSV; content decides the rest and
    whether a JSON array or CSV file is a Label Studio export.
    """
    if isinstance(source, bytes):
        label = name or "<bytes>"
        return _detect(_suffix(name), _strip_bom(source[:SNIFF_BYTES]), label)
    path = Path(source)
    with path.open("rb") as handle:
        head = _strip_bom(handle.read(SNIFF_BYTES))
    return _detect(_suffix(str(path)), head, str(path))


def _suffix(name: str | None) -> str:
    return Path(name).suffix.lower() if name else ""


def _detect(suffix: str, head: bytes, name: str) -> str:
    first = head.lstrip()[:1]
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return _csv_variant(head)
    if first == b"[" or (suffix == ".json" and not first):
        return _json_variant(head)
    if first == b"{":
        return "jsonl"  # one object per line, whatever the extension says
    if suffix != ".json":
        cells = _header_cells(head)
        if cells is not None and (len(cells) >= 2 or "text" in cells):
            return _csv_variant(head)
    raise ValueError(
        f"cannot detect the format of {name}: expected a JSON array, one JSON object per "
        "line, or a CSV/TSV header line; name the format with --format (HTTP: format)"
    )


def _labelstudio_variant(suffix: str, head: bytes, name: str) -> str:
    first = head.lstrip()[:1]
    if first == b"[" or (suffix == ".json" and not first):
        keys = _first_element_keys(head)
        return (
            "labelstudio-json-min" if is_min_row(keys) and not is_task(keys) else "labelstudio-json"
        )
    if first == b"{":
        raise ValueError(f"{name}: Label Studio exports are JSON arrays or CSV/TSV files")
    return "labelstudio-tsv" if _delimiter(head) == "\t" else "labelstudio-csv"


def _json_variant(head: bytes) -> str:
    keys = _first_element_keys(head)
    if is_task(keys):
        return "labelstudio-json"
    if is_min_row(keys):
        return "labelstudio-json-min"
    return "json"


def _csv_variant(head: bytes) -> str:
    cells = _header_cells(head)
    fmt = "labelstudio-csv" if cells is not None and is_min_row(set(cells)) else "csv"
    return _TAB_TWIN[fmt] if _delimiter(head) == "\t" else fmt


def _delimiter(head: bytes) -> str:
    """Tab when the header line splits into more cells at tabs than at commas."""
    line = head.split(b"\n", 1)[0]
    if b"\t" not in line:
        return ","
    by_tab, by_comma = _split_header(line, "\t"), _split_header(line, ",")
    return "\t" if by_tab and len(by_tab) > len(by_comma or []) else ","


def _first_element_keys(head: bytes) -> set[str]:
    """Keys of the first array element that fit in ``head`` (parsed incrementally).

    Events without paths: ijson's prefixed events cost memory with the square
    of the nesting depth, and the head may be hostile.
    """
    keys: set[str] = set()
    depth = 0
    try:
        for event, value in ijson.basic_parse(io.BytesIO(head)):
            if event in ("start_map", "start_array"):
                depth += 1
                if depth == 2 and event != "start_map":
                    break  # the first element is not an object
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth <= 1:
                    break  # end of the first element
            elif depth == 2 and event == "map_key":
                keys.add(value)
            elif depth == 1:
                break  # a scalar element
    except ijson.JSONError:
        pass  # the head ends mid-document; the keys seen so far decide
    return keys


def _header_cells(head: bytes) -> list[str] | None:
    line = head.split(b"\n", 1)[0]
    return _split_header(line, _delimiter(head))


def _split_header(line: bytes, delimiter: str) -> list[str] | None:
    try:
        text = line.decode("utf-8")
        cells = next(csv.reader([text], delimiter=delimiter), [])
    except (UnicodeDecodeError, csv.Error):
        return None
    cleaned = [cell.strip() for cell in cells]
    return cleaned if any(cleaned) else None


def _resolve_format(origin: _Source, options: ImportOptions) -> str:
    fmt = options.fmt
    if fmt == "auto":
        fmt = _detect(origin.suffix, origin.head, origin.name)
        if fmt == "labelstudio-csv" and options.csv_mapping is not None:
            fmt = "csv"  # a mapping says the caller wants the generic CSV reader
        elif fmt == "labelstudio-tsv" and options.csv_mapping is not None:
            fmt = "tsv"
    elif fmt == "labelstudio":
        fmt = _labelstudio_variant(origin.suffix, origin.head, origin.name)
    elif fmt in _TAB_TWIN and _delimiter(origin.head) == "\t":
        fmt = _TAB_TWIN[fmt]  # "csv" names the family; a tab-separated header decides
    if options.csv_mapping is not None and fmt not in ("csv", "tsv"):
        raise ValueError(
            f"--csv-map (HTTP: csv_map) applies to CSV/TSV files, but {origin.name} is read "
            f"as {fmt}"
        )
    first = origin.head.lstrip()[:1]
    if fmt in JSON_ARRAY_FORMATS and first not in (b"[", b""):
        raise ValueError(
            f"{origin.name} is not a JSON array (it starts with {first.decode('latin-1')!r}); "
            "use --format jsonl (HTTP: format=jsonl) for one object per line"
        )
    return fmt


def _flat_export_columns(fmt: str, origin: _Source) -> list[str]:
    if fmt == "labelstudio-json-min":
        return sorted(_first_element_keys(origin.head))
    if fmt in ("labelstudio-csv", "labelstudio-tsv"):
        return _header_cells(origin.head) or []
    return []


# --- byte sources -----------------------------------------------------------------------


def _strip_bom(data: bytes) -> bytes:
    return data[len(_BOM) :] if data.startswith(_BOM) else data


class _Replay(io.RawIOBase):
    """A non-seekable stream whose first bytes were already read for sniffing."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Source:
    """A path or binary file object, with its head read once for format detection."""

    def __init__(self, source: Path | str | BinaryIO) -> None:
        self._replay: BinaryIO | None = None
        if isinstance(source, str | os.PathLike):
            self.path: Path | None = Path(source)
            self.name = str(self.path)
            with self.path.open("rb") as handle:
                self.head = _strip_bom(handle.read(SNIFF_BYTES))
        else:
            self.path = None
            raw_name = getattr(source, "name", None)
            self.name = raw_name if isinstance(raw_name, str) else "<stream>"
            head = _read_up_to(source, SNIFF_BYTES)
            self.head = _strip_bom(head)
            self._replay = io.BufferedReader(_Replay(self.head, source))
        self.suffix = _suffix(self.name)

    def open(self) -> tuple[BinaryIO, bool]:
        """The content after any BOM, and whether the caller must close it."""
        if self._replay is not None:
            return self._replay, False
        assert self.path is not None
        handle = self.path.open("rb")
        if handle.read(len(_BOM)) != _BOM:
            handle.seek(0)
        return handle, True


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines; ``None`` stands for a line over MAX_LINE_BYTES, which is skipped."""
    limit = MAX_LINE_BYTES
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                continue  # discard the rest of the over-long line without holding it
            yield number, None
        else:
            yield number, line


def _decode_line(raw: bytes) -> str | RecordError:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(
            "encoding", f"invalid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}"
        )


def _too_long() -> RecordError:
    return RecordError("line", f"longer than {MAX_LINE_BYTES} bytes")


# --- JSONL --------------------------------------------------------------------------------


def _jsonl_values(stream: BinaryIO, max_depth: int) -> Iterator[Outcome]:
    for number, raw in _physical_lines(stream):
        if raw is None:
            yield number, _too_long(), ""
            continue
        text = _decode_line(raw)
        if isinstance(text, RecordError):
            yield number, text, raw.decode("utf-8", "replace")
            continue
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            check_nesting(raw, max_depth)
        except NestingTooDeep as exc:
            yield number, RecordError("json", f"invalid JSON: {exc}"), text[:EXCERPT_CHARS]
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield (
                number,
                RecordError("json", f"invalid JSON: {exc.msg} at column {exc.colno}"),
                text,
            )
            continue
        yield number, value, text


# --- JSON arrays ------------------------------------------------------------------------


class _MarkInvalidUtf8(io.RawIOBase):
    """Re-encodes a byte stream with every invalid UTF-8 byte replaced by ``_MARK``.

    ijson aborts the whole document on one bad byte; marking lets the importer
    reject only the element whose strings hold the marks.
    """

    def __init__(self, raw: BinaryIO, chunk_size: int = 64 * 1024) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._pending = memoryview(b"")
        self._eof = False
        self.unclaimed: deque[int] = deque()  # bad byte values not yet tied to an element

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._eof:
            chunk = self._raw.read(self._chunk_size)
            self._eof = not chunk
            text = self._decoder.decode(chunk, final=self._eof)
            if _ESCAPED.search(text):
                self.unclaimed.extend(ord(m.group()) - 0xDC00 for m in _ESCAPED.finditer(text))
                text = _ESCAPED.sub(_MARK, text)
            self._pending = memoryview(text.encode("utf-8"))
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def claim(self, count: int) -> list[int]:
        return [self.unclaimed.popleft() for _ in range(min(count, len(self.unclaimed)))]


def _count_marks(value: Any) -> int:
    if isinstance(value, str):
        return value.count(_MARK)
    if isinstance(value, dict):
        return sum(_count_marks(key) + _count_marks(item) for key, item in value.items())
    if isinstance(value, list):
        return sum(_count_marks(item) for item in value)
    return 0


def _json_array_values(stream: BinaryIO, max_depth: int) -> Iterator[Outcome]:
    """Array elements one at a time; locations are 1-based element indexes.

    A document nested deeper than ``max_depth`` raises NestingTooDeep (a
    ValueError: the whole document is refused) before ijson reads that deep.
    """
    marked = _MarkInvalidUtf8(NestingGuard(stream, max_depth))
    index = 0
    try:
        for index, value in enumerate(ijson.items(marked, "item", use_float=True), start=1):
            if marked.unclaimed and (marks := _count_marks(value)):
                bad = marked.claim(marks)
                more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
                yield (
                    index,
                    RecordError("encoding", f"invalid UTF-8: byte 0x{bad[0]:02x}{more}"),
                    value,
                )
                continue
            yield index, value, value
    except ijson.JSONError as exc:
        message = exc.args[0] if exc.args else exc
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        first_line = str(message).strip().splitlines()[0] if str(message).strip() else "unknown"
        reason = f"invalid JSON: {first_line}; the rest of the array cannot be read"
        yield index + 1, RecordError("json", reason), ""


# --- CSV ----------------------------------------------------------------------------------


def _csv_rows(
    stream: BinaryIO, delimiter: str
) -> Iterator[tuple[int, list[str] | RecordError, str]]:
    """Parsed rows with the physical line each starts on; blank lines are skipped.

    Lines are decoded one by one before the csv module sees them; a line that fails
    (bad UTF-8, too long) is replaced and remembered, and the row holding it rejected.
    """
    problems: dict[int, RecordError] = {}
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for number, raw in _physical_lines(stream):
            if raw is None:
                problems[number] = _too_long()
                text = "\n"
            else:
                decoded = _decode_line(raw)
                if isinstance(decoded, RecordError):
                    problems[number] = decoded
                    decoded = raw.decode("utf-8", "replace")
                text = decoded
            consumed.append(text)
            yield text

    reader = csv.reader(lines(), strict=True, delimiter=delimiter)
    last = 0
    while True:
        consumed.clear()
        try:
            cells: list[str] | RecordError = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            cells = RecordError("csv", str(exc))
        start, last = last + 1, reader.line_num
        context = "".join(consumed)
        if problems:
            cells = _row_problem(problems, start, last) or cells
        if isinstance(cells, list) and all(not cell.strip() for cell in cells) and len(cells) <= 1:
            continue
        yield start, cells, context


def _row_problem(problems: dict[int, RecordError], start: int, end: int) -> RecordError | None:
    found = None
    for number in range(start, end + 1):
        error = problems.pop(number, None)
        if error is not None and found is None:
            reason = error.reason if number == start else f"line {number}: {error.reason}"
            found = RecordError(error.field, reason)
    return found


def _csv_header(
    rows: Iterator[tuple[int, list[str] | RecordError, str]], name: str, options: ImportOptions
) -> list[str]:
    for number, cells, context in rows:
        if isinstance(cells, RecordError):
            raise ValueError(f"{name}: CSV header on line {number}: {cells}")
        if len(context.encode("utf-8")) > options.max_csv_header_bytes:
            raise ValueError(f"{name}: CSV header longer than {options.max_csv_header_bytes} bytes")
        if len(cells) > options.max_csv_columns:
            raise ValueError(
                f"{name}: CSV header has {len(cells)} columns; at most {options.max_csv_columns}"
            )
        header = [cell.strip() for cell in cells]
        seen: set[str] = set()
        for position, column in enumerate(header):
            if not column:
                raise ValueError(f"{name}: CSV header column {position + 1} has no name")
            if column in seen:
                raise ValueError(f"{name}: CSV header repeats column {column[:100]!r}")
            seen.add(column)
        return header
    raise ValueError(f"{name}: no CSV header row; the first line must name the columns")


def _column_plan(header: list[str], mapping: dict[str, str], name: str) -> dict[str, int]:
    """Column index per canonical field: mapped columns, else a column named after the field."""
    index = {column: position for position, column in enumerate(header)}
    plan: dict[str, int] = {}
    for record_field in FIELDS:
        column = mapping.get(record_field)
        if column is not None:
            if column not in index:
                raise ValueError(
                    f"{name}: --csv-map (HTTP: csv_map) maps {record_field!r} to column "
                    f"{column!r}, which is not in the header ({', '.join(header)})"
                )
            plan[record_field] = index[column]
        elif record_field in index:
            plan[record_field] = index[record_field]
    if "text" not in plan:
        raise ValueError(
            f"{name}: the CSV header has no 'text' column ({', '.join(header)}); "
            "map one with --csv-map text=COLUMN (HTTP: csv_map)"
        )
    return plan


def _csv_table(
    stream: BinaryIO, name: str, options: ImportOptions, delimiter: str
) -> tuple[list[str], Iterator[tuple[int, list[str] | RecordError, str]]]:
    rows = _csv_rows(stream, delimiter)
    return _csv_header(rows, name, options), rows


def _checked_cells(
    header: list[str], rows: Iterator[tuple[int, list[str] | RecordError, str]]
) -> Iterator[tuple[int, list[str | None] | RecordError, str]]:
    """Rows with the header's width; empty cells become None (missing)."""
    for number, cells, context in rows:
        if isinstance(cells, list) and len(cells) != len(header):
            cells = RecordError("csv", f"expected {len(header)} cells, found {len(cells)}")
        if isinstance(cells, RecordError):
            yield number, cells, context
        else:
            yield number, [cell if cell != "" else None for cell in cells], context


def _epoch_cells(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV ``created_at`` of plain digits is an epoch (seconds, or ms when large), not ISO."""
    value = row.get("created_at")
    if isinstance(value, str) and _EPOCH.fullmatch(value.strip()):
        row["created_at"] = float(value)
    return row


# --- pipelines: bytes -> outcomes ---------------------------------------------------------


def _plain_json(
    stream: BinaryIO, options: ImportOptions, name: str, controls: ControlMap
) -> Iterator[Outcome]:
    return _json_array_values(stream, options.max_depth)


def _plain_jsonl(
    stream: BinaryIO, options: ImportOptions, name: str, controls: ControlMap
) -> Iterator[Outcome]:
    return _jsonl_values(stream, options.max_depth)


def _plain_csv(
    stream: BinaryIO,
    options: ImportOptions,
    name: str,
    controls: ControlMap,
    delimiter: str = ",",
) -> Iterator[Outcome]:
    header, rows = _csv_table(stream, name, options, delimiter)
    plan = _column_plan(header, options.csv_mapping or {}, name)

    def outcomes() -> Iterator[Outcome]:
        for number, cells, context in _checked_cells(header, rows):
            if isinstance(cells, RecordError):
                yield number, cells, context
            else:
                mapping = {key: cells[col] for key, col in plan.items()}
                yield number, _epoch_cells(mapping), context

    return outcomes()


def _ls_json(
    stream: BinaryIO, options: ImportOptions, name: str, controls: ControlMap
) -> Iterator[Outcome]:
    for index, task, context in _json_array_values(stream, options.max_depth):
        if isinstance(task, RecordError):
            yield index, task, context
            continue
        for outcome, annotation in mappings_from_task(task, controls, options.text_key):
            yield index, outcome, annotation


def _ls_row(
    location: int, row: Any, context: Any, controls: ControlMap, text_key: str
) -> Iterator[Outcome]:
    if isinstance(row, RecordError):
        yield location, row, context
        return
    if not isinstance(row, dict):
        yield location, RecordError("record", f"expected an object, got {type(row).__name__}"), row
        return
    try:
        outcome = mapping_from_row(row, controls, text_key)
    except RecordError as exc:
        yield location, exc, context
        return
    if outcome is not Skip.UNANNOTATED:
        yield location, outcome, context


def _ls_json_min(
    stream: BinaryIO, options: ImportOptions, name: str, controls: ControlMap
) -> Iterator[Outcome]:
    for index, row, context in _json_array_values(stream, options.max_depth):
        yield from _ls_row(index, row, context, controls, options.text_key)


def _ls_csv(
    stream: BinaryIO,
    options: ImportOptions,
    name: str,
    controls: ControlMap,
    delimiter: str = ",",
) -> Iterator[Outcome]:
    header, rows = _csv_table(stream, name, options, delimiter)

    def outcomes() -> Iterator[Outcome]:
        for number, cells, context in _checked_cells(header, rows):
            if isinstance(cells, RecordError):
                row: Any = cells
            else:
                row = _epoch_cells(dict(zip(header, cells, strict=True)))
            yield from _ls_row(number, row, context, controls, options.text_key)

    return outcomes()


_PIPELINES: dict[str, Callable[[BinaryIO, ImportOptions, str, ControlMap], Iterator[Outcome]]] = {
    "json": _plain_json,
    "jsonl": _plain_jsonl,
    "csv": _plain_csv,
    "tsv": functools.partial(_plain_csv, delimiter="\t"),
    "labelstudio-json": _ls_json,
    "labelstudio-json-min": _ls_json_min,
    "labelstudio-csv": _ls_csv,
    "labelstudio-tsv": functools.partial(_ls_csv, delimiter="\t"),
}


def _excerpt(context: Any) -> str:
    if isinstance(context, str):
        text = context
    else:
        text = json.dumps(context, ensure_ascii=False, default=str, separators=(",", ":"))
    return text.rstrip("\r\n").replace(_MARK, "\ufffd")[:EXCERPT_CHARS]
