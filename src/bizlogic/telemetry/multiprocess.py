"""Metrics summed over processes (``serve --workers N``, Dramatiq worker processes).

prometheus_client's multiprocess mode: every process writes its values to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds them up.
The variable must be set before ``prometheus_client`` is imported, so the CLI
prepares the directory (wiping what an earlier run left, or old processes'
counters would be added in) and only then starts the processes.

At every scrape, gauges of processes that are gone are dropped (their
counters stay: totals must not go backwards), and ``bl_cache_hit_rate`` is
recomputed from the summed hit and miss counters — a per-process ratio cannot
be added up.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bizlogic.private_fs import make_private_dir

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID_IN_NAME = re.compile(r"_(\d+)\.db$")


def prepare_dir(path: Path) -> Path:
    """Create (or empty) the directory and point this process and its children at it.

    Created 0700: it sits in the data directory, which only the service may read.
    """
    make_private_dir(path)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[ENV] = str(path)
    return path


def active_dir() -> str | None:
    return os.environ.get(ENV) or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def forget_dead_processes(path: str) -> list[int]:
    """Drop the live gauges of processes that no longer exist; returns their pids."""
    pids = {int(m.group(1)) for name in os.listdir(path) if (m := _PID_IN_NAME.search(name))}
    dead = sorted(pid for pid in pids if not _alive(pid))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)
    return dead


class AllProcesses(Collector):
    """Every process's metrics, summed, plus ``extra`` families computed at scrape time."""

    def __init__(self, path: str, extra: Callable[[], Iterable[Metric]] | None = None) -> None:
        self.path = path
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        forget_dead_processes(self.path)
        hits = misses = 0.0
        for family in multiprocess.MultiProcessCollector(None, self.path).collect():
            if family.name == "bl_cache_hit_rate":
                continue  # recomputed below
            if family.name == "bl_pattern_accuracy":
                # A run with nothing to validate sets NaN (a file-backed gauge cannot be
                # removed): that series is absent, as in a single process.
                family.samples = [s for s in family.samples if not math.isnan(s.value)]
            if family.name == "bl_cache_requests":
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        if sample.labels.get("result") == "hit":
                            hits += sample.value
                        else:
                            misses += sample.value
            yield family
        lookups = hits + misses
        yield GaugeMetricFamily(
            "bl_cache_hit_rate",
            "Cache hits / lookups over all processes (0-1; NaN before the first lookup).",
            value=hits / lookups if lookups else math.nan,
        )
        if self.extra is not None:
            yield from self.extra()
