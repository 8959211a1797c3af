"""Every shell block of README.md and docs/**/*.md is run by a test, or says why not.

The line just before each ```sh/bash/console/shell fence is an HTML comment (invisible when
rendered): `<!-- doc-test: run -->` runs it here, as written; `<!-- doc-test: run by
tests/e2e/test_X.py -->` names the test that runs it; `<!-- doc-test: not run: REASON -->` is
only for what cannot run on a test machine (root, /etc, systemd, a production host).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import PG_ADMIN_URL, RedisServer, _unavailable, fresh_pg_database
from tests.polling import poll
from tests.servers import EXE, bizlogic, clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"sh", "bash", "console", "shell"}
COMMANDS = (
    "bizlogic ", ".venv/bin/", "curl ", "make ", "sudo ", "systemctl ", "export ", "promtool ",
    "amtool ", "psql ", "redis-cli ", "docker ", "pip ", "python",
)  # fmt: skip
MARKER = re.compile(r"<!-- doc-test: (?:(run)|run by (\S+)|not run: (\S.*?)) -->")
OPENING = re.compile(r"^\s*(`{3,}|~{3,})\s*([^\s`]*)")
# Ports a block may name, each replaced by a free one (the same one in all blocks of a doc).
PORTS = re.compile(r"\b(8000|8001|9090|9093|9191|9192)\b")
# What a block needs beyond bizlogic: without it the block is skipped (failed under CI=true).
NEEDS = {
    "prometheus": re.compile(r"^prometheus |127\.0\.0\.1:9090", re.M),
    "prometheus-alertmanager": re.compile(r"^prometheus-alertmanager |127\.0\.0\.1:9093", re.M),
    "psql": re.compile(r"^psql ", re.M),
    "redis-server": re.compile(r"redis://"),
}
BLOCK_TIMEOUT_S = 120
BASE = "/api/business-logic"


@dataclass(frozen=True)
class Block:
    doc: str  # relative to the repository
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: str  # the line before the fence

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def mark(self) -> re.Match[str] | None:
        return MARKER.fullmatch(self.marker.strip())

    @property
    def script(self) -> str:
        if self.lang != "console":
            return self.text
        return "".join(line[2:] for line in self.text.splitlines(True) if line.startswith("$ "))


def fences(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines(True)
    at = 0
    while at < len(lines):
        opening = OPENING.match(lines[at])
        if not opening:
            at += 1
            continue
        fence, end = opening.group(1), at + 1
        while end < len(lines) and not re.fullmatch(
            rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", lines[end]
        ):
            end += 1
        yield Block(
            doc=str(path.relative_to(ROOT)),
            line=at + 1,
            lang=opening.group(2).lower(),
            text="".join(lines[at + 1 : end]),
            marker=lines[at - 1] if at else "",
        )
        at = end + 1


ALL = [block for path in DOCS for block in fences(path)]
BLOCKS = [block for block in ALL if block.lang in SHELL]
RUN = [block for block in BLOCKS if block.mark and block.mark.group(1)]


def test_no_unlabelled_fence_holds_shell_commands() -> None:
    unlabelled = [
        block.where
        for block in ALL
        if not block.lang
        and any(line.lstrip().startswith(COMMANDS) for line in block.text.splitlines())
    ]
    assert not unlabelled, f"label these fences ```sh: {', '.join(unlabelled)}"


def test_every_shell_block_is_marked() -> None:
    unmarked = [block.where for block in BLOCKS if not block.mark]
    assert not unmarked, (
        "no `<!-- doc-test: run | run by tests/… | not run: REASON -->` on the line before: "
        + ", ".join(unmarked)
    )


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.mark and b.mark.group(2)], ids=lambda b: b.where
)
def test_run_by_names_a_test_of_this_doc(block: Block) -> None:
    test = ROOT / block.mark.group(2)
    assert test.is_file() and test.match("tests/**/test_*.py"), f"{block.where}: no test {test}"
    assert Path(block.doc).name in test.read_text(encoding="utf-8"), (
        f"{block.where}: {block.mark.group(2)} does not mention {Path(block.doc).name}"
    )


# --- running the "run" blocks ------------------------------------------------------------


class Session:
    """One doc's scratch directory, ports and environment; its blocks run there in order.

    Everything it starts carries DOC_TEST_SESSION=<token> in its environment and is killed
    when the doc's last block has run (or at the end of the module), whatever happened.
    """

    def __init__(self, doc: str, scratch: Path) -> None:
        self.doc, self.dir = doc, scratch
        self.ports: dict[str, int] = {}
        self.replace: list[tuple[str, str]] = []
        self.attempted: set[Block] = set()
        self.groups: list[int] = []
        self.cleanup = contextlib.ExitStack()
        self.token = uuid.uuid4().hex
        (scratch / ".venv").mkdir()  # this environment's venv (bin, lib, pyvenv.cfg), linked
        for entry in Path(sys.prefix).iterdir():
            if not entry.name.startswith("."):
                (scratch / ".venv" / entry.name).symlink_to(entry)
        (scratch / ".venv" / ".installed").touch()  # the Makefile's install step: done
        for name in ("Makefile", "pyproject.toml", "scripts"):
            (scratch / name).symlink_to(ROOT / name)
        for source in (ROOT / "deploy").rglob("*"):  # a copy with the ports moved
            target = scratch / source.relative_to(ROOT)
            if source.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.write_text(self.ports_moved(source.read_text(encoding="utf-8")))
        (scratch / "tmp").mkdir()
        self.env = clean_env(
            scratch / "data",
            DOC_TEST_SESSION=self.token,
            PATH=f"{scratch / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
            DEMO_RECORDS="1000",  # `make demo`: the Makefile's ?= lets the size be chosen
            DEMO_PORT=str(self.port("8000")),
        )

    def port(self, number: str) -> int:
        return self.ports.setdefault(number, free_port())

    def ports_moved(self, text: str) -> str:
        return PORTS.sub(lambda m: str(self.port(m.group(1))), text)

    def substituted(self, text: str) -> str:
        text = self.ports_moved(text).replace("/tmp/", f"{self.dir}/tmp/")
        for old, new in self.replace:
            text = text.replace(old, new)
        return text

    def start(self, args: list[str], log: str, **env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            args, cwd=self.dir, env={**self.env, **env}, stdout=(self.dir / log).open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.groups.append(process.pid)
        return process

    def serve(self, port: int, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
        """`bizlogic serve` on ``port``, up: its URL and process."""
        server = self.start([EXE, "serve", "--port", str(port)], f"serve-{port}.log", **env)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert server.poll() is None, (self.dir / f"serve-{port}.log").read_text()[-2000:]
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{url}/livez", timeout=1).status_code == 200
            return False

        poll(up, 60, "the server to start")
        return url, server

    def run(self, block: Block) -> tuple[int | None, str, str]:
        """(exit code or None on timeout, the script as run, the output's tail)."""
        for number in set(PORTS.findall(block.script)):  # a service an earlier block started
            if any(number in earlier.script for earlier in self.attempted):
                _wait_for_port(self.port(number), 30)  # the reader waits too ("after …")
        self.attempted.add(block)
        script = self.substituted(block.script)
        out = self.dir / f"block-{block.line}.out"
        shell = self.start(["bash", "-euo", "pipefail", "-c", script], out.name)
        try:
            code: int | None = shell.wait(BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
        return code, script, out.read_text(encoding="utf-8", errors="replace")[-3000:]

    def close(self) -> None:
        try:
            for group in self.groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
            for process in psutil.process_iter():  # started in a session of its own
                with contextlib.suppress(psutil.Error):
                    if process.environ().get("DOC_TEST_SESSION") == self.token:
                        process.kill()
        finally:
            self.cleanup.close()


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.settimeout(0.5)
            sock.connect(("127.0.0.1", port))
            return
        time.sleep(0.2)


# --- what a doc's blocks expect to find before they run, by doc ---------------------------


def _readme(session: Session) -> None:
    """The "Use" block reads records.jsonl, export.json and two results, old and new."""
    env, at = session.env, session.dir
    for args in (
        ("demo-data", "records.jsonl", "--records", "1000"),
        ("demo-data", "export.json", "--format", "labelstudio", "--records", "1000"),
        ("demo-data", "later.jsonl", "--records", "1000", "--seed", "8"),
        ("analyze", "records.jsonl", "--output", "old.json"),
        ("analyze", "later.jsonl", "--output", "new.json"),
    ):
        done = subprocess.run(
            [EXE, *args], cwd=at, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr[-2000:]}"


def _auth(session: Session) -> None:
    """The curl goes to a running server with the same data directory."""
    session.serve(session.port("8000"))


def _operations(session: Session) -> None:
    """`bizlogic logs analyze` reads BL_LOG_FILE: a server's log with an analysis in it."""
    log = session.dir / "log" / "bizlogic.log"
    session.env["BL_LOG_FILE"] = str(log)
    url, server = session.serve(free_port())
    records = session.dir / "tmp" / "logged.jsonl"
    made = bizlogic(session.env, "demo-data", str(records), "--records", "1000")
    assert made.returncode == 0, made.stderr
    token = bizlogic(session.env, "token", "create", "--user", "ops", "--role", "system_admin")
    client = httpx.Client(
        base_url=url + BASE,
        headers={"Authorization": f"Bearer {token.stdout.strip().splitlines()[-1]}"},
        timeout=60,
    )
    with client:
        imported = client.post(
            "/projects/demo/records",
            content=records.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200, imported.text
        job = client.post("/analyze", json={"project_id": "demo"}).json()["job_id"]
        poll(lambda: client.get(f"/jobs/{job}").json()["status"] == "completed", 60, "analysis")
    server.terminate()  # its log is complete; the blocks start their own servers
    server.wait(30)


def _deployment(session: Session) -> None:
    """Section 4: a database of its own on the local PostgreSQL, a Redis of its own."""
    psycopg = pytest.importorskip("psycopg")
    name = f"bl_doc_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    session.cleanup.callback(admin.close)
    session.cleanup.callback(admin.execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    redis = RedisServer(shutil.which("redis-server") or "redis-server", session.dir / "tmp")
    redis.start()
    session.cleanup.callback(redis.stop)
    session.replace += [
        ('CREATE DATABASE bizlogic"', f'CREATE DATABASE {name}"'),
        ("127.0.0.1:5432/bizlogic", f"127.0.0.1:5432/{name}"),
        ("redis://127.0.0.1:6379/0", redis.url),
    ]


def _storage(session: Session) -> None:
    """`db upgrade --url` of a remote PostgreSQL: a database of its own on the local one."""
    _, _, url = session.cleanup.enter_context(fresh_pg_database("bl_doc"))
    session.replace.append(("postgresql+psycopg://bl@db.internal/bizlogic", url))


PREPARE: dict[str, Callable[[Session], None]] = {
    "README.md": _readme,
    "docs/auth.md": _auth,
    "docs/operations.md": _operations,
    "docs/deployment.md": _deployment,
    "docs/storage.md": _storage,
}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Session]]:
    opened: dict[str, Session] = {}
    yield opened
    for session in opened.values():
        session.close()


def _missing(block: Block) -> list[str]:
    return [
        tool for tool, uses in NEEDS.items() if uses.search(block.script) and not shutil.which(tool)
    ]


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.where)
def test_doc_block_runs(block: Block, sessions: dict[str, Session], tmp_path_factory) -> None:
    if missing := _missing(block):
        message = f"{block.where} needs {', '.join(missing)}, not on PATH (make test installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)
    session = sessions.get(block.doc)
    if session is None:
        scratch = tmp_path_factory.mktemp(re.sub(r"\W", "_", block.doc))
        session = sessions[block.doc] = Session(block.doc, scratch)
        try:
            PREPARE.get(block.doc, lambda _: None)(session)
        except BaseException:
            session.close()
            del sessions[block.doc]
            raise
    ours = [b for b in RUN if b.doc == block.doc]
    try:
        for earlier in ours[: ours.index(block)]:  # when run alone: what they leave behind
            if earlier not in session.attempted and not _missing(earlier):
                session.run(earlier)
        code, script, tail = session.run(block)
        assert code == 0, (
            f"{block.where}: "
            + (f"timed out after {BLOCK_TIMEOUT_S} s" if code is None else f"exit {code}")
            + f"\n--- as run (in {session.dir}) ---\n{script}\n--- output (tail) ---\n{tail}"
        )
    finally:
        if block is ours[-1]:
            session.close()
            del sessions[block.doc]
