"""The JWT signing secret, shared by ``bizlogic serve`` and ``bizlogic token create``.

``BL_JWT_SECRET`` wins when it is set. Otherwise the secret lives in
``<BL_DATA_DIR>/jwt_secret`` and is generated on first use, so the embedded
mode needs no configuration and every process on the host signs and verifies
with the same key.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from bizlogic.private_fs import ensure_private_dir
from bizlogic.settings import Settings

SECRET_FILE = "jwt_secret"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
_GENERATED_BYTES = 32  # token_urlsafe(32) → 256 random bits, 43 characters


class SecretError(RuntimeError):
    """The secret cannot be used; the message says why and how to fix it."""


def jwt_secret(settings: Settings) -> str:
    """The HS256 secret: ``BL_JWT_SECRET`` or the generated file in the data directory."""
    if settings.jwt_secret is not None:
        value = settings.jwt_secret.get_secret_value().strip()
        check_secret(value, "BL_JWT_SECRET")
        return value
    return load_or_create_secret(settings.data_dir / SECRET_FILE)


def check_secret(value: str, origin: str) -> None:
    """Refuse empty or short secrets: a weak HMAC key makes every token forgeable."""
    if not value:
        raise SecretError(f"{origin} is empty")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise SecretError(
            f"{origin} is {len(value.encode())} bytes long; HS256 needs at least "
            f"{MIN_SECRET_BYTES} (generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )


def load_or_create_secret(path: Path) -> str:
    """Read the secret file, creating it with mode 0600 when it does not exist yet."""
    try:
        return read_secret_file(path)
    except FileNotFoundError:
        return _publish(path, secrets.token_urlsafe(_GENERATED_BYTES))


def read_secret_file(path: Path) -> str:
    """Read a secret file that only its owner, this user, can access (like ssh's private keys).

    Whoever can write the file, or swap it for a symlink, chooses the signing
    key and so can mint any token; whoever can read it can too. So a symlink,
    a file owned by another user and a file open to group or others are refused
    rather than trusted.
    """
    # O_NOFOLLOW: a symlink fails here instead of being followed (ELOOP).
    # O_NONBLOCK: a FIFO planted at the path cannot hang start-up; regular files ignore it.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SecretError(
                f"{path} is a symbolic link; the secret must be a regular file "
                f"(replace the link with the file it points to, then run: chmod 600 {path})"
            ) from None
        raise SecretError(f"cannot read {path}: {exc.strerror}") from None
    try:
        _check_private(path, os.fstat(fd))  # of the opened file: no check-then-open race
        raw = _read_all(fd)
    finally:
        os.close(fd)
    try:
        value = raw.decode().strip()
    except UnicodeDecodeError:
        raise SecretError(f"{path} is not UTF-8 text") from None
    check_secret(value, str(path))
    return value


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse what another local user could have written or can read."""
    if not stat.S_ISREG(info.st_mode):
        raise SecretError(f"{path} is not a regular file")
    me = os.geteuid()
    if info.st_uid != me:
        raise SecretError(
            f"{path} is owned by uid {info.st_uid}, not by the user running bizlogic "
            f"(uid {me}); it must belong to that user (run: chown {me} {path}; "
            f"chmod 600 {path})"
        )
    if info.st_mode & 0o077:
        raise SecretError(
            f"{path} has mode {stat.S_IMODE(info.st_mode):04o}; it must be accessible "
            f"by its owner only (run: chmod 600 {path})"
        )


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65_536):
        chunks.append(chunk)
    return b"".join(chunks)


def _publish(path: Path, value: str) -> str:
    """Write ``value`` to ``path`` unless another process got there first; return the winner.

    The secret goes to a private temporary file that is then hard-linked to
    its final name. ``link`` never replaces an existing file, so exactly one
    writer wins, and readers never see a half-written file.
    """
    try:
        ensure_private_dir(path.parent)
    except OSError as exc:
        raise SecretError(f"cannot create {path.parent}: {exc.strerror}") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SecretError(f"cannot create {tmp}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # exact mode whatever the umask
            handle.write(value.encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return read_secret_file(path)  # lost the race: use the winner's secret
        except OSError as exc:
            raise SecretError(f"cannot create {path}: {exc.strerror}") from None
        _fsync_dir(path.parent)
        return value
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    """Persist the new directory entry so a crash cannot lose a secret already handed out."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
