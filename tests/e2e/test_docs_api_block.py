"""docs/api.md's first shell block, run as written (in a scratch directory).

Only the port moves to a free one and `.venv/bin` points at this
environment's; the block starts its own server, imports, analyses, polls the
job and reads rules.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.servers import clean_env, free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _documents(text: str) -> list[dict]:
    """The JSON objects curl printed back to back (its output has no newlines)."""
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at != -1:
        value, end = decoder.raw_decode(text, at)
        found.append(value)
        at = text.find("{", end)
    return found


def test_api_doc_block_runs(tmp_path):
    block = re.search(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL).group(1)
    assert block.count("8001") >= 2
    block = block.replace("8001", str(free_port()))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    env = {k: v for k, v in clean_env(tmp_path).items() if k != "BL_DATA_DIR"}
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # the block's background server dies with the group
    )  # fmt: skip
    try:
        out, err = shell.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    assert shell.returncode == 0, err[-2000:]
    imported, rules = _documents(out)
    assert imported["imported"] == 2000
    assert rules["total"] > 0 and len(rules["rules"]) == 3
