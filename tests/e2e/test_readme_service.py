"""README's "Run the service" block, run as written against what `make demo` leaves.

`make demo` leaves `bizlogic serve` on port 8000 with its data in demo/data
(scripts/demo_service.py). The README's commands once ended in a 401: the
token was signed with the default data directory's secret. Here the block
runs verbatim in bash, only the port moved to a free one and `.venv/bin`
pointing at this environment's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import Server, bizlogic, clean_env

README = Path(__file__).resolve().parents[2] / "README.md"
BASE = "/api/business-logic"


def _service_block() -> str:
    section = README.read_text(encoding="utf-8").split("## Run the service", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "no shell block under 'Run the service'"
    return match.group(1)


def test_readme_service_block_works_against_the_demo_layout(tmp_path):
    demo_data = tmp_path / "demo" / "data"
    env = clean_env(demo_data)
    server = Server(env, tmp_path / "server.log")  # on a free port
    try:
        admin = bizlogic(env, "token", "create", "--user", "demo", "--role", "system_admin")
        token = admin.stdout.strip().splitlines()[-1]
        imported = httpx.post(
            f"{server.url}{BASE}/projects/demo/records",
            content=b'{"id": "1", "text": "great service", "sentiment": "positive"}\n',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200
        block = _service_block().replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        venv = tmp_path / ".venv"
        venv.mkdir()
        (venv / "bin").symlink_to(Path(sys.executable).parent)
        shell_env = {k: v for k, v in env.items() if k != "BL_DATA_DIR"}  # the block sets it
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path, env=shell_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["total"] == 0 and answer["rules"] == []  # 200: the token was accepted
    finally:
        server.stop()
