"""The log analyzer against an independent computation over generated logs."""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bizlogic.cli import app
from bizlogic.ops.logs import LogAnalyzer, log_files
from bizlogic.ops.logs import parse_time as parse

START = datetime(2026, 11, 20, tzinfo=UTC)
ALGORITHMS = ["sentiment_correlation", "keyword_cooccurrence", "temporal_trends"]
ACTIONS = ["import_records", "analyze", "toggle_rule", "acknowledge_insight"]
ERRORS = ["timeout: ran past 1800 s", "OperationalError: connection refused", "ValueError: bad"]
SHANGHAI = timezone(timedelta(hours=8))


def generate_events(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        when = START + timedelta(seconds=rng.randrange(3 * 86400))
        kind = rng.choice(["analysis_start", "analysis_complete", "analysis_error",
                           "user_action", "http_request"])  # fmt: skip
        record = {"level": "INFO", "logger": "bizlogic.analysis", "event": kind, "_when": when}
        if kind.startswith("analysis_"):
            record["algorithm"] = rng.choice(ALGORITHMS)
        if kind == "analysis_complete":
            record["duration"] = round(rng.uniform(0.1, 90), 3)
        if kind == "analysis_error":
            record.update(level="ERROR", error=rng.choice(ERRORS), duration=1.0)
        if kind == "user_action":
            record.update(logger="bizlogic.api", user_id=f"u{rng.randrange(7)}",
                          action=rng.choice(ACTIONS))  # fmt: skip
        events.append(record)
    return events


def render(record: dict, rng: random.Random) -> str:
    """One log line; half of the timestamps carry a +08:00 offset instead of Z."""
    when = record["_when"]
    stamp = (
        when.astimezone(SHANGHAI).isoformat()
        if rng.random() < 0.5
        else when.isoformat().replace("+00:00", "Z")
    )
    return json.dumps({"timestamp": stamp, **{k: v for k, v in record.items() if k != "_when"}})


MALFORMED = ['{"timestamp": "2026-11-21T00:00:00Z", "event": ', "[1, 2]", '{"event": "x"}',
             '{"timestamp": "yesterday", "event": "analysis_start"}']  # fmt: skip


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, list[dict]]:
    """bizlogic.log.2.gz (oldest), bizlogic.log.1, bizlogic.log, with malformed lines mixed in."""
    events = generate_events(seed=5, count=6000)
    rng = random.Random(9)
    live = tmp_path / "bizlogic.log"
    thirds = [events[:2000], events[2000:4000], events[4000:]]
    for index, (path, chunk) in enumerate(
        zip(
            [tmp_path / "bizlogic.log.2.gz", tmp_path / "bizlogic.log.1", live], thirds, strict=True
        )
    ):
        lines = [render(e, rng) for e in chunk]
        lines.insert(100, MALFORMED[index])
        lines.insert(500, "")
        if index == 2:
            lines.insert(900, MALFORMED[3])
        text = "\n".join(lines) + "\n"
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
    (tmp_path / "bizlogic.log.bak").write_text("not a rotation")
    return live, events


def expected(events: list[dict], since: datetime, until: datetime) -> dict:
    """The figures computed directly from the events, without the analyzer."""
    inside = [e for e in events if since <= e["_when"] < until]
    per = {}
    for algorithm in ALGORITHMS:
        mine = [e for e in inside if e.get("algorithm") == algorithm]
        durations = sorted(e["duration"] for e in mine if e["event"] == "analysis_complete")
        completed = len(durations)
        failed = sum(e["event"] == "analysis_error" for e in mine)
        per[algorithm] = {
            "started": sum(e["event"] == "analysis_start" for e in mine),
            "completed": completed,
            "failed": failed,
            "success_rate": completed / (completed + failed),
            "avg": sum(durations) / completed,
            "min": durations[0],
            "max": durations[-1],
            "p50": durations[math.ceil(completed * 0.5) - 1],
            "p95": durations[math.ceil(completed * 0.95) - 1],
        }
    errors = [e for e in inside if e["event"] == "analysis_error"]
    actions = [e for e in inside if e["event"] == "user_action"]
    return {
        "in_window": len(inside),
        "per": per,
        "error_types": Counter(e["error"].split(":")[0] for e in errors),
        "errors_by_hour": Counter(
            e["_when"].replace(minute=0, second=0, microsecond=0) for e in errors
        ),
        "users": {e["user_id"] for e in actions},
        "actions": Counter(e["action"] for e in actions),
    }


def test_rotations_are_found_oldest_first(logs) -> None:
    live, _ = logs
    assert [p.name for p in log_files(live)] == [
        "bizlogic.log.2.gz",
        "bizlogic.log.1",
        "bizlogic.log",
    ]


def test_every_figure_matches_the_independent_computation(logs) -> None:
    live, events = logs
    since = datetime(2026, 11, 20, 13, 30, tzinfo=SHANGHAI)  # = 05:30 UTC: offsets matter
    until = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    report = LogAnalyzer(since, until).feed_files(log_files(live)).report()
    truth = expected(events, since, until)
    assert report["lines"] == 6000 + 4  # blank lines are not lines; malformed ones are
    assert report["malformed"]["count"] == 4
    assert [(m["line"], m["reason"]) for m in report["malformed"]["examples"]] == [
        (101, "not JSON"), (101, "not a JSON object"), (101, "no readable timestamp"),
        (901, "no readable timestamp"),
    ]  # fmt: skip
    assert report["lines_in_window"] == truth["in_window"]
    perf = report["performance"]
    for algorithm, want in truth["per"].items():
        got = perf["by_algorithm"][algorithm]
        assert (got["started"], got["completed"], got["failed"]) == (
            want["started"], want["completed"], want["failed"]
        )  # fmt: skip
        assert got["success_rate"] == pytest.approx(want["success_rate"])
        d = got["duration_s"]
        assert d["avg"] == pytest.approx(want["avg"])
        assert (d["min"], d["max"], d["p50"], d["p95"]) == (
            want["min"], want["max"], want["p50"], want["p95"]
        )  # fmt: skip
    completed = sum(w["completed"] for w in truth["per"].values())
    failed = sum(w["failed"] for w in truth["per"].values())
    assert perf["success_rate"] == pytest.approx(completed / (completed + failed))
    errors = report["errors"]
    assert errors["by_type"] == dict(truth["error_types"])
    assert {t["start"]: t["count"] for t in errors["timeline"]} == {
        hour.isoformat(): n for hour, n in truth["errors_by_hour"].items()
    }
    assert errors["error_lines_by_logger"] == {
        "bizlogic.analysis": sum(truth["error_types"].values())
    }
    users = report["users"]
    assert users["active_users"] == len(truth["users"])
    assert users["by_action"] == dict(truth["actions"])


def test_cli_json_and_bad_options(logs) -> None:
    live, events = logs
    runner = CliRunner()
    args = ["logs", "analyze", *map(str, log_files(live)), "--since", "2026-11-20T00:00:00",
            "--until", "2026-11-23T00:00:00Z", "--report", "users", "--json"]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert set(body) >= {"users", "malformed", "window"} and "performance" not in body
    assert body["users"]["actions"] == sum(e["event"] == "user_action" for e in events)
    for bad, message in [
        (["--report", "nope"], "--report"),
        (["--since", "yesterday"], "--since: not an ISO-8601 time"),
        (["--hours", "3", "--since", "2026-11-20"], "either --hours or --since"),
        (["--since", "2026-11-22", "--until", "2026-11-21"], "must be before --until"),
    ]:
        failed = runner.invoke(app, ["logs", "analyze", str(live), *bad])
        assert failed.exit_code == 1 and message in failed.output, (bad, failed.output)
    missing = runner.invoke(app, ["logs", "analyze", str(live.parent / "nope.log")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_html_report_is_self_contained_and_escapes_log_values(logs, tmp_path) -> None:
    live, events = logs
    with live.open("a") as handle:  # a hostile user id and action reach the report
        handle.write(json.dumps({
            "timestamp": "2026-11-21T10:00:00Z", "event": "user_action",
            "user_id": "<script>alert(1)</script>", "action": "<b>x</b>",
        }) + "\n")  # fmt: skip
    out = tmp_path / "report.html"
    done = CliRunner().invoke(
        app, ["logs", "analyze", *map(str, log_files(live)), "--since", "2026-11-20",
              "--until", "2026-11-23", "--html", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    page = out.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert page.count("<svg") == 3  # p95 by algorithm, errors over time, actions over time
    truth = expected(events, parse("2026-11-20"), parse("2026-11-23"))
    for algorithm, want in truth["per"].items():
        assert f"<td>{algorithm}</td>" in page
        assert f"{want['success_rate']:.1%}" in page
    unwritable = CliRunner().invoke(
        app, ["logs", "analyze", str(live), "--html", str(tmp_path / "no" / "dir" / "r.html")]
    )
    assert unwritable.exit_code == 1 and "--html: cannot write" in unwritable.output


def test_blocks_give_exactly_the_figures_of_parsing_every_line(tmp_path, monkeypatch) -> None:
    """Reading in blocks (lines split across block boundaries), with broken and foreign
    lines mixed in, gives exactly the figures of feeding every line on its own."""
    import bizlogic.ops.logs as logs_module

    monkeypatch.setattr(logs_module, "BLOCK", 4096)  # many blocks, lines across boundaries
    rng = random.Random(11)
    lines = []
    for record in generate_events(seed=8, count=3000):
        when = record.pop("_when") + timedelta(microseconds=rng.randrange(1, 999_999))
        stamp = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
        lines.append(json.dumps({"timestamp": stamp, **record}, separators=(",", ":")))
    broken = {
        17: lines[17][:-9],  # cut short
        400: "\x00\x01 garbage",
        401: "",
        1200: '{"timestamp": 5, "event": "analysis_start"}',
        1800: json.dumps(
            {
                "timestamp": "2026-11-21T12:00:00+08:00",
                "event": "user_action",
                "user_id": "tz",
                "action": "analyze",
            }
        ),
        2500: '{"timestamp":"2026-11-21T12:00:00.000001Z",'
        '"event": "analysis_start","algorithm":"x"}',
    }
    for index, text in sorted(broken.items(), reverse=True):
        lines.insert(index, text)
    path = tmp_path / "canonical.log"
    path.write_text("\n".join(lines) + "\n")
    since = datetime(2026, 11, 20, 7, 0, 0, 123456, tzinfo=UTC)
    until = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    fast = LogAnalyzer(since, until).feed_files([path]).report()
    slow = LogAnalyzer(since, until)
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        slow.feed(line, path, number)
    slow.files.append(str(path))
    assert fast == slow.report()
    assert fast["malformed"]["count"] == 3  # cut short, garbage, numeric timestamp
    assert fast["performance"]["by_algorithm"]["x"]["started"] == 1  # spaced marker found
    assert fast["users"]["by_user"]["tz"] == 1


def test_parallel_ranges_give_the_sequential_figures(logs, tmp_path, monkeypatch) -> None:
    """Plain files split across worker processes: same figures, same malformed line numbers."""
    import bizlogic.ops.logs as logs_module

    live, _ = logs
    with live.open("a") as handle:  # broken lines near the end too, so offsets matter
        handle.write("not json\n\n" + '{"timestamp": "soon"}\n')
    since = datetime(2026, 11, 20, tzinfo=UTC)
    until = datetime(2026, 11, 23, tzinfo=UTC)
    sequential = LogAnalyzer(since, until).feed_files(log_files(live), workers=1).report()
    monkeypatch.setattr(logs_module, "PARALLEL_MIN_BYTES", 0)
    for workers in (2, 3, 7):
        parallel = LogAnalyzer(since, until).feed_files(log_files(live), workers=workers)
        assert parallel.report() == sequential, workers
    assert sequential["malformed"]["count"] == 6
