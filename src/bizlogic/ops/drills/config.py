"""The drill config (``--config`` or ``BL_DRILL_CONFIG``): the only commands a drill may
run against a target, as argument lists (never a shell), and the target's name the
operator types to confirm.

    target_name: staging
    drills:
      worker-kill:
        inject: [systemctl, kill, --signal=SIGKILL, bizlogic-worker@1.service]
      redis-stop:
        inject: [systemctl, stop, redis-server.service]
        restore: [systemctl, start, redis-server.service]

``{worker_pid}`` and ``{job_id}`` in an argument become the pid of the worker process
running the drill's analysis and that analysis's job id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bizlogic.ops.drills.catalogue import DRILLS

TOP_KEYS = ("target_name", "drills")
COMMAND_KEYS = ("inject", "restore")
PLACEHOLDERS = ("{worker_pid}", "{job_id}")


class DrillConfigError(ValueError):
    """The config cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class DrillConfig:
    path: Path
    target_name: str
    commands: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def argv(self, drill: str, key: str) -> list[str]:
        """The argv of ``drills.<drill>.<key>``; DrillConfigError naming the key if absent."""
        found = self.commands.get(drill, {}).get(key)
        if found is None:
            raise DrillConfigError(
                f"{self.path}: drills.{drill}.{key} is missing: the drill {drill} needs it "
                "to act on this target"
            )
        return found

    def has(self, drill: str, key: str) -> bool:
        return key in self.commands.get(drill, {})


def _argv(path: Path, where: str, value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise DrillConfigError(
            f"{path}: {where}: must be a non-empty list of strings (an argument list, "
            "run without a shell)"
        )
    return list(value)


def load(path: Path) -> DrillConfig:
    """Read and validate the whole file before anything runs."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DrillConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DrillConfigError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise DrillConfigError(f"{path}: must be a mapping with target_name and drills")
    for key in data:
        if key not in TOP_KEYS:
            raise DrillConfigError(
                f"{path}: {key}: unknown key; the keys are {', '.join(TOP_KEYS)}"
            )
    name = data.get("target_name")
    if not isinstance(name, str) or not name.strip():
        raise DrillConfigError(f"{path}: target_name: must be a non-empty string")
    drills = data.get("drills") or {}
    if not isinstance(drills, dict):
        raise DrillConfigError(f"{path}: drills: must be a mapping of drill name to commands")
    commands: dict[str, dict[str, list[str]]] = {}
    for drill, entry in drills.items():
        if drill not in DRILLS:
            raise DrillConfigError(
                f"{path}: drills.{drill}: unknown drill; choose from {', '.join(DRILLS)}"
            )
        if not isinstance(entry, dict):
            raise DrillConfigError(f"{path}: drills.{drill}: must be a mapping (inject, restore)")
        for key in entry:
            if key not in COMMAND_KEYS:
                raise DrillConfigError(
                    f"{path}: drills.{drill}.{key}: unknown key; the keys are "
                    f"{', '.join(COMMAND_KEYS)}"
                )
        commands[drill] = {
            key: _argv(path, f"drills.{drill}.{key}", value) for key, value in entry.items()
        }
    return DrillConfig(path=path, target_name=name.strip(), commands=commands)


def expand(argv: list[str], values: dict[str, str]) -> list[str]:
    """The argv with the known placeholders replaced (plain text substitution per argument;
    nothing is ever handed to a shell)."""
    out = []
    for item in argv:
        for placeholder in PLACEHOLDERS:
            key = placeholder[1:-1]
            if placeholder in item and key in values:
                item = item.replace(placeholder, values[key])
        out.append(item)
    return out
