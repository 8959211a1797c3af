"""One readable message from Alertmanager's webhook payload, whatever the channel.

A person on call reads it on a phone: what fires (or is resolved), how many, how bad,
where, and the rule's one-line summary. The channels differ only in markup (``channels``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bizlogic.ops.recovery.alerts import AlertmanagerPayload

MAX_LISTED = 10  # alerts listed one by one; the rest are counted
MAX_SUMMARY = 300  # characters of one alert's summary


@dataclass(frozen=True)
class Line:
    """One alert of the payload, as a person reads it."""

    status: str  # "firing" | "resolved"
    name: str
    severity: str
    instance: str
    summary: str


@dataclass(frozen=True)
class Notice:
    """A payload reduced to what every channel shows: firing alerts first."""

    firing: int
    resolved: int
    lines: tuple[Line, ...]
    truncated: int = 0  # alerts Alertmanager left out (its webhook's max_alerts)

    @classmethod
    def from_payload(cls, payload: AlertmanagerPayload) -> Notice:
        lines = []
        for alert in payload.alerts:
            notes = alert.annotations
            summary = notes.get("summary") or notes.get("description") or ""
            lines.append(
                Line(
                    status=alert.status,
                    name=alert.labels.get("alertname", "") or "(no alertname)",
                    severity=alert.labels.get("severity", "") or "none",
                    instance=alert.labels.get("instance", "") or "-",
                    summary=cut(" ".join(summary.split()), MAX_SUMMARY),
                )
            )
        lines.sort(key=lambda line: line.status != "firing")  # stable: firing first
        firing = sum(1 for line in lines if line.status == "firing")
        truncated = (payload.model_extra or {}).get("truncatedAlerts")
        return cls(
            firing=firing,
            resolved=len(lines) - firing,
            lines=tuple(lines),
            truncated=truncated if isinstance(truncated, int) and truncated > 0 else 0,
        )

    @property
    def count(self) -> int:
        """Alerts in the notification, the ones Alertmanager left out included."""
        return len(self.lines) + self.truncated

    @property
    def status(self) -> str:
        """Alertmanager's word for the group: firing while any alert of it fires."""
        return "firing" if self.firing else "resolved"

    @property
    def subject(self) -> str:
        names = list(dict.fromkeys(line.name for line in self.lines))
        if len(names) <= 2:
            return ", ".join(names) or "(no alerts)"
        return f"{names[0]}, {names[1]} +{len(names) - 2}"

    @property
    def counts(self) -> str:
        """``FIRING:2``, ``RESOLVED:1`` or ``FIRING:2, RESOLVED:1``."""
        parts = [f"FIRING:{self.firing}"] if self.firing else []
        parts += [f"RESOLVED:{self.resolved}"] if self.resolved else []
        return ", ".join(parts) or "FIRING:0"

    @property
    def title(self) -> str:
        return f"[{self.counts}] {self.subject}"

    @property
    def listed(self) -> tuple[Line, ...]:
        return self.lines[:MAX_LISTED]

    @property
    def unlisted(self) -> int:
        return max(0, len(self.lines) - MAX_LISTED) + self.truncated

    def describe(self, line: Line) -> str:
        """``FIRING BusinessLogicServiceDown · critical · host:8000 — summary``."""
        text = f"{line.status.upper()} {line.name} · {line.severity} · {line.instance}"
        return f"{text} — {line.summary}" if line.summary else text

    def plain(self) -> str:
        """Title, then one line per alert: for chat text messages."""
        rows = [self.title, *(f"• {self.describe(line)}" for line in self.listed)]
        if self.unlisted:
            rows.append(f"… and {self.unlisted} more")
        return "\n".join(rows)

    def short(self, limit: int) -> str:
        """One compact line for a text message, cut to ``limit`` characters."""
        several = len({line.name for line in self.lines}) > 1
        mixed = bool(self.firing and self.resolved)
        parts = []
        for line in self.lines:
            words = [line.status.upper()] if mixed else []
            words += [line.name] if several else []
            words += [line.severity, f"{line.instance}:", line.summary or "-"]
            parts.append(" ".join(words))
        more = f"; +{self.truncated} more" if self.truncated else ""
        return cut(f"{self.title}: " + "; ".join(parts) + more, limit)


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, an ellipsis marking a cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"
