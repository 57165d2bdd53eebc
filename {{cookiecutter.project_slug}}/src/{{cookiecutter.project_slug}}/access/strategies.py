"""How a credential is checked, like fastapi-users' strategies: a bearer token (or the
access cookie, which holds one) through the principal cache to its login session, an
API key to its grant.

A credential only says who the caller was when it was issued. The user is loaded with
the login session or the API key, so a deactivation, a role change, a logout or a
revoked key counts from the next request on. The tables behind them are not imported
here: the stores in `Services` answer (security/credential_stores.py).

Every request is counted against RATE_LIMIT_DEFAULT, and only an authenticated caller's
own budget is charged to them. A database lookup (a cache miss, any API key) is first
reserved against the client address's budget, counted before it runs: so of N junk
credentials sent at once from one address, at most the budget's worth are looked up,
and the rest get 429. A lookup that authenticates gives the reservation back (and is
charged to its user instead); one that fails keeps it, as the failure's charge.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

from ..security.clients import client_address
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..security.credential_stores import LiveSession
{%- else %}
from ..security.identity import UserSnapshot
{%- endif %}
from ..security.rate_limit import Bucket
from ..security.request_claims import access_claims
from ..security.tokens import InvalidTokenError
from ..services import Services
from .principal import Identity

T = TypeVar("T")


class AddressBudget:
    """The client address's share of RATE_LIMIT_DEFAULT in one request: what a credential
    that fails to authenticate is charged to."""

    __slots__ = ("_key", "_request", "_services", "charged")

    def __init__(self, request: Request, services: Services) -> None:
        self._request = request
        self._services = services
        self._key: str | None = None
        self.charged = False

    @property
    def key(self) -> str:
        # Worked out only when needed: a cached bearer caller never is.
        if self._key is None:
            self._key = "address:" + client_address(self._request)
        return self._key

    async def looked_up(self, lookup: Callable[[], Awaitable[T | None]]) -> T | None:
        """`lookup()`, reserved against the address first; refunded if it found someone."""
        limiter = self._services.limiter
        await limiter.hit(limiter.default, Bucket.API, self.key)
        self.charged = True
        found = await lookup()
        if found is not None:
            await limiter.refund(limiter.default, Bucket.API, self.key)
            self.charged = False
        return found

    async def charge_failure(self) -> None:
        """Count a failed authentication, unless its lookup was counted already."""
        if not self.charged:
            limiter = self._services.limiter
            await limiter.hit(limiter.default, Bucket.API, self.key)
            self.charged = True


async def bearer_identity(
    request: Request, token: str, services: Services, address: AddressBudget
) -> Identity | None:
    """The caller of a bearer token, cached or from its live login session."""
    try:
        claims = access_claims(request, services.tokens, token)
        user_id, session_id = uuid.UUID(claims.subject), uuid.UUID(claims.session_id)
    except (InvalidTokenError, ValueError):
        return None
    limiter, budget = services.limiter, services.limiter.default
    # A cached caller is counted where their version is checked (get_and_count).
    user_budget = limiter.window_hit(budget, Bucket.API, f"user:{user_id}")
    cached, counted = await services.principals.get(session_id, user_id, user_budget)
    if counted is not None:
        limiter.enforce(user_budget, counted)
{%- if cookiecutter.multi_tenancy == "yes" %}
    if cached is not None:
        return _bound(
            claims.organization_id,
            Identity(cached.user, claims.scopes, session_id, cached.membership),
        )
    live = await address.looked_up(lambda: _load_bearer(user_id, session_id, services))
    if live is None:
        return None
    if counted is None:
        await limiter.hit(budget, Bucket.API, f"user:{user_id}")
    return _bound(
        claims.organization_id, Identity(live.user, claims.scopes, session_id, live.membership)
    )


def _bound(organization_id: str | None, identity: Identity) -> Identity | None:
    """`identity`, if the token names the organization its session is bound to now: a
    switch rotates the session's tokens, and those of the organization left stop here."""
    bound = identity.membership.organization_id if identity.membership is not None else None
    if organization_id != (str(bound) if bound is not None else None):
        return None
    return identity


async def _load_bearer(
    user_id: uuid.UUID, session_id: uuid.UUID, services: Services
) -> LiveSession | None:
    """A live login session and its user, from its store; cached for the next request."""
    version = await services.principals.versions.get(user_id)
    live = await services.login_sessions.find_live(user_id, session_id)
    if live is None:
        return None
    services.principals.put(
        session_id,
        live.user,
        version=version,
        session_expires_at=live.expires_at,
        membership=live.membership,
    )
    return live
{%- else %}
    if cached is not None:
        return Identity(cached.user, claims.scopes, session_id)
    user = await address.looked_up(lambda: _load_bearer(user_id, session_id, services))
    if user is None:
        return None
    if counted is None:
        await limiter.hit(budget, Bucket.API, f"user:{user_id}")
    return Identity(user, claims.scopes, session_id)


async def _load_bearer(
    user_id: uuid.UUID, session_id: uuid.UUID, services: Services
) -> UserSnapshot | None:
    """The user of a live login session, from its store; cached for the next request."""
    version = await services.principals.versions.get(user_id)
    live = await services.login_sessions.find_live(user_id, session_id)
    if live is None:
        return None
    services.principals.put(
        session_id, live.user, version=version, session_expires_at=live.expires_at
    )
    return live.user
{%- endif %}


async def api_key_identity(key: str, services: Services, address: AddressBudget) -> Identity | None:
    """The user of a valid API key, with the scopes the key was given."""
    grant = await address.looked_up(lambda: services.api_keys.find_valid(key))
    if grant is None:
        return None
    limiter = services.limiter
    await limiter.hit(limiter.default, Bucket.API, f"user:{grant.user.id}")
    return Identity(grant.user, grant.scopes, None{% if cookiecutter.multi_tenancy == "yes" %}, grant.membership{% endif %})
