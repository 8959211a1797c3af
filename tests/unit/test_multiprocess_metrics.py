"""Multiprocess metrics: summed over processes, dead processes' gauges dropped, counters kept,
the cache hit rate recomputed from the summed counters."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bizlogic.telemetry.multiprocess import (
    ENV,
    AllProcesses,
    forget_dead_processes,
    prepare_dir,
)

SCRIPT = """
import sys
from bizlogic.telemetry.metrics import Metrics
m = Metrics()
for hit in sys.argv[1]:
    m.cache_lookup(hit == "h")
if sys.argv[2] == "busy":
    m.analysis_started()
print("ready", flush=True)
sys.stdin.read()  # stay alive until the test closes stdin (or kills us)
"""


def spawn(path: Path, lookups: str, busy: bool) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, lookups, "busy" if busy else "idle"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def scrape(path: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(AllProcesses(str(path)))
    values = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name in ("bl_active_analyses", "bl_cache_hit_rate"):
                values[sample.name] = sample.value
            if sample.name == "bl_cache_requests_total":
                values[f"cache_{sample.labels['result']}"] = sample.value
    return values


def test_processes_add_up_and_dead_ones_leave_only_their_counters(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, "")  # prepare_dir points this process at the directory: undo after
    path = prepare_dir(tmp_path / "mp")
    first = spawn(path, "hmh", busy=True)
    second = spawn(path, "m", busy=True)
    try:
        alive = scrape(path)
        assert alive["bl_active_analyses"] == 2
        assert (alive["cache_hit"], alive["cache_miss"]) == (2, 2)
        assert alive["bl_cache_hit_rate"] == 0.5  # 2 / 4 over both, not either's own ratio
        second.kill()
        second.wait()
        after = scrape(path)
        assert after["bl_active_analyses"] == 1  # the dead process no longer runs anything
        assert (after["cache_hit"], after["cache_miss"]) == (2, 2)  # totals never go back
        assert forget_dead_processes(str(path)) == [second.pid]  # its counter file remains
    finally:
        first.communicate("")
        second.wait()


def test_prepare_dir_empties_what_an_earlier_run_left(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, "")
    path = prepare_dir(tmp_path / "mp")
    process = spawn(path, "h", busy=False)
    process.communicate("")
    assert list(path.glob("*.db"))
    prepare_dir(path)
    assert list(path.glob("*.db")) == []
    assert math.isnan(scrape(path)["bl_cache_hit_rate"])


ACCURACY_SCRIPT = """
import sys
from bizlogic.telemetry.metrics import Metrics
m = Metrics()
figure = None if sys.argv[1] == "none" else float(sys.argv[1])
m.analysis_started()
m.analysis_finished("temporal_trends", "p1", "viewer", "completed", 1.0, 10, 0, figure, "text")
"""


def accuracy_by_algorithm(path: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(AllProcesses(str(path)))
    return {
        sample.labels["algorithm"]: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == "bl_pattern_accuracy"
    }


def test_a_run_without_an_accuracy_figure_hides_older_ones_of_every_process(
    tmp_path, monkeypatch
) -> None:
    """Series cannot be removed from the shared files: the newest value, NaN, wins over the
    first process's, and the scrape leaves such a series out, as a single process would."""
    monkeypatch.setenv(ENV, "")
    path = prepare_dir(tmp_path / "mp")
    env = {**os.environ, ENV: str(path)}
    for figure in ("0.75", "none"):  # two worker processes, one after the other
        subprocess.run([sys.executable, "-c", ACCURACY_SCRIPT, figure], env=env, check=True)
        if figure == "0.75":
            assert accuracy_by_algorithm(path) == {"temporal_trends": 0.75}
    assert accuracy_by_algorithm(path) == {}  # not the first process's 0.75, and no NaN
