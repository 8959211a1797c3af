"""In-process job execution for the embedded mode: a bounded thread pool.

Mining is numpy/scipy work that releases the GIL in its heavy parts, and it
runs in threads so the event loop never waits for it. Cancellation is
cooperative: the job checks its token at every progress report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class JobCancelled(Exception):
    """Raised inside a job when its cancellation was requested."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise JobCancelled()


Execute = Callable[[str, CancelToken], None]


class InProcessRunner:
    """Runs ``execute(job_id, token)`` on at most ``max_workers`` threads."""

    def __init__(self, execute: Execute, max_workers: int) -> None:
        self._execute = execute
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bl-job")
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
