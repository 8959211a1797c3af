"""Who runs a job: the ``worker_id`` a job row records, and how a worker process proves it.

``bizlogic worker`` gives every worker process it starts a fresh random nonce in
its environment at exec time (``BL_WORKER_NONCE``). The process records it in its
``worker_id`` (``host:pid:nonce``); recovery signals a PID only if that process's
own environment, read from ``/proc/PID/environ``, holds the same nonce and its
command line is exactly a worker's. The environment must be given at exec: a
change of ``os.environ`` afterwards never shows in ``/proc``. Processes without
a nonce (the API in embedded mode) record ``host:pid``.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass

NONCE_ENV = "BL_WORKER_NONCE"
# A worker process is exactly ``python -m bizlogic.jobs.worker_process``: nothing more.
WORKER_ARGS = ("-m", "bizlogic.jobs.worker_process")
_WORKER_ID = re.compile(r"^(?P<host>[^:]*):(?P<pid>[0-9]+)(?::(?P<nonce>[0-9a-f]{32}))?$")


@dataclass(frozen=True)
class WorkerRef:
    host: str
    pid: int
    nonce: str | None  # None: not a dedicated worker process


def new_nonce() -> str:
    return secrets.token_hex(16)


def format_worker_id(host: str, pid: int, nonce: str | None) -> str:
    return f"{host}:{pid}:{nonce}" if nonce else f"{host}:{pid}"


def own_worker_id() -> str:
    """This process's ``worker_id``; the nonce only if it is well formed."""
    nonce = os.environ.get(NONCE_ENV, "")
    valid = re.fullmatch(r"[0-9a-f]{32}", nonce) is not None
    return format_worker_id(socket.gethostname(), os.getpid(), nonce if valid else None)


def parse_worker_id(worker_id: str | None) -> WorkerRef | None:
    """None when the text names no process (no job holder, or not our format)."""
    match = _WORKER_ID.match(worker_id or "")
    if match is None:
        return None
    return WorkerRef(match["host"], int(match["pid"]), match["nonce"])
