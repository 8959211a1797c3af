"""Each kind's request, as its vendor documents it, and how it says "accepted".

WeCom, DingTalk and Feishu answer HTTP 200 even when they refuse a message (a wrong
key, a bad signature, too many messages): the JSON ``errcode``/``code`` says so, and is
checked. Signatures follow the vendors' documented algorithms:

* DingTalk: ``timestamp`` in milliseconds, ``sign = base64(HMAC-SHA256(key=secret,
  message=timestamp + "\\n" + secret))``, both added to the URL's query;
* Feishu: ``timestamp`` in seconds, ``sign = base64(HMAC-SHA256(key=timestamp + "\\n" +
  secret, message=""))``, both in the JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bizlogic.ops.relay.config import (
    PLACEHOLDER_PATTERN,
    Channel,
    DingTalkSpec,
    FeishuSpec,
    SlackSpec,
    SmsSpec,
    WeComSpec,
)
from bizlogic.ops.relay.message import Notice

WECOM_MAX_BYTES = 4096  # the documented limit of a group robot's markdown content


@dataclass(frozen=True)
class Outgoing:
    """One HTTP request to a channel. ``url`` holds the channel's token: never shown."""

    method: str
    url: str = field(repr=False)
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    # What this request alone carries that must not be shown: a signature (with the
    # token, it would let anyone post for an hour), the signed URL.
    secrets: tuple[str, ...] = field(default=(), repr=False)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` before URL encoding (the query encoder does that)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign``: the key is ``timestamp\\nsecret``, the message empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, not splitting a character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore").rstrip() + "…"


def wecom_body(notice: Notice) -> dict[str, Any]:
    """A group robot's markdown: its ``<font color>`` marks firing (warning) and resolved
    (info) alerts."""
    rows = [f"**{notice.title}**"]
    for line in notice.listed:
        color = "warning" if line.status == "firing" else "info"
        rows.append(
            f'> <font color="{color}">{line.status.upper()}</font> **{line.name}** · '
            f"{line.severity} · {line.instance}"
        )
        if line.summary:
            rows.append(f"> {line.summary}")
    if notice.unlisted:
        rows.append(f"… and {notice.unlisted} more")
    content = _cut_bytes("\n".join(rows), WECOM_MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_body(notice: Notice) -> dict[str, Any]:
    """A robot's markdown: ``title`` is what the notification preview shows."""
    rows = [f"#### {notice.title}", ""]
    rows += [f"- {notice.describe(line)}" for line in notice.listed]
    if notice.unlisted:
        rows.append(f"- … and {notice.unlisted} more")
    return {"msgtype": "markdown", "markdown": {"title": notice.title, "text": "\n".join(rows)}}


def feishu_body(notice: Notice, spec: FeishuSpec) -> dict[str, Any]:
    if spec.format == "text":
        return {"msg_type": "text", "content": {"text": notice.plain()}}
    content = [[{"tag": "text", "text": notice.describe(line)}] for line in notice.listed]
    if notice.unlisted:
        content.append([{"tag": "text", "text": f"… and {notice.unlisted} more"}])
    post = {"zh_cn": {"title": notice.title, "content": content}}
    return {"msg_type": "post", "content": {"post": post}}


def _slack_escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(notice: Notice, spec: SlackSpec) -> dict[str, Any]:
    rows = [f"*{_slack_escape(notice.title)}*"]
    rows += [f"• {_slack_escape(notice.describe(line))}" for line in notice.listed]
    if notice.unlisted:
        rows.append(f"… and {notice.unlisted} more")
    body: dict[str, Any] = {"text": "\n".join(rows)}
    if spec.channel:
        body["channel"] = spec.channel
    if spec.username:
        body["username"] = spec.username
    return body


def fill(template: Any, values: Mapping[str, str], recipients: list[str]) -> Any:
    """The SMS body template with its placeholders replaced. A string that is exactly
    ``{recipients}`` becomes the list itself (a JSON array); elsewhere the recipients
    are joined with commas."""
    if isinstance(template, str):
        if template == "{recipients}":
            return list(recipients)
        return PLACEHOLDER_PATTERN.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, dict):
        return {key: fill(item, values, recipients) for key, item in template.items()}
    if isinstance(template, list):
        return [fill(item, values, recipients) for item in template]
    return template


def sms_bodies(notice: Notice, spec: SmsSpec) -> list[dict[str, Any]]:
    """One body for all recipients, or one per recipient (``per_recipient``)."""
    message = notice.short(spec.max_length)
    values = {"message": message, "recipients": ",".join(spec.recipients), "recipient": ""}
    if not spec.per_recipient:
        return [fill(spec.body, values, spec.recipients)]
    return [fill(spec.body, {**values, "recipient": to}, [to]) for to in spec.recipients]


def signed(channel: Channel, body: dict[str, Any], now_s: float) -> Outgoing:
    """A POST of ``body`` to a DingTalk or Feishu robot, signed at ``now_s`` when the channel
    has a secret (DingTalk: in the URL's query; Feishu: in the body); as is for the others."""
    if channel.secret is None or not isinstance(channel.spec, DingTalkSpec | FeishuSpec):
        return Outgoing("POST", channel.url, body)
    if isinstance(channel.spec, DingTalkSpec):
        stamp = int(now_s * 1000)
        sign = dingtalk_sign(channel.secret, stamp)
        url = str(httpx.URL(channel.url).copy_merge_params({"timestamp": str(stamp), "sign": sign}))
        return Outgoing("POST", url, body, secrets=(url, sign))
    stamp = int(now_s)
    sign = feishu_sign(channel.secret, stamp)
    return Outgoing("POST", channel.url, {"timestamp": str(stamp), "sign": sign, **body},
                    secrets=(sign,))  # fmt: skip


def requests_for(channel: Channel, notice: Notice, now_s: float) -> list[Outgoing]:
    """The request(s) that deliver ``notice`` to ``channel``, signed at ``now_s``."""
    spec = channel.spec
    if isinstance(spec, WeComSpec):
        return [Outgoing("POST", channel.url, wecom_body(notice))]
    if isinstance(spec, DingTalkSpec):
        return [signed(channel, dingtalk_body(notice), now_s)]
    if isinstance(spec, FeishuSpec):
        return [signed(channel, feishu_body(notice, spec), now_s)]
    if isinstance(spec, SlackSpec):
        return [Outgoing("POST", channel.url, slack_body(notice, spec))]
    return [
        Outgoing(spec.method, channel.url, body, channel.headers)
        for body in sms_bodies(notice, spec)
    ]


def refusal(channel: Channel, response: httpx.Response) -> str | None:
    """Why the channel did not take the message, or None when it did. Neither scrubbed nor
    cut: a secret cut in half would escape the scrubbing."""
    if response.status_code >= 300:
        text = " ".join(response.text.split())
        return f"HTTP {response.status_code}" + (f": {text}" if text else "")
    if channel.kind not in ("wecom", "dingtalk", "feishu"):
        return None
    try:
        answer = response.json()
    except ValueError:
        return f"HTTP {response.status_code} without the JSON answer a {channel.kind} robot gives"
    if not isinstance(answer, dict):
        return f"unexpected answer from the {channel.kind} robot"
    if channel.kind == "feishu":
        code = answer.get("code", answer.get("StatusCode"))
        text = answer.get("msg", answer.get("StatusMessage", ""))
    else:
        code, text = answer.get("errcode"), answer.get("errmsg", "")
    if code == 0:
        return None
    return f"{channel.kind} error {code}: {text}"
