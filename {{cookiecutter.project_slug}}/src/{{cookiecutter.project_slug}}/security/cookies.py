"""Browser sessions: the three cookies, their attributes, and the CSRF token they pair with.

The access and refresh tokens travel in HttpOnly cookies, out of reach of any script on
the page. Cookies are sent by the browser whoever made the request, so every unsafe
request carried by them must also show the session's CSRF token in `X-CSRF-Token`: a
value only the page's own script can read (from the login answer or the `csrf_token`
cookie) and another site cannot. The token is an HMAC of the login session id, so it is
bound to that session, needs no storage, and one session's token is worthless in another.
"""

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Literal

SameSite = Literal["strict", "lax", "none"]
CSRF_HEADER = "X-CSRF-Token"
# What the key for CSRF tokens is derived from SECRET_KEY with: never the signing key itself.
_CSRF_KEY_LABEL = b"csrf-token"
# Methods that change something and so need the CSRF token (RFC 9110 safe methods excepted).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfTokens:
    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), _CSRF_KEY_LABEL, hashlib.sha256).digest()

    def token_for(self, session_id: uuid.UUID) -> str:
        return hmac.new(self._key, session_id.bytes, hashlib.sha256).hexdigest()

    def matches(self, session_id: uuid.UUID, presented: str | None) -> bool:
        """Whether `presented` is the session's token, compared in constant time."""
        return presented is not None and hmac.compare_digest(
            self.token_for(session_id).encode(), presented.encode("utf-8", "replace")
        )


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """Names and attributes of the session cookies, fixed at start-up from the settings."""

    secure: bool
    same_site: SameSite
    domain: str | None
    api_path: str
    refresh_path: str
    # Origins whose pages may send cookie requests, besides the API's own.
    allowed_origins: frozenset[str]

    def allows_origin(self, origin: str | None, own_origin: str) -> bool:
        """Whether a cookie request sent with this `Origin` header may go on. Without
        one (a same-origin GET), the CSRF token is what protects unsafe methods."""
        return origin is None or origin == own_origin or origin in self.allowed_origins

    @property
    def strict_same_site(self) -> SameSite:
        """The refresh and CSRF cookies' SameSite: always Strict, unless the front end is
        on another site and every cookie must be `None` to reach the API at all."""
        return "none" if self.same_site == "none" else "strict"

    @property
    def prefix(self) -> str:
        # Browsers accept a __Secure- cookie only over HTTPS with the Secure attribute.
        return "__Secure-" if self.secure else ""

    @property
    def access_name(self) -> str:
        return self.prefix + "access_token"

    @property
    def refresh_name(self) -> str:
        return self.prefix + "refresh_token"

    @property
    def csrf_name(self) -> str:
        return self.prefix + "csrf_token"
