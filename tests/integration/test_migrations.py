"""One migration chain, up and down, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bizlogic.cli import app
from bizlogic.store import migrations
from tests.servers import bizlogic, clean_env

TABLES = {
    "projects",
    "annotations",
    "business_logic_analysis_history",
    "business_rules",
    "business_patterns",
    "business_insights",
    "business_rule_applications",
    "recovery_events",
    "maintenance_runs",
    "uncounted_job_ends",
    "audit_events",
    "signin_links",
    "capacity_samples",
    "ops_reports",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    value = request.getfixturevalue("postgres_url")
    migrations.downgrade(value, "base")
    return value


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(url):
    migrations.upgrade(url)
    assert _tables(url) == TABLES | {"alembic_version"}
    assert migrations.current(url) == migrations.head()
    engine = sa.create_engine(url)
    indexes = {i["name"]: i for i in sa.inspect(engine).get_indexes("business_rules")}
    engine.dispose()
    assert indexes["idx_business_rules_project_confidence"]["column_names"] == [
        "project_id",
        "confidence",
    ]
    migrations.downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}
    assert migrations.current(url) is None
    migrations.upgrade(url)
    assert _tables(url) == TABLES | {"alembic_version"}


def test_job_status_check_constraint(url):
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO projects (id, created_at, updated_at) "
                    "VALUES ('p', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO business_logic_analysis_history "
                    "(job_id, project_id, status, parameters, algorithms, attempts, "
                    "created_at, progress) VALUES "
                    "('j', 'p', 'exploded', '{}', '[]', 0, CURRENT_TIMESTAMP, 0)"
                )
            )
    finally:
        engine.dispose()


def test_db_cli(tmp_path):
    target = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    up = runner.invoke(app, ["db", "upgrade", "--url", target])
    assert up.exit_code == 0, up.output
    assert runner.invoke(app, ["db", "current", "--url", target]).stdout.strip() == (
        migrations.head()
    )
    down = runner.invoke(app, ["db", "downgrade", "--revision", "base", "--url", target])
    assert down.exit_code == 0
    assert runner.invoke(app, ["db", "current", "--url", target]).stdout.strip() == ""


def test_db_current_creates_no_database_that_does_not_exist(tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    env = clean_env(tmp_path / "no-data-dir")
    shown = bizlogic(env, "db", "current", "--url", f"sqlite:///{missing / 'x.db'}")
    assert shown.returncode == 1
    assert f"no database at {missing / 'x.db'}" in shown.stderr
    assert not (tmp_path / "nonexistent").exists()
    by_default = bizlogic(env, "db", "current")  # the data dir's database, not there either
    assert by_default.returncode == 1 and "no database at" in by_default.stderr
    assert not (tmp_path / "no-data-dir").exists()
    # upgrade creates it; current then reads it
    assert bizlogic(env, "db", "upgrade").returncode == 0
    assert bizlogic(env, "db", "current").stdout.strip() == migrations.head()
