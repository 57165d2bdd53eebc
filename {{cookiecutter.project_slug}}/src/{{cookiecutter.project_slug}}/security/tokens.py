"""Signed access tokens: every rule a token must pass, whichever JWT library signs it.

The library (behind `jwt_library.py`, the only module that imports it) signs, and checks
the signature, `exp`, `nbf`, issuer and audience. Decoding here adds what a library leaves
loose or does not know: the algorithm is pinned, every claim we rely on is required, a
`crit` header is refused (we understand no extension: RFC 7515 4.1.11), time claims must
be numbers (JSON `true` is not a time), `iat`/`nbf` may not be in the future, and the
token must be an access token for exactly this issuer and audience. Everything else sees
`AccessClaims`.

A token is also accepted in one spelling only, its canonical compact form: three
base64url segments without padding, each the encoding of what it decodes to. JWT
libraries are lenient there (a signature with `=` appended, a last character whose
unused bits are set), and a token with several spellings is several tokens to whatever
keys on its text: the cache of verified tokens, a blocklist, a log.
"""

import base64
import binascii
import math
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from . import jwt_library

ALGORITHM = "HS256"
# A claim value, not a secret.
ACCESS_TOKEN_TYPE = "access"  # noqa: S105  # nosec B105
MIN_KEY_LENGTH = 32
# Far above any token we issue; stops a megabyte "token" before any parsing.
MAX_TOKEN_LENGTH = 4096
# Tolerated clock skew between the machines that issue and check tokens.
CLOCK_SKEW_SECONDS = 5
VERIFIED_CACHE_SIZE = 10_000
_REQUIRED_CLAIMS = ("sub", "jti", "iat", "exp", "iss", "aud", "type", "sid")
_TIME_CLAIMS = ("exp", "iat", "nbf")
_TEXT_CLAIMS = ("sub", "jti", "sid", "scope")
_COMPACT_FORM = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class InvalidTokenError(Exception):
    """The token cannot be trusted; the reason is for logs, never for the client."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    token_id: str
    session_id: str
    scopes: frozenset[str]
    expires_at: int
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The `org` claim: the organization the token is bound to; None when it is not.
    organization_id: str | None = None
{%- endif %}


def _is_canonical(token: str) -> bool:
    """Three unpadded base64url segments, each the one encoding of its bytes."""
    if _COMPACT_FORM.fullmatch(token) is None:
        return False
    for segment in token.split("."):
        try:
            decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError):
            return False
        if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != segment:
            return False
    return True


def _is_time(value: object) -> bool:
    """A JSON number that is a usable time: bool is an int subclass, inf and nan are floats."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


class TokenCodec:
    def __init__(self, *, secret_key: str, issuer: str, audience: str) -> None:
        if len(secret_key) < MIN_KEY_LENGTH:
            raise ValueError(f"token signing key must be at least {MIN_KEY_LENGTH} characters")
        self._key = secret_key
        self._issuer = issuer
        self._audience = audience
        # Tokens whose signature and claims passed every check, by their exact text: the
        # same bytes cannot verify differently, and a client sends its token repeatedly.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict(){%- if cookiecutter.multi_tenancy == "yes" %}

    def issue_access_token(
        self,
        *,
        subject: str,
        session_id: str,
        scopes: frozenset[str],
        lifetime_seconds: int,
        organization_id: str | None = None,
    ) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = AccessClaims(
            subject=subject,
            token_id=uuid.uuid4().hex,
            session_id=session_id,
            scopes=scopes,
            expires_at=now + lifetime_seconds,
            organization_id=organization_id,
        )
{%- else %}

    def issue_access_token(
        self, *, subject: str, session_id: str, scopes: frozenset[str], lifetime_seconds: int
    ) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = AccessClaims(
            subject=subject,
            token_id=uuid.uuid4().hex,
            session_id=session_id,
            scopes=scopes,
            expires_at=now + lifetime_seconds,
        )
{%- endif %}
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "jti": claims.token_id,
            "sid": session_id,
            "type": ACCESS_TOKEN_TYPE,
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "nbf": now,
            "exp": claims.expires_at,
        }
{%- if cookiecutter.multi_tenancy == "yes" %}
        if organization_id is not None:
            payload["org"] = organization_id
{%- endif %}
        return jwt_library.encode(payload, self._key, algorithm=ALGORITHM), claims

    def decode_access_token(self, token: str) -> AccessClaims:
        """The claims of a token this codec issued and that has not expired."""
        # A remembered token passed every check below in exactly this spelling.
        claims = self._verified.get(token)
        if claims is None:
            if not token or len(token) > MAX_TOKEN_LENGTH:
                raise InvalidTokenError("empty or oversized token")
            if not _is_canonical(token):
                raise InvalidTokenError("not in canonical compact form")
            claims = self._verify(token)
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        # Checked on every use: a remembered token expires like any other.
        if claims.expires_at <= time.time() - CLOCK_SKEW_SECONDS:
            self._verified.pop(token, None)
            raise InvalidTokenError("token has expired")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt_library.unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise InvalidTokenError(f"unexpected algorithm {header.get('alg')!r}")
            if "crit" in header:
                raise InvalidTokenError("critical header extensions are not supported")
            payload = jwt_library.decode(
                token,
                self._key,
                algorithm=ALGORITHM,
                issuer=self._issuer,
                audience=self._audience,
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt_library.JWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        return self._checked_claims(payload)

    def _checked_claims(self, payload: dict[str, Any]) -> AccessClaims:
        """The rules the library leaves loose, on a payload whose signature is verified."""
        missing = [claim for claim in _REQUIRED_CLAIMS if claim not in payload]
        if missing:
            raise InvalidTokenError(f"missing claims {missing}")
        if payload["type"] != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError(f"token type {payload['type']!r} is not {ACCESS_TOKEN_TYPE!r}")
        # Exact strings: a library may accept an audience list that merely contains ours.
        if payload["iss"] != self._issuer or payload["aud"] != self._audience:
            raise InvalidTokenError("wrong issuer or audience")
        times = {claim: payload[claim] for claim in _TIME_CLAIMS if claim in payload}
        if not all(_is_time(value) for value in times.values()):
            raise InvalidTokenError(f"time claims must be numbers: {sorted(times)}")
        latest_start = time.time() + CLOCK_SKEW_SECONDS
        if times["iat"] > latest_start or times.get("nbf", 0) > latest_start:
            raise InvalidTokenError("iat or nbf is in the future")
        payload.setdefault("scope", "")
        if not all(isinstance(payload[claim], str) for claim in _TEXT_CLAIMS):
            raise InvalidTokenError("malformed claims")
{%- if cookiecutter.multi_tenancy == "yes" %}
        organization_id = payload.get("org")
        if organization_id is not None and not isinstance(organization_id, str):
            raise InvalidTokenError("malformed org claim")
{%- endif %}
        return AccessClaims(
            subject=payload["sub"],
            token_id=payload["jti"],
            session_id=payload["sid"],
            scopes=frozenset(payload["scope"].split()),
            expires_at=int(times["exp"]),
{%- if cookiecutter.multi_tenancy == "yes" %}
            organization_id=organization_id,
{%- endif %}
        )
