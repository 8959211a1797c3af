"""Bearer secrets that are not JWTs: the Alertmanager webhooks and the metrics scrape."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from bizlogic.api.errors import ApiError, ErrorCode


def bearer_matches(secret: SecretStr, authorization: str | None) -> bool:
    """Whether the header is ``Bearer <secret>``, compared in constant time."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), secret.get_secret_value().encode()
    )


def check_webhook_secret(secret: SecretStr | None, authorization: str | None) -> None:
    """401 unless the header carries ``BL_WEBHOOK_TOKEN``: Alertmanager's webhooks (the
    recovery intake and the notification relay) are called by Alertmanager, not a user."""
    if secret is None:  # 4xx, not 5xx: Alertmanager must not retry what cannot succeed
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "the alert webhook is disabled: BL_WEBHOOK_TOKEN is not set",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not bearer_matches(secret, authorization):
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "missing or wrong webhook secret (BL_WEBHOOK_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
