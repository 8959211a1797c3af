"""Label values with bounded cardinality.

Every distinct label value is a separate Prometheus time series, so values
that come from users (project ids, HTTP methods) are folded into a fixed set.
"""

from __future__ import annotations

import threading

OTHER = "_other"

# (upper bound exclusive, label) — DESIGN §7; anything larger is "xlarge".
_SIZE_RANGES: tuple[tuple[int, str], ...] = (
    (100, "tiny"),
    (1_000, "small"),
    (10_000, "medium"),
    (100_000, "large"),
)
DATA_SIZE_RANGES: tuple[str, ...] = (*(label for _, label in _SIZE_RANGES), "xlarge")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def data_size_range(n_records: int) -> str:
    """The ``data_size_range`` label for an analysis over ``n_records`` records."""
    if n_records < 0:
        raise ValueError(f"n_records must be >= 0, got {n_records}")
    for bound, label in _SIZE_RANGES:
        if n_records < bound:
            return label
    return "xlarge"


def http_method(method: str) -> str:
    """The method label: standard methods as-is, anything a client invents → ``OTHER``."""
    upper = method.upper()
    return upper if upper in HTTP_METHODS else "OTHER"


class ProjectLabeler:
    """Maps project ids to at most ``max_projects`` label values; the rest → ``_other``.

    The first ``max_projects`` distinct projects seen keep their own series for
    the life of the process (a series must not change its meaning mid-way);
    later projects share ``_other``. Thread-safe: jobs finish on worker threads.
    """

    def __init__(self, max_projects: int) -> None:
        if max_projects < 1:
            raise ValueError(f"max_projects must be >= 1, got {max_projects}")
        self.max_projects = max_projects
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def label(self, project_id: str) -> str:
        with self._lock:
            if project_id in self._known:
                return project_id
            if len(self._known) < self.max_projects:
                self._known.add(project_id)
                return project_id
            return OTHER

    def known(self) -> frozenset[str]:
        """The projects that have a series of their own."""
        with self._lock:
            return frozenset(self._known)
