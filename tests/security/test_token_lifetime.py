"""Tokens signed with the right key but a lifetime the service never issues are refused."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from bizlogic.api.auth import MAX_TTL_S, TokenError, decode_token

SECRET = "s" * 48
T0 = 1_800_000_000
_DROP = object()  # a claim left out of the token


def _forged(**overrides: Any) -> str:
    """A token built with PyJWT directly, bypassing ``create_token``'s ttl check."""
    claims = {
        "iss": "bizlogic",
        "sub": "mallory",
        "role": "system_admin",
        "projects": None,
        "iat": T0,
        "exp": T0 + MAX_TTL_S,
        "jti": "f" * 32,
    }
    claims.update(overrides)
    claims = {key: value for key, value in claims.items() if value is not _DROP}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _refusal(token: str) -> tuple[str, str]:
    with pytest.raises(TokenError) as caught:
        decode_token(SECRET, token, now=T0 + 10)
    return caught.value.reason, caught.value.message


def test_lifetime_at_the_cap_is_accepted():
    assert decode_token(SECRET, _forged(), now=T0 + 10).user_id == "mallory"


@pytest.mark.parametrize(
    "exp", [T0 + MAX_TTL_S + 1, T0 + 10 * 365 * 86_400, 2**53], ids=["cap+1s", "10y", "huge"]
)
def test_lifetime_over_the_cap_is_refused(exp: int):
    assert _refusal(_forged(exp=exp)) == (
        "malformed",
        "token lifetime exceeds the maximum of 366 days",
    )


def test_missing_iat_is_refused():
    assert _refusal(_forged(iat=_DROP)) == ("malformed", "token lacks the 'iat' claim")


def test_exp_not_after_iat_is_refused():
    assert _refusal(_forged(iat=T0, exp=T0)) == ("malformed", "token exp must be after its iat")
