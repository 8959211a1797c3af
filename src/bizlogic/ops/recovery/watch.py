"""The daemon behind ``bizlogic recover watch``.

Every ``BL_RECOVERY_INTERVAL_S`` the leader looks at each failure type; one
that fails ``BL_RECOVERY_CONFIRMATIONS`` looks in a row is a detection
(recorded once per episode, with the figures) and goes to the engine — again at
every look while it lasts, the engine's backoff and budget deciding whether to
act. When it clears, that is recorded too. Pending Alertmanager detections are
taken up at every look. A process that is not the leader stands by and tries
to become it at every interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.checks import Observation
from bizlogic.ops.recovery.config import FAILURE_TYPES
from bizlogic.ops.recovery.engine import Outcome, Recovery
from bizlogic.ops.recovery.leader import LeaderLock
from bizlogic.store.tables import RecoveryEvent
from bizlogic.telemetry.logging import get_logger

logger = get_logger("bizlogic.recovery")


def process_pending(recovery: Recovery) -> list[Outcome]:
    """Act on the Alertmanager detections waiting for the leader, oldest first."""
    outcomes = []
    for event in history.pending_alerts(recovery.db):
        outcome = recovery.handle(
            str(event.failure_type), "alertmanager", alert=_alert_fields(event)
        )
        history.finish(
            recovery.db,
            event.id,
            "handled",
            details={**(event.details or {}), "outcome": outcome.as_dict()},
        )
        outcomes.append(outcome)
    return outcomes


def _alert_fields(event: RecoveryEvent) -> dict[str, object]:
    return {
        "alert_name": event.alert_name,
        "fingerprint": event.fingerprint,
        "severity": event.severity,
    }


class Watcher:
    def __init__(
        self,
        recovery: Recovery,
        lock: LeaderLock,
        *,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.recovery, self.lock = recovery, lock
        settings = recovery.settings
        self.types = [t for t in FAILURE_TYPES if t != "redis_connection" or settings.redis_url]
        self.streaks = dict.fromkeys(self.types, 0)
        self.on_outcome = on_outcome or (lambda _outcome: None)
        self.stop_event = threading.Event()
        self.leading = False

    def look_once(self) -> list[Outcome]:
        if not (self.lock.try_acquire() and self.lock.still_held()):
            if self.leading:
                logger.warning("recovery_leader_lost", message="another process leads now")
            self.leading = False
            return []
        if not self.leading:
            logger.info(
                "recovery_leader",
                message="this process now acts on failures",
                mode=self.recovery.settings.recovery_mode,
            )
            self.leading = True
        outcomes = process_pending(self.recovery)
        needed = self.recovery.settings.recovery_confirmations
        for failure_type in self.types:
            observation = self.recovery.checker.check(failure_type)
            before = self.streaks[failure_type]
            self.streaks[failure_type] = before + 1 if observation.failing else 0
            if observation.failing and self.streaks[failure_type] >= needed:
                outcomes.append(self._detected(failure_type, observation, first=before < needed))
            elif not observation.failing and before >= needed:
                self._record(failure_type, "cleared", observation.details)
        for outcome in outcomes:
            self.on_outcome(outcome)
        return outcomes

    def _record(self, failure_type: str, status: str, details: dict[str, object]) -> None:
        history.record(
            self.recovery.db,
            source="detector",
            failure_type=failure_type,
            status=status,
            dry_run=self.recovery.dry_run(),
            details=details,
        )

    def _detected(self, failure_type: str, observation: Observation, first: bool) -> Outcome:
        if first:
            consecutive = self.streaks[failure_type]
            self._record(
                failure_type, "detected", {**observation.details, "consecutive": consecutive}
            )
            logger.warning(
                "recovery_detected", failure_type=failure_type, details=observation.details
            )
        return self.recovery.handle(failure_type, "detector", observation, quiet=not first)

    def run(self) -> None:
        interval = self.recovery.settings.recovery_interval_s
        try:
            while True:
                self.look_once()
                if self.stop_event.wait(interval):
                    return
        finally:
            self.lock.release()
