"""All configuration in one place: ``BL_*`` environment variables (DESIGN §11).

Nothing else reads the environment. Defaults make the embedded mode work with
no configuration at all: SQLite and generated secrets live in ``BL_DATA_DIR``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bizlogic.overrides_file import OverridesError, env_name, overrides_path, parse_overrides

__all__ = [
    "OverridesError",
    "Settings",
    "check_overrides",
    "describe_invalid",
    "env_name",
    "get_settings",
    "read_overrides",
]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bizlogic"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BL_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None  # unset → SQLite file in data_dir
    redis_url: str | None = None  # unset → in-memory cache, in-process jobs
    jwt_secret: SecretStr | None = None  # unset → generated into data_dir (0600)
    # "{process}" in the file name becomes the process's role (api, worker, maintenance,
    # recover); each process writes a file of its own (bizlogic.telemetry.logfile.claim).
    log_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # auto: readable on a terminal, JSON lines when piped or run by systemd
    log_format: Literal["auto", "json", "console"] = "auto"
    log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_backup_count: int = Field(default=5, ge=0)
    auto_migrate: bool = True
    # Request limits (docs/api.md#limits): bodies are refused before they are read whole.
    max_upload_mb: int = Field(default=100, ge=1)  # POST …/records
    max_rules_import_mb: int = Field(default=10, ge=1)  # POST /rules/import
    max_rules_per_import: int = Field(default=20_000, ge=1)
    max_json_body_kb: int = Field(default=1024, ge=1)  # every other request body
    max_json_depth: int = Field(default=64, ge=2, le=512)  # uploads, rules, request bodies
    max_csv_columns: int = Field(default=1_000, ge=1)
    max_csv_header_kb: int = Field(default=64, ge=1)
    max_concurrent_analyses: int = Field(default=2, ge=1, le=256)
    max_user_analyses: int = Field(default=2, ge=1)  # per-user cap → 429 RATE_LIMITED
    analysis_timeout_s: float = Field(default=1800, gt=0)
    # A running job's worker writes a heartbeat every job_heartbeat_s; one silent for
    # job_stale_s is presumed dead and its job may be taken over by another worker.
    job_heartbeat_s: float = Field(default=10, gt=0)
    job_stale_s: float = Field(default=60, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    reconcile_interval_s: float = Field(default=30, gt=0)  # Redis mode: DB vs broker check
    # PostgreSQL connections each process keeps open (plus up to 10 more on demand).
    db_pool_size: int = Field(default=5, ge=1, le=100)
    cache_ttl_s: float = Field(default=300, gt=0, le=86_400)
    worker_threads: int = Field(default=1, ge=1, le=64)  # analyses at once per worker process
    metrics_max_projects: int = Field(default=50, ge=1)
    collect_interval_s: int = Field(default=30, ge=1)
    retention_days: int = Field(default=30, ge=1)
    log_retention_days: int = Field(default=30, ge=1)
    disk_alert_percent: int = Field(default=80, ge=1, le=100)
    alert_webhook_url: str | None = None
    # Chat and SMS channels of the Alertmanager relay (POST /alerts/notify/{channel}):
    # a YAML file, docs/operations.md "Chat and SMS"; unset → every channel is unknown.
    notify_config: Path | None = None
    # Where operators look at time series; the console's operations page links to them.
    prometheus_url: str | None = None
    grafana_url: str | None = None
    service_units: str = "bizlogic-api.service,bizlogic-worker@1.service"
    # `bizlogic maintain --restart`: instead of `systemctl restart UNIT`, this command
    # (split like a shell would, run without one; {unit} is replaced by each unit).
    restart_command: str | None = None
    health_url: str = "http://127.0.0.1:8000/readyz"  # polled after a restart
    webhook_token: SecretStr | None = None
    metrics_token: SecretStr | None = None  # set: GET /metrics needs it as a bearer token
    recovery_mode: Literal["dry-run", "act"] = "dry-run"
    # Auto-recovery (docs/operations.md "Auto-recovery"): how often the watcher looks, how
    # many checks in a row a failure must persist, and the limits on acting.
    recovery_interval_s: float = Field(default=15, gt=0)
    recovery_confirmations: int = Field(default=3, ge=1)
    recovery_budget: int = Field(default=3, ge=1)  # actions per failure type per window
    recovery_budget_window_s: float = Field(default=1800, gt=0)
    recovery_backoff_s: float = Field(default=30, ge=0)  # doubled after every attempt
    recovery_verify_timeout_s: float = Field(default=60, gt=0)
    recovery_max_targets: int = Field(default=2, ge=1)  # processes one kill may terminate
    recovery_memory_percent: float = Field(default=90, gt=0, le=100)
    recovery_cpu_percent: float = Field(default=95, gt=0, le=100)
    recovery_chains: str = ""  # "failure_type=action,action;…" replacing default chains
    recovery_alerts: str = ""  # "AlertName=failure_type;…" added to the default mapping
    recovery_restart_units: str = ""  # "failure_type=unit,unit;…"; else BL_SERVICE_UNITS
    recovery_scale_units: str = ""  # extra worker units scale_up may start, in order
    # Capacity planning (``maintain`` step ``capacity``; ``tune`` and ``report`` project):
    capacity_horizon_days: int = Field(default=30, ge=1, le=3650)  # warn when a limit is nearer
    capacity_retention_days: int = Field(default=400, ge=7)  # samples kept this long
    # Periodic reports (``bizlogic report``): where --send and the timer keep their files.
    report_lang: Literal["en", "zh"] = "en"
    # Failure drills (``bizlogic drill``): the YAML naming what a drill may touch.
    drill_config: Path | None = None

    @field_validator(
        "database_url",
        "redis_url",
        "jwt_secret",
        "log_file",
        "alert_webhook_url",
        "notify_config",
        "drill_config",
        "prometheus_url",
        "grafana_url",
        "webhook_token",
        "metrics_token",
        "restart_command",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`BL_LOG_FILE=` in an environment file means "none", not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_file")
    @classmethod
    def _process_in_the_name(cls, value: Path | None) -> Path | None:
        """``{process}`` (the process's role) may stand in the file name, nowhere else."""
        if value is None:
            return value
        if any("{" in part or "}" in part for part in value.parent.parts):
            raise ValueError("{process} may stand in the file name only, not in a directory")
        if "{" in value.name.replace("{process}", "") or "}" in value.name.replace("{process}", ""):
            raise ValueError("the only placeholder of the file name is {process}")
        return value

    @model_validator(mode="after")
    def _heartbeat_fits(self) -> Settings:
        if self.job_stale_s < 2 * self.job_heartbeat_s:
            raise ValueError(
                "BL_JOB_STALE_S must be at least twice BL_JOB_HEARTBEAT_S, or a live "
                "worker's job could be taken over"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest first: arguments, the environment, the tuner's overrides file, defaults."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TuningOverrides(settings_cls),
            file_secret_settings,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bizlogic.db').resolve()}"

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: in-memory cache and in-process jobs."""
        return not self.redis_url


class TuningOverrides(PydanticBaseSettingsSource):
    """The overrides file (``tuning.env``) of the data directory the sources above it
    name (arguments, environment), else of the default one."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        data_dir = self.current_state.get("data_dir")
        return read_overrides(
            overrides_path(_default_data_dir() if data_dir is None else Path(data_dir))
        )


class _FileValues(Settings):
    """The values of an overrides file alone, over the defaults: what it is checked with."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def read_overrides(path: Path) -> dict[str, str]:
    """Setting name → raw value; {} when there is no file. Anything but a tunable, or a
    value a tunable cannot take, is an error (OverridesError naming the file)."""
    values = parse_overrides(path)
    check_overrides(path, values)
    return values


def check_overrides(path: Path, values: dict[str, str]) -> None:
    try:
        _FileValues(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(str(error['loc'][0]))}: {error['msg']}"
            for error in exc.errors()
            if error["loc"]
        )
        raise OverridesError(f"{path}: {problems or exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The environment, then the tuner's overrides file for what the environment leaves unset."""
    return Settings()


def describe_invalid(error: ValidationError) -> str:
    """What is wrong with the configuration, by environment variable. The values are left
    out: some are secrets (a database URL with its password, the JWT secret)."""
    problems = []
    for item in error.errors():
        field = next((str(part) for part in item["loc"] if isinstance(part, str)), None)
        message = item["msg"].removeprefix("Value error, ")  # pydantic's, for a ValueError
        problems.append(f"{env_name(field)}: {message}" if field else message)
    return "invalid configuration: " + "; ".join(problems)
