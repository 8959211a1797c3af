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
from bizlogic.telemetry.redact import redact_text

START = datetime(2026, 11, 20, tzinfo=UTC)
ALGORITHMS = ["sentiment_correlation", "keyword_cooccurrence", "temporal_trends"]
ACTIONS = ["import_records", "analyze", "toggle_rule", "acknowledge_insight"]
ERRORS = ["timeout: ran past 1800 s", "OperationalError: connection refused", "ValueError: bad"]
SHANGHAI = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


PROJECTS = ["shop", "reviews", "support", "p-42"]
RESOURCES = ["rules/7", "rules/12", "records", "insights/3", "project"]


def generate_events(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    extra = random.Random(seed + 1000)  # the fields added later: the first draws unchanged
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
            record["resource"] = extra.choice(RESOURCES)
        if kind.startswith("analysis_"):
            record["project_id"] = extra.choice(PROJECTS)
        if kind == "analysis_error" and extra.random() < 0.1:  # the analyzer must hide it
            record["error"] += " (password=hunter2 rejected)"
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
        "errors": errors,
        "actions_list": actions,
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


def newest(events: list[dict], top: int) -> list[dict]:
    """The ``top`` newest events; equal times: the later in the files first (the events are
    in file order)."""
    order = sorted(range(len(events)), key=lambda i: (events[i]["_when"], i), reverse=True)
    return [events[i] for i in order[:top]]


@pytest.mark.parametrize("top", [20, 3, 0])
def test_per_event_details_match_the_independent_computation(logs, top) -> None:
    """The error report lists the newest failures with time, project, algorithm, error type
    and text (credentials hidden); the user report each top user's top (action, resource)
    and the newest actions — each list at most ``top`` long."""
    live, events = logs
    since, until = datetime(2026, 11, 20, 6, tzinfo=UTC), datetime(2026, 11, 22, 18, tzinfo=UTC)
    report = LogAnalyzer(since, until, top=top).feed_files(log_files(live)).report()
    truth = expected(events, since, until)
    assert report["top"] == top
    errors = report["errors"]
    assert errors["by_project"] == dict(Counter(e["project_id"] for e in truth["errors"]))
    assert errors["recent"] == [
        {
            "timestamp": e["_when"].isoformat(), "level": "ERROR", "logger": "bizlogic.analysis",
            "event": "analysis_error", "algorithm": e["algorithm"], "project_id": e["project_id"],
            "error_type": e["error"].split(":")[0],
            "error": e["error"].replace("password=hunter2", "password=[REDACTED]"),
        }
        for e in newest(truth["errors"], top)
    ]  # fmt: skip
    actions = truth["actions_list"]
    users = report["users"]
    by_user = Counter(e["user_id"] for e in actions)  # ties: first seen first
    assert users["top_users"] == [
        {
            "user_id": user, "actions": count,
            "top_actions": [
                {"action": action, "resource": resource, "count": n}
                for (action, resource), n in Counter(
                    (e["action"], e["resource"]) for e in actions if e["user_id"] == user
                ).most_common(top)
            ],
        }
        for user, count in by_user.most_common(top)
    ]  # fmt: skip
    assert users["recent"] == [
        {"timestamp": e["_when"].isoformat(), "user_id": e["user_id"], "action": e["action"],
         "resource": e["resource"]}
        for e in newest(actions, top)
    ]  # fmt: skip
    if top:
        hidden = [e for e in truth["errors"] if "hunter2" in e["error"]]
        assert hidden and "hunter2" not in json.dumps(report)
        assert len(users["top_users"]) == min(top, len(by_user))


def test_cli_top_bounds_every_output(logs, tmp_path) -> None:
    """``--top N`` bounds the lists of the JSON, the text tables and the HTML page alike."""
    live, _ = logs
    files = [str(path) for path in log_files(live)]
    window = ["--since", "2026-11-20", "--until", "2026-11-23"]
    runner = CliRunner()
    done = runner.invoke(app, ["logs", "analyze", *files, *window, "--top", "2", "--json"])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert len(body["errors"]["recent"]) == len(body["users"]["recent"]) == 2
    assert len(body["users"]["top_users"]) == 2
    assert all(len(u["top_actions"]) == 2 for u in body["users"]["top_users"])
    newest_error = body["errors"]["recent"][0]
    page = tmp_path / "r.html"
    text = runner.invoke(app, ["logs", "analyze", *files, *window, "--top", "2", "--html",
                               str(page)])  # fmt: skip
    assert text.exit_code == 0, text.output
    assert "newest errors (at most 2)" in text.output
    assert newest_error["project_id"] in text.output and "top users" in text.output
    html = page.read_text()
    assert "Newest errors (at most 2)" in html and "Newest user actions (at most 2)" in html
    assert newest_error["error"].split(" (")[0] in html
    bad = runner.invoke(app, ["logs", "analyze", *files, "--top", "-1"])
    assert bad.exit_code == 2 and "--top" in bad.output


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
        (["--hours", "-3"], "--hours: must be a positive number of hours, not -3"),
        (["--hours", "nan"], "--hours: must be a positive number of hours, not nan"),
        (["--hours", "inf"], "--hours: inf hours go back before the year 1"),
        (["--hours", "1e12"], "--hours: 1e+12 hours go back before the year 1"),
        (["--since", "2026-11-22", "--until", "2026-11-21"], "must be before --until"),
    ]:
        failed = runner.invoke(app, ["logs", "analyze", str(live), *bad])
        assert failed.exit_code == 1 and message in failed.output, (bad, failed.output)
    missing = runner.invoke(app, ["logs", "analyze", str(live.parent / "nope.log")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_without_files_the_live_log_and_its_rotations_are_read(logs, monkeypatch) -> None:
    """No FILES: BL_LOG_FILE and its rotations; a BL_LOG_FILE with neither is an error, not
    a report of zero lines."""
    from bizlogic.settings import get_settings

    live, events = logs
    runner = CliRunner()
    args = ["logs", "analyze", "--since", "2000-01-01", "--json"]
    try:
        monkeypatch.setenv("BL_LOG_FILE", str(live))
        get_settings.cache_clear()
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        body = json.loads(done.stdout)
        assert body["files"] == [str(path) for path in log_files(live)]
        assert len(body["files"]) == 3 and body["lines"] == len(events) + len(MALFORMED)
        assert body["malformed"]["count"] == len(MALFORMED)
        gone = live.parent / "gone" / "bizlogic.log"
        monkeypatch.setenv("BL_LOG_FILE", str(gone))
        get_settings.cache_clear()
        done = runner.invoke(app, args)
        assert done.exit_code == 1
        assert f"no log files: BL_LOG_FILE ({gone}) does not exist, nor any rotation" in " ".join(
            done.output.split()
        )
        monkeypatch.delenv("BL_LOG_FILE")
        get_settings.cache_clear()
        done = runner.invoke(app, args)
        assert done.exit_code == 1 and "no files given and BL_LOG_FILE is not set" in done.output
    finally:
        get_settings.cache_clear()


def test_every_process_file_by_default_and_quoted_glob_patterns(tmp_path, monkeypatch) -> None:
    """Without FILES, every file BL_LOG_FILE stands for: each role's and each numbered
    one's, with rotations; a quoted glob pattern is expanded by the command, a file named
    twice is read once, and a pattern that matches nothing is a missing file."""
    from bizlogic.settings import get_settings

    logs = tmp_path / "logs"
    logs.mkdir()
    per_file = {"api.log.1": 3, "api.log": 2, "api-2.log": 4, "worker.log.2.gz": 1,
                "worker.log": 5, "maintenance.log": 1}  # fmt: skip
    for name, count in per_file.items():
        text = "".join(
            json.dumps({"timestamp": f"2026-11-21T10:00:0{k}Z", "event": "user_action",
                        "user_id": name, "action": "a", "resource": "r"}) + "\n"
            for k in range(count)
        )  # fmt: skip
        data = text.encode()
        (logs / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    (logs / "syslog").write_text("not ours\n")
    runner = CliRunner()
    args = ["logs", "analyze", "--since", "2026-11-21", "--until", "2026-11-22", "--json"]
    try:
        monkeypatch.setenv("BL_LOG_FILE", str(logs / "{process}.log"))
        get_settings.cache_clear()
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        body = json.loads(done.stdout)
        assert [Path(f).name for f in body["files"]] == [
            "api.log.1", "api.log", "api-2.log", "maintenance.log", "worker.log.2.gz",
            "worker.log",
        ]  # fmt: skip
        assert body["users"]["by_user"] == per_file
        globbed = runner.invoke(app, [*args, str(logs / "*.log*"), str(logs / "api.log")])
        assert globbed.exit_code == 0, globbed.output
        assert json.loads(globbed.stdout)["users"]["by_user"] == per_file  # api.log once
        nothing = runner.invoke(app, [*args, str(logs / "nope*.log")])
        assert nothing.exit_code == 1 and "no such file" in nothing.output
    finally:
        get_settings.cache_clear()


def test_a_damaged_gzip_rotation_stops_the_analysis_naming_the_file(logs, tmp_path) -> None:
    """Figures from part of a file would under-count without saying so: a .gz cut short,
    corrupted or not gzip at all is an error naming it, and no report is written."""
    live, _ = logs
    whole = (live.parent / "bizlogic.log.2.gz").read_bytes()
    flipped = bytearray(whole)
    flipped[len(whole) // 2] ^= 0xFF
    runner = CliRunner()
    for content, reason in [
        (whole[: len(whole) // 2], "the compressed file is cut short (no end-of-stream marker)"),
        (bytes(flipped), "a damaged or invalid gzip file"),
        (b"plain text, not gzip\n", "a damaged or invalid gzip file (Not a gzipped file"),
    ]:
        damaged = tmp_path / "bizlogic.log.3.gz"
        damaged.write_bytes(content)
        html = tmp_path / "report.html"
        done = runner.invoke(
            app, ["logs", "analyze", str(damaged), str(live), "--since", "2026-01-01",
                  "--html", str(html)],
        )  # fmt: skip
        assert done.exit_code == 1, done.output
        assert f"{damaged}: cannot be read: {reason}" in " ".join(done.output.split())
        assert not html.exists()


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
    monkeypatch.setattr(logs_module, "RANGE_BYTES", 20_000)  # more ranges than workers
    parallel = LogAnalyzer(since, until).feed_files(log_files(live), workers=2).report()
    assert json.dumps(parallel) == json.dumps(sequential)
    assert sequential["malformed"]["count"] == 6


# -- the fast path against a line-by-line reading ---------------------------------------

WINDOW = (
    datetime(2026, 11, 21, 2, 0, tzinfo=SHANGHAI),
    datetime(2026, 11, 22, 12, 0, 0, 500000, tzinfo=UTC),
)


def stamp(when: datetime, rng: random.Random) -> str:
    """A timestamp in one of the shapes a log may hold, most often the service's own."""
    shape = rng.choices(range(7), weights=[70, 6, 6, 5, 5, 4, 4])[0]
    utc = when.astimezone(UTC)
    return [
        utc.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        utc.isoformat(timespec="microseconds"),
        when.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="microseconds"),
        utc.replace(tzinfo=None).isoformat(timespec="microseconds"),
        utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
        utc.isoformat(timespec="seconds"),
    ][shape]


def tricky_lines(t: str, inside: str, outside: str) -> list[str]:
    """Lines where a reading that is not exact goes wrong (t: any timestamp; inside and
    outside: one in the window and one out of it). None of them is read differently by
    json.loads and orjson, so that the line-by-line reading can use the standard library."""
    access = '"level":"INFO","logger":"uvicorn.access","event":"GET / HTTP/1.1 200"'
    return [
        # which timestamp: JSON keeps the last of duplicate keys, nested ones do not count
        f'{{"timestamp":"{inside}",{access},"timestamp":"{outside}"}}',
        f'{{"timestamp":"{outside}",{access}, "timestamp":"{inside}"}}',
        f'{{"timestamp":"{inside}",{access},"time\\u0073tamp":"{outside}"}}',
        f'{{"timestamp":"{outside}",{access},"meta":{{"timestamp":"{inside}"}}}}',
        f'{{"timestamp":"{outside}","meta":{{"a":[{{"timestamp":"{inside}"}}]}}}}',
        # figures hidden behind escapes, nested, or only looking like figures
        f'{{"timestamp":"{t}","level":"INFO","event":"analysis\\u005fstart","algorithm":"esc"}}',
        f'{{"timestamp":"{t}","level":"ERR\\u004fR","logger":"escaped","event":"GET /"}}',
        f'{{"timestamp":"{t}","ev\\u0065nt":"user_action","user_id":"u-esc","action":"esc"}}',
        f'{{"timestamp":"{t}","ctx":{{"event":"analysis_start","algorithm":"nested"}}}}',
        f'{{"timestamp":"{t}",{access},"message":"the \\"analysis_start\\" event"}}',
        f'{{"timestamp":"{t}",{access},"status":"ERROR","note":"CRITICAL"}}',
        f'{{"timestamp":"{t}","level":"ERROR","logger":"db","event":"GET / 500"}}',
        f'{{"timestamp":"{t}","level":"CRITICAL","logger":"db","event":"GET / 503"}}',
        f'{{"timestamp":"{t}","event":"analysis_start","event":"GET /","algorithm":"dup"}}',
        f'{{"timestamp":"{t}","event":"GET /","event":"analysis_start","algorithm":"dup2"}}',
        # figures of unusual types
        f'{{"timestamp":"{t}","event":"analysis_complete","algorithm":5,"duration":"3.5"}}',
        f'{{"timestamp":"{t}","event":"analysis_complete","algorithm":"odd","duration":true}}',
        f'{{"timestamp":"{t}","event":"analysis_complete","algorithm":"odd","duration":7}}',
        f'{{"timestamp":"{t}","event":"analysis_complete","algorithm":"odd","duration":1.5e1}}',
        f'{{"timestamp":"{t}","event":"analysis_error","algorithm":null,"error":""}}',
        f'{{"timestamp":"{t}","event":"analysis_error","algorithm":"odd","error":7}}',
        f'{{"timestamp":"{t}","event":"user_action","user_id":3,"action":["a"]}}',
        f'{{"timestamp":"{t}","level":"CRITICAL","logger":null,"event":"x"}}',
        f'{{"timestamp":"{t}","level":"ERROR","logger":{{"name":"nested"}}}}',
        # details of unusual types, and secrets the report must hide
        f'{{"timestamp":"{t}","event":"analysis_error","algorithm":"odd","project_id":7,'
        f'"error":"KeyError: x"}}',
        f'{{"timestamp":"{t}","event":"analysis_error","project_id":null,"message":"m"}}',
        f'{{"timestamp":"{t}","level":"ERROR","logger":"db","event":"query_failed",'
        f'"message":"connect postgresql://bl:pw-Secret1@db/bl failed"}}',
        f'{{"timestamp":"{t}","level":"ERROR","event":"boom","message":["a"],"error":null}}',
        f'{{"timestamp":"{t}","level":"CRITICAL","event":"analysis_error",'
        f'"error":"Bearer abcdefghijklmnop1234 refused"}}',
        f'{{"timestamp":"{t}","event":"user_action","user_id":"u9","action":"x","resource":5}}',
        f'{{"timestamp":"{t}","event":"user_action","user_id":"u9","action":"x","resource":null}}',
        f'{{"timestamp":"{t}","event":"user_action","user_id":"u9","action":"x",'
        f'"resource":"s?token=abc123"}}',
        # other shapes of valid lines
        f'{{ "timestamp":"{t}",{access}}}',
        f'{{"timestamp" : "{t}",{access}}}',
        f'{{"timestamp":"{t}",\t{access}}}   ',
        f'{{"timestamp":"{t}",{access}}}\r',
        f'{{"timestamp":"{t}","s":"a}},b","t":"[{{","u":"\\\\"}}',
        f'{{"timestamp":"{t}","empty":{{}},"none":[],"list":[1,2,{{}}]}}',
        f'{{"timestamp":"{t}","msg":"héllo ✓ 日本","event":"GET /"}}',
        f'{{"event":"user_action","user_id":"first","action":"late-key","timestamp":"{t}"}}',
        f'{{"timestamp":"{t}"}}',
        # invalid timestamps
        f'{{"timestamp":"2026-13-01T00:00:00.000000Z",{access}}}',
        f'{{"timestamp":"2026-11-21T25:00:00.000000Z",{access}}}',
        f'{{"timestamp":"2026-11-21T24:00:00Z",{access}}}',
        f'{{"timestamp":"2026-11-21T10:00:60.000000Z",{access}}}',
        f'{{"timestamp":"2026-02-29T10:00:00.000000Z",{access}}}',
        f'{{"timestamp":"1900-02-29T10:00:00.000000Z",{access}}}',
        f'{{"timestamp":"2000-02-29T10:00:00.000000Z",{access}}}',
        f'{{"timestamp":"2024-02-29T10:00:00.000Z",{access}}}',
        f'{{"timestamp":"2026-11-31T10:00:00Z",{access}}}',
        f'{{"timestamp":"0000-01-01T00:00:00Z",{access}}}',
        f'{{"timestamp":"2026-11-21T10:00:00.1234Z",{access}}}',
        f'{{"timestamp":"2026-11-21T10:00:00z",{access}}}',
        f'{{"timestamp":"yesterday",{access}}}',
        f'{{"timestamp":1763600000,{access}}}',
        f'{{"timestamp":null,{access}}}',
        f"{{{access}}}",
        "{}",
        # not JSON objects, not JSON, and lines that are only JSON together
        "[1, 2]",
        '"just a string"',
        "42",
        "null",
        f'{{"timestamp":"{t}",{access}',
        f'{{"timestamp":"{t}","event":"analysis_start","algorithm":"cut',
        f'{{"timestamp":"{t}",{access}}} {{"x":1}}',
        f'{{"timestamp":"{t}",{access}}},{{"timestamp":"{t}",{access}}}',
        f'{{"timestamp":"{t}",{access}}},{{}}',
        f'{{"timestamp":"{t}",{access}}} ,{{}}',
        f'{{"timestamp":"{t}","k":[1',
        f'{{"timestamp":"{t}","user_id":"x","action":"y","event":"user_action"}}]}}',
        f'{{"timestamp":"{t}","a":"x}}',
        f'{{"timestamp":"{t}","a":1,}}',
        f'{{"timestamp":"{t}","a":01}}',
        f'{{"timestamp":"{t}","s":"tab\there"}}',
        f'{{"timestamp":"{t}","s":"bad \\x escape"}}',
        f'\ufeff{{"timestamp":"{t}",{access}}}',
        "",
        "   ",
        "\t",
        "\r",
    ]


def tricky_log(seed: int, count: int) -> bytes:
    """Mostly the service's usual lines, with every tricky line of `tricky_lines` mixed in."""
    rng = random.Random(seed)
    events = generate_events(seed, count)
    since, until = WINDOW
    rows = []
    for record in events:
        when = record.pop("_when") + timedelta(microseconds=rng.randrange(1_000_000))
        t = stamp(when, rng)
        if rng.random() < 0.6:  # an access line
            record = {"level": "INFO", "logger": "uvicorn.access", "event": "GET / 200",
                      "message": '127.0.0.1 - "GET / HTTP/1.1" 200', "line": 473,
                      "request_id": f"{rng.getrandbits(128):032x}"}  # fmt: skip
        rows.append(json.dumps({"timestamp": t, **record}, separators=(",", ":")))
        if rng.random() < 0.15:
            inside = stamp(since + (until - since) * rng.random(), rng)
            outside = stamp(until + timedelta(hours=rng.randrange(1, 20)), rng)
            rows.append(rng.choice(tricky_lines(t, inside, outside)))
    for t in (since, until, since - timedelta(microseconds=1), until - timedelta(microseconds=1)):
        utc = t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        rows.append(json.dumps({"timestamp": stamp(t, rng), "event": "user_action",
                                "user_id": "edge", "action": t.isoformat()}))  # fmt: skip
        rows.append(f'{{"timestamp":"{utc}","event":"GET /edge"}}')  # the bounds themselves
    for t in (until - timedelta(milliseconds=1), until, until + timedelta(milliseconds=1)):
        rows.append(f'{{"timestamp":"{t.isoformat(timespec="milliseconds")}","event":"GET /ms"}}')
    rows += tricky_lines(stamp(since, rng), stamp(since, rng), stamp(until, rng))
    rng.shuffle(rows)
    t = (since + timedelta(hours=1)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    for k, pair in enumerate((  # each line alone is not JSON, the two together would be
        (f'{{"timestamp":"{t}","k":[{{"a":1}}', f'{{"timestamp":"{t}","b":2}}]}}'),
        (f'{{"timestamp":"{t}","k":{{"a":[', f'{{"timestamp":"{t}"}}]}}}}'),
        (f'{{"timestamp":"{t}","s":"', f'{{"timestamp":"{t}"}}"}}'),
    )):  # fmt: skip
        at = len(rows) * (k + 1) // 4
        rows[at:at] = pair
    text = ("\n".join(rows) + "\n").encode()
    text += b'{"timestamp":"2026-11-21T10:00:00\xff","event":"GET /"}\n'  # not UTF-8
    return text + b'{"timestamp":"2026-11-21T10:00:00Z","event":"analysis_st'  # no newline


def line_by_line(paths: list[Path], since: datetime, until: datetime, top: int = 20) -> dict:
    """Every figure of ``LogAnalyzer.report("all")`` read the straightforward way: each line
    with json.loads and datetime.fromisoformat, counted as the module docstring says; the
    per-event lists by sorting every such event and taking the first ``top``."""
    lines = in_window = malformed = 0
    examples: list[dict] = []
    algorithms: dict[str, dict] = {}
    by_type: Counter = Counter()
    failed_by: Counter = Counter()
    failed_in: Counter = Counter()
    failures: Counter = Counter()
    loggers: Counter = Counter()
    actions: Counter = Counter()
    users: Counter = Counter()
    uses: Counter = Counter()
    done_by: dict[str, Counter] = {}
    error_events: list[tuple[tuple, dict]] = []  # ((instant, file, line), entry)
    action_events: list[tuple[tuple, dict]] = []

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    def hidden(entry: object) -> object:  # what the report shows of a value from the logs
        if isinstance(entry, dict):
            return {key: hidden(value) for key, value in entry.items()}
        if isinstance(entry, list):
            return [hidden(value) for value in entry]
        return redact_text(entry) if isinstance(entry, str) else entry

    def bucket(when: datetime) -> datetime:
        epoch = when.timestamp()
        return datetime.fromtimestamp(epoch - epoch % 3600, tz=UTC)

    def algorithm(name: object) -> dict:
        return algorithms.setdefault(str(name), {"started": 0, "completed": 0, "failed": 0,
                                                 "durations": []})  # fmt: skip

    for file_index, path in enumerate(paths):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        rows = data.split(b"\n")
        if rows[-1] == b"":
            rows.pop()
        for number, raw in enumerate(rows, start=1):
            if not raw.strip():
                continue
            lines += 1
            try:
                record = json.loads(raw.decode())
                reason = None if isinstance(record, dict) else "not a JSON object"
            except ValueError:
                reason = "not JSON"
            if reason is None:
                try:
                    when = datetime.fromisoformat(record.get("timestamp"))
                except (TypeError, ValueError):
                    reason = "no readable timestamp"
            if reason:
                malformed += 1
                if len(examples) < 10:
                    examples.append({"file": str(path), "line": number, "reason": reason})
                continue
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            if not since <= when < until:
                continue
            in_window += 1
            event, get = record.get("event"), record.get
            place = ((when - EPOCH) // timedelta(microseconds=1), file_index, number)
            stamp = when.astimezone(UTC).isoformat()
            if get("level") in ("ERROR", "CRITICAL") or event == "analysis_error":
                said = [get(k) for k in ("error", "message") if get(k) is not None] + [event]
                error_events.append((place, {
                    "timestamp": stamp, "level": text(get("level")),
                    "logger": text(get("logger")), "event": text(event),
                    "algorithm": text(get("algorithm")), "project_id": text(get("project_id")),
                    "error_type": (str(get("error") or "").split(":", 1)[0].strip() or "unknown")
                    if event == "analysis_error" else None,  # hidden() redacts it
                    "error": text(said[0]),
                }))  # fmt: skip
            if get("level") in ("ERROR", "CRITICAL"):
                loggers[str(get("logger"))] += 1
            if event == "analysis_start":
                algorithm(get("algorithm"))["started"] += 1
            elif event == "analysis_complete":
                stats = algorithm(get("algorithm"))
                stats["completed"] += 1
                if isinstance(get("duration"), int | float):
                    stats["durations"].append(float(get("duration")))
            elif event == "analysis_error":
                algorithm(get("algorithm"))["failed"] += 1
                kind = str(get("error") or "").split(":", 1)[0].strip() or "unknown"
                by_type[redact_text(kind)] += 1  # an error without ":" is its own type
                failed_by[str(get("algorithm"))] += 1
                failed_in[str(get("project_id"))] += 1
                failures[bucket(when)] += 1
            elif event == "user_action":
                actions[str(get("action"))] += 1
                users[str(get("user_id"))] += 1
                uses[bucket(when)] += 1
                user, act = str(get("user_id")), str(get("action"))
                done_by.setdefault(user, Counter())[(act, text(get("resource")))] += 1
                action_events.append((place, {"timestamp": stamp, "user_id": user, "action": act,
                                              "resource": text(get("resource"))}))  # fmt: skip

    def summary(started: int, completed: int, failed: int, durations: list) -> dict:
        durations = sorted(durations)
        rank = lambda q: durations[max(1, math.ceil(len(durations) * q / 100)) - 1]  # noqa: E731
        return {
            "started": started, "completed": completed, "failed": failed,
            "success_rate": completed / (completed + failed) if completed + failed else None,
            "duration_s": {
                "count": len(durations),
                "avg": sum(durations) / len(durations) if durations else None,
                "min": durations[0] if durations else None,
                "max": durations[-1] if durations else None,
                "p50": rank(50) if durations else None,
                "p95": rank(95) if durations else None,
            },
        }  # fmt: skip

    def timeline(counts: Counter) -> list:
        return [{"start": start.isoformat(), "count": counts[start]} for start in sorted(counts)]

    everything = [
        sum(a[k] for a in algorithms.values()) for k in ("started", "completed", "failed")
    ]
    def newest(events: list[tuple[tuple, dict]]) -> list:
        return hidden([entry for _, entry in sorted(events, key=lambda e: e[0])[::-1][:top]])

    top_users = [
        {"user_id": user, "actions": count, "top_actions": [
            {"action": act, "resource": resource, "count": times}
            for (act, resource), times in done_by[user].most_common(top)
        ]}
        for user, count in users.most_common(top)
    ]  # fmt: skip

    return {
        "window": {"since": since.isoformat(), "until": until.isoformat(), "bucket_s": 3600},
        "files": [str(path) for path in paths],
        "top": top,
        "lines": lines,
        "lines_in_window": in_window,
        "malformed": {"count": malformed, "examples": examples},
        "performance": {
            **summary(*everything, [d for a in algorithms.values() for d in a["durations"]]),
            "by_algorithm": {
                name: summary(a["started"], a["completed"], a["failed"], a["durations"])
                for name, a in sorted(algorithms.items())
            },
        },
        "errors": {
            "analysis_errors": sum(by_type.values()),
            "by_type": dict(by_type.most_common()),
            "by_algorithm": dict(failed_by.most_common()),
            "by_project": dict(failed_in.most_common()),
            "timeline": timeline(failures),
            "error_lines_by_logger": dict(loggers.most_common()),
            "recent": newest(error_events),
        },
        "users": {
            "active_users": len(users),
            "actions": sum(actions.values()),
            "by_action": dict(actions.most_common()),
            "by_user": dict(users.most_common()),
            "timeline": timeline(uses),
            "top_users": hidden(top_users),
            "recent": newest(action_events),
        },
    }


@pytest.mark.parametrize("block", [4096, 1 << 22])
def test_fast_path_gives_the_figures_of_a_line_by_line_reading(tmp_path, monkeypatch, block):
    """Every figure, sequential and split across worker processes, equals the standard
    library's line-by-line reading, on a log where an inexact shortcut would go wrong (and
    most lines still take the fast path, which the test checks)."""
    import bizlogic.ops.logs as logs_module

    monkeypatch.setattr(logs_module, "BLOCK", block)  # lines across block boundaries
    monkeypatch.setattr(logs_module, "CHUNK_LINES", 16)  # broken runs bisected
    paths = [tmp_path / "tricky.log.1.gz", tmp_path / "tricky.log"]
    paths[0].write_bytes(gzip.compress(tricky_log(seed=3, count=1500)))
    paths[1].write_bytes(tricky_log(seed=4, count=4000))
    truth = line_by_line(paths, *WINDOW)
    fed: list[int] = []
    feed = logs_module.LogAnalyzer.feed
    monkeypatch.setattr(
        logs_module.LogAnalyzer, "feed", lambda self, *a: fed.append(1) or feed(self, *a)
    )
    sequential = LogAnalyzer(*WINDOW).feed_files(paths, workers=1).report("all")
    assert sequential == truth
    assert json.dumps(sequential) == json.dumps(truth)  # the same order too: ties, examples
    assert truth["malformed"]["count"] > 200 and truth["lines_in_window"] > 2000
    assert len(fed) < truth["lines"] / 5  # the others were counted by the fast path
    assert len(truth["errors"]["recent"]) == len(truth["users"]["recent"]) == 20
    everything = line_by_line(paths, *WINDOW, top=100_000)  # every event in the lists
    assert len(everything["errors"]["recent"]) > 250 and len(everything["users"]["recent"]) > 250
    assert json.dumps(
        LogAnalyzer(*WINDOW, top=100_000).feed_files(paths, workers=1).report("all")
    ) == json.dumps(everything)  # fmt: skip
    shown = json.dumps(everything)
    assert "pw-Secret1" not in shown and "abcdefghijklmnop1234" not in shown
    assert "abc123" not in shown and "hunter2" not in shown
    monkeypatch.setattr(logs_module, "PARALLEL_MIN_BYTES", 0)
    parallel = LogAnalyzer(*WINDOW).feed_files(paths, workers=2).report("all")
    assert json.dumps(parallel) == json.dumps(truth)
    parallel = LogAnalyzer(*WINDOW, top=100_000).feed_files(paths, workers=2).report("all")
    assert json.dumps(parallel) == json.dumps(everything)


def test_what_orjson_alone_refuses_is_what_feed_counts(tmp_path) -> None:
    """Lines the standard library reads otherwise than orjson (numbers that overflow, NaN,
    lone surrogates, big integers, deep nesting, bytes that are not UTF-8): counted exactly as
    `feed` counts them one by one, fast path or not."""
    at = '{"timestamp":"2026-11-21T10:00:00.000000Z"'
    odd = [
        f'{at},"x":1e400}}',
        f'{at},"x":-1e400}}',
        f'{at},"x":1.7976931348623159e308}}',
        f'{at},"x":{"9" * 400}}}',
        f'{at},"x":1e-400,"event":"user_action","user_id":"tiny","action":"a"}}',
        f'{at},"x":NaN}}',
        f'{at},"x":Infinity}}',
        f'{at},"event":"analysis_start","algorithm":18446744073709551616}}',
        f'{at},"event":"analysis_start","algorithm":9223372036854775808}}',
        f'{at},"event":"analysis_complete","algorithm":"a","duration":1e308}}',
        f'{at},"event":"analysis_complete","algorithm":"a","duration":{"1234567890" * 3}}}',
        f'{at},"event":"\\ud800","x":1}}',
        f'{at},"s":"\\udc00\\ud800"}}',
        f'{at},"event":"user_action","user_id":"\\ud83d\\ude00","action":"\\ud83d"}}',
        f'{at},"event":"user_action","user_id":"\\ud83d\\ude00","action":"a"}}',
        f'{at},"deep":{"[" * 40}{"]" * 40}}}',
        '{"x":1e400,"timestamp":"2026-11-21T10:00:00Z"}',
        f'{at},"n":{{"a":1}},"x":1e400}}',
        f'{at},"n":{{"a":1}},"event":"analysis_start","algorithm":"nested"}}',
        at + ',"deep":' + '{"a":' * 60 + "1" + "}" * 61,
        f'{at},"event":"analysis_start","algorithm":"deep","d":{"[" * 20}{"]" * 20}}}',
    ]
    rows = [line.encode() for line in odd]
    not_utf8 = (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82")
    rows += [f'{at},"s":"'.encode() + bad + b'"}' for bad in not_utf8]
    rows += [b'{"s":"' + bad + b'","timestamp":"2026-11-21T10:00:00Z"}' for bad in not_utf8]
    rows += [f'{at},"event":"GET /","i":{i}}}'.encode() for i in range(50)]
    random.Random(5).shuffle(rows)
    path = tmp_path / "odd.log"
    path.write_bytes(b"\n".join(rows) + b"\n")
    since, until = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    fast = LogAnalyzer(since, until).feed_files([path]).report()
    slow = LogAnalyzer(since, until)
    slow.files.append(str(path))
    for number, line in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
        slow.feed(line, path, number)
    assert fast == slow.report()
    assert fast["malformed"]["count"] == 21 and fast["performance"]["started"] == 4


def test_ties_keep_the_order_of_first_appearance(tmp_path) -> None:
    """Equal counts are listed in the order the values first appear in the file, also when
    lines the fast path leaves to `feed` (a broken line, a timestamp with a doubt) sit between
    them: what a person reading the log top to bottom would list first."""
    at = '{"timestamp":"2026-11-21T10:00:00.000000Z"'
    access = f'{at},"event":"GET /","logger":"uvicorn.access"}}'

    def act(user: str, action: str) -> str:
        return f'{at},"event":"user_action","user_id":"{user}","action":"{action}"}}'

    def fail(error: str, logger: str) -> str:
        return (f'{at},"level":"ERROR","logger":"{logger}","event":"analysis_error",'
                f'"algorithm":"{logger[::-1]}","error":"{error}: x"}}')  # fmt: skip

    rows = [access] * 50 + [act("zed", "toggle"), fail("Timeout", "w2"), act("amy", "analyze")]
    rows += [access, '{"timestamp":"2026-11-21T10:00:00Z","event":', access]  # cut short
    rows += [act("bob", "import"), fail("KeyError", "w1"), act("\\u0063al", "export")]
    rows += [act("bob", "analyze"), act("zed", "export")] + [access] * 50
    rows += [act("amy", "import"), act("cal", "toggle"), fail("Timeout", "w1")]
    rows += [fail("KeyError", "w2")]
    path = tmp_path / "ties.log"
    path.write_text("\n".join(rows) + "\n")
    window = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    report = LogAnalyzer(*window).feed_files([path]).report()
    assert list(report["users"]["by_user"].items()) == [
        ("zed", 2), ("amy", 2), ("bob", 2), ("cal", 2)
    ]  # fmt: skip
    assert list(report["users"]["by_action"]) == ["toggle", "analyze", "import", "export"]
    assert list(report["errors"]["by_type"]) == ["Timeout", "KeyError"]
    assert list(report["errors"]["by_algorithm"]) == ["2w", "1w"]
    assert list(report["errors"]["error_lines_by_logger"]) == ["w2", "w1"]
    assert report["malformed"]["examples"] == [
        {"file": str(path), "line": 55, "reason": "not JSON"}
    ]


def test_timestamps_read_from_words_equal_the_byte_by_byte_reading() -> None:
    """The 8-byte-word reading of the service's timestamp shape decides exactly as the
    byte-by-byte reading of every shape, on heads with random bytes changed (digits, signs,
    letters, bytes that are not ASCII) and lines cut short near the end of a block."""
    import numpy as np

    from bizlogic.ops.logs import _stamps, _stamps_by_bytes

    rng = random.Random(21)
    base = datetime(2024, 2, 28, 22, tzinfo=UTC)
    alphabet = b'0123456789:.TZ+-"x \x00\xff/'
    for batch in range(60):
        rows, when = [], base
        for _ in range(300):
            if batch % 2:  # as a log: in order, a few a second (the heads share long prefixes)
                when += timedelta(microseconds=rng.randrange(800_000))
            else:
                when = base + timedelta(
                    seconds=rng.randrange(5 * 86400), microseconds=rng.randrange(10**6)
                )
            stamp = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
            row = bytearray(f'{{"timestamp":"{stamp}","event":"GET /"}}'.encode())
            for _ in range(rng.choice([0, 0, 1, 2])):
                row[rng.randrange(14, 48)] = rng.choice(alphabet)
            if rng.random() < 0.05:
                row = row[: rng.randrange(len(row))]
            rows.append(bytes(row))
        a = np.frombuffer(b"\n".join(rows) + b"\n", np.uint8)
        ends = np.flatnonzero(a == 10)
        starts = np.r_[0, ends[:-1] + 1]
        fast, slow = _stamps(a, starts), _stamps_by_bytes(a, starts)
        assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
        assert np.array_equal(fast[2][fast[1]], slow[2][slow[1]])
        for k in np.flatnonzero(fast[1]).tolist()[:20]:  # and the instants are datetime's
            text = rows[k][14:].split(b'"')[0].decode()  # the string the head opens
            assert fast[2][k] == (parse(text) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
                microseconds=1
            )


def test_records_around_lines_left_out_keep_their_places() -> None:
    """The helpers that take the lines msgspec does not decode out of a list and put Nones
    back in their places are each other's inverse, wherever the places are."""
    from bizlogic.ops.logs import _with_nones, _without

    rng = random.Random(3)
    for _ in range(2000):
        items = list(range(rng.randrange(30)))
        places = sorted(rng.sample(range(len(items)), rng.randrange(len(items) + 1)))
        kept = _without(items, places)
        assert kept == [item for k, item in enumerate(items) if k not in places]
        assert _with_nones(kept, places) == [
            None if k in places else x for k, x in enumerate(items)
        ]


def test_newlines_are_found_at_every_offset_whatever_came_before() -> None:
    """The word-by-word newline search gives numpy's plain answer on arrays of every length
    (not only multiples of 8), with runs of newlines, after a longer array left its mask full."""
    import numpy as np

    from bizlogic.ops.logs import _Kit

    kit = _Kit()
    rng = np.random.default_rng(5)
    for length in [*range(0, 40), 1000, 4099, 65_537, 17]:
        for density in (0.0, 0.02, 0.5, 1.0):
            a = np.where(rng.random(length) < density, 10, rng.integers(11, 256, length))
            a = a.astype(np.uint8)
            assert np.array_equal(kit.newlines(a), np.flatnonzero(a == 10))
