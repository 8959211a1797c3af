"""Starting and restarting the services bizlogic is configured to manage.

Shared by `bizlogic maintain --restart` and auto-recovery. Commands are argument
lists run without a shell: ``systemctl restart UNIT`` by default, or
``BL_RESTART_COMMAND`` split like a shell would (``{unit}`` replaced by each
unit), so nothing from outside can inject a command.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass

import httpx

COMMAND_TIMEOUT_S = 120


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_code: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def split_units(text: str) -> list[str]:
    return [unit.strip() for unit in text.split(",") if unit.strip()]


def restart_commands(units: list[str], restart_command: str | None) -> list[list[str]]:
    """One command per unit; a configured command without ``{unit}`` runs once."""
    if not restart_command:
        return [["systemctl", "restart", unit] for unit in units]
    template = shlex.split(restart_command)
    if not any("{unit}" in part for part in template):
        return [template]
    return [[part.replace("{unit}", unit) for part in template] for unit in units]


def run_command(command: list[str]) -> CommandResult:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CommandResult(shlex.join(command), -1, str(exc))
    return CommandResult(shlex.join(command), done.returncode, done.stderr[-500:])


def wait_healthy(url: str, timeout_s: float, interval_s: float = 0.5) -> tuple[bool, float]:
    """Poll ``url`` until it answers 200 or ``timeout_s`` passes: (healthy, seconds waited)."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True, time.monotonic() - started
        except httpx.HTTPError:
            pass  # still starting
        if time.monotonic() - started > timeout_s:
            return False, time.monotonic() - started
        time.sleep(interval_s)
