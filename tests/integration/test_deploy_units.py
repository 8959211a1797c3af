"""The systemd units and the environment example of deploy/systemd are valid as shipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bizlogic.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNITS = [
    "bizlogic-api.service",
    "bizlogic-worker@.service",
    "bizlogic-maintain.service",
    "bizlogic-maintain.timer",
    "bizlogic-recover.service",
    "bizlogic-report.service",
    "bizlogic-report.timer",
    "bizlogic-report-daily.service",
    "bizlogic-report-daily.timer",
]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    here = str(Path(sys.executable).parent / "bizlogic")
    paths = []
    for unit in UNITS:
        text = (DEPLOY / unit).read_text()
        # Verify checks that ExecStart exists and the EnvironmentFile parses: point both
        # at this checkout; everything else is verified as shipped.
        text = text.replace("/opt/bizlogic/.venv/bin/bizlogic", here)
        text = text.replace("/etc/bizlogic/bizlogic.env", str(DEPLOY / "bizlogic.env.example"))
        name = unit.replace("@.", "@1.")  # a template is verified through an instance
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    done = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True)
    ours = [line for line in done.stderr.splitlines() if str(tmp_path) in line]
    assert done.returncode == 0 and ours == [], done.stderr


def test_environment_example_names_only_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = [
        line.split("=", 1)
        for line in (DEPLOY / "bizlogic.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    known = {f"BL_{name.upper()}" for name in Settings.model_fields}
    assert [name for name, _ in pairs if name not in known] == []
    for name, value in pairs:
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis_url == "redis://redis.internal:6379/0"
    assert settings.job_stale_s == 60 and settings.job_heartbeat_s == 10
