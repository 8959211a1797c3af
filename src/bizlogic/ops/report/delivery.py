"""Where `bizlogic report --send` delivers: the ``reports:`` section of the notification
config (``BL_NOTIFY_CONFIG``), beside the relay's ``channels:``::

    reports:
      email:                      # the HTML report, with a plain-text part
        host: smtp.example.com
        port: 587
        security: starttls        # starttls | ssl | none
        username: bizlogic
        password_file: smtp-password   # or password: …; relative to this file
        from: bizlogic@example.com
        to: [ops@example.com]
      chat: [ops-wecom, ops-ding] # channels of `channels:` (wecom, dingtalk, feishu, slack)

Errors name the file and the field, never a value (a password, a webhook's token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bizlogic.ops.relay.config import Channel, NotifyConfigError, load_notify_config

CHAT_KINDS = ("wecom", "dingtalk", "feishu", "slack")


class EmailSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1, max_length=100)
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class ReportsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: EmailSpec | None = None
    chat: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    source: Path
    email: EmailSpec | None
    chat: tuple[Channel, ...]
    password: str | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return self.email is None and not self.chat


def load_delivery(path: Path) -> Delivery:
    """The ``reports:`` section of ``path`` (NotifyConfigError naming the field)."""
    channels = load_notify_config(path).channels  # the file's channels, validated as the relay does
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    section = document.get("reports")
    if section is None:
        raise NotifyConfigError(f"{path}: reports: missing; --send delivers where it says")
    try:
        spec = ReportsSpec.model_validate(section)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise NotifyConfigError(f"{path}: reports.{where}: {first['msg']}{more}") from None
    chat = []
    for index, name in enumerate(spec.chat):
        channel = channels.get(name)
        if channel is None:
            raise NotifyConfigError(
                f"{path}: reports.chat[{index}]: no channel {name!r} in channels"
            )
        if channel.kind not in CHAT_KINDS:
            raise NotifyConfigError(
                f"{path}: reports.chat[{index}]: channel {name!r} is {channel.kind}; a report "
                f"goes to {', '.join(CHAT_KINDS)}"
            )
        chat.append(channel)
    password = _password(path, spec.email) if spec.email is not None else None
    delivery = Delivery(source=path, email=spec.email, chat=tuple(chat), password=password)
    if delivery.empty:
        raise NotifyConfigError(f"{path}: reports: neither email nor chat is set")
    return delivery


def _password(path: Path, email: EmailSpec) -> str | None:
    if email.password is not None and email.password_file is not None:
        raise NotifyConfigError(
            f"{path}: reports.email.password: set at most one of password, password_file"
        )
    if email.password is not None:
        return email.password.get_secret_value()
    if email.password_file is None:
        if email.username is not None:
            raise NotifyConfigError(
                f"{path}: reports.email.username: needs password or password_file"
            )
        return None
    target = email.password_file
    target = target if target.is_absolute() else path.parent / target
    try:
        text = target.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise NotifyConfigError(
            f"{path}: reports.email.password_file: cannot read {target}: {reason}"
        ) from None
    if not text:
        raise NotifyConfigError(f"{path}: reports.email.password_file: {target} is empty")
    return text


def describe(email: EmailSpec) -> str:
    """The e-mail target as messages name it: host and port, no credential."""
    return f"email ({email.host}:{email.port})"
