"""Who is calling: the dependencies every protected route declares.

A credential only says who the caller was when it was issued. A request loads the user
with the login session (bearer token) or the API key, so a deactivation, a role change,
a logout or a revoked key counts from the next request on, and the credential's scopes
are cut to what the user's current role allows. Bearer callers come from the principal
cache when nothing about them changed since (security/principal_cache.py). The
tables behind credentials are not imported here: the stores in `Services` answer
(security/credentials.py), so every domain package may depend on this one.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import SecurityScopes

from ..audit.trail import Event, record_limited
from ..errors import answers
from ..security.clients import client_address
from ..security.cookies import CSRF_HEADER, UNSAFE_METHODS, CookiePolicy
from ..security.events import security_event
from ..security.identity import UserSnapshot
from ..security.rate_limit import Bucket, parse_limit
from ..security.request_claims import access_claims
from ..security.scopes import ROLE_SCOPES
from ..security.tokens import InvalidTokenError
from ..state import Services

API_KEY_HEADER = "X-API-Key"
# More admin-route denials than this from one address is worth a security event.
ADMIN_DENIALS_ALERT = parse_limit("5/10minutes")
{%- if cookiecutter.use_redis == "yes" %}
# What authentication answers: 401 no or bad credential; 403 a missing scope, an inactive
# user or a failed CSRF check; 429 RATE_LIMIT_DEFAULT; 503 the shared auth state is down.
AUTHENTICATION_ERRORS = (401, 403, 429, 503)
{%- else %}
# What authentication answers: 401 no or bad credential; 403 a missing scope, an inactive
# user or a failed CSRF check; 429 RATE_LIMIT_DEFAULT.
AUTHENTICATION_ERRORS = (401, 403, 429)
{%- endif %}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    user: UserSnapshot
    # What the credential may do now: its scopes, cut to the user's current role.
    scopes: frozenset[str]
    # The login session of a bearer token; None when an API key authenticated the call.
    session_id: uuid.UUID | None

    @property
    def login_session_id(self) -> uuid.UUID:
        """The caller's login session: `authorize_bearer` admits only callers with one."""
        if self.session_id is None:
            raise LookupError("an API-key caller has no login session")
        return self.session_id


def _unauthorized(security_scopes: SecurityScopes) -> HTTPException:
    challenge = "Bearer"
    if security_scopes.scopes:
        challenge = f'Bearer scope="{security_scopes.scope_str}"'
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": challenge},
    )


@dataclass(frozen=True, slots=True)
class _BearerClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    scopes: frozenset[str]


def _bearer_claims(request: Request, token: str, services: Services) -> _BearerClaims | None:
    try:
        claims = access_claims(request, services.tokens, token)
        return _BearerClaims(uuid.UUID(claims.subject), uuid.UUID(claims.session_id), claims.scopes)
    except (InvalidTokenError, ValueError):
        return None


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


def _cookie_token(request: Request, services: Services) -> str | None:
    """The access token of a browser session, once the request passed the cookie rules.

    A cookie comes with every request the browser makes to the API, whichever page
    asked for it. So the request must come from the API's own origin or a listed one,
    and one that changes something must carry the session's CSRF token (checked once
    the session is known, in `_check_csrf`).
    """
    cookies = services.cookies
    if cookies is None:
        return None
    token = request.cookies.get(cookies.access_name)
    if not token:
        return None
    check_cookie_origin(request, cookies)
    request.state.cookie_session = True
    return token


def check_cookie_origin(request: Request, cookies: CookiePolicy) -> None:
    """403 unless the request comes from the API's own origin or a listed one."""
    own_origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if not cookies.allows_origin(request.headers.get("origin"), own_origin):
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail="Cookie requests from this origin are not allowed",
        )


def _check_csrf(request: Request, services: Services, session_id: uuid.UUID | None) -> None:
    # Cheapest test first: most requests are reads.
    if request.method not in UNSAFE_METHODS or not getattr(request.state, "cookie_session", False):
        return
    presented = request.headers.get(CSRF_HEADER)
    if session_id is None or not services.csrf.matches(session_id, presented):
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN, detail="CSRF token missing or invalid"
        )


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _identify(
    request: Request, services: Services, security_scopes: SecurityScopes, *, accept_api_key: bool
) -> tuple[UserSnapshot, frozenset[str], uuid.UUID | None]:
    """Who the credential belongs to, counting the request against RATE_LIMIT_DEFAULT.

    Only an authenticated caller's own budget is charged to them. Anything that fails
    authentication is charged to the client address, and a credential that needs a
    database lookup (a cache miss, an API key) is looked up only while the address still
    has budget: junk credentials cannot buy database work, nor spend a victim's budget.
    """
    limiter, budget = services.limiter, services.limiter.default
    address = "address:" + client_address(request)
    token = _bearer_token(request)
    api_key = request.headers.get(API_KEY_HEADER)
    if token is None and api_key is None:
        token = _cookie_token(request, services)
    if token is not None:
        claims = _bearer_claims(request, token, services)
        if claims is not None:
            user_id, session_id = claims.user_id, claims.session_id
            # A cached caller is counted in the round trip that checks their version.
            user_budget = limiter.window_hit(budget, Bucket.API, f"user:{user_id}")
            cached, counted = await services.principals.get(session_id, user_id, user_budget)
            if counted is not None:
                limiter.enforce(user_budget, counted)
            if cached is not None:
                return cached.user, claims.scopes, session_id
            await limiter.check(budget, Bucket.API, address)
            user = await _load_bearer(user_id, session_id, services)
            if user is not None:
                if counted is None:
                    await limiter.hit(budget, Bucket.API, f"user:{user_id}")
                return user, claims.scopes, session_id
    elif api_key is not None and accept_api_key:
        await limiter.check(budget, Bucket.API, address)
        grant = await services.api_keys.find_valid(api_key)
        if grant is not None:
            await limiter.hit(budget, Bucket.API, f"user:{grant.user.id}")
            return grant.user, grant.scopes, None
    await limiter.hit(budget, Bucket.API, address)
    if token is None and api_key is not None and not accept_api_key:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="This endpoint needs a bearer token, not an API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raise _unauthorized(security_scopes)


async def _authenticate(
    request: Request, security_scopes: SecurityScopes, *, accept_api_key: bool
) -> Principal:
    services: Services = request.app.state.services
    user, granted, session_id = await _identify(
        request, services, security_scopes, accept_api_key=accept_api_key
    )
    request.state.user_id = str(user.id)
    _check_csrf(request, services, session_id)
    if not user.is_active:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Inactive user")
    scopes = granted & ROLE_SCOPES[user.role]
    missing = set(security_scopes.scopes) - scopes
    if missing:
        if "admin" in missing:
            await _note_admin_denial(services, user, client_address(request))
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"Not enough permissions: requires scope {' '.join(sorted(missing))}",
            headers={
                "WWW-Authenticate": f'Bearer scope="{security_scopes.scope_str}", '
                'error="insufficient_scope"'
            },
        )
    return Principal(user=user, scopes=scopes, session_id=session_id)


@answers(*AUTHENTICATION_ERRORS)
async def authorize(request: Request, security_scopes: SecurityScopes) -> Principal:
    """The caller, by bearer token, `X-API-Key` or session cookie, holding every scope the
    route requires.

    The one dependency a protected route declares, on purpose: each dependency FastAPI
    resolves costs about as much as the rest of a cached request. So it reads its headers
    itself, and counts the request against RATE_LIMIT_DEFAULT too. The OpenAPI document
    learns of the two schemes from openapi.py.
    """
    return await _authenticate(request, security_scopes, accept_api_key=True)


@answers(*AUTHENTICATION_ERRORS)
async def authorize_bearer(request: Request, security_scopes: SecurityScopes) -> Principal:
    """For what an API key must not do: log out, change the password, manage keys."""
    return await _authenticate(request, security_scopes, accept_api_key=False)


async def _note_admin_denial(services: Services, user: UserSnapshot, client: str) -> None:
    # Any user can repeat this at will: a row a minute per user at most, the log has all.
    async with services.sessionmaker() as db:
        await record_limited(
            db,
            services.limiter,
            Event.ADMIN_ACCESS_DENIED,
            subject=f"user:{user.id}",
            user_id=user.id,
            client=client,
        )
        await db.commit()
    if not await services.limiter.count(ADMIN_DENIALS_ALERT, Bucket.ADMIN_DENIALS, client):
        security_event("repeated_admin_denials", user_id=str(user.id), client=client)


# What each route declares about its caller.
BearerPrincipal = Annotated[Principal, Security(authorize_bearer)]
UsersReader = Annotated[Principal, Security(authorize, scopes=["users:read"])]
UsersWriter = Annotated[Principal, Security(authorize, scopes=["users:write"])]
# The account's own credentials and its very existence: a user's login sessions, like
# their API keys, are not for an API key to see or end, nor is closing the account.
AccountReader = Annotated[Principal, Security(authorize_bearer, scopes=["users:read"])]
AccountWriter = Annotated[Principal, Security(authorize_bearer, scopes=["users:write"])]
Admin = Annotated[Principal, Security(authorize, scopes=["admin"])]
