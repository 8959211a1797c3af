"""What changed between two analysis results of the same project.

Rules are matched by their key (same conditions and consequent); change
points by the series they belong to and their date, within a tolerance, so a
change point found again one bin later is not reported as new.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bizlogic.mining.engine import AnalysisResult

CHANGE_POINT_TOLERANCE_DAYS = 2


@dataclass(frozen=True)
class RuleShift:
    key: str
    pattern: str
    before: float
    after: float
    delta: float


@dataclass
class Changes:
    threshold: float
    new_rules: list[dict[str, Any]] = field(default_factory=list)
    vanished_rules: list[dict[str, Any]] = field(default_factory=list)
    confidence_shifts: list[RuleShift] = field(default_factory=list)
    new_change_points: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(
            self.new_rules
            or self.vanished_rules
            or self.confidence_shifts
            or self.new_change_points
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "has_changes": self.has_changes,
            "new_rules": self.new_rules,
            "vanished_rules": self.vanished_rules,
            "confidence_shifts": [asdict(s) for s in self.confidence_shifts],
            "new_change_points": self.new_change_points,
        }


def _day(value: str) -> date:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).date()


def _change_points(result: AnalysisResult) -> list[tuple[str, date, dict[str, Any]]]:
    points = []
    for pattern in result.patterns:
        if pattern.pattern_type != "change_point":
            continue
        series = str(pattern.data.get("series") or pattern.data.get("sentiment") or "")
        points.append((series, _day(str(pattern.data["date"])), pattern.to_dict()))
    return points


def detect_changes(
    before: AnalysisResult,
    after: AnalysisResult,
    threshold: float = 0.1,
    tolerance_days: int = CHANGE_POINT_TOLERANCE_DAYS,
) -> Changes:
    """New/vanished rules, confidence shifts ≥ threshold, and change points not seen before."""
    old = {r.key: r for r in before.rules}
    new = {r.key: r for r in after.rules}
    changes = Changes(threshold=threshold)
    changes.new_rules = [new[k].to_dict() for k in sorted(new.keys() - old.keys())]
    changes.vanished_rules = [old[k].to_dict() for k in sorted(old.keys() - new.keys())]
    for key in sorted(old.keys() & new.keys()):
        delta = new[key].confidence - old[key].confidence
        if abs(delta) >= threshold - 1e-12:
            changes.confidence_shifts.append(
                RuleShift(key, new[key].pattern, old[key].confidence, new[key].confidence, delta)
            )
    changes.confidence_shifts.sort(key=lambda s: (-abs(s.delta), s.key))
    earlier = _change_points(before)
    for series, day, pattern in _change_points(after):
        seen = any(s == series and abs((d - day).days) <= tolerance_days for s, d, _ in earlier)
        if not seen:
            changes.new_change_points.append(pattern)
    return changes
