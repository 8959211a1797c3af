"""Sending the report: the HTML by e-mail (with the Markdown as its plain-text part), the
Markdown to chat channels through the relay's pieces (its channels, signing, answer
checks, scrubbing and retry policy). Every target is tried; the failures are returned,
each naming its target and scrubbed of the target's secrets."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from bizlogic.ops.relay.channels import Outgoing, refusal, signed
from bizlogic.ops.relay.config import Channel, SlackSpec
from bizlogic.ops.relay.send import ATTEMPTS, ChannelError, scrub
from bizlogic.ops.report.delivery import Delivery, EmailSpec, describe

WECOM_MAX_BYTES = 4096


class _Transient(Exception):
    """A network error, 429 or 5xx: worth another attempt."""


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 3].decode(errors="ignore") + "…"


def _slack(markdown: str) -> str:
    """Slack's mrkdwn: ``*bold*``, headings as bold lines, its three control characters."""
    text = markdown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [f"*{line[3:]}*" if line.startswith("## ") else line for line in text.split("\n")]
    return "\n".join(lines).replace("**", "*")


def chat_body(channel: Channel, title: str, markdown: str) -> dict[str, Any]:
    """What each kind takes as a Markdown message."""
    if channel.kind == "wecom":
        return {
            "msgtype": "markdown",
            "markdown": {"content": _cut_bytes(markdown, WECOM_MAX_BYTES)},
        }
    if channel.kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
    if channel.kind == "feishu":  # a card: its markdown element renders bold and lists
        return {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "markdown", "content": markdown}],
            },
        }
    spec = channel.spec
    body: dict[str, Any] = {"text": _slack(markdown)}
    if isinstance(spec, SlackSpec) and spec.channel:
        body["channel"] = spec.channel
    if isinstance(spec, SlackSpec) and spec.username:
        body["username"] = spec.username
    return body


def send_chat(
    channel: Channel,
    title: str,
    markdown: str,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    max_wait_s: float = 4.0,
) -> int:
    """Deliver to one channel; the attempts it took, or ChannelError (scrubbed)."""
    body = chat_body(channel, title, markdown)
    attempts = 0
    with httpx.Client(
        transport=transport, timeout=channel.spec.timeout_s, follow_redirects=False
    ) as client:
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(ATTEMPTS),
                wait=wait_random_exponential(multiplier=0.5, max=max_wait_s),
                retry=retry_if_exception_type(_Transient),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    _attempt(client, channel, signed(channel, body, clock()))
        except (_Transient, ValueError) as exc:
            raise ChannelError(channel, str(exc), attempts) from None
    return attempts


def _attempt(client: httpx.Client, channel: Channel, request: Outgoing) -> None:
    secrets = (*channel.secrets, *request.secrets)
    try:
        response = client.request(request.method, request.url, json=request.body)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
        if isinstance(exc, httpx.InvalidURL):
            raise ValueError(reason) from None
        raise _Transient(reason) from None
    reason = refusal(channel, response)
    if reason is None:
        return
    if response.status_code == 429 or response.status_code >= 500:
        raise _Transient(scrub(reason, secrets))
    raise ValueError(scrub(reason, secrets))  # refused: another attempt would be refused too


class EmailError(Exception):
    """The SMTP server could not be reached or refused the report."""


def email_message(spec: EmailSpec, subject: str, html: str, plain: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = spec.sender
    message["To"] = ", ".join(spec.to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=spec.sender.rsplit("@", 1)[-1] or None)
    message.set_content(plain)
    message.add_alternative(html, subtype="html")
    return message


def send_email(spec: EmailSpec, password: str | None, message: EmailMessage) -> None:
    """One SMTP delivery; EmailError naming the server, never the password."""
    try:
        if spec.security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                spec.host, spec.port, timeout=spec.timeout_s, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(spec.host, spec.port, timeout=spec.timeout_s)
        with server:
            if spec.security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if spec.username is not None and password is not None:
                server.login(spec.username, password)
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", [password] if password else [])
        raise EmailError(f"{describe(spec)} did not take the report: {detail}") from None


def deliver(
    delivery: Delivery,
    subject: str,
    html: str,
    markdown: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> tuple[list[str], list[str]]:
    """Send to every target: (what was delivered, the failures), each naming its target."""
    done, failed = [], []
    if delivery.email is not None:
        try:
            send_email(
                delivery.email,
                delivery.password,
                email_message(delivery.email, subject, html, markdown),
            )
            done.append(describe(delivery.email))
        except EmailError as exc:
            failed.append(str(exc))
    for channel in delivery.chat:
        try:
            send_chat(channel, subject, markdown, transport=transport)
            done.append(f"channel {channel.name!r} ({channel.kind})")
        except ChannelError as exc:
            failed.append(str(exc))
    return done, failed
