"""The log analyzer behind `bizlogic logs analyze`: figures from the JSON logs of DESIGN §8.

Streaming: files (plain or ``.gz``, a live file and its rotations) are read in
large binary blocks of whole lines; memory holds the counters and one duration
per completed analysis, never the file. Every non-blank line counts: one that
is not a JSON object with a readable ``timestamp`` is counted as malformed
(with its file and line number for the first few), never dropped silently.
Timestamps are time-zone aware; a timestamp without an offset is UTC, as the
service writes them.

Reports:

* performance — analyses started / completed / failed (``analysis_start``,
  ``analysis_complete``, ``analysis_error``), success rate = completed /
  (completed + failed), duration avg/min/max/p50/p95 of completed analyses,
  all of it also per algorithm;
* errors — ``analysis_error`` by error type (the text before the first ``:``),
  by algorithm and by project, a timeline per time bucket, all ERROR/CRITICAL
  lines by logger, and the newest ``top`` of those lines and events in full
  (time, level, logger, event, algorithm, project, error type and text);
* users — ``user_action``: active users, actions by kind and by user, timeline,
  the ``top`` most active users each with their ``top`` (action, resource)
  pairs, and the newest ``top`` actions.

The newest lists are min-heaps of ``top`` items keyed by (instant, file, line):
a run of decoded lines offers only its own ``top`` newest, and an item's entry
is made at report time, so they cost next to nothing per line. Texts and error
types are redacted in the report (`bizlogic.telemetry.redact`).

Percentiles are nearest-rank: the reported p95 is a duration that occurred.

What a line counts for is defined by `LogAnalyzer.feed`: orjson, then
`parse_time`. Most lines of a service log (access lines) only add to ``lines``
and ``lines_in_window``, so a block is read in four steps that give exactly
the figures of ``feed`` on every line, for any input:

1. One Hyperscan pass marks the lines that may carry figures — those holding
   one of the string tokens ``"analysis_start"`` ``"analysis_complete"``
   ``"analysis_error"`` ``"user_action"`` ``"ERROR"`` ``"CRITICAL"`` — and two
   kinds of doubt. On the timestamp: a ``\\u`` escape, or a ``"timestamp"``
   after a comma or a blank (a second key: JSON keeps the last). On the shape:
   a ``{`` or ``[`` where a value can start that does not close at once, or a
   ``}`` followed by a comma (or by blanks and anything). Without ``\\u``, a
   string that decodes to one of those words is that very token (the other
   escapes stand for ``"``, ``\\``, ``/`` and control characters): a line
   not marked carries no figure.
2. *Flat* lines start with ``{"timestamp":"``, end with ``}`` and raise no
   doubt on the shape. Those whose timestamp has a fixed shape —
   ``YYYY-MM-DDTHH:MM:SS``, then ``.ffffff``, ``.fff`` or nothing, then ``Z``,
   ``+00:00`` or nothing — with a valid date and time, that raise no doubt on
   the timestamp and carry no figure are *plain*: numpy computes their instants
   (the integer microseconds of ``datetime``) and compares them with the
   window. They are never parsed one by one.
3. Flat lines are checked by simdjson in runs, in the block itself: their
   newlines become commas, the other lines blanks, and a run is bracketed into
   one array. That is exact. No string runs across a joining comma (the next
   flat line would close it at its ``{"`` and go on with ``t``; a ``\\`` before
   the comma is an invalid escape), so each line's ``{`` opens an object at the
   array's level; the line opens nothing else that stays open, so at its end
   the object is closed or the array is invalid; nothing follows the object but
   blanks. So each line is exactly one element, an object simdjson accepts —
   and orjson too: both refuse invalid UTF-8, lone surrogates and numbers that
   overflow, and simdjson also refuses integers beyond 64 bits. A run it
   refuses is split until the lines at fault are found; they go to ``feed``.
4. The other lines are decoded by msgspec into the fields a report reads:
   valid flat lines in one call (each is one element), the others one by one,
   then checked by simdjson (each alone is one JSON value) with their nesting
   kept shallow, far from orjson's depth limit. msgspec keeps the last of
   duplicate keys as orjson does; ``duration`` is kept raw and converted by
   orjson; a field of another type, or anything msgspec refuses, leaves the
   line to ``feed``. Without a doubt on the timestamp, the instant of step 2
   serves, else ``parse_time``. These lines are counted in file order, column
   by column between two lines left to ``feed`` (which decides in its turn),
   so that malformed examples and first-seen orders (ties in the reports) are
   those of one pass.

A large plain file is split at line boundaries into byte ranges, large first
and smaller towards the end, that worker processes (one per core) take as they
become free; the parts are merged in file order, so the figures (and the line
numbers of malformed lines) are those of one sequential pass.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import heapq
import itertools
import math
import multiprocessing
import os
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import hyperscan
import msgspec
import numpy as np
import orjson
import simdjson

from bizlogic.telemetry.logfile import live_files
from bizlogic.telemetry.redact import redact, redact_text

BLOCK = 2 * 1024 * 1024  # two workers' blocks and buffers stay within the shared L3 cache
PARALLEL_MIN_BYTES = 64 * 1024 * 1024  # below this, starting processes costs more than it saves
# A worker takes the next range when it is done, so a core that runs slower (a busy machine)
# takes fewer ranges instead of the whole run waiting for its half. Ranges shrink towards the
# end of the file (a quarter of what is left per worker, at least RANGE_BYTES), so that the
# workers finish together.
RANGE_BYTES = 16 * 1024 * 1024
MALFORMED_EXAMPLES = 10
TOP = 20  # entries of each per-event list (`--top`)
CHUNK_LINES = 1024  # plain lines validated per simdjson call (a few hundred kB: cache-friendly)
_ROTATION = re.compile(r"\.(\d+)(\.gz)?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def log_files(live: Path) -> list[Path]:
    """``live`` and its rotations (``live.1``, ``live.2.gz`` …), oldest first."""
    rotated = []
    for path in live.parent.glob(f"{live.name}.*"):
        match = _ROTATION.search(path.name[len(live.name) :])
        if match and path.is_file():
            rotated.append((int(match.group(1)), path))
    ordered = [path for _, path in sorted(rotated, reverse=True)]
    return [*ordered, live] if live.exists() else ordered


def family_files(template: Path) -> list[Path]:
    """Every file ``BL_LOG_FILE`` stands for: each process's own live file (``{process}``
    expanded for every role, and the ``-2``, ``-3`` … of further processes) with its
    rotations, oldest first within each."""
    return [path for live in live_files(template) for path in log_files(live)]


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Lines of a file (or of the byte range ``[start, end)`` of a plain file)."""
    for block, size in iter_blocks(path, start, end):
        yield from bytes(block[: size - 1]).split(b"\n")


def iter_blocks(
    path: Path, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytearray, int]]:
    """Big blocks of whole lines of a file (or of the byte range ``[start, end)`` of a plain
    file), as ``(buffer, size)``: ``buffer[:size]`` ends with a newline (one is added to a last
    line without). The buffer is read into again for the next block: fresh memory for each
    block would cost a page fault per 4 kB."""
    buffer = bytearray(BLOCK)
    with _open(path) as handle:
        if start:
            handle.seek(start)
        left = math.inf if end is None else end - start
        carry = 0  # the start of a line not read to its end yet
        while left > 0:
            if carry == len(buffer):  # a line longer than the buffer
                buffer = buffer + bytes(len(buffer))
            with memoryview(buffer) as view:
                read = handle.readinto(view[carry : carry + int(min(len(buffer) - carry, left))])
            if not read:
                break
            left -= read
            filled = carry + read
            size = buffer.rfind(b"\n", 0, filled) + 1
            if size:
                yield buffer, size
                buffer[: filled - size] = buffer[size:filled]
            carry = filled - size
        if carry:
            if carry == len(buffer):
                buffer = buffer + b"\n"
            buffer[carry] = 0x0A
            yield buffer, carry + 1


def _line_ranges(path: Path, workers: int) -> list[tuple[int, int]]:
    """Byte ranges of a plain file for ``workers`` processes, each starting at the beginning
    of a line: large first, then smaller (see RANGE_BYTES), at least one per worker."""
    size = path.stat().st_size
    cuts, left = [], size
    while left > 0:
        step = max(RANGE_BYTES, left // (4 * workers))
        cuts.append(size - left + min(step, left))
        left -= step
    if len(cuts) < workers:  # a small file: equal parts
        cuts = [size * k // workers for k in range(1, workers + 1)]
    starts = [0]
    with path.open("rb") as handle:
        for cut in cuts[:-1]:
            handle.seek(cut)
            handle.readline()
            starts.append(max(handle.tell(), starts[-1]))
    bounds = [*starts, size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _analyse_range(
    path: Path, start: int, end: int, since: datetime | None, until: datetime | None,
    bucket: timedelta, top: int, file_index: int,
) -> tuple[LogAnalyzer, int]:  # fmt: skip
    """A worker process's share: the analyzer's state and the physical lines it read."""
    part = LogAnalyzer(since, until, bucket, top)
    part._file_index = file_index
    lines = part._feed_path(path, start, end)
    for stats in part.algorithms.values():
        stats.durations.sort()  # here in parallel: sorted runs merge fast in the report
    return part, lines


def parse_time(value: str) -> datetime:
    """ISO-8601; without an offset it is UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def nearest_rank(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(len(sorted_values) * q / 100))
    return sorted_values[rank - 1]


# -- the fast path's pieces ---------------------------------------------------------

# Lines that may carry figures: matched up to their newline, so that Hyperscan reports each
# such line once. A JSON string equal to one of these words is that very token unless it
# uses a \u escape (the other escapes stand for " \ / and control characters).
_FIGURES = (
    rb'"(?:analysis_start|analysis_complete|analysis_error|user_action|ERROR|CRITICAL)"[^\n]*\n'
)
# Rarer doubts, by pattern: 0 and 1 about which timestamp is the line's (a \u escape could
# spell any key or value; a second "timestamp" key, preceded by a comma or a blank), 2 to 4
# about the line being one flat object (a "{" or "[" where a value can start, not closed at
# once: "{}" and "[]" hide nothing; a "}" followed by a ",", or by blanks and something).
# The "}" doubt is two patterns: as one alternation, Hyperscan starts on every "}" (one a
# line) and the whole scan takes about a third longer.
_DOUBTS = (
    rb"\\u",
    rb'[ \t\r,]"timestamp"',
    rb"[:,\[ \t\r](?:\{[^}]|\[[^\]])",
    rb"\},",
    rb"\}[ \t\r]+[^ \t\r\n]",
)
# {"timestamp":" as the first two 8-byte words of a line (little-endian, the second's 6 bytes)
_PREFIX = (int.from_bytes(b'{"timest', "little"), int.from_bytes(b'amp":"', "little"))
_PLUS = np.frombuffer(b'+00:00"', np.uint8)[:, None]
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_MICROS = 10 ** np.arange(5, -1, -1)  # weights of the six digits after the seconds
_DATE_BYTES = np.arange(14, 24)[:, None]  # YYYY-MM-DD, one row a byte
# 8-byte words as (fixed bytes mask, their expected value, digits mask), byte 0 the lowest:
_CLOCK = (  # bytes 24-31, T HH : MM : S
    np.uint64(0x00FF_0000_FF00_00FF),
    np.uint64(0x003A_0000_3A00_0054),
    np.uint64(0xFF00_FFFF_00FF_FF00),
)
_FRACTION = (  # bytes 32-39, S . ffffff
    np.uint64(0xFF00), np.uint64(0x2E00), np.uint64(0xFFFF_FFFF_FFFF_00FF)
)  # fmt: skip
_ZULU = np.uint64(int.from_bytes(b'Z"', "little"))  # bytes 40-41
_SHALLOW = 32  # how deep other lines may nest containers: far below orjson's depth limit


class _Line(msgspec.Struct, gc=False):
    """The fields a report reads; msgspec skips the other keys without decoding them."""

    timestamp: str | None = None
    event: str | None = None
    level: str | None = None
    logger: str | None = None
    algorithm: str | None = None
    duration: msgspec.Raw = None  # type: ignore[assignment]  # kept raw: orjson decides
    error: str | None = None
    action: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    # Kept raw: every line has a message, an error entry is one in thousands. Decoded for
    # the few lines a newest list keeps (`_offer`), so no block stays referenced.
    message: msgspec.Raw | str | None = None
    resource: str | None = None


def _database(patterns: tuple[bytes, ...]) -> hyperscan.Database:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=list(patterns), ids=list(range(len(patterns))))
    return database


def _depth_guard(parser: simdjson.Parser, depth: int) -> tuple[bytes, bytes]:
    """Brackets around an array of whole JSON values such that simdjson rejects a value that
    nests non-empty containers more than ``depth`` deep (its limit is on the whole document).
    Found by probing the parser, not assumed."""

    def accepts(wrap: int, inner: int) -> bool:
        nested = b'{"a":' * inner + b"0" + b"}" * inner
        try:
            parser.parse(b"[" * wrap + b"[" + nested + b"]" + b"]" * wrap)
        except Exception:
            return False
        return True

    wrap = next(w for w in range(1100, -1, -1) if accepts(w, depth))
    if accepts(wrap, depth + 1):
        raise RuntimeError("simdjson has no depth limit to rely on")
    return b"[" * wrap + b"[", b"]" + b"]" * wrap


class _Kit:
    """A process's compiled scanners, parser and decoders."""

    def __init__(self) -> None:
        self.scanner = _database((_FIGURES, *_DOUBTS))  # one pass: cheaper than two
        self.parser = simdjson.Parser()
        self.decode = msgspec.json.Decoder(_Line).decode
        self.decode_all = msgspec.json.Decoder(list[_Line]).decode
        self.open, self.close = _depth_guard(self.parser, _SHALLOW)
        self.mask = np.zeros(0, bool)  # reused, like the read buffer: no page faults per block

    def newlines(self, a: np.ndarray) -> np.ndarray:
        """Offsets of the newlines in ``a``. The mask is searched 8 bytes at a time, then
        within the words that hold a newline: numpy's nonzero costs about a nanosecond an
        element, three times the comparison itself, and lines are long."""
        padded = -(-len(a) // 8) * 8
        if len(self.mask) < padded:
            self.mask = np.zeros(padded, bool)
        mask = self.mask[:padded]
        np.equal(a, 10, out=mask[: len(a)])
        mask[len(a) :] = False
        words = mask.view(np.uint64)
        holding = (words != 0).nonzero()[0]
        within = words[holding].view(bool).nonzero()[0]
        return holding[within >> 3] * 8 + (within & 7)

    def scan(self, block: bytes, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of the lines with figures, with a doubt on the timestamp, on the shape."""
        found: list[list[int]] = [[], [], []]  # figures, doubts on the timestamp, on the shape
        appends = [found[kind].append for kind in (0, 1, 1, 2, 2, 2)]  # by pattern

        def on_match(pattern: int, _start: int, end: int, _flags: int, _context: object) -> None:
            appends[pattern](end)

        with memoryview(block)[: ends[-1] + 1] as lines:  # the buffer may go on
            self.scanner.scan(lines, match_event_handler=on_match)
        figures, stamp, shape = (np.searchsorted(ends, np.asarray(f, np.int64) - 1) for f in found)
        return figures, stamp, shape

    def accepts(self, document: bytes | memoryview) -> bool:
        """simdjson accepts the document."""
        try:
            parsed = self.parser.parse(document)
            del parsed  # the parser holds one document at a time
        except Exception:  # simdjson's errors: ValueError, RuntimeError, UnicodeDecodeError
            return False
        return True

    def valid_flat(
        self, block: bytearray, size: int, starts: np.ndarray, ends: np.ndarray, flat: np.ndarray
    ) -> np.ndarray:
        """Which of the ``flat`` lines (indices) are valid JSON. In ``block`` itself (its other
        lines are lost), their newlines become commas and other lines blanks; runs of them are
        bracketed in place and given to simdjson, and a run it refuses is split down to a few
        lines, which are counted invalid. See the module docstring for why this is exact."""
        view = np.frombuffer(block, np.uint8, size)
        if len(flat) < len(starts):
            view[ends] = 0x20
            others = np.ones(len(starts), bool)
            others[flat] = False
            for start, end in zip(starts[others].tolist(), ends[others].tolist(), strict=True):
                block[start:end] = b" " * (end - start)
        view[ends[flat]] = 0x2C
        opens, closes = starts[flat], ends[flat]

        def accepts(first: int, last: int) -> bool:  # flat[first:last]
            left, right = int(opens[first]), int(closes[last - 1])
            if not left:  # no byte before the block's first line: that run is copied
                return self.accepts(b"".join((b"[", memoryview(block)[:right], b"]")))
            saved = block[left - 1], block[right]
            block[left - 1], block[right] = 0x5B, 0x5D
            ok = self.accepts(memoryview(block)[left - 1 : right + 1])
            block[left - 1], block[right] = saved
            return ok

        return _valid_runs(len(flat), accepts)

    def valid_whole(self, lines: list[bytearray]) -> np.ndarray:
        """Which of these lines, each decoded alone by msgspec (so each is one whole JSON
        value), simdjson accepts too, with no container nested deeper than ``_SHALLOW``."""
        return _valid_runs(
            len(lines),
            lambda first, last: self.accepts(
                b"".join((self.open, b",".join(lines[first:last]), self.close))
            ),
        )

    def records(self, lines: list[bytearray]) -> list[_Line | None]:
        """The lines decoded (None where msgspec refuses one), each known to be one JSON value:
        in one call, unless msgspec refuses one of them."""
        with contextlib.suppress(Exception):  # a line msgspec refuses: then one by one
            records: list[_Line | None] = self.decode_all(b"".join((b"[", b",".join(lines), b"]")))
            if len(records) == len(lines):  # as it must: a safeguard
                return records
        records = []
        for line in lines:
            try:
                records.append(self.decode(line))
            except Exception:  # anything msgspec refuses: feed decides, as for every line
                records.append(None)
        return records


def _without(items: list[Any], positions: list[int]) -> list[Any]:
    """``items`` without those at ``positions`` (ascending): copied in slices, so that the
    usual few positions cost next to nothing."""
    kept: list[Any] = []
    last = 0
    for position in positions:
        kept += items[last:position]
        last = position + 1
    return kept + items[last:] if positions else items


def _with_nones(items: list[Any], positions: list[int]) -> list[Any]:
    """``items`` with None inserted so that the Nones stand at ``positions`` (ascending): the
    inverse of `_without`."""
    merged: list[Any] = []
    taken = 0
    for position in positions:
        count = position - len(merged)
        merged += items[taken : taken + count]
        taken += count
        merged.append(None)
    return merged + items[taken:] if positions else items


def _valid_runs(count: int, accepts: Callable[[int, int], bool]) -> np.ndarray:
    """Which of ``count`` items are valid, given ``accepts(first, last)`` for a run of them:
    runs of ``CHUNK_LINES``; a refused run is split in 16 until runs of 8, counted invalid."""
    valid = np.ones(count, bool)
    runs = [(first, min(first + CHUNK_LINES, count)) for first in range(0, count, CHUNK_LINES)]
    while runs:
        first, last = runs.pop()
        if not accepts(first, last):
            if last - first <= 8:
                valid[first:last] = False
            else:
                step = -(-(last - first) // 16)
                runs.extend((a, min(a + step, last)) for a in range(first, last, step))
    return valid


def _durations(raws: list[msgspec.Raw | None]) -> list[Any]:
    """The ``duration`` values as orjson reads them (None where there was none): in one call
    when it reads them all, else one by one, as before."""
    present = [raw for raw in raws if raw is not None]
    values: list[Any] | None = None
    if present:
        with contextlib.suppress(orjson.JSONDecodeError):  # one by one: the error of that value
            values = orjson.loads(b"".join((b"[", b",".join(present), b"]")))
        if values is None or len(values) != len(present):
            values = [orjson.loads(memoryview(raw)) for raw in present]
    if len(present) == len(raws):
        return values or []
    found = iter(values or [])
    return [None if raw is None else next(found) for raw in raws]


@functools.cache
def _kit() -> _Kit:
    return _Kit()


def _stamps(a: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each line: whether it starts with ``{"timestamp":"``; whether that timestamp also
    has the fixed shape of the module docstring and a valid date and time (as ``datetime``
    checks them); and that instant in microseconds since the epoch (as ``datetime`` has it).

    The service's own shape (``.ffffff`` then ``Z``) is read from 8-byte words, a few
    operations a line; the lines it does not fit are read byte by byte (`_stamps_by_bytes`)."""
    n = len(starts)
    prefixed, plain, micros = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int64)
    fit = int(np.searchsorted(starts, len(a) - 48, side="right"))  # lines with 48 bytes
    if not fit:
        return prefixed, plain, micros
    at = starts[:fit]
    words = _windows(a, 48)[at].view("<u8")  # 6 a line
    w0, w1, w2, w3, w4, w5 = words.T
    begins = (w0 == _PREFIX[0]) & (w1 & np.uint64(0xFFFF_FFFF_FFFF) == _PREFIX[1])
    # Bytes 14 to 31 (date, hours, minutes, tens of seconds) change seldom from a line to the
    # next: decoded once a run of equal ones.
    century = w1 >> np.uint64(48)
    opens = np.ones(fit, bool)  # a line that opens a run
    opens[1:] = (century[1:] != century[:-1]) | (w2[1:] != w2[:-1]) | (w3[1:] != w3[:-1])
    firsts = opens.nonzero()[0]
    run = np.cumsum(opens)
    run -= 1
    valid_day, day_number = _dates(a[at[firsts] + _DATE_BYTES])
    clock, clock_digits = _digits(w3[firsts], *_CLOCK)  # THH:MM:S
    hour, minute, tens = _number(clock, 1, 2), _number(clock, 4, 5), _number(clock, 7)
    valid_run = valid_day & clock_digits & (hour <= 23) & (minute <= 59) & (tens <= 5)
    run_micros = (day_number * 86400 + (hour * 60 + minute) * 60 + tens * 10) * 1_000_000
    fraction, fraction_digits = _digits(w4, *_FRACTION)  # S.ffffff
    ok = begins & valid_run[run] & fraction_digits & ((w5 & np.uint64(0xFFFF)) == _ZULU)
    micros[:fit] = run_micros[run] + (fraction & 0xFF) * 1_000_000 + _microseconds(fraction)
    prefixed[:fit], plain[:fit] = begins, ok
    other = (begins & ~ok).nonzero()[0]  # another shape, or no valid time at all
    if len(other):
        _, plain[other], micros[other] = _stamps_by_bytes(a, starts[other])
    return prefixed, plain, micros


def _windows(a: np.ndarray, width: int) -> np.ndarray:
    """Row k: the ``width`` bytes of ``a`` from offset k, without copying (what numpy's
    sliding_window_view gives, at a fraction of its cost per call)."""
    return np.ndarray((max(len(a) - width + 1, 0), width), np.uint8, a, strides=(1, 1))


def _digits(
    words: np.ndarray, fixed: np.uint64, expected: np.uint64, digits: np.uint64
) -> tuple[np.ndarray, np.ndarray]:
    """``words`` whose bytes under ``fixed`` are ``expected`` and whose bytes under ``digits``
    are ASCII digits; the words with those digits' values (other bytes zero), as int64."""
    ok = (words & fixed) == expected
    masked = words & digits
    high, zero = (
        digits & np.uint64(0xF0F0_F0F0_F0F0_F0F0),
        digits & np.uint64(0x3030_3030_3030_3030),
    )
    ok &= (masked & high) == zero  # 0x30 to 0x3F …
    ok &= ((masked + (digits & np.uint64(0x0606_0606_0606_0606))) & high) == zero  # … not past 9
    return (masked - zero).view(np.int64), ok


def _microseconds(fraction: np.ndarray) -> np.ndarray:
    """The number that bytes 2 to 7 of these digit words (``S.ffffff`` less the ASCII zeros)
    spell: pairs of digits, then pairs of pairs, combined within the word (no byte carries into
    the next: 99 and 9999 fit). A third of the operations of digit by digit."""
    digits = fraction & ~0xFF  # byte 1 (the dot) is zero already
    pairs = (digits * 10 + (digits >> 8)) & 0x00FF_00FF_00FF_00FF  # at bytes 2, 4, 6
    quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF  # ff at bytes 0-1, ffff at 4-5
    return (quads & 0xFFFF) * 10_000 + (quads >> 32)


def _number(values: np.ndarray, *positions: int) -> np.ndarray:
    """The decimal number the digits at these byte positions (most significant first) spell."""
    number = np.zeros(len(values), np.int64)
    for position in positions:
        number = number * 10 + ((values >> (8 * position)) & 0xFF)
    return number


def _stamps_by_bytes(
    a: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As `_stamps`, for every shape of the module docstring, one byte at a time."""
    n = len(starts)
    prefixed, plain, micros = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int64)
    fit = np.flatnonzero(starts + 48 <= len(a))  # the last lines may be too near the end
    if not len(fit):
        return prefixed, plain, micros
    head = _windows(a, 48)[starts[fit]]  # 48 bytes a line
    words = head.view("<u8")
    rows = np.ascontiguousarray(head.T)  # row j: byte j of every line
    begins = (words[:, 0] == _PREFIX[0]) & (words[:, 1] & np.uint64(0xFFFF_FFFF_FFFF) == _PREFIX[1])
    # The date (bytes 14 to 23) changes seldom from a line to the next: decoded once a run.
    century, rest = words[:, 1] >> np.uint64(48), words[:, 2]
    change = np.flatnonzero((century[1:] != century[:-1]) | (rest[1:] != rest[:-1])) + 1
    firsts = np.r_[0, change]
    valid_day, day_number = _dates(rows[14:24, firsts])
    run = np.repeat(np.arange(len(firsts)), np.diff(np.r_[firsts, len(fit)]))
    ok = begins & valid_day[run]
    time = rows[[25, 26, 28, 29, 31, 32]] - np.uint8(48)
    ok &= (time < 10).all(axis=0) & (rows[24] == ord("T")) & (rows[27] == ord(":"))
    ok &= rows[30] == ord(":")
    t = time.astype(np.int32)
    hour, minute, second = t[0] * 10 + t[1], t[2] * 10 + t[3], t[4] * 10 + t[5]
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    # after the seconds: ".ffffff", ".fff" or nothing, then Z" | +00:00" | "
    decimals = rows[34:40] - np.uint8(48)
    six = (rows[33] == ord(".")) & (decimals < 10).all(axis=0)
    usual = six & (rows[40] == ord("Z")) & (rows[41] == ord('"'))  # as the service writes
    if usual[ok].all():
        ok &= usual
        fraction = _MICROS @ decimals.astype(np.int64)
    else:
        after_six, after_three, after_seconds = (
            _suffix(rows, 40),
            _suffix(rows, 37),
            _suffix(rows, 33),
        )
        three = (rows[33] == ord(".")) & (decimals[:3] < 10).all(axis=0) & ~(six & after_six)
        ok &= (six & after_six) | (three & after_three) | ((rows[33] != ord(".")) & after_seconds)
        fraction = np.where(six, _MICROS @ decimals.astype(np.int64), 0)
        fraction[three] = _MICROS[:3] @ decimals[:3, three].astype(np.int64)
    seconds = day_number[run] * 86400 + ((hour * 60 + minute) * 60 + second)
    prefixed[fit], plain[fit] = begins, ok
    micros[fit] = seconds * 1_000_000 + fraction
    return prefixed, plain, micros


def _dates(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For dates given as 10 rows of bytes (YYYY-MM-DD, one a column): whether each is a valid
    date, and its number of days since 1970-01-01 (proleptic Gregorian, as ``datetime``)."""
    d = rows[[0, 1, 2, 3, 5, 6, 8, 9]].astype(np.int64) - 48
    ok = ((d >= 0) & (d <= 9)).all(axis=0) & (rows[4] == ord("-")) & (rows[7] == ord("-"))
    year = (d[0] * 10 + d[1]) * 100 + d[2] * 10 + d[3]
    month, day = d[4] * 10 + d[5], d[6] * 10 + d[7]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[month % 13] + (leap & (month == 2))  # any index, if not ok
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    march = year - (month <= 2)  # years counted from March: leap days come last
    era, of_era = march // 400, march % 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    return ok, era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468


def _suffix(rows: np.ndarray, column: int) -> np.ndarray:
    """Whether the bytes from ``column`` on are Z" or +00:00" or "."""
    zulu = (rows[column] == ord("Z")) & (rows[column + 1] == ord('"'))
    plus = (rows[column : column + 7] == _PLUS).all(axis=0)
    return zulu | plus | (rows[column] == ord('"'))


def _micros(when: datetime | None, default: int) -> int:
    return default if when is None else (when - _EPOCH) // timedelta(microseconds=1)


def _aware(when: datetime | None) -> bool:
    return when is None or when.utcoffset() is not None


@dataclass
class _Algorithm:
    started: int = 0
    completed: int = 0
    failed: int = 0
    durations: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        durations = sorted(self.durations)
        ended = self.completed + self.failed
        return {
            "started": self.started,
            "completed": self.completed,
            "failed": self.failed,
            "success_rate": self.completed / ended if ended else None,
            "duration_s": {
                "count": len(durations),
                "avg": sum(durations) / len(durations) if durations else None,
                "min": durations[0] if durations else None,
                "max": durations[-1] if durations else None,
                "p50": nearest_rank(durations, 50),
                "p95": nearest_rank(durations, 95),
            },
        }


class LogReadError(Exception):
    """A log file that could not be read to its end (missing, unreadable, a damaged .gz)."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        if isinstance(cause, EOFError):  # gzip: the stream ends before its end marker
            reason = "the compressed file is cut short (no end-of-stream marker)"
        elif isinstance(cause, gzip.BadGzipFile | zlib.error):
            reason = f"a damaged or invalid gzip file ({cause})"
        else:
            reason = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        super().__init__(f"{path}: cannot be read: {reason}")
        self.path = path


class LogAnalyzer:
    def __init__(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: timedelta = timedelta(hours=1),
        top: int = TOP,
    ) -> None:
        if top < 0:
            raise ValueError(f"top must be 0 or more, not {top}")
        self.since, self.until, self.bucket, self.top = since, until, bucket, top
        self.lines = 0
        self.in_window = 0
        self.malformed = 0
        self.malformed_examples: list[dict[str, Any]] = []
        self.algorithms: dict[str, _Algorithm] = defaultdict(_Algorithm)
        self.errors_by_type: Counter[str] = Counter()
        self.errors_by_algorithm: Counter[str] = Counter()
        self.errors_by_project: Counter[str] = Counter()
        self.error_timeline: Counter[datetime] = Counter()
        self.error_lines_by_logger: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.actions_by_user: Counter[str] = Counter()
        self.action_timeline: Counter[datetime] = Counter()
        # (user, action, resource) counts, for each user's top actions
        self.user_actions: Counter[tuple[str, str, str | None]] = Counter()
        # The newest `top` error lines and user actions: min-heaps of (instant in µs, file,
        # line, arrival, record), so that the oldest kept is the first to go.
        self.recent_errors: list[tuple[int, int, int, int, Any]] = []
        self.recent_actions: list[tuple[int, int, int, int, Any]] = []
        self._arrivals = 0
        self._file_index = 0
        self.files: list[str] = []
        self._buckets: dict[float, datetime] = {}
        if _aware(since) and _aware(until):  # the window in µs since the epoch
            self._low, self._high = _micros(since, -(2**63)), _micros(until, 2**63 - 1)

    def feed_files(self, paths: Iterable[Path], workers: int | None = None) -> LogAnalyzer:
        """Feed whole files in order; a file that cannot be read to its end raises
        `LogReadError`: figures from part of a file would under-count without saying so."""
        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        for path in paths:
            self._file_index = len(self.files)
            self.files.append(str(path))
            plain = path.suffix != ".gz"
            try:
                if workers > 1 and plain and path.stat().st_size >= PARALLEL_MIN_BYTES:
                    self._feed_parallel(path, workers)
                else:
                    self._feed_path(path)
            except (OSError, EOFError, zlib.error) as exc:
                raise LogReadError(path, exc) from exc
        return self

    def _feed_parallel(self, path: Path, workers: int) -> None:
        if _aware(self.since) and _aware(self.until):
            _kit()  # compiled once, before the workers fork
        ranges = _line_ranges(path, workers)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(ranges)), mp_context=context) as pool:
            share = (self.since, self.until, self.bucket, self.top, self._file_index)
            futures = [pool.submit(_analyse_range, path, a, b, *share) for a, b in ranges]
            offset = 0
            for future in futures:  # in file order: line numbers continue across parts
                part, lines_read = future.result()
                self._merge(part, offset)
                offset += lines_read

    def _feed_path(self, path: Path, start: int = 0, end: int | None = None) -> int:
        """Feed a file (or a byte range of a plain one); returns the physical lines read."""
        number = 0
        if not (_aware(self.since) and _aware(self.until)):  # as feed: naive bounds raise
            for number, line in enumerate(iter_lines(path, start, end), start=1):
                self.feed(line, path, number)
            return number
        for block, size in iter_blocks(path, start, end):
            number += self._feed_block(block, size, path, number)
        return number

    def _feed_block(self, block: bytearray, size: int, path: Path | None, before: int) -> int:
        """The lines of ``block[:size]`` (numbered from ``before + 1``), counted exactly as
        `feed` counts them one by one, in the steps of the module docstring; returns how many
        physical lines there were. Overwrites the block."""
        kit = _kit()
        a = np.frombuffer(block, np.uint8, size)
        ends = kit.newlines(a)
        starts = np.concatenate(([0], ends[:-1] + 1))
        prefixed, shaped, micros = _stamps(a, starts)
        figures, stamp_doubt, shape_doubt = kit.scan(block, ends)
        last = a[ends - 1]  # a line cut short seldom ends with "}": not worth a check
        flat = prefixed & ((last == 0x7D) | ((last == 0x0D) & (a[np.maximum(ends - 2, 0)] == 0x7D)))
        flat[shape_doubt] = False
        known = shaped.copy()  # micros is the instant of the line's timestamp
        known[stamp_doubt] = False
        plain = flat & known
        plain[figures] = False
        loose = (~flat & (starts != ends)).nonzero()[0]  # empty lines count for nothing
        loose_lines = [
            block[s:e] for s, e in zip(starts[loose].tolist(), ends[loose].tolist(), strict=True)
        ]
        valid = np.zeros(len(starts), bool)
        flat_lines = flat.nonzero()[0]
        valid[flat_lines] = kit.valid_flat(block, size, starts, ends, flat_lines)
        counted = micros[plain & valid]
        self.lines += len(counted)
        self.in_window += int(np.count_nonzero((counted >= self._low) & (counted < self._high)))
        # The other non-empty lines, in file order: flat valid ones decoded in one call, loose
        # ones alone and checked by simdjson; feed decides for a line left without a record.
        more = (flat & ~(plain & valid)).nonzero()[0]
        # valid_flat left these lines as they were; slices of a bytearray cost less than views
        lines = [
            block[s:e] for s, e in zip(starts[more].tolist(), ends[more].tolist(), strict=True)
        ]
        rest = more
        if len(loose):
            order = np.argsort(np.r_[loose, more], kind="stable")
            rest, both = np.r_[loose, more][order], loose_lines + lines
            lines = [both[k] for k in order.tolist()]
        others = np.flatnonzero(~valid[rest]).tolist()  # mostly few: loose or broken lines
        records = _with_nones(kit.records(_without(lines, others)), others)
        alone = []
        for j in np.flatnonzero(~flat[rest]).tolist():
            with contextlib.suppress(Exception):  # what msgspec refuses, feed decides
                records[j] = kit.decode(lines[j])
                alone.append(j)
        for j, ok in zip(alone, kit.valid_whole([lines[j] for j in alone]), strict=True):
            if not ok:
                records[j] = None
        self._tally_lines(lines, records, rest + before + 1, known[rest], micros[rest], path)
        return len(ends)

    def _tally_lines(
        self, lines: list[bytearray], records: list[_Line | None], numbers: np.ndarray,
        known: np.ndarray, micros: np.ndarray, path: Path | None,
    ) -> None:  # fmt: skip
        """Lines in file order, each with its line number, its msgspec record (None: `feed`
        decides) and, when ``known``, the instant of its timestamp in µs: counted as `feed`
        counts them. The records between two lines left to `feed` are counted together, so
        that first-seen orders (ties in the reports) and malformed examples are those of one
        pass."""
        first = 0
        for gap in [j for j, record in enumerate(records) if record is None] + [len(records)]:
            if gap > first:
                run = slice(first, gap)
                self._tally_run(records[run], numbers[run], known[run], micros[run], path)
            if gap < len(records):
                self.feed(bytes(lines[gap]), path, int(numbers[gap]))
            first = gap + 1

    def _tally_run(
        self, records: list[_Line], numbers: np.ndarray, known: np.ndarray, micros: np.ndarray,
        path: Path | None,
    ) -> None:  # fmt: skip
        """Decoded lines, counted column by column: a Counter fed a list counts in C, in the
        list's order."""
        self.lines += len(records)
        inside = known & (micros >= self._low) & (micros < self._high)
        epochs: dict[int, float] = {}  # of the lines whose timestamp numpy did not read
        parsed: dict[int, int] = {}  # the same instants in µs
        for j in np.flatnonzero(~known).tolist():
            try:
                when = parse_time(records[j].timestamp)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                self._malformed(path, int(numbers[j]), "no readable timestamp")
                continue
            if self._inside(when):
                inside[j] = True
                epochs[j] = when.timestamp()
                parsed[j] = _micros(when, 0)
        chosen = np.flatnonzero(inside).tolist()
        self.in_window += len(chosen)
        picked = records if len(chosen) == len(records) else [records[j] for j in chosen]
        leveled = [k for k, r in enumerate(picked) if r.level in ("ERROR", "CRITICAL")]
        self.error_lines_by_logger.update([str(picked[k].logger) for k in leveled])
        where = np.asarray(chosen, np.int64)
        instants = micros[where]  # of the picked lines, in µs
        for k in np.flatnonzero(~known[where]).tolist():
            instants[k] = parsed[chosen[k]]
        algorithms = self.algorithms
        by_event: defaultdict[str | None, list[int]] = defaultdict(list)
        for k, r in enumerate(picked):
            by_event[r.event].append(k)
        started = Counter([str(picked[k].algorithm) for k in by_event["analysis_start"]])
        for name, count in started.items():
            algorithms[name].started += count
        completed = [picked[k] for k in by_event["analysis_complete"]]
        names = [str(r.algorithm) for r in completed]
        for name, count in Counter(names).items():
            algorithms[name].completed += count
        for name, duration in zip(names, _durations([r.duration for r in completed]), strict=True):
            if isinstance(duration, int | float):
                algorithms[name].durations.append(float(duration))
        failed = by_event["analysis_error"]
        if failed:
            names = [str(picked[k].algorithm) for k in failed]
            for name, count in Counter(names).items():
                algorithms[name].failed += count
            self.errors_by_type.update(
                [str(picked[k].error or "").split(":", 1)[0].strip() or "unknown" for k in failed]
            )
            self.errors_by_algorithm.update(names)
            self.errors_by_project.update([str(picked[k].project_id) for k in failed])
            self._count_buckets(self.error_timeline, [chosen[k] for k in failed], epochs, micros)
        # the error lines: ERROR/CRITICAL, and analysis_error at any level (seldom another)
        others = [k for k in failed if picked[k].level not in ("ERROR", "CRITICAL")]
        noted = sorted(leveled + others) if others else leveled
        self._offer(self.recent_errors, noted, picked, chosen, numbers, instants)
        acted = by_event["user_action"]
        if acted:
            what = [str(picked[k].action) for k in acted]
            who = [str(picked[k].user_id) for k in acted]
            self.actions.update(what)
            self.actions_by_user.update(who)
            self._count_buckets(self.action_timeline, [chosen[k] for k in acted], epochs, micros)
            # resource: a str or None already (msgspec), as _text leaves it
            resources = [picked[k].resource for k in acted]
            self.user_actions.update(zip(who, what, resources, strict=True))
            self._offer(self.recent_actions, acted, picked, chosen, numbers, instants)

    def _count_buckets(
        self, timeline: Counter[datetime], lines: list[int], epochs: dict[int, float],
        micros: np.ndarray,
    ) -> None:  # fmt: skip
        """Count these lines in the time buckets of their instants, ``micros`` in µs or, when
        the timestamp was parsed, ``epochs``. Seconds are µs / 10**6 as ``datetime.timestamp``
        divides Python ints, correctly rounded; numpy's float division rounds correctly too, and
        agrees while the µs convert to float exactly (below 2**53, until the year 2255)."""
        instants = micros[lines]
        if ((instants > -(2**53)) & (instants < 2**53)).all():
            seconds = instants / 1_000_000
        else:
            seconds = np.array([instant / 1_000_000 for instant in instants.tolist()])
        for k, line in enumerate(lines) if epochs else ():
            if line in epochs:
                seconds[k] = epochs[line]
        starts = seconds - np.remainder(seconds, self.bucket.total_seconds())  # as Python's %
        for start, count in Counter(starts.tolist()).items():
            timeline[self._bucket_starting(start)] += count

    def _merge(self, part: LogAnalyzer, line_offset: int) -> None:
        self.lines += part.lines
        self.in_window += part.in_window
        self.malformed += part.malformed
        for example in part.malformed_examples:
            if len(self.malformed_examples) < MALFORMED_EXAMPLES:
                self.malformed_examples.append({**example, "line": example["line"] + line_offset})
        for name, stats in part.algorithms.items():
            mine = self.algorithms[name]
            mine.started += stats.started
            mine.completed += stats.completed
            mine.failed += stats.failed
            mine.durations.extend(stats.durations)
        for counter in (
            "errors_by_type", "errors_by_algorithm", "errors_by_project", "error_timeline",
            "error_lines_by_logger", "actions", "actions_by_user", "action_timeline",
        ):  # fmt: skip
            getattr(self, counter).update(getattr(part, counter))
        self.user_actions.update(part.user_actions)
        for mine, theirs in (
            (self.recent_errors, part.recent_errors), (self.recent_actions, part.recent_actions),
        ):  # fmt: skip
            for instant, file_index, line, arrival, record in theirs:
                self._keep(mine, (instant, file_index, line + line_offset, arrival, record))

    def _malformed(self, path: Path | None, number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MALFORMED_EXAMPLES:
            self.malformed_examples.append(
                {"file": str(path) if path else None, "line": number, "reason": reason}
            )

    def feed(self, line: bytes, path: Path | None = None, number: int = 0) -> None:
        """One line, parsed by orjson: the definition of what each line counts for."""
        if not line.strip():
            return
        self.lines += 1
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            self._malformed(path, number, "not JSON")
            return
        if not isinstance(record, dict):
            self._malformed(path, number, "not a JSON object")
            return
        stamp = record.get("timestamp")
        try:
            when = parse_time(stamp)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self._malformed(path, number, "no readable timestamp")
            return
        if self._inside(when):
            self._tally(when, number, record)

    def _inside(self, when: datetime) -> bool:
        return not (
            (self.since is not None and when < self.since)
            or (self.until is not None and when >= self.until)
        )

    def _tally(self, when: datetime, number: int, record: dict[str, Any]) -> None:
        """What one line inside the window adds to the figures."""
        get = record.get
        event, level = get("event"), get("level")
        self.in_window += 1
        if level in ("ERROR", "CRITICAL"):
            self.error_lines_by_logger[str(get("logger"))] += 1
        if event == "analysis_start":
            self.algorithms[str(get("algorithm"))].started += 1
        elif event == "analysis_complete":
            stats = self.algorithms[str(get("algorithm"))]
            stats.completed += 1
            duration = get("duration")
            if isinstance(duration, int | float):
                stats.durations.append(float(duration))
        elif event == "analysis_error":
            name = str(get("algorithm"))
            self.algorithms[name].failed += 1
            error = str(get("error") or "")
            self.errors_by_type[error.split(":", 1)[0].strip() or "unknown"] += 1
            self.errors_by_algorithm[name] += 1
            self.errors_by_project[str(get("project_id"))] += 1
            self.error_timeline[self._bucket(when)] += 1
        elif event == "user_action":
            self.actions[str(get("action"))] += 1
            self.actions_by_user[str(get("user_id"))] += 1
            self.action_timeline[self._bucket(when)] += 1
            self.user_actions[
                (str(get("user_id")), str(get("action")), _text(get("resource")))
            ] += 1
            if self.top:
                self._keep(self.recent_actions, self._item(_micros(when, 0), number, record))
        if self.top and (level in ("ERROR", "CRITICAL") or event == "analysis_error"):
            self._keep(self.recent_errors, self._item(_micros(when, 0), number, record))

    # -- per-event details: the newest `top` -----------------------------------------

    def _item(self, instant: int, line: int, record: Any) -> tuple[int, int, int, int, Any]:
        """A line for a newest list: its place (instant in µs, file, line, arrival) and its
        record (a `_Line`, or the dict of a line `feed` read), made an entry for the report
        only if it is kept (`_error_entry`, `_action_entry`)."""
        self._arrivals += 1
        return (instant, self._file_index, line, self._arrivals, record)

    def _offer(
        self, heap: list[Any], positions: list[int], picked: list[_Line], chosen: list[int],
        numbers: np.ndarray, instants: np.ndarray,
    ) -> None:  # fmt: skip
        """The run's lines at these positions of ``picked`` (ascending: file order), for a
        newest list. Only the run's own `top` newest (by instant, then the later in the
        file) can be kept: in a log in time order, its last `top` — checked, not assumed —
        else a sort finds them. So a run costs a few items, however many events it holds."""
        top = self.top
        if not top or not positions:
            return
        if len(positions) > top:
            at = np.asarray(positions, np.int64)
            when = instants[at]
            if when[-top:].min() >= when[:-top].max():
                positions = positions[-top:]
            else:
                order = np.lexsort((at, when))
                positions = sorted(at[order[len(at) - top :]].tolist())
        rows = np.asarray(chosen, np.int64)[positions]
        fresh = zip(instants[positions].tolist(), numbers[rows].tolist(), positions, strict=True)
        file_index, arrival = self._file_index, self._arrivals
        for instant, line, k in fresh:
            arrival += 1
            item = (instant, file_index, line, arrival, picked[k])
            if len(heap) < top:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
            else:
                continue
            record = picked[k]
            if isinstance(record.message, msgspec.Raw):
                record.message = _raw_text(record.message)
        self._arrivals = arrival

    def _keep(self, heap: list[Any], item: tuple[int, int, int, int, Any]) -> None:
        """Into a min-heap of at most `top` items: the oldest goes first. Items never tie
        (the arrival number differs), so their records are never compared."""
        if len(heap) < self.top:
            heapq.heappush(heap, item)
        elif self.top and item > heap[0]:
            heapq.heapreplace(heap, item)

    def _newest(
        self, heap: list[Any], entry: Callable[..., dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Newest first, by timestamp (then file and line order); redacted, for a log
        written by another tool may hold what ours never writes."""
        items = sorted(heap, key=lambda item: item[:4], reverse=True)
        return [redact({"timestamp": _iso(item[0]), **entry(item[4])}) for item in items]

    def _bucket(self, when: datetime) -> datetime:
        return self._bucket_at(when.timestamp())

    def _bucket_at(self, epoch: float) -> datetime:
        return self._bucket_starting(epoch - epoch % self.bucket.total_seconds())

    def _bucket_starting(self, start: float) -> datetime:
        if (bucket := self._buckets.get(start)) is None:
            bucket = self._buckets[start] = datetime.fromtimestamp(start, tz=UTC)
        return bucket

    # -- reports ------------------------------------------------------------------

    def performance(self) -> dict[str, Any]:
        overall = _Algorithm()
        for stats in self.algorithms.values():
            stats.durations.sort()  # summary sorts them anyway; sorted runs merge fast
            overall.started += stats.started
            overall.completed += stats.completed
            overall.failed += stats.failed
            overall.durations += stats.durations
        return {
            **overall.summary(),
            "by_algorithm": {
                name: stats.summary() for name, stats in sorted(self.algorithms.items())
            },
        }

    def errors(self) -> dict[str, Any]:
        return {
            "analysis_errors": sum(self.errors_by_type.values()),
            "by_type": _redacted_keys(self.errors_by_type),
            "by_algorithm": dict(self.errors_by_algorithm.most_common()),
            "by_project": dict(self.errors_by_project.most_common()),
            "timeline": _timeline(self.error_timeline),
            "error_lines_by_logger": dict(self.error_lines_by_logger.most_common()),
            "recent": self._newest(self.recent_errors, _error_entry),
        }

    def users(self) -> dict[str, Any]:
        return {
            "active_users": len(self.actions_by_user),
            "actions": sum(self.actions.values()),
            "by_action": dict(self.actions.most_common()),
            "by_user": dict(self.actions_by_user.most_common()),
            "timeline": _timeline(self.action_timeline),
            "top_users": redact(self._top_users()),
            "recent": self._newest(self.recent_actions, _action_entry),
        }

    def _top_users(self) -> list[dict[str, Any]]:
        """The `top` most active users, each with their `top` (action, resource) pairs; ties
        in the order first seen."""
        users = dict(self.actions_by_user.most_common(self.top))
        pairs: dict[str, Counter[tuple[str, str | None]]] = {user: Counter() for user in users}
        for (user, action, resource), times in self.user_actions.items():
            if user in pairs:
                pairs[user][(action, resource)] = times
        return [
            {
                "user_id": user,
                "actions": count,
                "top_actions": [
                    {"action": action, "resource": resource, "count": times}
                    for (action, resource), times in pairs[user].most_common(self.top)
                ],
            }
            for user, count in users.items()
        ]

    def report(self, which: str = "all") -> dict[str, Any]:
        result: dict[str, Any] = {
            "window": {
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "bucket_s": int(self.bucket.total_seconds()),
            },
            "files": self.files,
            "top": self.top,
            "lines": self.lines,
            "lines_in_window": self.in_window,
            "malformed": {"count": self.malformed, "examples": self.malformed_examples},
        }
        for name in ("performance", "errors", "users"):
            if which in (name, "all"):
                result[name] = getattr(self, name)()
        return result


def _raw_text(raw: msgspec.Raw) -> str | None:
    """A raw JSON value as a line read whole (`feed`) would give it to the report."""
    return _text(msgspec.json.decode(raw))


def _getter(record: _Line | dict[str, Any]) -> Callable[[str], Any]:
    return record.get if isinstance(record, dict) else functools.partial(getattr, record)


def _error_entry(record: _Line | dict[str, Any]) -> dict[str, Any]:
    """An error line as the report lists it: its error text is the ``error`` field, else
    the message, else the event; the type only for ``analysis_error``."""
    get = _getter(record)
    error, event = get("error"), get("event")
    text = next((value for value in (error, get("message"), event) if value is not None), None)
    return {
        "level": _text(get("level")), "logger": _text(get("logger")), "event": _text(event),
        "algorithm": _text(get("algorithm")), "project_id": _text(get("project_id")),
        "error_type": _error_type(error) if event == "analysis_error" else None,
        "error": _text(text),
    }  # fmt: skip


def _action_entry(record: _Line | dict[str, Any]) -> dict[str, Any]:
    get = _getter(record)
    return {
        "user_id": str(get("user_id")), "action": str(get("action")),
        "resource": _text(get("resource")),
    }  # fmt: skip


def _redacted_keys(counts: Counter[str]) -> dict[str, int]:
    """``counts`` with its keys redacted (an error without a colon is its own type and may
    hold a credential), most common first. Keys that become one add up, and take the
    place of the first seen: the order the counter keeps, as if counted redacted."""
    merged: Counter[str] = Counter()
    for key, count in counts.items():
        merged[_redacted(key)] += count
    return dict(merged.most_common())


def _error_type(error: Any) -> str:
    """The text before the first ``:`` (``"timeout: ran past 1800 s"`` → ``timeout``),
    redacted: an error without a colon is its own type, and may hold a credential."""
    return _redacted(str(error or "").split(":", 1)[0].strip() or "unknown")


@functools.lru_cache(maxsize=4096)
def _redacted(text: str) -> str:  # error types repeat: each is redacted once
    return redact_text(text)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _iso(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def _timeline(counts: Counter[datetime]) -> list[dict[str, Any]]:
    return [{"start": start.isoformat(), "count": counts[start]} for start in sorted(counts)]
