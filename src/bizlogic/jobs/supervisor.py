"""`bizlogic worker`'s supervisor: keeps its worker processes running, one by one.

Dramatiq's own CLI stops every worker process when one dies (by design: an
outside supervisor is to restart the lot), so one OOM-killed analysis took all
of a host's analysis capacity down. This supervisor restarts only the dead
process, after a short back-off, and gives up (exit 1, for systemd) when worker
processes die ``RESTART_LIMIT`` times within ``RESTART_WINDOW_S``. The jobs a dead
process held are taken over once their heartbeat is stale, as for any dead worker.

Each worker process gets a fresh nonce in its exec environment
(``bizlogic.jobs.identity``): the proof recovery asks for before signalling it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from bizlogic.jobs.identity import NONCE_ENV, WORKER_ARGS, new_nonce
from bizlogic.telemetry.logging import get_logger

if TYPE_CHECKING:
    from bizlogic.settings import Settings

RESTART_LIMIT = 5  # deaths within the window that end the supervisor
RESTART_WINDOW_S = 60.0
BACKOFF_S = 0.5  # before the first restart; doubled with every recent death
TICK_S = 0.2

logger = get_logger("bizlogic.worker")


def spawn_worker() -> subprocess.Popen[bytes]:
    """A worker process with its own nonce, given at exec so that /proc shows it."""
    return subprocess.Popen(
        [sys.executable, *WORKER_ARGS], env={**os.environ, NONCE_ENV: new_nonce()}
    )


def describe_exit(code: int) -> dict[str, object]:
    """Popen's return code as the log says it: a negative one is the killing signal."""
    if code < 0:
        return {"exit_code": None, "signal": signal.Signals(-code).name}
    return {"exit_code": code, "signal": None}


@dataclass
class Slot:
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None  # monotonic time of the scheduled restart


class Supervisor:
    def __init__(
        self,
        processes: int,
        spawn: Callable[[], subprocess.Popen[bytes]] = spawn_worker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = [Slot() for _ in range(processes)]
        self.spawn, self.clock = spawn, clock
        self.deaths: deque[float] = deque()
        self.signals = 0  # stop requests received (a second one is forwarded again)
        self.wake = threading.Event()

    def run(self) -> int:
        """Supervise until a stop signal (0) or too many deaths (1)."""
        self._install_signals()
        for slot in self.slots:
            self._start(slot)
        gave_up = False
        while not self.signals and not gave_up:
            gave_up = self._reap()
            self._restart_due()
            self.wake.wait(TICK_S)
            self.wake.clear()
        self._stop_all()
        return 1 if gave_up else 0

    def _install_signals(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            self.signals += 1
            self.wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, handle)

    def _start(self, slot: Slot) -> None:
        slot.process, slot.restart_at = self.spawn(), None
        logger.info("worker_process_started", pid=slot.process.pid)

    def _reap(self) -> bool:
        """Note dead worker processes and schedule their restarts; True: give up."""
        for slot in self.slots:
            if slot.process is None or (code := slot.process.poll()) is None:
                continue
            pid, slot.process = slot.process.pid, None
            recent = self._count_death()
            exit_ = describe_exit(code)
            logger.error(
                "worker_process_died",
                message=f"worker process {pid} died ({exit_['signal'] or exit_['exit_code']})",
                pid=pid,
                **exit_,
                recent_deaths=recent,
            )
            if recent >= RESTART_LIMIT:
                logger.critical(
                    "worker_restarts_exhausted",
                    message=f"{recent} worker processes died within {RESTART_WINDOW_S:g} s: "
                    "giving up, the service manager decides what follows",
                )
                return True
            slot.restart_at = self.clock() + BACKOFF_S * 2 ** (recent - 1)
        return False

    def _count_death(self) -> int:
        now = self.clock()
        self.deaths.append(now)
        while self.deaths and self.deaths[0] < now - RESTART_WINDOW_S:
            self.deaths.popleft()
        return len(self.deaths)

    def _restart_due(self) -> None:
        for slot in self.slots:
            if slot.restart_at is not None and self.clock() >= slot.restart_at:
                self._start(slot)

    def _stop_all(self) -> None:
        """SIGTERM to every worker process (again at every further signal), then wait."""
        forwarded = 0
        while live := [s.process for s in self.slots if s.process and s.process.poll() is None]:
            if forwarded < max(1, self.signals):
                forwarded = max(1, self.signals)
                for process in live:
                    process.send_signal(signal.SIGTERM)
            self.wake.wait(TICK_S)
            self.wake.clear()


def _serve_metrics() -> None:
    from bizlogic.jobs.worker_metrics import serve_metrics

    try:
        serve_metrics()
    except Exception:
        logger.exception("worker_metrics_failed")


def _collect_host_figures(settings: Settings) -> None:
    """The CPU, memory and disk gauges of this worker host, on its metrics port: the
    alerts and auto-recovery's memory/CPU checks see the hosts where analyses run."""
    from bizlogic.telemetry.collector import Collector
    from bizlogic.telemetry.metrics import Metrics

    Collector(Metrics(), None, settings.data_dir).start(settings.collect_interval_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bizlogic.jobs.supervisor")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--metrics", action="store_true", help="serve BL_WORKER_METRICS_ADDR")
    args = parser.parse_args(argv)

    from bizlogic.settings import get_settings
    from bizlogic.telemetry.logging import configure_logging

    settings = get_settings()
    configure_logging(settings, process="worker")
    if args.metrics:
        threading.Thread(target=_serve_metrics, name="metrics", daemon=True).start()
        _collect_host_figures(settings)
    return Supervisor(max(1, args.processes)).run()


if __name__ == "__main__":
    sys.exit(main())
