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

SameSite = Literal["strict", "lax"]
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
class SessionCookie:
    """One of the three cookies: what it is called and where the browser sends it."""

    name: str
    path: str
    http_only: bool
    same_site: SameSite


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """Names and attributes of the session cookies, fixed at start-up from the settings.

    The cookies are always host-only (no `Domain`): a page on a sibling subdomain must
    never receive the tokens. With `Secure` they are `__Host-` cookies, which browsers
    accept only with Path `/`, no `Domain` and over HTTPS, so no other host, sibling or
    parent, can set or shadow them either.
    """

    secure: bool
    same_site: SameSite
    # Where the API's routes live, and where /auth/cookie's do; the paths of the access
    # and refresh cookies when they are not `__Host-` cookies.
    api_path: str
    cookie_routes_path: str
    # Origins whose pages may send cookie requests, besides the API's own.
    allowed_origins: frozenset[str]

    def allows_origin(self, origin: str | None, own_origin: str) -> bool:
        """Whether a cookie request sent with this `Origin` header may go on. Without
        one (a same-origin GET), the CSRF token is what protects unsafe methods."""
        return origin is None or origin == own_origin or origin in self.allowed_origins

    def _cookie(
        self, name: str, path: str, *, http_only: bool, same_site: SameSite
    ) -> SessionCookie:
        if self.secure:
            return SessionCookie(f"__Host-{name}", "/", http_only, same_site)
        return SessionCookie(name, path, http_only, same_site)

    @property
    def access(self) -> SessionCookie:
        return self._cookie("access_token", self.api_path, http_only=True, same_site=self.same_site)

    @property
    def refresh(self) -> SessionCookie:
        return self._cookie(
            "refresh_token",
            self.cookie_routes_path,
            http_only=True,
            same_site="strict",
        )

    @property
    def csrf(self) -> SessionCookie:
        # Readable by scripts, on every path, so that a page anywhere on the site finds it.
        return self._cookie("csrf_token", "/", http_only=False, same_site="strict")
