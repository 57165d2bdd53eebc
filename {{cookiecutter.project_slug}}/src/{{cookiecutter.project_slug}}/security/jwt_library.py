"""python-jose, the JWT library, behind the three calls tokens.py makes; imported nowhere else.

This module signs, reads the header, and has the library verify the signature and the
registered claims. The rules python-jose does not enforce (`crit`, the types of time
claims, `iat` in the future, exact issuer and audience) are in tokens.py.
"""

from typing import Any

from jose import JWTError, jwt

__all__ = ["JWTError", "decode", "encode", "unverified_header"]

_OPTIONS = {
    "require_exp": True,
    "require_iat": True,
    "require_sub": True,
    "require_jti": True,
    "require_iss": True,
    "require_aud": True,
}


def encode(claims: dict[str, Any], key: str, *, algorithm: str) -> str:
    token: str = jwt.encode(claims, key, algorithm=algorithm)
    return token


def unverified_header(token: str) -> dict[str, Any]:
    """The header as sent, for checks before the signature; JWTError if it is not JSON."""
    header: dict[str, Any] = jwt.get_unverified_header(token)
    return header


def decode(
    token: str, key: str, *, algorithm: str, issuer: str, audience: str, leeway: int
) -> dict[str, Any]:
    """The payload once signature, `exp`, `nbf`, issuer and audience check out."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            options={**_OPTIONS, "leeway": leeway},
        )
    except (TypeError, OverflowError) as exc:
        # python-jose calls int() on time claims and lets these escape for a list, null or
        # an infinite number in a validly signed token: still just a bad token.
        raise JWTError("a time claim is not a number") from exc
    return payload
