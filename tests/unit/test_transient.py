"""Which failures a worker retries: connection trouble yes, bad data or bugs no."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from bizlogic.jobs.broker import _retry_when
from bizlogic.jobs.execute import TransientJobError, is_transient


class _Invalidated(DBAPIError):
    def __init__(self) -> None:
        super().__init__("SELECT 1", {}, Exception("server closed the connection"))
        self.connection_invalidated = True


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        InterfaceError("SELECT 1", {}, Exception("connection already closed")),
        _Invalidated(),
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
    ],
)
def test_connection_trouble_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("time_range.start: not an ISO-8601 timestamp"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        KeyError("algorithm"),
        redis.ResponseError("WRONGTYPE"),
    ],
)
def test_bad_data_and_bugs_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_the_broker_retries_only_transient_job_errors() -> None:
    assert _retry_when(0, TransientJobError("OperationalError: connection refused"))
    assert not _retry_when(0, ValueError("bad parameters"))
    assert not _retry_when(50, TransientJobError("still down"))  # the runaway guard
