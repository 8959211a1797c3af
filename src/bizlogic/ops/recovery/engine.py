"""One failure through its action chain, under the safeguards.

An alert from Alertmanager is first confirmed by this process's own check of
the failure type (it may concern another host, or be over): unconfirmed, nothing
is done. Then, in order: the kill switch (``bizlogic recover pause``); the budget (at most
``BL_RECOVERY_BUDGET`` repairing actions per failure type — and per host for memory and
CPU — in ``BL_RECOVERY_BUDGET_WINDOW_S``, after which a person is notified once and
recovery stops acting on that type until the window moves on); exponential
backoff between attempts (``BL_RECOVERY_BACKOFF_S``, doubled after each); then
each action of the chain: its precondition (a refusal is recorded and the next
action tried), the action, and a verification that the failure condition has
cleared — the first verified action ends the chain. A chain that runs out
escalates. In dry-run mode (the default until ``BL_RECOVERY_MODE=act``) every
step is planned and recorded, and nothing runs.

Acting needs the leader lock of the failure's scope (this host's for memory and
CPU, the deployment's otherwise); the caller (the watcher, or ``recover run``)
holds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bizlogic.ops.recovery import history
from bizlogic.ops.recovery.actions import REGISTRY, ActionContext, ActionFailed, Refused
from bizlogic.ops.recovery.checks import Checker, Observation
from bizlogic.ops.recovery.config import RecoveryConfig
from bizlogic.ops.recovery.hosts import HOST_FAILURES, this_host
from bizlogic.settings import Settings
from bizlogic.store import clock
from bizlogic.store.db import Database
from bizlogic.telemetry.logging import get_logger

logger = get_logger("bizlogic.recovery")
VERIFY_INTERVAL_S = 0.5


@dataclass
class Outcome:
    failure_type: str
    dry_run: bool
    # resolved, unresolved, escalated, suppressed, deferred, paused, planned, unconfirmed
    status: str
    detail: str = ""
    events: list[int] = field(default_factory=list)
    host: str | None = None  # memory, CPU: the host whose condition it was

    def as_dict(self) -> dict[str, Any]:
        return {
            "failure_type": self.failure_type,
            "host": self.host,
            "dry_run": self.dry_run,
            "status": self.status,
            "detail": self.detail,
            "events": self.events,
        }


class Recovery:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        config: RecoveryConfig | None = None,
        checker: Checker | None = None,
        now: Callable[[], datetime] = clock.utcnow,
        host: str | None = None,
    ) -> None:
        self.settings, self.db = settings, db
        self.host = host or this_host()
        self.config = config or RecoveryConfig.from_settings(settings)
        self.checker = checker or Checker(settings, db)
        self.now = now

    def dry_run(self, forced: bool = False) -> bool:
        return forced or self.settings.recovery_mode != "act"

    def handle(
        self,
        failure_type: str,
        trigger: str,
        observation: Observation | None = None,
        *,
        force_dry_run: bool = False,
        alert: dict[str, Any] | None = None,
        quiet: bool = False,
    ) -> Outcome:
        """``quiet``: a repeat of an episode the watcher already reported — safeguards
        that hold recovery back write no new row."""
        dry = self.dry_run(force_dry_run)
        host = self.host if failure_type in HOST_FAILURES else None
        outcome = Outcome(failure_type, dry, "unresolved", host=host)
        base = {
            "source": trigger,
            "failure_type": failure_type,
            "dry_run": dry,
            "host": host,
            **(alert or {}),
        }

        def note(action: str | None, status: str, **fields: Any) -> int | None:
            event = history.record(
                self.db, **base, action=action, status=status, created_at=self.now(), **fields
            )
            if event is not None:
                outcome.events.append(event)
            return event

        paused = history.pause_state(self.db)
        if paused is not None:
            if not quiet:
                note(None, "paused", details={"pause": paused})
            return self._done(outcome, "paused", f"recovery is paused since {paused['since']}")
        window = self.now() - timedelta(seconds=self.settings.recovery_budget_window_s)
        done = history.executed_since(self.db, failure_type, window, dry, host)
        if len(done) >= self.settings.recovery_budget:
            reason = (
                f"{failure_type}: {len(done)} recovery actions in the last "
                f"{self.settings.recovery_budget_window_s:g} s (the budget) did not "
                "fix it; recovery stops acting on it"
            )
            return self._escalate(
                outcome, note, failure_type, trigger, reason, window, "budget", quiet,
                observation=observation,
            )  # fmt: skip
        if done:
            wait = self.settings.recovery_backoff_s * 2 ** (len(done) - 1)
            ready = done[-1] + timedelta(seconds=wait)
            if self.now() < ready:
                if not quiet:
                    note(None, "deferred", details={"until": ready.isoformat()})
                return self._done(outcome, "deferred", f"backing off until {ready.isoformat()}")
        observation = observation or self.checker.check(failure_type)
        if trigger == "alertmanager" and not observation.failing:
            # The alert may be about another host, or already over: act only on what this
            # process can see failing, so that the fix can also be verified here.
            note(None, "unconfirmed", details={"observation": observation.details})
            return self._done(outcome, "unconfirmed", "the check does not confirm the alert")
        notified = planned = ran = False
        refusals: list[str] = []  # "action: reason", so the outcome states the real causes
        for action in self.config.chains[failure_type]:
            impl = REGISTRY[action]
            ctx = ActionContext(
                self.settings, self.db, self.config, failure_type, observation, trigger
            )
            try:
                plan = impl.plan(ctx)
            except Refused as refusal:
                refusals.append(f"{action}: {refusal}")
                repeated = quiet and history.last_refusal(
                    self.db, failure_type, action, dry, host
                ) == str(refusal)
                if repeated:  # the same refusal, every check of a lasting episode: once
                    continue
                note(action, "refused", details={"reason": str(refusal)})
                logger.info(
                    "recovery_refused",
                    failure_type=failure_type,
                    action=action,
                    reason=str(refusal),
                )
                continue
            if dry:
                note(action, "dry_run", details={"plan": plan, "observation": observation.details})
                planned = True
                continue
            if impl.repairs and len(done) >= self.settings.recovery_budget:
                reason = (
                    f"{failure_type}: the budget ran out in the middle of the chain; "
                    "recovery stops acting on it"
                )
                return self._escalate(
                    outcome, note, failure_type, trigger, reason, window, "budget",
                    observation=observation,
                )  # fmt: skip
            event = note(action, "running", details={"plan": plan})
            ran = True
            assert event is not None
            logger.warning(
                "recovery_action", failure_type=failure_type, action=action, trigger=trigger
            )
            try:
                result = impl.run(ctx, plan)
            except ActionFailed as exc:
                history.finish(
                    self.db,
                    event,
                    "failed",
                    error=str(exc),
                    details={"plan": plan, "result": exc.details},
                )
                done.append(self.now())
                continue
            if not impl.repairs:
                history.finish(self.db, event, "notified", details={"plan": plan, "result": result})
                notified = True
                continue
            done.append(self.now())
            cleared, after = self._verify(failure_type)
            history.finish(
                self.db,
                event,
                "succeeded" if cleared else "unverified",
                details={"plan": plan, "result": result, "after": after.details},
            )
            if cleared:
                return self._done(outcome, "resolved", f"{action} fixed it (verified)")
        if dry and planned:
            return self._done(outcome, "planned", "dry run: recorded what would be done")
        if dry:  # nothing to escalate to in a dry run: say what act mode would come to
            return self._done(
                outcome,
                "unresolved",
                f"dry run: every action of the chain refused ({'; '.join(refusals)}); "
                "act mode would notify an admin",
            )
        if notified:
            return self._done(outcome, "unresolved", "the chain ran out; an admin was notified")
        refused = "; ".join(refusals)
        if refusals and not ran:
            reason = f"{failure_type}: every action of the chain refused ({refused})"
        else:
            reason = f"{failure_type}: every action of the chain ran and the condition persists"
            reason += f" (refused: {refused})" if refusals else ""
        return self._escalate(
            outcome, note, failure_type, trigger, reason, window, "chain", quiet,
            observation=observation,
        )  # fmt: skip

    def _verify(self, failure_type: str) -> tuple[bool, Observation]:
        deadline = time.monotonic() + self.settings.recovery_verify_timeout_s
        while True:
            observation = self.checker.check(failure_type)
            if not observation.failing:
                return True, observation
            if time.monotonic() >= deadline:
                return False, observation
            time.sleep(VERIFY_INTERVAL_S)

    def _escalate(
        self,
        outcome: Outcome,
        note: Callable[..., int | None],
        failure_type: str,
        trigger: str,
        reason: str,
        window: datetime,
        kind: str,
        quiet: bool = False,
        *,
        observation: Observation | None,
    ) -> Outcome:
        """Tell a person once per window and kind; after that, stay silent and do nothing.
        ``observation``: the check's figures, which the notice carries (None when the budget
        stopped recovery before anything was checked)."""
        if history.escalated_since(
            self.db, failure_type, window, outcome.dry_run, kind, outcome.host
        ):
            if not quiet:
                note("notify_admin", "suppressed", target=kind, details={"reason": reason})
            return self._done(outcome, "suppressed", f"already escalated ({kind}) in this window")
        ctx = ActionContext(
            self.settings,
            self.db,
            self.config,
            failure_type,
            observation or Observation(True),
            trigger,
            reason=reason,
        )
        try:
            plan = REGISTRY["notify_admin"].plan(ctx)
        except Refused as refusal:
            repeated = quiet and history.last_refusal(
                self.db, failure_type, "notify_admin", outcome.dry_run, outcome.host
            ) == str(refusal)
            if not repeated:
                note(
                    "notify_admin",
                    "refused",
                    target=kind,
                    details={"reason": str(refusal), "escalation": reason},
                )
            return self._done(outcome, "escalated", f"{reason}; {refusal}")
        if outcome.dry_run:
            note("notify_admin", "escalated", target=kind, details={"plan": plan, "reason": reason})
            return self._done(outcome, "escalated", reason)
        try:
            result = REGISTRY["notify_admin"].run(ctx, plan)
        except ActionFailed as exc:
            note("notify_admin", "failed", target=kind, error=str(exc), details={"reason": reason})
            return self._done(outcome, "escalated", f"{reason}; the notification failed")
        note("notify_admin", "escalated", target=kind, details={"reason": reason, "result": result})
        logger.error("recovery_escalated", failure_type=failure_type, reason=reason, kind=kind)
        return self._done(outcome, "escalated", reason)

    @staticmethod
    def _done(outcome: Outcome, status: str, detail: str) -> Outcome:
        outcome.status, outcome.detail = status, detail
        return outcome
