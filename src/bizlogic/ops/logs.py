"""The log analyzer behind `bizlogic logs analyze`: figures from the JSON logs of DESIGN §8.

Streaming: files (plain or ``.gz``, a live file and its rotations) are read in
large binary blocks and parsed line by line with orjson; memory holds the
counters and one duration per completed analysis, never the file. Every
non-blank line is parsed: one that is not a JSON object with a readable
``timestamp`` is counted as malformed (with its file and line number for the
first few), never dropped silently. Timestamps are time-zone aware; a
timestamp without an offset is UTC, as the service writes them.

Reports:

* performance — analyses started / completed / failed (``analysis_start``,
  ``analysis_complete``, ``analysis_error``), success rate = completed /
  (completed + failed), duration avg/min/max/p50/p95 of completed analyses,
  all of it also per algorithm;
* errors — ``analysis_error`` by error type (the text before the first ``:``)
  and by algorithm, a timeline per time bucket, and all ERROR/CRITICAL lines
  by logger;
* users — ``user_action``: active users, actions by kind and by user, timeline.

Percentiles are nearest-rank: the reported p95 is a duration that occurred.

A large plain file is split at line boundaries into one byte range per core,
analysed in worker processes and merged in order, so the figures (and the line
numbers of malformed lines) are those of one sequential pass.
"""

from __future__ import annotations

import gzip
import itertools
import math
import multiprocessing
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

BLOCK = 8 * 1024 * 1024
PARALLEL_MIN_BYTES = 64 * 1024 * 1024  # below this, starting processes costs more than it saves
MALFORMED_EXAMPLES = 10
_ROTATION = re.compile(r"\.(\d+)(\.gz)?$")


def log_files(live: Path) -> list[Path]:
    """``live`` and its rotations (``live.1``, ``live.2.gz`` …), oldest first."""
    rotated = []
    for path in live.parent.glob(f"{live.name}.*"):
        match = _ROTATION.search(path.name[len(live.name) :])
        if match and path.is_file():
            rotated.append((int(match.group(1)), path))
    ordered = [path for _, path in sorted(rotated, reverse=True)]
    return [*ordered, live] if live.exists() else ordered


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Lines of a file (or of the byte range ``[start, end)`` of a plain file) in big
    blocks; a line split by a block boundary is joined."""
    with _open(path) as handle:
        if start:
            handle.seek(start)
        left = math.inf if end is None else end - start
        rest = b""
        while left > 0 and (block := handle.read(int(min(BLOCK, left)))):
            left -= len(block)
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            yield from lines
        if rest:
            yield rest


def _line_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of a plain file, each starting at the beginning of a line."""
    size = path.stat().st_size
    starts = [0]
    with path.open("rb") as handle:
        for k in range(1, parts):
            handle.seek(size * k // parts)
            handle.readline()
            starts.append(max(handle.tell(), starts[-1]))
    bounds = [*starts, size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _analyse_range(
    path: Path, start: int, end: int, since: datetime | None, until: datetime | None,
    bucket: timedelta,
) -> tuple[LogAnalyzer, int]:  # fmt: skip
    """A worker process's share: the analyzer's state and the physical lines it read."""
    part = LogAnalyzer(since, until, bucket)
    number = 0
    for number, line in enumerate(iter_lines(path, start, end), start=1):
        part.feed(line, path, number)
    return part, number


def parse_time(value: str) -> datetime:
    """ISO-8601; without an offset it is UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def nearest_rank(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(len(sorted_values) * q / 100))
    return sorted_values[rank - 1]


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


class LogAnalyzer:
    def __init__(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: timedelta = timedelta(hours=1),
    ) -> None:
        self.since, self.until, self.bucket = since, until, bucket
        self.lines = 0
        self.in_window = 0
        self.malformed = 0
        self.malformed_examples: list[dict[str, Any]] = []
        self.algorithms: dict[str, _Algorithm] = defaultdict(_Algorithm)
        self.errors_by_type: Counter[str] = Counter()
        self.errors_by_algorithm: Counter[str] = Counter()
        self.error_timeline: Counter[datetime] = Counter()
        self.error_lines_by_logger: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.actions_by_user: Counter[str] = Counter()
        self.action_timeline: Counter[datetime] = Counter()
        self.files: list[str] = []

    def feed_files(self, paths: Iterable[Path], workers: int | None = None) -> LogAnalyzer:
        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        for path in paths:
            self.files.append(str(path))
            plain = path.suffix != ".gz"
            if workers > 1 and plain and path.stat().st_size >= PARALLEL_MIN_BYTES:
                self._feed_parallel(path, workers)
                continue
            for number, line in enumerate(iter_lines(path), start=1):
                self.feed(line, path, number)
        return self

    def _feed_parallel(self, path: Path, workers: int) -> None:
        ranges = _line_ranges(path, workers)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(len(ranges), mp_context=context) as pool:
            futures = [
                pool.submit(_analyse_range, path, a, b, self.since, self.until, self.bucket)
                for a, b in ranges
            ]
            offset = 0
            for future in futures:  # in file order: line numbers continue across parts
                part, lines_read = future.result()
                self._merge(part, offset)
                offset += lines_read

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
            "errors_by_type", "errors_by_algorithm", "error_timeline", "error_lines_by_logger",
            "actions", "actions_by_user", "action_timeline",
        ):  # fmt: skip
            getattr(self, counter).update(getattr(part, counter))

    def _malformed(self, path: Path | None, number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MALFORMED_EXAMPLES:
            self.malformed_examples.append(
                {"file": str(path) if path else None, "line": number, "reason": reason}
            )

    def feed(self, line: bytes, path: Path | None = None, number: int = 0) -> None:
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
        if (self.since is not None and when < self.since) or (
            self.until is not None and when >= self.until
        ):
            return
        self.in_window += 1
        event = record.get("event")
        level = record.get("level")
        if level in ("ERROR", "CRITICAL"):
            self.error_lines_by_logger[str(record.get("logger"))] += 1
        if event == "analysis_start":
            self.algorithms[str(record.get("algorithm"))].started += 1
        elif event == "analysis_complete":
            stats = self.algorithms[str(record.get("algorithm"))]
            stats.completed += 1
            duration = record.get("duration")
            if isinstance(duration, int | float):
                stats.durations.append(float(duration))
        elif event == "analysis_error":
            algorithm = str(record.get("algorithm"))
            self.algorithms[algorithm].failed += 1
            error = str(record.get("error") or "")
            self.errors_by_type[error.split(":", 1)[0].strip() or "unknown"] += 1
            self.errors_by_algorithm[algorithm] += 1
            self.error_timeline[self._bucket(when)] += 1
        elif event == "user_action":
            self.actions[str(record.get("action"))] += 1
            self.actions_by_user[str(record.get("user_id"))] += 1
            self.action_timeline[self._bucket(when)] += 1

    def _bucket(self, when: datetime) -> datetime:
        seconds = self.bucket.total_seconds()
        epoch = when.timestamp()
        return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)

    # -- reports ------------------------------------------------------------------

    def performance(self) -> dict[str, Any]:
        overall = _Algorithm()
        for stats in self.algorithms.values():
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
            "by_type": dict(self.errors_by_type.most_common()),
            "by_algorithm": dict(self.errors_by_algorithm.most_common()),
            "timeline": _timeline(self.error_timeline),
            "error_lines_by_logger": dict(self.error_lines_by_logger.most_common()),
        }

    def users(self) -> dict[str, Any]:
        return {
            "active_users": len(self.actions_by_user),
            "actions": sum(self.actions.values()),
            "by_action": dict(self.actions.most_common()),
            "by_user": dict(self.actions_by_user.most_common()),
            "timeline": _timeline(self.action_timeline),
        }

    def report(self, which: str = "all") -> dict[str, Any]:
        result: dict[str, Any] = {
            "window": {
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "bucket_s": int(self.bucket.total_seconds()),
            },
            "files": self.files,
            "lines": self.lines,
            "lines_in_window": self.in_window,
            "malformed": {"count": self.malformed, "examples": self.malformed_examples},
        }
        for name in ("performance", "errors", "users"):
            if which in (name, "all"):
                result[name] = getattr(self, name)()
        return result


def _timeline(counts: Counter[datetime]) -> list[dict[str, Any]]:
    return [{"start": start.isoformat(), "count": counts[start]} for start in sorted(counts)]
