"""The deployment a drill acts on, and the only ways it may act on it.

``Deployment`` is what a scenario sees: the settings (for the database and the API),
a name for the report, and ``inject`` / ``restore`` per drill. ``CommandDeployment`` is
an existing deployment — a named target (its env file) or production (this process's
settings) — on which the drill runs nothing but the commands of the drill config.
The sandbox (``sandbox.Sandbox``) injects its faults itself, into processes it owns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bizlogic.ops.drills.catalogue import DRILLS
from bizlogic.ops.drills.config import DrillConfig
from bizlogic.ops.drills.faults import run_configured
from bizlogic.settings import Settings, describe_invalid
from bizlogic.telemetry.redact import redact_text


class TargetError(ValueError):
    """The target cannot be used as described (env file, secret, drill refused)."""


class Deployment(ABC):
    kind = "target"  # sandbox | target | production

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings

    @property
    def label(self) -> str:
        """The ``target`` of the report: sandbox, the target's name, or production."""
        return self.name

    @property
    def api_url(self) -> str:
        """The service's base URL, from BL_HEALTH_URL (its /readyz)."""
        parts = urlsplit(self.settings.health_url)
        return f"{parts.scheme}://{parts.netloc}"

    def secret(self) -> str:
        """The JWT secret the drill signs its admin token with; never created here."""
        from bizlogic.api.secrets import SECRET_FILE, jwt_secret

        if self.settings.jwt_secret is None and not (self.settings.data_dir / SECRET_FILE).exists():
            raise TargetError(
                "BL_JWT_SECRET is not set and the data directory holds no jwt_secret: the "
                "drill needs the service's signing secret to submit its analyses"
            )
        return jwt_secret(self.settings)

    @abstractmethod
    def start(self) -> None:
        """Bring the deployment up, where the drill owns it."""

    @abstractmethod
    def close(self) -> None:
        """Tear down what the drill started."""

    def check(self, drill: str) -> None:
        """Refuse a drill this deployment cannot run (TargetError naming why)."""
        if DRILLS[drill].postgresql_only and not self.settings.effective_database_url.startswith(
            "postgresql"
        ):
            raise TargetError(
                f"{drill} needs PostgreSQL; this deployment's database is SQLite "
                "(there are no server connections to terminate)"
            )

    @abstractmethod
    def can_inject(self, drill: str) -> bool:
        """Whether this deployment knows how to inject ``drill``'s fault."""

    @abstractmethod
    def inject(self, drill: str, values: dict[str, str]) -> dict[str, Any]:
        """Inject the fault; what was done, for the timeline."""

    @abstractmethod
    def can_restore(self, drill: str) -> bool:
        """Whether this deployment has a way to undo ``drill``'s fault itself."""

    @abstractmethod
    def restore(self, drill: str, values: dict[str, str]) -> dict[str, Any]:
        """Undo the fault; what was done, for the timeline."""

    def settings_shown(self) -> dict[str, Any]:
        """The settings a drill depends on, URLs' passwords masked, no secret at all."""
        s = self.settings
        shown: dict[str, Any] = {
            "database_url": redact_text(s.effective_database_url),
            "redis_url": redact_text(s.redis_url) if s.redis_url else None,
            "health_url": redact_text(s.health_url),
        }
        for name in (
            "job_heartbeat_s",
            "job_stale_s",
            "job_max_attempts",
            "reconcile_interval_s",
            "analysis_timeout_s",
            "recovery_mode",
            "recovery_interval_s",
            "recovery_confirmations",
            "disk_alert_percent",
        ):
            shown[name] = getattr(s, name)
        return shown

    def log_excerpts(self) -> dict[str, str]:
        return {}


class CommandDeployment(Deployment):
    """A target (env file) or production: faults only through the config's commands."""

    def __init__(self, name: str, settings: Settings, config: DrillConfig, kind: str) -> None:
        super().__init__(name, settings)
        self.config = config
        self.kind = kind

    @property
    def label(self) -> str:
        return "production" if self.kind == "production" else self.name

    def check(self, drill: str) -> None:
        super().check(drill)
        for key in DRILLS[drill].target_keys:
            self.config.argv(drill, key)  # DrillConfigError naming the missing key

    def start(self) -> None:
        """Nothing: a named deployment is already up, and not the drill's to start."""

    def close(self) -> None:
        """Nothing: the drill started nothing here."""

    def can_inject(self, drill: str) -> bool:
        return self.config.has(drill, "inject")

    def inject(self, drill: str, values: dict[str, str]) -> dict[str, Any]:
        return run_configured(self.config.argv(drill, "inject"), values)

    def can_restore(self, drill: str) -> bool:
        return self.config.has(drill, "restore")

    def restore(self, drill: str, values: dict[str, str]) -> dict[str, Any]:
        return run_configured(self.config.argv(drill, "restore"), values)


class _FileOnly(Settings):
    """Settings from the arguments alone: not the environment, not a tuning file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        *args: PydanticBaseSettingsSource,
        **kwargs: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from_env_file(path: Path) -> Settings:
    """The BL_* settings an env file gives (and the defaults); this process's environment
    plays no part, so a drill never mistakes the shell's deployment for the target."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise TargetError(f"{path}: no such env file")
    values = {
        key[3:].lower(): value
        for key, value in dotenv_values(path).items()
        if key.startswith("BL_") and value is not None
    }
    try:
        return _FileOnly(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise TargetError(f"{path}: {describe_invalid(exc)}") from None
