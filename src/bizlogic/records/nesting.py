"""Refuse JSON nested deeper than a limit before any parser sees it.

Parsers pay for depth: ijson builds a dotted path for every level (memory
grows with the square of the depth: a 200 KB ``[[[[…`` upload reached 19 GB),
and recursive Python code over a parsed value overflows the stack. Records
and Label Studio tasks are a few levels deep, so a document deeper than the
limit is refused whole.

The scan removes complete strings with one regular expression (so brackets
inside text do not count) and sums the remaining brackets with numpy; it
keeps its state between pieces, so a stream is checked as it is read.
"""

from __future__ import annotations

import io
import re
from typing import Any, BinaryIO

import numpy as np

DEFAULT_MAX_DEPTH = 64

# A complete JSON string, and the rest of one that began in an earlier piece.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_END = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


class NestingTooDeep(ValueError):
    """The document nests arrays/objects deeper than the limit."""

    def __init__(self, limit: int, offset: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels (at byte {offset + 1})")
        self.limit = limit
        self.offset = offset


class NestingScanner:
    """Bracket depth outside strings of a JSON text fed piece by piece."""

    def __init__(self, limit: int = DEFAULT_MAX_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self.offset = 0  # bytes fed before the current piece
        self._in_string = False
        self._escaped = False  # the piece ended inside a string on an unpaired backslash

    def feed(self, piece: bytes) -> None:
        """Raise NestingTooDeep as soon as the depth passes the limit."""
        start = 0
        if self._in_string:
            start = 1 if self._escaped and piece else 0
            end = _STRING_END.match(piece, start)
            if end is None:
                self._still_in_string(piece, start)
                self.offset += len(piece)
                return
            start, self._in_string, self._escaped = end.end(), False, False
        rest = _STRING.sub(b"", piece[start:])
        quote = rest.find(b'"')
        if quote >= 0:  # a string opens here and goes on into the next piece
            rest = rest[:quote]
            self._in_string = True
            self._still_in_string(piece, piece.rfind(b'"') + 1)
        self._count(rest)
        self.offset += len(piece)

    def _still_in_string(self, piece: bytes, start: int) -> None:
        tail = piece[start:]
        self._escaped = (len(tail) - len(tail.rstrip(b"\\"))) % 2 == 1

    def _count(self, structural: bytes) -> None:
        if not structural:
            return
        steps = _STEP[np.frombuffer(structural, dtype=np.uint8)]
        depth = self.depth + np.cumsum(steps, dtype=np.int64)
        deepest = int(depth.max())
        if deepest > self.limit:
            # Offsets count structural bytes only once strings are removed; report the piece.
            raise NestingTooDeep(self.limit, self.offset)
        self.depth = int(depth[-1])


def check_nesting(data: bytes, limit: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise NestingTooDeep when ``data`` nests deeper than ``limit``.

    Cheap when the text has fewer brackets than the limit, as almost every record has.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return
    NestingScanner(limit).feed(data)


class NestingGuard(io.RawIOBase):
    """A byte stream that raises NestingTooDeep while being read, before the parser gets deep."""

    def __init__(self, raw: BinaryIO, limit: int = DEFAULT_MAX_DEPTH) -> None:
        self._raw = raw
        self._scanner = NestingScanner(limit)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if data:
            self._scanner.feed(data)
        count = len(data)
        buffer[:count] = data
        return count
