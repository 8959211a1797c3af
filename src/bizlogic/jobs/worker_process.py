"""One worker process of `bizlogic worker`: a Dramatiq ``Worker`` on the analysis queue.

The supervisor (``bizlogic.jobs.supervisor``) starts it as exactly
``python -m bizlogic.jobs.worker_process`` with a fresh ``BL_WORKER_NONCE`` in
its environment; recovery recognises it by both (``bizlogic.jobs.identity``).
SIGTERM stops it gracefully (the analysis in hand may finish), a second one at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

SHUTDOWN_TIMEOUT_MS = 600_000  # as Dramatiq's CLI: up to 10 minutes for the analysis in hand
PARENT_CHECK_S = 1.0


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            sys.exit(1)  # asked twice: do not wait for the analysis
        stop.set()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the supervisor stops us in order
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGHUP, handle)


def _wait(stop: threading.Event, parent: int) -> str:
    """Why to stop: a signal, or the supervisor gone (nobody would restart or stop us)."""
    while not stop.wait(PARENT_CHECK_S):
        if os.getppid() != parent:
            return "supervisor_gone"
    return "signal"


def main() -> int:
    stop = threading.Event()
    _stop_on_signals(stop)  # before the slow imports: a SIGTERM during boot is kept
    parent = os.getppid()

    import dramatiq

    from bizlogic.jobs import worker
    from bizlogic.jobs.broker import QUEUE
    from bizlogic.jobs.identity import NONCE_ENV
    from bizlogic.telemetry.logging import get_logger

    # The nonce proves this process only: what an analysis starts must not inherit it
    # (/proc/PID/environ of this process keeps it; os.environ is what children get).
    os.environ.pop(NONCE_ENV, None)
    logger = get_logger("bizlogic.worker")
    worker.broker.emit_after("process_boot")
    consumer = dramatiq.Worker(
        worker.broker, queues={QUEUE}, worker_threads=worker.settings.worker_threads
    )
    consumer.start()
    # The thread count the consumer really runs (BL_WORKER_THREADS or tuning.env): operators
    # and tests read it here rather than trusting the configuration.
    logger.info("worker_process_ready", pid=os.getpid(), threads=consumer.worker_threads)
    reason = _wait(stop, parent)
    logger.info("worker_process_stopping", pid=os.getpid(), reason=reason)
    consumer.stop(timeout=SHUTDOWN_TIMEOUT_MS)
    worker.broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
