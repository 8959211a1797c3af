"""The metrics contract of DESIGN §7, read back through a real scrape."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bizlogic.cache import MemoryCache
from bizlogic.telemetry.http import HttpMetricsMiddleware, metrics_response
from bizlogic.telemetry.labels import ProjectLabeler
from bizlogic.telemetry.metrics import Metrics, data_size_range, get_metrics

ALGO = "sentiment_correlation"

SYSTEM_GAUGES = (
    "bl_cpu_usage_percent", "bl_memory_usage_bytes", "bl_memory_usage_percent",
    "bl_disk_usage_percent", "bl_disk_io_read_bytes", "bl_disk_io_write_bytes",
    "bl_db_connections_active", "bl_db_connections_idle", "bl_db_query_duration_seconds",
    "bl_redis_connected_clients", "bl_redis_memory_usage_bytes",
    "bl_redis_keyspace_hits", "bl_redis_keyspace_misses",
)  # fmt: skip
# family name as the parser reports it (counters without "_total") → (type, label names)
CONTRACT = {
    "bl_analysis_requests": ("counter", {"algorithm", "status", "user_role", "project_id"}),
    "bl_analysis_duration_seconds": ("histogram", {"algorithm", "data_size_range"}),
    "bl_active_analyses": ("gauge", set()),
    "bl_rules_extracted": ("counter", {"algorithm", "project_id"}),
    "bl_pattern_accuracy": ("gauge", {"algorithm"}),
    "bl_cache_hit_rate": ("gauge", set()),
    "bl_data_processed": ("counter", {"algorithm", "data_type"}),
    **{name: ("gauge", set()) for name in SYSTEM_GAUGES},
}
ADDITIONS = {
    "bl_collector_up": ("gauge", {"source"}),
    "bl_cache_requests": ("counter", {"result"}),
    "bl_jobs": ("counter", {"status"}),
    "bl_worker_jobs": ("counter", {"outcome"}),
    "bl_db_pool_checkouts": ("counter", {"connection"}),
    "bl_db_pool_size": ("gauge", set()),
    "bl_build_info": ("gauge", {"version"}),
    "bl_http_requests": ("counter", {"method", "route", "status"}),
    "bl_http_request_duration_seconds": ("histogram", {"method", "route"}),
}
ANALYSIS_BUCKETS = ["0.1", "0.5", "1.0", "5.0", "10.0", "30.0", "60.0", "300.0", "600.0", "+Inf"]


def scrape(metrics: Metrics) -> str:
    body, content_type = metrics.render()
    assert content_type == CONTENT_TYPE_LATEST
    return body.decode()


def samples(metrics: Metrics, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Sample name → {frozen label set: value} from a parsed scrape."""
    found: list[Sample] = [
        sample
        for family in text_string_to_metric_families(scrape(metrics))
        for sample in family.samples
        if sample.name == name
    ]
    return {frozenset(s.labels.items()): s.value for s in found}


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics, name)[frozenset(labels.items())]


def finish(metrics: Metrics, project_id: str = "p1", **overrides: object) -> None:
    args: dict[str, object] = {
        "algorithm": ALGO,
        "project_id": project_id,
        "user_role": "data_analyst",
        "status": "completed",
        "duration_s": 0.7,
        "n_records": 150,
        "rules_extracted": 3,
        "pattern_accuracy": 0.75,
        "data_type": "annotations",
    }
    args.update(overrides)
    metrics.analysis_started()
    metrics.analysis_finished(**args)  # type: ignore[arg-type]


def test_every_metric_has_its_contract_name_type_and_labels() -> None:
    metrics = Metrics(version="1.2.3")
    finish(metrics)
    metrics.cache_lookup(True)
    metrics.job_status("queued")
    metrics.http_request("GET", "/x", 200, 0.01)
    metrics.collector_up("cpu", True)

    families = {f.name: f for f in text_string_to_metric_families(scrape(metrics))}

    assert set(families) == set(CONTRACT) | set(ADDITIONS)  # nothing else, no *_created
    for name, (kind, labels) in {**CONTRACT, **ADDITIONS}.items():
        family = families[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)


def test_exposition_lines_after_one_completed_analysis() -> None:
    metrics = Metrics(version="1.2.3")
    finish(metrics)
    lines = scrape(metrics).splitlines()

    labels = 'algorithm="sentiment_correlation",project_id="p1"'
    for expected in [
        "# TYPE bl_analysis_requests_total counter",
        'bl_analysis_requests_total{algorithm="sentiment_correlation",project_id="p1",'
        'status="success",user_role="data_analyst"} 1.0',
        "# TYPE bl_analysis_duration_seconds histogram",
        'bl_analysis_duration_seconds_bucket{algorithm="sentiment_correlation",'
        'data_size_range="small",le="0.5"} 0.0',
        'bl_analysis_duration_seconds_bucket{algorithm="sentiment_correlation",'
        'data_size_range="small",le="1.0"} 1.0',
        'bl_analysis_duration_seconds_sum{algorithm="sentiment_correlation",'
        'data_size_range="small"} 0.7',
        "# TYPE bl_active_analyses gauge",
        "bl_active_analyses 0.0",
        f"bl_rules_extracted_total{{{labels}}} 3.0",
        'bl_pattern_accuracy{algorithm="sentiment_correlation"} 0.75',
        'bl_data_processed_total{algorithm="sentiment_correlation",data_type="annotations"} 150.0',
        'bl_build_info{version="1.2.3"} 1.0',
    ]:
        assert expected in lines, expected


def test_duration_histogram_has_exactly_the_contract_buckets() -> None:
    metrics = Metrics()
    for duration in (0.05, 0.3, 2.0, 45.0, 700.0):
        finish(metrics, duration_s=duration, n_records=50)
    buckets = samples(metrics, "bl_analysis_duration_seconds_bucket")
    by_le = {dict(k)["le"]: v for k, v in buckets.items()}
    assert list(by_le) == ANALYSIS_BUCKETS
    assert by_le == {
        "0.1": 1.0,
        "0.5": 2.0,
        "1.0": 2.0,
        "5.0": 3.0,
        "10.0": 3.0,
        "30.0": 3.0,
        "60.0": 4.0,
        "300.0": 4.0,
        "600.0": 4.0,
        "+Inf": 5.0,
    }
    assert {dict(k)["data_size_range"] for k in buckets} == {"tiny"}


@pytest.mark.parametrize(
    ("n", "label"),
    [
        (0, "tiny"),
        (99, "tiny"),
        (100, "small"),
        (999, "small"),
        (1_000, "medium"),
        (9_999, "medium"),
        (10_000, "large"),
        (99_999, "large"),
        (100_000, "xlarge"),
        (10**9, "xlarge"),
    ],
)
def test_data_size_range_boundaries(n: int, label: str) -> None:
    assert data_size_range(n) == label


def test_data_size_range_rejects_negative() -> None:
    with pytest.raises(ValueError, match="n_records"):
        data_size_range(-1)


def test_active_analyses_counts_runs_in_progress() -> None:
    metrics = Metrics()
    metrics.analysis_started()
    metrics.analysis_started()
    assert value(metrics, "bl_active_analyses") == 2.0
    metrics.analysis_finished(ALGO, "p1", "viewer", "completed", 1.0, 10, 0, None, "text")
    assert value(metrics, "bl_active_analyses") == 1.0


def test_failed_run_counts_request_and_duration_but_no_results() -> None:
    metrics = Metrics()
    finish(metrics, status="failed", rules_extracted=0, pattern_accuracy=None)

    requests = samples(metrics, "bl_analysis_requests_total")
    durations = samples(metrics, "bl_analysis_duration_seconds_count")
    assert [dict(k)["status"] for k in requests] == ["error"]  # the guide's label value
    assert list(requests.values()) == [1.0]
    assert list(durations.values()) == [1.0]
    assert samples(metrics, "bl_rules_extracted_total") == {}
    assert samples(metrics, "bl_data_processed_total") == {}
    assert samples(metrics, "bl_pattern_accuracy") == {}
    assert value(metrics, "bl_active_analyses") == 0.0


def test_a_run_without_an_accuracy_figure_leaves_no_series_for_its_algorithm() -> None:
    """None (nothing to validate): an earlier run's figure must not stand for this run."""
    metrics = Metrics()
    finish(metrics, pattern_accuracy=0.75)
    finish(metrics, algorithm="user_behavior", pattern_accuracy=0.5)
    series = f'bl_pattern_accuracy{{algorithm="{ALGO}"}}'
    assert f"{series} 0.75" in scrape(metrics).splitlines()

    finish(metrics, pattern_accuracy=None)
    assert series not in scrape(metrics)  # absent, not 0.75 and not 0
    assert samples(metrics, "bl_pattern_accuracy") == {
        frozenset({("algorithm", "user_behavior")}): 0.5  # other algorithms keep theirs
    }
    # A failed run records no accuracy at all: it neither sets nor removes.
    finish(metrics, algorithm="user_behavior", status="failed", pattern_accuracy=None)
    assert value(metrics, "bl_pattern_accuracy", algorithm="user_behavior") == 0.5
    # Never set, nothing to remove; a later figure is shown again.
    finish(metrics, algorithm="temporal_trends", pattern_accuracy=None)
    finish(metrics, pattern_accuracy=1.0)
    assert value(metrics, "bl_pattern_accuracy", algorithm=ALGO) == 1.0
    assert set(samples(metrics, "bl_pattern_accuracy")) == {
        frozenset({("algorithm", ALGO)}),
        frozenset({("algorithm", "user_behavior")}),
    }


def test_an_algorithm_that_never_started_counts_as_a_request_without_duration() -> None:
    metrics = Metrics()
    finish(metrics, status="failed", duration_s=None, rules_extracted=0, pattern_accuracy=None)
    requests = samples(metrics, "bl_analysis_requests_total")
    assert [dict(k)["status"] for k in requests] == ["error"]
    assert samples(metrics, "bl_analysis_duration_seconds_count") == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"status": "done"}, "status must be one of"),
        ({"pattern_accuracy": 1.5}, "pattern_accuracy must be within 0..1"),
        ({"pattern_accuracy": -0.1}, "pattern_accuracy must be within 0..1"),
    ],
)
def test_invalid_analysis_values_are_rejected_before_recording(
    overrides: dict[str, object], message: str
) -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match=message):
        finish(metrics, **overrides)
    assert samples(metrics, "bl_analysis_requests_total") == {}
    assert value(metrics, "bl_active_analyses") == 1.0  # the caller still owes the finish


def test_project_label_is_bounded_and_the_rest_is_other() -> None:
    metrics = Metrics(max_projects=50)
    for i in range(51):
        finish(metrics, project_id=f"p{i}")
    finish(metrics, project_id="p0")  # a known project keeps its series
    finish(metrics, project_id="p99")  # any later project shares _other

    requests = samples(metrics, "bl_analysis_requests_total")
    projects = {dict(labels)["project_id"]: v for labels, v in requests.items()}
    assert set(projects) == {f"p{i}" for i in range(50)} | {"_other"}
    assert projects["_other"] == 2.0
    assert projects["p0"] == 2.0
    rules_series = samples(metrics, "bl_rules_extracted_total")
    rules = {dict(labels)["project_id"]: v for labels, v in rules_series.items()}
    assert len(rules) == 51
    assert rules["_other"] == 6.0


def test_project_labeler_is_exact_under_concurrent_use() -> None:
    labeler = ProjectLabeler(max_projects=50)
    results: dict[str, set[str]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work(offset: int) -> None:
        barrier.wait()
        for i in range(200):
            project = f"p{(i + offset * 25) % 200}"
            label = labeler.label(project)
            with lock:
                results.setdefault(project, set()).add(label)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    known = labeler.known()
    assert len(known) == 50
    for project, labels in results.items():
        assert labels == ({project} if project in known else {"_other"})


def test_cache_hit_rate_after_a_known_sequence() -> None:
    metrics = Metrics()
    assert math.isnan(value(metrics, "bl_cache_hit_rate"))  # no lookups yet: no rate, not 0
    for hit in (True, False, False, True, True):
        metrics.cache_lookup(hit)
    assert value(metrics, "bl_cache_hit_rate") == 0.6
    assert value(metrics, "bl_cache_requests_total", result="hit") == 3.0
    assert value(metrics, "bl_cache_requests_total", result="miss") == 2.0


def test_cache_lookup_plugs_into_memory_cache() -> None:
    metrics = Metrics()
    cache = MemoryCache(on_lookup=metrics.cache_lookup)
    key = cache.key("p1", "rules", {"limit": 10})
    for _ in range(4):
        if cache.get_raw(key) is None:
            cache.set(key, {"rules": []})
    assert value(metrics, "bl_cache_hit_rate") == 0.75
    assert value(metrics, "bl_cache_requests_total", result="miss") == 1.0


def test_jobs_are_counted_by_status() -> None:
    metrics = Metrics()
    for status in ("queued", "queued", "queued", "completed", "failed"):
        metrics.job_status(status)
    metrics.job_status("cancelled", 2)  # ends taken from the database come in batches
    metrics.job_status("failed", 0)
    assert samples(metrics, "bl_jobs_total") == {
        frozenset({("status", "queued")}): 3.0,
        frozenset({("status", "completed")}): 1.0,
        frozenset({("status", "failed")}): 1.0,
        frozenset({("status", "cancelled")}): 2.0,
    }
    with pytest.raises(ValueError, match="status must be one of"):
        metrics.job_status("running")
    with pytest.raises(ValueError, match="must not be negative"):
        metrics.job_status("completed", -1)


def test_instances_are_isolated_and_the_default_is_shared() -> None:
    first, second = Metrics(), Metrics()
    first.cache_lookup(True)
    assert math.isnan(value(second, "bl_cache_hit_rate"))
    assert get_metrics() is get_metrics()


class StepClock:
    """Each reading is 3 ms after the previous one: every request lasts exactly 3 ms."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.003
        return self.now


@pytest.fixture
def http_metrics() -> Iterator[tuple[Metrics, TestClient]]:
    metrics = Metrics()
    app = FastAPI()

    @app.get("/items/{item_id}")
    def read_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    @app.get("/metrics")
    def scrape_endpoint() -> object:
        return metrics_response(metrics)

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    def read_thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    app.mount("/sub", sub)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics, clock=StepClock())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield metrics, client


def test_http_requests_are_labelled_by_route_template(
    http_metrics: tuple[Metrics, TestClient],
) -> None:
    metrics, client = http_metrics
    assert client.get("/items/7").status_code == 200
    assert client.get("/items/8").status_code == 200
    assert client.get("/items/x").status_code == 422
    assert client.get("/nope/7").status_code == 404
    assert client.post("/items/7").status_code == 405
    assert client.request("BREW", "/items/7").status_code == 405
    assert client.get("/boom").status_code == 500
    assert client.get("/sub/things/a1").status_code == 200

    def key(method: str, route: str, status: str) -> frozenset[tuple[str, str]]:
        return frozenset({("method", method), ("route", route), ("status", status)})

    assert samples(metrics, "bl_http_requests_total") == {
        key("GET", "/items/{item_id}", "200"): 2.0,
        key("GET", "/items/{item_id}", "422"): 1.0,
        key("GET", "<unmatched>", "404"): 1.0,
        key("POST", "/items/{item_id}", "405"): 1.0,
        key("OTHER", "/items/{item_id}", "405"): 1.0,
        key("GET", "/boom", "500"): 1.0,
        key("GET", "/sub/things/{thing_id}", "200"): 1.0,
    }


def test_http_duration_histogram_uses_the_injected_clock(
    http_metrics: tuple[Metrics, TestClient],
) -> None:
    metrics, client = http_metrics
    client.get("/items/1")
    client.get("/items/2")
    route = {"method": "GET", "route": "/items/{item_id}"}
    assert value(metrics, "bl_http_request_duration_seconds_count", **route) == 2.0
    assert value(metrics, "bl_http_request_duration_seconds_bucket", le="0.0025", **route) == 0.0
    assert value(metrics, "bl_http_request_duration_seconds_bucket", le="0.005", **route) == 2.0
    assert value(metrics, "bl_http_request_duration_seconds_sum", **route) == pytest.approx(0.006)


def test_metrics_endpoint_serves_the_scrape(http_metrics: tuple[Metrics, TestClient]) -> None:
    _, client = http_metrics
    client.get("/items/1")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert set(CONTRACT) <= names
    assert (
        'bl_http_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0'
        in response.text.splitlines()
    )
