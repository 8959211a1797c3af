"""The daemon behind ``bizlogic recover watch``, run on every host.

Every ``BL_RECOVERY_INTERVAL_S`` each leading process looks at the failure
types of its scope: the host's leader at this host's memory and CPU, the
deployment's leader (one among all hosts) at the database, Redis and analyses'
time limits. One that fails ``BL_RECOVERY_CONFIRMATIONS`` looks in a row is a
detection (recorded once per episode, with the figures) and goes to the engine
— again at every look while it lasts, the engine's backoff and budget deciding
whether to act. When it clears, that is recorded too. Pending Alertmanager
detections are taken up at every look, each by the leader of its scope; a
memory/CPU alert about a host where no watcher takes it up is closed as
``unclaimed`` by the deployment's leader. A process that leads nothing stands
by and tries again at every interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.checks import Observation
from bizlogic.ops.recovery.config import FAILURE_TYPES
from bizlogic.ops.recovery.engine import Outcome, Recovery
from bizlogic.ops.recovery.hosts import HOST_FAILURES, is_this_host
from bizlogic.ops.recovery.leader import LeaderLock
from bizlogic.store.tables import RecoveryEvent
from bizlogic.telemetry.logging import get_logger

logger = get_logger("bizlogic.recovery")
UNCLAIMED_AFTER_LOOKS = 4  # a host's watcher looks every interval: four missed looks


def process_pending(
    recovery: Recovery, *, deployment: bool = True, host: bool = True
) -> list[Outcome]:
    """Act on the Alertmanager detections of the scopes this process leads, oldest first."""
    outcomes = []
    stale = recovery.now() - timedelta(
        seconds=UNCLAIMED_AFTER_LOOKS * recovery.settings.recovery_interval_s
    )
    for event in history.pending_alerts(recovery.db):
        mine = _scope_is_mine(event, deployment=deployment, host=host)
        if mine is None:
            if deployment and event.created_at < stale and history.claim(recovery.db, event.id):
                history.finish(
                    recovery.db,
                    event.id,
                    "unclaimed",
                    details={
                        **(event.details or {}),
                        "reason": f"no recovery watcher on {event.host} took it up",
                    },
                )
            continue
        if not mine or not history.claim(recovery.db, event.id):
            continue
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


def _scope_is_mine(event: RecoveryEvent, *, deployment: bool, host: bool) -> bool | None:
    """True: this process should act on it; False: not its scope; None: another host's."""
    if event.failure_type not in HOST_FAILURES or event.host is None:
        return deployment  # no host named: the deployment's leader confirms with its check
    if not is_this_host(event.host):
        return None
    return host


def _alert_fields(event: RecoveryEvent) -> dict[str, object]:
    return {
        "alert_name": event.alert_name,
        "fingerprint": event.fingerprint,
        "severity": event.severity,
    }


class Watcher:
    """``lock``: the deployment's leader lock; ``host_lock``: this host's."""

    def __init__(
        self,
        recovery: Recovery,
        lock: LeaderLock,
        host_lock: LeaderLock,
        *,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.recovery, self.lock, self.host_lock = recovery, lock, host_lock
        settings = recovery.settings
        self.types = [t for t in FAILURE_TYPES if t != "redis_connection" or settings.redis_url]
        self.streaks = dict.fromkeys(self.types, 0)
        self.on_outcome = on_outcome or (lambda _outcome: None)
        self.stop_event = threading.Event()
        self.leads = {"deployment": False, "host": False}

    @property
    def leading(self) -> bool:
        return any(self.leads.values())

    def _lead(self, scope: str, lock: LeaderLock) -> bool:
        now = lock.try_acquire() and lock.still_held()
        if now != self.leads[scope]:
            where = "this host" if scope == "host" else "the deployment"
            if now:
                logger.info(
                    "recovery_leader",
                    message=f"this process now acts on failures of {where}",
                    scope=scope,
                    host=self.host_lock.host,
                    mode=self.recovery.settings.recovery_mode,
                )
            else:
                logger.warning(
                    "recovery_leader_lost",
                    message=f"another process leads {where} now",
                    scope=scope,
                )
        self.leads[scope] = now
        return now

    def look_once(self) -> list[Outcome]:
        deployment = self._lead("deployment", self.lock)
        host = self._lead("host", self.host_lock)
        if not (deployment or host):
            return []
        outcomes = process_pending(self.recovery, deployment=deployment, host=host)
        needed = self.recovery.settings.recovery_confirmations
        for failure_type in self.types:
            if not (host if failure_type in HOST_FAILURES else deployment):
                continue
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
            host=self.recovery.host if failure_type in HOST_FAILURES else None,
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
            self.release()

    def release(self) -> None:
        self.lock.release()
        self.host_lock.release()
