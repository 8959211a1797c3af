"""The JWT secret file is trusted only when nobody but this user can have written or read it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bizlogic.api.secrets import SecretError, jwt_secret
from bizlogic.settings import Settings

SECRET = "k" * 48
NOBODY = 65534


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, jwt_secret=None)


def _private_file(path: Path, content: str = SECRET) -> Path:
    path.write_text(content)
    path.chmod(0o600)
    return path


def _refusal(data_dir: Path) -> str:
    with pytest.raises(SecretError) as caught:
        jwt_secret(_settings(data_dir))
    return str(caught.value)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


def test_symlink_to_a_private_file_is_refused(data_dir, tmp_path):
    target = _private_file(tmp_path / "elsewhere")
    link = data_dir / "jwt_secret"
    link.symlink_to(target)
    assert _refusal(data_dir) == (
        f"{link} is a symbolic link; the secret must be a regular file (replace the link "
        f"with the file it points to, then run: chmod 600 {link})"
    )
    assert link.is_symlink() and target.read_text() == SECRET  # neither replaced nor touched


def test_dangling_symlink_is_refused_not_followed(data_dir, tmp_path):
    link = data_dir / "jwt_secret"
    link.symlink_to(tmp_path / "planted-later")
    assert _refusal(data_dir).startswith(f"{link} is a symbolic link")
    assert not (tmp_path / "planted-later").exists()  # no secret written through the link


def test_group_readable_file_is_refused(data_dir):
    path = _private_file(data_dir / "jwt_secret")
    path.chmod(0o640)
    assert _refusal(data_dir) == (
        f"{path} has mode 0640; it must be accessible by its owner only (run: chmod 600 {path})"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_file_owned_by_another_user_is_refused(data_dir):
    path = _private_file(data_dir / "jwt_secret")
    os.chown(path, NOBODY, NOBODY)
    assert _refusal(data_dir) == (
        f"{path} is owned by uid {NOBODY}, not by the user running bizlogic (uid 0); it must "
        f"belong to that user (run: chown 0 {path}; chmod 600 {path})"
    )
    assert path.read_text() == SECRET  # never replaced


@pytest.fixture
def alarm() -> Iterator[None]:
    """Turn a blocking open into a test failure instead of a hung test run."""

    def timeout(*_: object) -> None:
        raise TimeoutError("reading the secret blocked")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(5)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_fifo_is_refused_without_blocking(data_dir, alarm):
    path = data_dir / "jwt_secret"
    os.mkfifo(path, 0o600)
    assert _refusal(data_dir) == f"{path} is not a regular file"


def test_private_regular_file_owned_by_this_user_is_used(data_dir):
    _private_file(data_dir / "jwt_secret", SECRET + "\n")
    assert jwt_secret(_settings(data_dir)) == SECRET
