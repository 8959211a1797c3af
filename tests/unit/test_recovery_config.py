"""Recovery configuration: defaults from the guide, overrides, and errors naming the setting."""

from __future__ import annotations

import pytest

from bizlogic.ops.recovery.config import (
    DEFAULT_CHAINS,
    RecoveryConfig,
    RecoveryConfigError,
)
from bizlogic.ops.services import restart_commands
from bizlogic.settings import Settings


def config(tmp_path, **values) -> RecoveryConfig:
    return RecoveryConfig.from_settings(Settings(data_dir=tmp_path, **values))


def test_defaults_follow_the_guide(tmp_path) -> None:
    cfg = config(tmp_path)
    assert cfg.chains == {
        "database_connection": ("restart_service", "notify_admin"),
        "redis_connection": ("clear_cache", "restart_service"),
        "high_memory_usage": ("clear_cache", "kill_processes"),
        "high_cpu_usage": ("kill_processes", "scale_up"),
        "algorithm_timeout": ("kill_processes", "clear_cache"),
    }
    assert cfg.failure_for_alert("BusinessLogicHighMemoryUsage", {}) == "high_memory_usage"
    assert cfg.failure_for_alert("BusinessLogicHighCPUUsage", {}) == "high_cpu_usage"
    assert cfg.failure_for_alert("BusinessLogicHighLatency", {}) == "algorithm_timeout"
    down = "BusinessLogicCollectorSourceDown"
    assert cfg.failure_for_alert(down, {"source": "database"}) == "database_connection"
    assert cfg.failure_for_alert(down, {"source": "redis"}) == "redis_connection"
    assert cfg.failure_for_alert(down, {"source": "cpu"}) is None
    assert cfg.failure_for_alert("SomethingElse", {"severity": "critical"}) is None
    assert cfg.restart_units["redis_connection"] == (
        "bizlogic-api.service",
        "bizlogic-worker@1.service",
    )


def test_overrides_replace_chains_add_alerts_and_units(tmp_path) -> None:
    cfg = config(
        tmp_path,
        recovery_chains="redis_connection=restart_service ; high_cpu_usage=scale_up,notify_admin",
        recovery_alerts="RedisMemoryFull=high_memory_usage;BusinessLogicHighLatency=high_cpu_usage",
        recovery_restart_units="redis_connection=redis-server.service",
        recovery_scale_units="bizlogic-worker@3.service, bizlogic-worker@4.service",
    )
    assert cfg.chains["redis_connection"] == ("restart_service",)
    assert cfg.chains["high_cpu_usage"] == ("scale_up", "notify_admin")
    assert cfg.chains["algorithm_timeout"] == DEFAULT_CHAINS["algorithm_timeout"]
    assert cfg.failure_for_alert("RedisMemoryFull", {}) == "high_memory_usage"
    assert cfg.failure_for_alert("BusinessLogicHighLatency", {}) == "high_cpu_usage"
    assert cfg.restart_units["redis_connection"] == ("redis-server.service",)
    assert cfg.scale_units == ("bizlogic-worker@3.service", "bizlogic-worker@4.service")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"recovery_chains": "redis_connection=reboot"}, r"BL_RECOVERY_CHAINS: unknown action"),
        (
            {"recovery_chains": "disk_full=clear_cache"},
            r"BL_RECOVERY_CHAINS: unknown failure type 'disk_full'",
        ),
        ({"recovery_chains": "redis_connection"}, r"BL_RECOVERY_CHAINS: expected key=value"),
        ({"recovery_alerts": "X=melting"}, r"BL_RECOVERY_ALERTS: unknown failure type 'melting'"),
        (
            {"recovery_restart_units": "=a.service"},
            r"BL_RECOVERY_RESTART_UNITS: expected key=value",
        ),
    ],
)
def test_bad_settings_are_named(tmp_path, values, message) -> None:
    with pytest.raises(RecoveryConfigError, match=message):
        config(tmp_path, **values)


def test_restart_commands_never_go_through_a_shell() -> None:
    assert restart_commands(["a.service", "b.service"], None) == [
        ["systemctl", "restart", "a.service"],
        ["systemctl", "restart", "b.service"],
    ]
    assert restart_commands(["a; rm -rf /"], "sudo systemctl restart {unit}") == [
        ["sudo", "systemctl", "restart", "a; rm -rf /"]
    ]
    once = "redis-server --port 7000 --save '' --daemonize yes"
    assert restart_commands(["x", "y"], once) == [
        ["redis-server", "--port", "7000", "--save", "", "--daemonize", "yes"]
    ]
