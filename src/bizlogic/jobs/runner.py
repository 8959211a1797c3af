"""In-process job execution for the embedded mode: a bounded thread pool.

Mining is numpy/scipy work that releases the GIL in its heavy parts, and it
runs in threads so the event loop never waits for it. Cancellation is
cooperative: the job checks its token at every progress report.

Jobs share the interpreter with the event loop, so two things keep requests
quick while analyses run (measured by benchmarks/api.py, docs/performance.md):
the job threads run at a lower OS priority (on Linux a thread has its own nice
value), and the interpreter hands the GIL over every millisecond instead of
every 5 ms, so a request waiting for it is not held up by a job's Python loop.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class JobCancelled(Exception):
    """Raised inside a job that must stop; ``reason`` says why.

    ``cancelled`` (a user asked), ``timeout`` (past BL_ANALYSIS_TIMEOUT_S) or
    ``lost`` (the job record is no longer this worker's: taken over or ended).
    """

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(reason)
        self.reason = reason


class CancelToken:
    """Checked by a job at every progress report: cancellation and the time limit."""

    def __init__(
        self, timeout_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._event = threading.Event()
        self._reason = "cancelled"
        self._clock = clock
        self._deadline: float | None = None
        if timeout_s is not None:
            self.start_clock(timeout_s)

    def start_clock(self, timeout_s: float) -> None:
        """The time limit counts from when the job starts running, not from when it queued."""
        self._deadline = self._clock() + timeout_s

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self._reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._deadline is not None and self._clock() > self._deadline:
            self.cancel("timeout")
        if self._event.is_set():
            raise JobCancelled(self._reason)


Execute = Callable[[str, CancelToken], None]

JOB_THREAD_NICE = 10
GIL_SWITCH_INTERVAL_S = 0.001


def _lower_priority() -> None:
    """Runs in each job thread: an OS-level nudge that the event loop goes first."""
    # Not Linux, or not permitted: jobs keep the normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_THREAD_NICE)


class InProcessRunner:
    """Runs ``execute(job_id, token)`` on at most ``max_workers`` threads."""

    def __init__(self, execute: Execute, max_workers: int, timeout_s: float | None = None) -> None:
        self._execute = execute
        self._timeout_s = timeout_s
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="bl-job", initializer=_lower_priority
        )
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str) -> Future[None]:
        token = CancelToken()
        with self._lock:
            self._tokens[job_id] = token
        future = self._pool.submit(self._run, job_id, token)
        return future

    def _run(self, job_id: str, token: CancelToken) -> None:
        try:
            if not token.cancelled:
                if self._timeout_s is not None:
                    token.start_clock(self._timeout_s)
                self._execute(job_id, token)
        finally:
            with self._lock:
                self._tokens.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop; False when this runner does not hold it."""
        with self._lock:
            token = self._tokens.get(job_id)
        if token is None:
            return False
        token.cancel()
        return True

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._tokens)

    def metric_families(self) -> list[object]:
        return []  # in-process jobs have no broker queue

    def status(self) -> dict[str, object]:
        return {"status": "up", "backend": "in-process", "pending": self.pending}

    def shutdown(self, wait: bool = True, cancel: bool = True) -> None:
        """Stop taking jobs; with ``cancel`` also stop the running ones at their next check.

        A server shutting down passes ``cancel=False``: jobs it did not start
        stay queued in the database and are picked up again at the next start.
        """
        if cancel:
            with self._lock:
                tokens = list(self._tokens.values())
            for token in tokens:
                token.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)
