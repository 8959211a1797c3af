"""The log contract of DESIGN §8: fields, events, rotation and redaction."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog

from bizlogic.settings import Settings
from bizlogic.telemetry import logging as bl_logging
from bizlogic.telemetry.redact import REDACTED, is_secret_key, redact, redact_text

BASE_FIELDS = {"timestamp", "level", "logger", "message", "module", "function", "line", "event"}

Configure = Callable[..., io.StringIO]


@pytest.fixture
def configure() -> Iterator[Configure]:
    """``configure(**settings)`` → the StringIO standing in for stdout."""
    root = logging.getLogger()
    level = root.level

    def apply(**overrides: Any) -> io.StringIO:
        values: dict[str, Any] = {"log_file": None, "log_level": "DEBUG", "log_format": "json"}
        values.update(overrides)
        stream = io.StringIO()
        bl_logging.configure_logging(Settings(**values), stream=stream)
        return stream

    yield apply
    bl_logging.reset_logging()
    root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def line_no() -> int:
    """The caller's line number plus one: the line of the log call that follows."""
    return sys._getframe(1).f_lineno + 1


def test_every_line_is_json_with_the_contract_fields(configure: Configure) -> None:
    out = configure()
    structlog_line = line_no()
    structlog.get_logger("bizlogic.test").info("job_claimed", message="Job claimed", job=3)
    stdlib_line = line_no()
    logging.getLogger("uvicorn.access").warning("GET %s %d", "/livez", 200)

    first, second = records(out)
    for record in (first, second):
        assert set(record) >= BASE_FIELDS
        assert record["timestamp"].endswith("Z")
        stamp = datetime.fromisoformat(record["timestamp"])
        assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
        assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
        assert record["module"] == "test_logging"
        assert record["function"] == "test_every_line_is_json_with_the_contract_fields"
    assert first == {
        "timestamp": first["timestamp"],
        "level": "INFO",
        "logger": "bizlogic.test",
        "event": "job_claimed",
        "message": "Job claimed",
        "job": 3,
        "module": "test_logging",
        "function": "test_every_line_is_json_with_the_contract_fields",
        "line": structlog_line,
    }
    assert (second["level"], second["logger"], second["line"]) == (
        "WARNING",
        "uvicorn.access",
        stdlib_line,
    )
    assert second["event"] == second["message"] == "GET /livez 200"


def test_message_defaults_to_the_event(configure: Configure) -> None:
    out = configure()
    structlog.get_logger("x").info("worker_started")
    (record,) = records(out)
    assert record["event"] == record["message"] == "worker_started"


def test_request_and_job_ids_come_from_contextvars(configure: Configure) -> None:
    out = configure()
    with structlog.contextvars.bound_contextvars(request_id="req-1", job_id="job-9"):
        structlog.get_logger("a").info("inside")
        logging.getLogger("sqlalchemy.pool").warning("pool exhausted")
    structlog.get_logger("a").info("outside")

    inside, stdlib, outside = records(out)
    assert (inside["request_id"], inside["job_id"]) == ("req-1", "job-9")
    assert (stdlib["request_id"], stdlib["job_id"]) == ("req-1", "job-9")
    assert "request_id" not in outside and "job_id" not in outside


def test_event_helpers_write_exactly_the_contract_fields(configure: Configure) -> None:
    out = configure()
    bl_logging.log_analysis_start("temporal_trends", "p1", "u7", 1200)
    bl_logging.log_analysis_complete("temporal_trends", "p1", 2.5, 4, 9)
    bl_logging.log_analysis_error("temporal_trends", "p1", ValueError("no timestamps"), 0.25)
    bl_logging.log_cache_operation("get", "bl:p1:v3:rules:0af1", True)
    bl_logging.log_user_action("u7", "toggle", "rule:42", {"active": False})

    start, complete, error, cache, action = records(out)
    expected = [
        (start, "analysis_start", "INFO", "bizlogic.analysis",
         {"algorithm": "temporal_trends", "project_id": "p1", "user_id": "u7", "data_size": 1200}),
        (complete, "analysis_complete", "INFO", "bizlogic.analysis",
         {"algorithm": "temporal_trends", "project_id": "p1", "duration": 2.5,
          "patterns_found": 4, "rules_extracted": 9}),
        (error, "analysis_error", "ERROR", "bizlogic.analysis",
         {"algorithm": "temporal_trends", "project_id": "p1",
          "error": "ValueError: no timestamps", "duration": 0.25}),
        (cache, "cache_operation", "DEBUG", "bizlogic.cache",
         {"operation": "get", "key": "bl:p1:v3:rules:0af1", "hit": True}),
        (action, "user_action", "INFO", "bizlogic.audit",
         {"user_id": "u7", "action": "toggle", "resource": "rule:42",
          "details": {"active": False}}),
    ]  # fmt: skip
    for record, event, level, logger, fields in expected:
        assert set(record) == BASE_FIELDS | set(fields), event
        assert {k: record[k] for k in fields} == fields
        assert (record["event"], record["level"], record["logger"]) == (event, level, logger)
        # the call site is the helper's caller, not the helper
        assert record["function"] == "test_event_helpers_write_exactly_the_contract_fields"
    assert start["message"] == "Analysis temporal_trends started on project p1 (1200 records)"
    assert complete["message"] == (
        "Analysis temporal_trends on project p1 completed in 2.500 s: 4 patterns, 9 rules"
    )
    assert cache["message"] == "Cache get bl:p1:v3:rules:0af1 (hit)"


def test_level_comes_from_settings(configure: Configure) -> None:
    out = configure(log_level="WARNING")
    bl_logging.log_cache_operation("get", "k", False)
    structlog.get_logger("a").info("quiet")
    logging.getLogger("uvicorn.error").info("quiet too")
    structlog.get_logger("a").warning("loud")
    assert [r["event"] for r in records(out)] == ["loud"]


def test_console_format_is_for_humans(configure: Configure) -> None:
    out = configure(log_format="console")
    structlog.get_logger("svc").info("worker_started", queue="default")
    line = out.getvalue().strip()
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert "worker_started" in line and "queue=default" in line and "[svc]" in line


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "readable"), [(_Terminal(), True), (io.StringIO(), False)])
def test_auto_format_is_readable_on_a_terminal_and_json_elsewhere(
    stream: io.StringIO, readable: bool
) -> None:
    root_level = logging.getLogger().level
    try:
        settings = Settings(log_file=None, log_level="INFO")
        assert settings.log_format == "auto"  # the default
        bl_logging.configure_logging(settings, stream=stream)
        structlog.get_logger("svc").info("server_started", port=8000)
        line = re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue().strip())  # colours on a tty
        if readable:
            assert "server_started" in line and "port=8000" in line
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        else:
            assert json.loads(line)["event"] == "server_started"
    finally:
        bl_logging.reset_logging()
        logging.getLogger().setLevel(root_level)


def test_configure_is_idempotent(configure: Configure) -> None:
    first = configure()
    second = configure()
    structlog.get_logger("a").info("once")
    logging.getLogger("b").warning("twice?")
    assert first.getvalue() == ""
    assert [r["event"] for r in records(second)] == ["once", "twice?"]


def test_server_loggers_with_own_handlers_are_adopted(configure: Configure) -> None:
    access = logging.getLogger("uvicorn.access")
    own = io.StringIO()
    access.addHandler(logging.StreamHandler(own))
    access.propagate = False
    out = configure()
    access.info("127.0.0.1 - GET / 200", extra={"color_message": "\x1b[1mGET\x1b[0m"})
    assert own.getvalue() == ""
    (record,) = records(out)
    assert record["logger"] == "uvicorn.access"
    assert "color_message" not in record


def test_exceptions_become_a_text_field(configure: Configure) -> None:
    out = configure()
    try:
        raise KeyError("rule 7")
    except KeyError:
        structlog.get_logger("a").exception("apply_failed")
    (record,) = records(out)
    assert record["level"] == "ERROR"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert record["exception"].endswith("KeyError: 'rule 7'")


def file_lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths for line in path.read_text("utf-8").splitlines()]


def test_file_rotates_at_max_bytes(configure: Configure, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "bizlogic.log"
    configure(log_file=log_file, log_max_bytes=2048, log_backup_count=2, log_format="console")
    log = structlog.get_logger("bizlogic.test")
    for n in range(200):
        log.info("tick", n=n, text="数据标注" * 50)  # multi-byte: the bound is in bytes

    files = [log_file.with_name("bizlogic.log.2"), log_file.with_name("bizlogic.log.1"), log_file]
    assert all(path.exists() for path in files)
    assert not log_file.with_name("bizlogic.log.3").exists()
    assert all(0 < path.stat().st_size <= 2048 for path in files)
    kept = [r["n"] for r in file_lines(files)]  # JSON in the file even with console stdout
    assert kept == list(range(kept[0], 200))
    line_bytes = {
        len(line.encode()) + 1 for f in files for line in f.read_text("utf-8").split("\n")[:-1]
    }
    assert len(line_bytes) == 1  # equal lines: each file holds as many as fit
    assert len(kept) == 3 * (2048 // line_bytes.pop())


def test_no_backups_truncates_instead_of_growing(configure: Configure, tmp_path: Path) -> None:
    log_file = tmp_path / "bizlogic.log"
    configure(log_file=log_file, log_max_bytes=1024, log_backup_count=0)
    for n in range(100):
        structlog.get_logger("a").info("tick", n=n)
    assert log_file.stat().st_size <= 1024
    assert not log_file.with_name("bizlogic.log.1").exists()
    assert file_lines([log_file])[-1]["n"] == 99


JWT = jwt.encode({"sub": "u1", "role": "system_admin"}, "k" * 32, algorithm="HS256")
OPAQUE_BEARER = "opaqueBearerValue0123456789abcdef"
PASSWORD = "hunter2-Pa55word"
NESTED_TOKEN = "nested-refresh-token-XYZ"
DB_PASSWORD = "dbpass-Qw3rty"
API_KEY = "ak_live_51Habc"
SECRETS = [JWT, OPAQUE_BEARER, PASSWORD, NESTED_TOKEN, DB_PASSWORD, API_KEY]


def test_secrets_never_reach_a_log_line(configure: Configure, tmp_path: Path) -> None:
    log_file = tmp_path / "secret.log"
    out = configure(log_file=log_file)
    log = structlog.get_logger("bizlogic.api")
    log.info("token_created", message=f"Issued {JWT}", user_id="u1")
    log.info(
        "request",
        headers={"Authorization": f"Bearer {OPAQUE_BEARER}", "X-Api-Key": API_KEY},
        raw_header=f"Authorization: Bearer {OPAQUE_BEARER}",
    )
    log.info("login", user="u1", password=PASSWORD)
    bl_logging.log_user_action(
        "u1",
        "update",
        "settings",
        {"webhook": {"auth": {"refresh_token": NESTED_TOKEN}}, "list": [{"apiKey": API_KEY}]},
    )
    logging.getLogger("sqlalchemy.engine").warning(
        "connect failed: postgresql+psycopg://bl:%s@db/bl", DB_PASSWORD
    )
    logging.getLogger("uvicorn.error").error("bad header Authorization: Bearer %s", JWT)
    try:
        raise RuntimeError(f"login failed for password={PASSWORD} token {JWT}")
    except RuntimeError:
        log.exception("unhandled")

    lines = out.getvalue().splitlines() + log_file.read_text("utf-8").splitlines()
    assert len(lines) == 14
    for line in lines:
        for secret in SECRETS:
            assert secret not in line
    by_event = {r["event"]: r for r in records(out)}
    assert by_event["token_created"]["message"] == f"Issued {REDACTED}"
    assert by_event["request"]["headers"] == {"Authorization": REDACTED, "X-Api-Key": REDACTED}
    assert by_event["login"]["password"] == REDACTED
    assert by_event["login"]["user"] == "u1"
    details = by_event["user_action"]["details"]
    assert details == {
        "webhook": {"auth": {"refresh_token": REDACTED}},
        "list": [{"apiKey": REDACTED}],
    }
    assert f"bl:{REDACTED}@db/bl" in out.getvalue()


def test_request_urls_of_http_clients_stay_out_of_the_logs(configure: Configure) -> None:
    """httpx logs each request's URL at INFO; a webhook's secret is in its path."""
    import httpx

    out = configure(log_level="DEBUG")
    secret = "B0000000/XXXXsecretPATHXXXX"
    url = f"https://hooks.example.com/services/T0000000/{secret}"
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        assert client.post(url, json={"alert": 1}).status_code == 200
    structlog.get_logger("bizlogic.ops").info("alert_sent", attempts=1)
    assert [r["event"] for r in records(out)] == ["alert_sent"]
    assert "secretPATH" not in out.getvalue()


@pytest.mark.parametrize(
    "key",
    ["password", "Authorization", "X-Api-Key", "accessToken", "refresh_token", "jwt_secret",
     "Set-Cookie", "client_secret", "apiKey", "API_KEY", "PASSWORD_HASH", "private_key"],
)  # fmt: skip
def test_secret_key_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["tokens", "key", "project_id", "keywords", "user_id", "monkey", "secretary_name"]
)
def test_ordinary_key_names(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Bearer {OPAQUE_BEARER}", f"Bearer {REDACTED}"),
        (f"jwt {JWT} end", f"jwt {REDACTED} end"),
        ("authorization=Basic dXNlcjpwYXNz", f"authorization={REDACTED}"),
        ('{"password": "p w"}', f'{{"password": {REDACTED}}}'),
        ("/cb?access_token=abc123&x=1", f"/cb?access_token={REDACTED}&x=1"),
        ("redis://:s3cret@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("module bizlogic.telemetry.logging v1.2.3", "module bizlogic.telemetry.logging v1.2.3"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


def test_redact_stringifies_unknown_objects_before_filtering() -> None:
    class Conn:
        def __str__(self) -> str:
            return f"Conn(password={PASSWORD})"

    assert redact({"conn": Conn(), "n": 3, "ok": True, "none": None}) == {
        "conn": f"Conn(password={REDACTED}",  # a ")" may belong to the password
        "n": 3,
        "ok": True,
        "none": None,
    }


# -- cache events -----------------------------------------------------------------------


def test_cache_operations_are_debug_events_with_operation_key_and_hit(
    configure: Configure,
) -> None:
    """Every get, set and invalidation of the cache is a ``cache_operation`` event at DEBUG;
    its key names the project and a digest of the parameters, never their values."""
    from bizlogic.cache import MemoryCache

    out = configure(log_level="DEBUG")
    cache = MemoryCache()
    params = {"limit": 10, "api_key": "ak_live_SECRET42", "q": "password=hunter2"}
    key = cache.key("p1", "rules", params)
    assert cache.get_raw(key) is None
    cache.set(key, {"rules": []})
    assert cache.get_raw(key) is not None
    cache.invalidate_project("p1")
    events = [r for r in records(out) if r["event"] == "cache_operation"]
    assert [(r["operation"], r["key"], r["hit"]) for r in events] == [
        ("get", key, False), ("set", key, None), ("get", key, True),
        ("invalidate", "bl:p1:version", None),
    ]  # fmt: skip
    for record in events:
        assert set(record) == BASE_FIELDS | {"operation", "key", "hit"}
        assert (record["level"], record["logger"]) == ("DEBUG", "bizlogic.cache")
        assert record["module"] == "cache"  # the cache's call site, not the helper's
    assert [r["message"] for r in events][:3] == [
        f"Cache get {key} (miss)", f"Cache set {key}", f"Cache get {key} (hit)"
    ]  # fmt: skip
    assert "SECRET42" not in out.getvalue() and "hunter2" not in out.getvalue()
    assert re.fullmatch(r"bl:p1:v0:rules:[0-9a-f]{16}", key)


def test_cache_events_are_not_written_below_debug(configure: Configure) -> None:
    from bizlogic.cache import MemoryCache

    out = configure(log_level="INFO")
    cache = MemoryCache()
    key = cache.key("p1", "rules", {})
    cache.set(key, 1)
    cache.get_raw(key)
    cache.invalidate_project("p1")
    assert records(out) == []


def test_redis_cache_operations_are_logged_also_while_bypassed(
    configure: Configure, redis_server
) -> None:
    from bizlogic.cache import RedisCache

    out = configure(log_level="DEBUG")
    cache = RedisCache(redis_server.url)
    key = cache.key("p2", "insights", {"limit": 5})
    assert cache.get_raw(key) is None
    cache.set(key, [1, 2])
    assert cache.get_raw(key) == b"[1,2]"
    cache.invalidate_project("p2")
    cache.close()
    down = RedisCache("redis://127.0.0.1:1/0", timeout_s=0.1)  # nothing listens there
    bypassed = down.key("p2", "insights", {"limit": 5})
    assert bypassed is None and down.get_raw(bypassed) is None
    events = [r for r in records(out) if r["event"] == "cache_operation"]
    assert [(r["operation"], r["key"], r["hit"]) for r in events] == [
        ("get", key, False), ("set", key, None), ("get", key, True),
        ("invalidate", "bl:p2:version", None), ("get", None, False),
    ]  # fmt: skip
    assert events[-1]["message"] == "Cache get (Redis bypassed) (miss)"


# -- one writer per log file --------------------------------------------------------------


def test_process_placeholder_and_slots_give_each_process_its_own_file(
    configure: Configure, tmp_path: Path
) -> None:
    """``{process}`` becomes the role; a file another process holds is never shared: the
    next slot is taken (the same process claiming twice stands in for a second one)."""
    from bizlogic.telemetry.logfile import claim, live_files

    template = tmp_path / "logs" / "{process}.log"
    configure(log_file=template, log_level="INFO")
    assert bl_logging.log_file_in_use() == tmp_path / "logs" / "bizlogic.log"
    other = claim(template, "api")
    second = claim(template, "api")
    third = claim(tmp_path / "logs" / "bizlogic.log")  # held by configure: the next one
    try:
        assert (other.path.name, second.path.name, third.path.name) == (
            "api.log", "api-2.log", "bizlogic-2.log"
        )  # fmt: skip
        structlog.get_logger("a").info("hello")
        assert file_lines([tmp_path / "logs" / "bizlogic.log"])[0]["event"] == "hello"
        second.release()
        again = claim(template, "api")
        assert again.path.name == "api-2.log"  # a freed slot is taken again: names stay few
        again.release()
    finally:
        for slot in (other, second, third):
            slot.release()
    bl_logging.reset_logging()
    assert bl_logging.log_file_in_use() is None
    freed = claim(template, "bizlogic")
    assert freed.path.name == "bizlogic.log"  # released by reset
    freed.release()
    for name in ("api-10.log", "api.log.2.gz", "worker-3.log.1", "syslog.1", "api.logx",
                 "maintenance.log", "apix.log", "recover-0.log"):  # fmt: skip
        (tmp_path / "logs" / name).write_text("")
    (tmp_path / "logs" / "api-2.log").write_text("")
    # live or rotated (api.log: only api.log.2.gz), every role, slots by number; no other file
    assert [p.name for p in live_files(template)] == [
        "api.log", "api-2.log", "api-10.log", "bizlogic.log", "maintenance.log", "worker-3.log"
    ]  # fmt: skip


def test_a_lock_file_replaced_meanwhile_is_locked_anew(tmp_path: Path) -> None:
    """A slot is held by the lock file at its path: one removed and created again while a
    process held the old one is not a second process's free slot."""
    from bizlogic.telemetry.logfile import claim, is_written, lock_path

    first = claim(tmp_path / "x.log")
    lock_path(first.path).unlink()
    second = claim(tmp_path / "x.log")
    try:
        assert second.path == first.path  # the old lock file is gone: the new one is free
        assert is_written(first.path)
    finally:
        first.release()
        second.release()
    assert not is_written(first.path)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("/var/{process}/b.log", "file name only"), ("/var/log/{proc}.log", "only placeholder")],
)
def test_process_placeholder_only_in_the_file_name(value: str, problem: str) -> None:
    from pydantic import ValidationError

    assert Settings(log_file="/var/log/bizlogic/{process}.log").log_file is not None
    with pytest.raises(ValidationError, match=problem):
        Settings(log_file=value)
