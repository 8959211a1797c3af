"""docs/api.md's `bizlogic rules` block, run as written against a demo-like server.

`make demo` leaves a server on port 8000 with its data in demo/data, demo
records analysed as project "demo", and demo/labelstudio.json. The same layout
is built here on a free port (BL_URL points the CLI at it); then the block
runs verbatim: list, export, import into "shop", import shop's records, adapt.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.polling import poll
from tests.servers import Server, bizlogic, clean_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BASE = "/api/business-logic"


def _block() -> str:
    section = DOC.read_text(encoding="utf-8").split("## Command-line client", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


def test_rules_block_runs_against_the_demo_layout(tmp_path):
    env = clean_env(tmp_path / "demo" / "data")
    demo = tmp_path / "demo"
    for args in (
        ("records.jsonl", "--records", "2000"),
        ("labelstudio.json", "--format", "labelstudio", "--records", "1000", "--seed", "3"),
    ):
        made = bizlogic(env, "demo-data", str(demo / args[0]), *args[1:])
        assert made.returncode == 0, made.stderr
    server = Server(env, tmp_path / "server.log")
    try:
        token = bizlogic(env, "token", "create", "--user", "d", "--role", "system_admin")
        headers = {"Authorization": f"Bearer {token.stdout.strip().splitlines()[-1]}"}
        client = httpx.Client(base_url=server.url + BASE, headers=headers, timeout=60)
        imported = client.post(
            "/projects/demo/records",
            content=(demo / "records.jsonl").read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 200
        job = client.post("/analyze", json={"project_id": "demo"}).json()["job_id"]
        poll(lambda: client.get(f"/jobs/{job}").json()["status"] == "completed", 120, "analysis")
        (tmp_path / ".venv").mkdir()
        (tmp_path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
        shell_env = {k: v for k, v in env.items() if k != "BL_DATA_DIR"} | {"BL_URL": server.url}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _block()],
            cwd=tmp_path, env=shell_env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        assert (tmp_path / "demo-rules.yaml").stat().st_size > 0
        shop = client.get("/rules/shop", params={"limit": 1000}).json()
        assert shop["total"] > 0
    finally:
        server.stop()
