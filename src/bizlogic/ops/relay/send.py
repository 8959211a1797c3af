"""Delivering a notice to a channel: bounded, jittered retries, secrets kept out.

A network error, a 429 or a 5xx is retried here (3 attempts, as ``ops/notify.py``); a
refusal (a wrong key, a bad signature) is not: it would be refused again. Either way the
caller answers Alertmanager 502, and Alertmanager retries the whole notification later.
Requests already taken (one SMS per recipient) are not sent again within one delivery.

What is reported about a failure, to the log or to Alertmanager, is scrubbed of every
secret of the channel (its URL's token, the signing secret, the gateway's key) and then of
anything credential-shaped (``bizlogic.telemetry.redact``): the channel is named by its
name, kind and host.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from bizlogic.ops.relay.channels import refusal, requests_for
from bizlogic.ops.relay.config import Channel, NotifyConfig, load_notify_config
from bizlogic.ops.relay.message import Notice, cut
from bizlogic.settings import Settings
from bizlogic.telemetry.logging import get_logger
from bizlogic.telemetry.redact import REDACTED, redact_text

ATTEMPTS = 3
MAX_REASON = 300  # characters of a channel's answer kept in an error
logger = get_logger("bizlogic.notify")


class ChannelError(Exception):
    """The channel did not take the notice after every attempt; ``reason`` is scrubbed."""

    def __init__(self, channel: Channel, reason: str, attempts: int) -> None:
        self.channel = channel.name
        self.kind = channel.kind
        self.destination = channel.destination
        self.reason = reason
        self.attempts = attempts
        super().__init__(
            f"channel {channel.name!r} ({channel.kind}, {channel.destination}) did not take "
            f"the notification after {attempts} attempt{'s' if attempts != 1 else ''}: {reason}"
        )


class _Transient(Exception):
    """Worth another attempt: the network, a 429, a 5xx."""


class _Refused(Exception):
    """The channel answered no: another attempt would get the same answer."""


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without ``secrets``, raw or URL-encoded, nor anything that looks like a
    credential; then cut to MAX_REASON characters (after: no secret is cut in half)."""
    for secret in sorted(secrets, key=len, reverse=True):  # a URL before the token in it
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return cut(redact_text(text), MAX_REASON)


class Relay:
    """The channels of ``BL_NOTIFY_CONFIG`` and the sending to them."""

    def __init__(
        self,
        config: NotifyConfig | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        max_wait_s: float = 4.0,
    ) -> None:
        self.config = config
        self.transport = transport
        self.clock = clock
        self.max_wait_s = max_wait_s

    @classmethod
    def from_settings(cls, settings: Settings) -> Relay:
        """The relay of ``settings``; NotifyConfigError when its file cannot be used."""
        path = settings.notify_config
        return cls(load_notify_config(path) if path is not None else None)

    def channel(self, name: str) -> Channel | None:
        return self.config.channels.get(name) if self.config is not None else None

    def why_unknown(self, name: str) -> str:
        if self.config is None:
            return f"no notification channel {name!r}: BL_NOTIFY_CONFIG is not set"
        return f"no notification channel {name!r} in {self.config.source}"

    async def send(self, channel: Channel, notice: Notice) -> int:
        """Deliver ``notice``; the attempts it took, or ChannelError."""
        sent: set[int] = set()
        attempts = 0
        async with httpx.AsyncClient(
            transport=self.transport, timeout=channel.spec.timeout_s, follow_redirects=False
        ) as client:
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(ATTEMPTS),
                    wait=wait_random_exponential(multiplier=0.5, max=self.max_wait_s),
                    retry=retry_if_exception_type(_Transient),
                    reraise=True,
                ):
                    with attempt:
                        attempts += 1
                        await self._attempt(client, channel, notice, sent)
            except (_Transient, _Refused) as exc:
                error = ChannelError(channel, str(exc), attempts)  # scrubbed when raised
                logger.warning(
                    "notify_failed",
                    message=str(error),
                    channel=channel.name,
                    kind=channel.kind,
                    destination=channel.destination,
                    alerts=notice.count,
                    attempts=attempts,
                )
                raise error from None
        logger.info(
            "notify_sent",
            message=f"{notice.title} sent to channel {channel.name!r} ({channel.kind})",
            channel=channel.name,
            kind=channel.kind,
            destination=channel.destination,
            alert_status=notice.status,
            alerts=notice.count,
            attempts=attempts,
        )
        return attempts

    async def _attempt(
        self, client: httpx.AsyncClient, channel: Channel, notice: Notice, sent: set[int]
    ) -> None:
        """Send what is not sent yet, signed now (a signature is valid for an hour)."""
        for index, request in enumerate(requests_for(channel, notice, self.clock())):
            if index in sent:
                continue
            secrets = (*channel.secrets, *request.secrets)
            try:
                response = await client.request(
                    request.method, request.url, json=request.body, headers=dict(request.headers)
                )
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                detail = str(exc)
                reason = scrub(exc.__class__.__name__ + (f": {detail}" if detail else ""), secrets)
                if isinstance(exc, httpx.InvalidURL):  # no attempt can send to it
                    raise _Refused(reason) from None
                raise _Transient(reason) from None
            reason = refusal(channel, response)
            if reason is None:
                sent.add(index)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(scrub(reason, secrets))
            raise _Refused(scrub(reason, secrets))
