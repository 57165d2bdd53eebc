"""PyJWT, the JWT library, behind the three calls tokens.py makes; imported nowhere else.

This module signs, reads the header, and has the library verify the signature and the
registered claims. The rules PyJWT does not enforce (any `crit` refused, not only unknown
ones; time claims that are numbers rather than `true` or strings; exact issuer) are in
tokens.py.
"""

from typing import Any

import jwt
from jwt import PyJWTError as JWTError
from jwt.types import Options

__all__ = ["JWTError", "decode", "encode", "unverified_header"]

_OPTIONS: Options = {
    "require": ["exp", "iat", "sub", "jti", "iss", "aud"],
    # `aud` must be our audience itself, not a list that contains it.
    "strict_aud": True,
    # A key too short for HS256 is an error, not a warning.
    "enforce_minimum_key_length": True,
}


def encode(claims: dict[str, Any], key: str, *, algorithm: str) -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def unverified_header(token: str) -> dict[str, Any]:
    """The header as sent, for checks before the signature; JWTError if it is not JSON."""
    return jwt.get_unverified_header(token)


def decode(
    token: str, key: str, *, algorithm: str, issuer: str, audience: str, leeway: int
) -> dict[str, Any]:
    """The payload once signature, `exp`, `nbf`, `iat`, issuer and audience check out."""
    # A time claim that is a list, null or infinite gets PyJWT's own error from 2.15 on;
    # earlier versions let TypeError or OverflowError escape (one reason for the floor).
    return jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        audience=audience,
        issuer=issuer,
        leeway=leeway,
        options=_OPTIONS,
    )
