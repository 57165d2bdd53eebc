"""Signed access tokens: the only module that knows which JWT library is used.

python-jose verifies less than it should by default, so decoding here pins the algorithm,
requires every claim we rely on, checks issuer and audience, refuses `iat`/`nbf` in the
future, and refuses a token of the wrong `type`. Everything else sees `AccessClaims`.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from jose import JWTError, jwt

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


class InvalidTokenError(Exception):
    """The token cannot be trusted; the reason is for logs, never for the client."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    token_id: str
    session_id: str
    scopes: frozenset[str]
    expires_at: int


class TokenCodec:
    def __init__(self, *, secret_key: str, issuer: str, audience: str) -> None:
        if len(secret_key) < MIN_KEY_LENGTH:
            raise ValueError(f"token signing key must be at least {MIN_KEY_LENGTH} characters")
        self._key = secret_key
        self._issuer = issuer
        self._audience = audience
        # Tokens whose signature and claims passed every check, by their exact text: the
        # same bytes cannot verify differently, and a client sends its token repeatedly.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

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
        token: str = jwt.encode(payload, self._key, algorithm=ALGORITHM)
        return token, claims

    def decode_access_token(self, token: str) -> AccessClaims:
        """The claims of a token this codec issued and that has not expired."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("empty or oversized token")
        claims = self._verified.get(token)
        if claims is None:
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
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise InvalidTokenError(f"unexpected algorithm {header.get('alg')!r}")
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_jti": True,
                    "require_iss": True,
                    "require_aud": True,
                    "leeway": CLOCK_SKEW_SECONDS,
                },
            )
        except JWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        missing = [claim for claim in _REQUIRED_CLAIMS if claim not in payload]
        if missing:
            raise InvalidTokenError(f"missing claims {missing}")
        if payload["type"] != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError(f"token type {payload['type']!r} is not {ACCESS_TOKEN_TYPE!r}")
        issued_at = payload["iat"]
        if not isinstance(issued_at, int) or issued_at > time.time() + CLOCK_SKEW_SECONDS:
            raise InvalidTokenError("iat is in the future")
        scope = payload.get("scope", "")
        subject, token_id, session_id = payload["sub"], payload["jti"], payload["sid"]
        if not all(isinstance(v, str) for v in (scope, subject, token_id, session_id)):
            raise InvalidTokenError("malformed claims")
        return AccessClaims(
            subject=subject,
            token_id=token_id,
            session_id=session_id,
            scopes=frozenset(scope.split()),
            expires_at=int(payload["exp"]),
        )
