"""Bearer secrets that are not JWTs: the Alertmanager webhook and the metrics scrape."""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def bearer_matches(secret: SecretStr, authorization: str | None) -> bool:
    """Whether the header is ``Bearer <secret>``, compared in constant time."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), secret.get_secret_value().encode()
    )
