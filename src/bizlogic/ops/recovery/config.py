"""Failure types, their action chains and which alerts mean which failure.

Defaults follow the operators' guide; ``BL_RECOVERY_CHAINS``,
``BL_RECOVERY_ALERTS`` and ``BL_RECOVERY_RESTART_UNITS`` change them with
``key=value,value;key=value`` lists. A bad entry is an error naming the
setting and the entry, raised before the watcher or the API starts acting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bizlogic.ops.services import split_units
from bizlogic.settings import Settings

FAILURE_TYPES = (
    "database_connection",
    "redis_connection",
    "high_memory_usage",
    "high_cpu_usage",
    "algorithm_timeout",
)
ACTIONS = ("restart_service", "clear_cache", "kill_processes", "scale_up", "notify_admin")
DEFAULT_CHAINS: Mapping[str, tuple[str, ...]] = {
    "database_connection": ("restart_service", "notify_admin"),
    "redis_connection": ("clear_cache", "restart_service"),
    "high_memory_usage": ("clear_cache", "kill_processes"),
    "high_cpu_usage": ("kill_processes", "scale_up"),
    "algorithm_timeout": ("kill_processes", "clear_cache"),
}
# An alert is matched by name, or by name and one label ("Name{label=value}"), the
# latter first. PostgresqlDown and RedisDown are the usual exporter alerts' names.
DEFAULT_ALERTS: Mapping[str, str] = {
    "BusinessLogicHighMemoryUsage": "high_memory_usage",
    "BusinessLogicHighCPUUsage": "high_cpu_usage",
    "BusinessLogicHighLatency": "algorithm_timeout",
    "BusinessLogicCollectorSourceDown{source=database}": "database_connection",
    "BusinessLogicCollectorSourceDown{source=redis}": "redis_connection",
    "PostgresqlDown": "database_connection",
    "RedisDown": "redis_connection",
}


class RecoveryConfigError(ValueError):
    """A BL_RECOVERY_* setting cannot be used; the message names it."""


def _pairs(setting: str, text: str) -> list[tuple[str, str]]:
    pairs = []
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RecoveryConfigError(f"{setting}: expected key=value, got {entry!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _failure_type(setting: str, name: str) -> str:
    if name not in FAILURE_TYPES:
        raise RecoveryConfigError(
            f"{setting}: unknown failure type {name!r}; choose from {', '.join(FAILURE_TYPES)}"
        )
    return name


@dataclass(frozen=True)
class RecoveryConfig:
    chains: Mapping[str, tuple[str, ...]]
    alerts: Mapping[str, str]
    restart_units: Mapping[str, tuple[str, ...]]
    scale_units: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> RecoveryConfig:
        chains = dict(DEFAULT_CHAINS)
        for key, value in _pairs("BL_RECOVERY_CHAINS", settings.recovery_chains):
            actions = tuple(split_units(value))
            unknown = [a for a in actions if a not in ACTIONS]
            if unknown:
                raise RecoveryConfigError(
                    f"BL_RECOVERY_CHAINS: unknown action(s) {unknown} for {key}; "
                    f"choose from {', '.join(ACTIONS)}"
                )
            chains[_failure_type("BL_RECOVERY_CHAINS", key)] = actions
        alerts = dict(DEFAULT_ALERTS)
        for key, value in _pairs("BL_RECOVERY_ALERTS", settings.recovery_alerts):
            alerts[key] = _failure_type("BL_RECOVERY_ALERTS", value)
        ours = tuple(split_units(settings.service_units))
        restart = dict.fromkeys(FAILURE_TYPES, ours)
        for key, value in _pairs("BL_RECOVERY_RESTART_UNITS", settings.recovery_restart_units):
            restart[_failure_type("BL_RECOVERY_RESTART_UNITS", key)] = tuple(split_units(value))
        return cls(chains, alerts, restart, tuple(split_units(settings.recovery_scale_units)))

    def failure_for_alert(self, name: str, labels: Mapping[str, str]) -> str | None:
        for label, value in sorted(labels.items()):
            found = self.alerts.get(f"{name}{{{label}={value}}}")
            if found:
                return found
        return self.alerts.get(name)
