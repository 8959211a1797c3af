"""One pass over the service's JSON log for the window: the log analyzer's figures and,
from the same lines, the HTTP requests of the access lines and the lines by level.

The service's access line is ``http_request`` (logger ``bizlogic.http``): method, route
template, status and ``duration_ms``, written after the response's last byte. Logs of
versions before it hold uvicorn's line instead (logger ``uvicorn.access``, ``event``
``<client> - "<METHOD> <path> HTTP/<version>" <status>``), which is counted too but
carries no duration.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bizlogic.ops.logs import LogAnalyzer, LogReadError, family_files, iter_lines
from bizlogic.ops.report.stats import day_of

ACCESS_LOGGER = "uvicorn.access"
REQUEST_EVENT = "http_request"
REQUEST_LOGGER = "bizlogic.http"
_ACCESS = re.compile(r'^\S* - "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3})$')


class ServiceLogPass(LogAnalyzer):
    """The log analyzer, counting also requests and levels in the lines of its window.

    Lines are fed one by one (``feed``, the analyzer's definition of a line), so that each
    line is decoded once for both: the analyzer's fast path skips access lines unread."""

    def __init__(self, since: datetime, until: datetime, top: int = 5) -> None:
        super().__init__(since, until, timedelta(days=1), top)
        self.levels: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # "METHOD /path" → requests
        self.errors_5xx: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()  # "2xx" …
        self.requests_by_day: Counter[str] = Counter()
        self.durations_s: list[float] = []
        self.durations_by_endpoint: dict[str, list[float]] = {}
        self.durations_by_day: dict[str, list[float]] = {}

    def _tally(self, when: datetime, number: int, record: dict[str, Any]) -> None:
        super()._tally(when, number, record)
        self.levels[str(record.get("level"))] += 1
        logger = record.get("logger")
        if logger == REQUEST_LOGGER and record.get("event") == REQUEST_EVENT:
            self._request(when, record)
        elif logger == ACCESS_LOGGER:
            match = _ACCESS.match(str(record.get("event", "")))
            if match is not None:
                endpoint = f"{match['method']} {match['path'].split('?', 1)[0]}"
                self._count(when, endpoint, match["status"])

    def _request(self, when: datetime, record: dict[str, Any]) -> None:
        status, duration_ms = record.get("status"), record.get("duration_ms")
        route = record.get("route") or record.get("path")
        if not isinstance(status, int) or not isinstance(route, str):
            return
        endpoint = f"{record.get('method', '?')} {route}"
        self._count(when, endpoint, str(status))
        if isinstance(duration_ms, int | float) and duration_ms >= 0:
            seconds = duration_ms / 1000
            self.durations_s.append(seconds)
            self.durations_by_endpoint.setdefault(endpoint, []).append(seconds)
            self.durations_by_day.setdefault(day_of(when), []).append(seconds)

    def _count(self, when: datetime, endpoint: str, status: str) -> None:
        self.requests[endpoint] += 1
        self.statuses[f"{status[0]}xx"] += 1
        self.requests_by_day[day_of(when)] += 1
        if status.startswith("5"):
            self.errors_5xx[endpoint] += 1

    def read(self, paths: list[Path]) -> ServiceLogPass:
        for path in paths:
            self._file_index = len(self.files)
            self.files.append(str(path))
            try:
                for number, line in enumerate(iter_lines(path), start=1):
                    self.feed(line, path, number)
            except (OSError, EOFError, zlib.error) as exc:
                raise LogReadError(path, exc) from exc
        return self


def log_paths(template: Path | None) -> list[Path]:
    """The files ``BL_LOG_FILE`` stands for (every process's, with rotations)."""
    return family_files(template) if template is not None else []
