"""Settings read from the environment the way an environment file writes them."""

from __future__ import annotations

import pytest

from bizlogic.settings import Settings


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "BL_LOG_FILE",
        "BL_DATABASE_URL",
        "BL_REDIS_URL",
        "BL_JWT_SECRET",
        "BL_ALERT_WEBHOOK_URL",
        "BL_WEBHOOK_TOKEN",
    ):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.log_file is None
    assert settings.database_url is None and settings.redis_url is None
    assert settings.jwt_secret is None and settings.webhook_token is None
    assert settings.alert_webhook_url is None
    assert settings.embedded


def test_operators_guide_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BL_COLLECT_INTERVAL_S", "BL_RETENTION_DAYS", "BL_DISK_ALERT_PERCENT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.collect_interval_s, settings.retention_days, settings.disk_alert_percent) == (
        30,
        30,
        80,
    )


def test_out_of_range_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BL_DISK_ALERT_PERCENT", "120")
    with pytest.raises(ValueError, match="disk_alert_percent"):
        Settings()
