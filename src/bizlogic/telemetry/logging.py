"""Structured logs (DESIGN §8): structlog rendering through stdlib logging handlers.

Every line, whether it came from structlog or from a stdlib logger (uvicorn,
sqlalchemy, httpx), passes the same ``ProcessorFormatter`` and so has the same
fields::

    timestamp  ISO-8601 UTC ending in "Z"
    level      DEBUG | INFO | WARNING | ERROR | CRITICAL
    logger     logger name ("bizlogic.analysis", "uvicorn.error", …)
    event      what happened, as a stable name: "analysis_start"; for stdlib
               records and ad-hoc calls without a name, the text itself
    message    a sentence for humans; equals ``event`` when none was given
    module, function, line   the call site (of the helper's caller for helpers)
    request_id, job_id       when bound with ``structlog.contextvars``

then the event's own fields. Secrets are removed by ``redact`` last, after
tracebacks have become text, so nothing escapes it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
import structlog
from structlog.processors import CallsiteParameter, CallsiteParameterAdder
from structlog.types import EventDict, Processor, WrappedLogger

from bizlogic.settings import Settings
from bizlogic.telemetry.logfile import LogSlot, SizeRotatingFileHandler, claim
from bizlogic.telemetry.redact import redact

# Loggers that servers configure with handlers of their own; ours must win.
_ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi")
# httpx and httpcore log every request's full URL at INFO (DEBUG: headers). Alert webhooks
# (Slack, Teams, Alertmanager receivers behind a proxy) carry their secret in the path,
# which no redaction pattern can tell from an ordinary path: these loggers say only WARNING+.
_URL_LOGGERS = ("httpx", "httpcore")
# uvicorn passes an ANSI-coloured copy of its message as an "extra"; JSON wants none of it.
_DROPPED_FIELDS = ("color_message",)
_LEADING_FIELDS = ("timestamp", "level", "logger", "event", "message", "request_id", "job_id")
_installed: list[logging.Handler] = []
_CACHE_LOGGER = logging.getLogger("bizlogic.cache")
_slot: list[LogSlot] = []  # the log file this process holds, while configured


def _timestamp(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """When the record was made (stdlib records carry it), ISO-8601 UTC with ``Z``."""
    record = event_dict.get("_record")
    moment = (
        datetime.fromtimestamp(record.created, UTC) if record is not None else datetime.now(UTC)
    )
    event_dict["timestamp"] = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return event_dict


def _contract_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Rename structlog's keys to the contract's and put the common fields first."""
    event_dict["level"] = str(event_dict.get("level", "info")).upper()
    for key in _DROPPED_FIELDS:
        event_dict.pop(key, None)
    if "func_name" in event_dict:
        event_dict["function"] = event_dict.pop("func_name")
    if "lineno" in event_dict:
        event_dict["line"] = event_dict.pop("lineno")
    event_dict["event"] = str(event_dict.get("event", ""))
    event_dict.setdefault("message", event_dict["event"])
    leading = {key: event_dict.pop(key) for key in _LEADING_FIELDS if key in event_dict}
    return {**leading, **event_dict}


def _console_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A repeated message is noise on a terminal."""
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    return redact(event_dict)


def _json_line(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    return orjson.dumps(event_dict, option=orjson.OPT_NON_STR_KEYS).decode()


def _shared_processors() -> list[Processor]:
    """Run for structlog calls (at the call) and for stdlib records (in the formatter)."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        _timestamp,
        CallsiteParameterAdder(
            {CallsiteParameter.MODULE, CallsiteParameter.FUNC_NAME, CallsiteParameter.LINENO},
            additional_ignores=[__name__],
        ),
    ]


def _formatter(*render: Processor) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _contract_fields,
            _redact,
            *render,
        ],
    )


def configure_logging(
    settings: Settings, stream: TextIO | None = None, process: str = "bizlogic"
) -> None:
    """Route all logging to ``stream`` (default stdout) and ``BL_LOG_FILE``.

    The file is this process's own (`bizlogic.telemetry.logfile.claim`): ``{process}``
    in ``BL_LOG_FILE`` becomes ``process`` (the role: api, worker, maintenance,
    recover), and a file another live process writes is never shared — the next
    free slot (``api-2.log`` …) is taken instead, so that rotation has one writer.

    Safe to call again: handlers installed by an earlier call are closed and
    replaced, handlers installed by others (pytest's caplog) are left alone.
    The file is always JSON, for the log analyzer; ``BL_LOG_FORMAT`` changes only
    the stream: ``auto`` (default) is readable lines on a terminal and JSON lines
    otherwise (a pipe, journald), so `bizlogic serve` typed by hand is not a wall of
    JSON. Servers must not install their own logging config (uvicorn: ``log_config=None``).
    """
    reset_logging()
    out = stream if stream is not None else sys.stdout
    console = settings.log_format == "console" or (
        settings.log_format == "auto" and _is_terminal(out)
    )
    if console:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
        stream_formatter = _formatter(_console_fields, renderer)
    else:
        stream_formatter = _formatter(_json_line)
    stream_handler = logging.StreamHandler(out)
    stream_handler.setFormatter(stream_formatter)
    _installed.append(stream_handler)
    if settings.log_file is not None:
        _slot.append(claim(settings.log_file, process))
        file_handler = SizeRotatingFileHandler(
            _slot[0].path, settings.log_max_bytes, settings.log_backup_count
        )
        file_handler.setFormatter(_formatter(_json_line))
        _installed.append(file_handler)

    root = logging.getLogger()
    for handler in _installed:
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger fetched at import time must follow a later configure call.
        cache_logger_on_first_use=False,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stream-like object
        return False


def reset_logging() -> None:
    """Remove and close the handlers ``configure_logging`` installed (tests, shutdown)."""
    root = logging.getLogger()
    while _installed:
        handler = _installed.pop()
        root.removeHandler(handler)
        handler.close()
    while _slot:
        _slot.pop().release()
    structlog.reset_defaults()


def log_file_in_use() -> Path | None:
    """The file this process writes its log to (``BL_LOG_FILE`` expanded), if any."""
    return _slot[0].path if _slot else None


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger whose ``logger`` field is ``name``."""
    return structlog.stdlib.get_logger(name)


def log_analysis_start(algorithm: str, project_id: str, user_id: str, data_size: int) -> None:
    get_logger("bizlogic.analysis").info(
        "analysis_start",
        message=f"Analysis {algorithm} started on project {project_id} ({data_size} records)",
        algorithm=algorithm,
        project_id=project_id,
        user_id=user_id,
        data_size=data_size,
    )


def log_analysis_complete(
    algorithm: str, project_id: str, duration: float, patterns_found: int, rules_extracted: int
) -> None:
    get_logger("bizlogic.analysis").info(
        "analysis_complete",
        message=(
            f"Analysis {algorithm} on project {project_id} completed in {duration:.3f} s: "
            f"{patterns_found} patterns, {rules_extracted} rules"
        ),
        algorithm=algorithm,
        project_id=project_id,
        duration=duration,
        patterns_found=patterns_found,
        rules_extracted=rules_extracted,
    )


def log_analysis_error(
    algorithm: str, project_id: str, error: BaseException | str, duration: float
) -> None:
    """``error`` is ``"ExceptionType: text"``; log the traceback separately if wanted."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    get_logger("bizlogic.analysis").error(
        "analysis_error",
        message=f"Analysis {algorithm} on project {project_id} failed after {duration:.3f} s",
        algorithm=algorithm,
        project_id=project_id,
        error=text,
        duration=duration,
    )


def log_cache_operation(operation: str, key: str | None, hit: bool | None) -> None:
    """DEBUG: one line per lookup is too many at INFO. ``operation`` is ``get``, ``set`` or
    ``invalidate``; ``hit`` is None but for ``get``; ``key`` is None while Redis is
    bypassed. Keys hold a project id and a digest of the parameters, never their values.
    Returns at once below DEBUG: the cache's hit path must stay cheap."""
    if not _CACHE_LOGGER.isEnabledFor(logging.DEBUG):
        return
    outcome = "" if hit is None else (" (hit)" if hit else " (miss)")
    shown = "(Redis bypassed)" if key is None else key
    get_logger("bizlogic.cache").debug(
        "cache_operation",
        message=f"Cache {operation} {shown}{outcome}",
        operation=operation,
        key=key,
        hit=hit,
    )


def log_user_action(
    user_id: str, action: str, resource: str, details: Mapping[str, Any] | None = None
) -> None:
    """The audit line for a mutating request; ``details`` is redacted like everything else."""
    get_logger("bizlogic.audit").info(
        "user_action",
        message=f"User {user_id} {action} {resource}",
        user_id=user_id,
        action=action,
        resource=resource,
        details=dict(details) if details is not None else {},
    )
