"""The relay's channels, from the YAML file ``BL_NOTIFY_CONFIG`` names.

Read once, when the API starts: a file that cannot be used stops the start with one
message naming the file and the field (``notify.yml: channels.oncall.max_length: …``),
never a value, since values here are secrets (webhook URLs carry access tokens). Files
named by ``*_file`` fields keep secrets out of the config; a relative path is read from
the config file's directory, as Alertmanager does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bizlogic.telemetry.redact import is_secret_key

KINDS = ("wecom", "dingtalk", "feishu", "slack", "sms")
PLACEHOLDERS = ("message", "recipients", "recipient")
PLACEHOLDER_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Channel names stand in the relay's URL path: /alerts/notify/{channel}.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class NotifyConfigError(ValueError):
    """The notification config cannot be used; the message names the file and the field."""


class _Spec(BaseModel):
    """Fields every kind has. Unknown fields are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr | None = None
    url_file: Path | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=30)


class _Signed(_Spec):
    secret: SecretStr | None = None
    secret_file: Path | None = None


class WeComSpec(_Spec):
    """企业微信 group robot: ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``."""

    kind: Literal["wecom"]


class DingTalkSpec(_Signed):
    """钉钉 custom robot: ``https://oapi.dingtalk.com/robot/send?access_token=…``; the
    secret (``SEC…``) when the robot's security setting is 加签 (signing)."""

    kind: Literal["dingtalk"]


class FeishuSpec(_Signed):
    """飞书 (Lark) custom bot: ``https://open.feishu.cn/open-apis/bot/v2/hook/…``; the secret
    when its security setting is 签名校验 (signature)."""

    kind: Literal["feishu"]
    format: Literal["text", "post"] = "text"


class SlackSpec(_Spec):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat)."""

    kind: Literal["slack"]
    channel: str | None = None
    username: str | None = None


class SmsSpec(_Spec):
    """An HTTP SMS gateway: a JSON body made from ``body`` with ``{message}`` and
    ``{recipients}`` (or ``{recipient}``, one request each) in its strings."""

    kind: Literal["sms"]
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    headers_file: Path | None = None
    body: dict[str, Any]
    recipients: list[str] = Field(min_length=1, max_length=100)
    max_length: int = Field(default=160, ge=20, le=2000)
    per_recipient: bool = False


Spec = WeComSpec | DingTalkSpec | FeishuSpec | SlackSpec | SmsSpec
_SPECS: Mapping[str, type[BaseModel]] = {
    "wecom": WeComSpec,
    "dingtalk": DingTalkSpec,
    "feishu": FeishuSpec,
    "slack": SlackSpec,
    "sms": SmsSpec,
}


@dataclass(frozen=True)
class Channel:
    """One channel, its secrets read: what the relay sends with. ``repr`` leaves the
    secrets out, so a channel in a traceback or a log line shows none."""

    name: str
    spec: Spec
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Every secret string of the channel, for scrubbing what is reported about it.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def destination(self) -> str:
        """Scheme and host only: the path and query of a webhook URL hold its token."""
        url = httpx.URL(self.url)
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}"


@dataclass(frozen=True)
class NotifyConfig:
    source: Path
    channels: Mapping[str, Channel]


def load_notify_config(path: Path) -> NotifyConfig:
    """The channels of ``path``; NotifyConfigError naming the field when one cannot be used."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotifyConfigError(f"{path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise NotifyConfigError(f"{path}: not valid YAML{where}") from None
    if not isinstance(document, dict):
        raise NotifyConfigError(f"{path}: expected a mapping with `channels`")
    unknown = sorted(str(key) for key in document if key not in ("channels", "reports"))
    if unknown:
        raise NotifyConfigError(
            f"{path}: {unknown[0]}: unknown field; the fields are channels and reports"
        )
    # `reports:` (where `bizlogic report --send` delivers) is read by bizlogic.ops.report.
    # delivery; a file with only that section (e-mail alone) has no channels.
    entries = document.get("channels")
    if entries is None and "reports" in document:
        return NotifyConfig(source=path, channels={})
    if not isinstance(entries, dict) or not entries:
        raise NotifyConfigError(f"{path}: channels: expected a mapping of channel names")
    channels = {}
    for name, entry in entries.items():
        where = f"channels.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise NotifyConfigError(
                f"{path}: {where}: a channel name is 1-64 letters, digits, '.', '_' or '-'"
            )
        channels[name] = _channel(path, name, entry)
    return NotifyConfig(source=path, channels=channels)


def _channel(path: Path, name: str, entry: Any) -> Channel:
    where = f"channels.{name}"

    def error(field_name: str, message: str) -> NotifyConfigError:
        return NotifyConfigError(f"{path}: {where}.{field_name}: {message}")

    if not isinstance(entry, dict):
        raise NotifyConfigError(f"{path}: {where}: expected a mapping")
    kind = entry.get("kind")
    if kind not in _SPECS:
        raise error("kind", f"{'missing' if kind is None else 'unknown kind'}; "
                    f"choose from {', '.join(KINDS)}")  # fmt: skip
    try:
        spec: Spec = _SPECS[kind].model_validate(entry)  # type: ignore[assignment]
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise error(loc, first["msg"].removeprefix("Value error, ") + more) from None

    url = _one_of(path, where, spec.url, spec.url_file, "url")
    url_field = "url_file" if spec.url_file else "url"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:  # its message quotes the URL, token and all: not shown
        raise error(url_field, "not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise error(url_field, "expected an http(s):// URL")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise error(url_field, f"port {parsed.port} is not between 1 and 65535")
    secrets = [url, *_url_parts(parsed)]
    secret = None
    if isinstance(spec, DingTalkSpec | FeishuSpec) and (spec.secret or spec.secret_file):
        secret = _one_of(path, where, spec.secret, spec.secret_file, "secret")
        secrets.append(secret)
    headers: dict[str, str] = {}
    if isinstance(spec, SmsSpec):
        _check_template(error, spec)
        for header, value in spec.headers.items():
            if not _HEADER_NAME.fullmatch(header):
                raise error(f"headers.{header}", "not a valid header name")
            headers[header] = value
            if is_secret_key(header):
                secrets.append(value)
        if spec.headers_file is not None:
            for header, value in _headers_file(path, where, spec.headers_file):
                headers[header] = value
                secrets.append(value)
    return Channel(
        name=name,
        spec=spec,
        url=url,
        secret=secret,
        headers=headers,
        secrets=tuple(sorted({s for s in secrets if s}, key=len, reverse=True)),
    )


def _one_of(path: Path, where: str, value: SecretStr | None, file: Path | None, name: str) -> str:
    """The secret given inline or in a file: exactly one of ``name`` and ``name_file``."""
    if (value is None) == (file is None):
        raise NotifyConfigError(f"{path}: {where}.{name}: set exactly one of {name}, {name}_file")
    if value is not None:
        text = value.get_secret_value().strip()
        if not text:
            raise NotifyConfigError(f"{path}: {where}.{name}: is empty")
        return text
    assert file is not None
    text = _read(path, where, f"{name}_file", file).strip()
    if not text:
        raise NotifyConfigError(f"{path}: {where}.{name}_file: {file} is empty")
    return text


def _read(path: Path, where: str, field_name: str, file: Path) -> str:
    target = file if file.is_absolute() else path.parent / file
    try:
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise NotifyConfigError(
            f"{path}: {where}.{field_name}: cannot read {target}: {reason}"
        ) from None


def _headers_file(path: Path, where: str, file: Path) -> Iterator[tuple[str, str]]:
    """``Name: value`` lines (blank lines and ``#`` comments skipped); a bad line is named
    by its number, never shown: it holds a key."""
    text = _read(path, where, "headers_file", file)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        header, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(header.strip()) or not value.strip():
            raise NotifyConfigError(
                f"{path}: {where}.headers_file: {file} line {number}: expected 'Name: value'"
            )
        yield header.strip(), value.strip()


def _url_parts(url: httpx.URL) -> list[str]:
    """What in a webhook URL may be its token: query values and long path segments
    (Feishu's and Slack's hook ids are path segments, WeCom's and DingTalk's queries)."""
    parts = [value for _, value in url.params.multi_items() if len(value) >= 4]
    parts += [segment for segment in url.path.split("/") if len(segment) >= 12]
    if url.query:
        parts.append(url.query.decode("ascii", "replace"))
    return parts


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(field path, string) for every string of a JSON-like template."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _check_template(error: Any, spec: SmsSpec) -> None:
    """Every placeholder known; the message in it; the recipients in it as the mode says."""
    found: set[str] = set()
    for where, text in _strings(spec.body, "body"):
        for name in PLACEHOLDER_PATTERN.findall(text):
            if name not in PLACEHOLDERS:
                known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                raise error(where, f"unknown placeholder {{{name}}}; the placeholders are {known}")
            found.add(name)
    if "message" not in found:
        raise error("body", "no {message} placeholder: where does the text go?")
    if spec.per_recipient and "recipient" not in found:
        raise error("body", "per_recipient: true needs a {recipient} placeholder")
    if not spec.per_recipient and "recipients" not in found:
        raise error("body", "no {recipients} placeholder (or set per_recipient: true and use "
                    "{recipient})")  # fmt: skip
    if not spec.per_recipient and "recipient" in found:
        raise error("body", "{recipient} is for per_recipient: true; use {recipients}")
