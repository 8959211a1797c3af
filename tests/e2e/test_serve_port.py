"""`bizlogic serve` on a port something already listens on: one plain error line and exit 1
before any start-up work, not a JSON log record after the app started."""

from __future__ import annotations

import socket

from tests.servers import bizlogic, clean_env


def test_port_in_use_is_one_clear_line(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = bizlogic(clean_env(tmp_path), "serve", "--port", str(port), timeout_s=60)
    assert done.returncode == 1
    assert done.stdout == ""  # no log line: nothing started
    assert done.stderr.strip() == (
        f"error: --port: 127.0.0.1:{port} is already in use (another `bizlogic serve`? "
        "`make demo` leaves one on 8000); stop it or choose another --port"
    )
    assert not (tmp_path / "bizlogic.db").exists()  # no database work either


def test_unknown_host_is_named(tmp_path) -> None:
    done = bizlogic(clean_env(tmp_path), "serve", "--host", "no-such-host.invalid", "--port", "1")
    assert done.returncode == 1
    assert done.stderr.startswith("error: --host: cannot resolve 'no-such-host.invalid'")
