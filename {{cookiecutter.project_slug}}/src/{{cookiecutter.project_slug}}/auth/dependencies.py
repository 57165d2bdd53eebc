"""Who is calling: the dependencies every protected route declares.

A credential only says who the caller was when it was issued. A request loads the user
with the login session (bearer token) or the API key, so a deactivation, a role change,
a logout or a revoked key counts from the next request on, and the credential's scopes
are cut to what the user's current role allows. Bearer callers come from the principal
cache when nothing about them changed since (see principal_cache.py).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import SecurityScopes
from sqlalchemy import or_, select, update

from ..api_keys.models import ApiKey
from ..db import utcnow
from ..security.events import security_event
from ..security.rate_limit import parse_limit
from ..security.request_claims import access_claims
from ..security.scopes import ROLE_SCOPES, parse_scope
from ..security.throttling import caller_key, client_address
from ..security.tokens import InvalidTokenError
from ..state import Services
from ..users.identity import UserSnapshot
from ..users.models import User, UserSession
from .service import hash_secret_token

# A path, not a secret.
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105  # nosec B105
API_KEY_HEADER = "X-API-Key"
MAX_API_KEY_LENGTH = 128
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)
# More admin-route denials than this from one address is worth a security event.
ADMIN_DENIALS_ALERT = parse_limit("5/10minutes")


@dataclass(frozen=True, slots=True)
class Principal:
    user: UserSnapshot
    scopes: frozenset[str]
    # The login session of a bearer token; None when an API key authenticated the call.
    session_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class BearerSession:
    """A caller who presented a bearer token (not an API key), and their login session."""

    user: UserSnapshot
    session_id: uuid.UUID
    # What the token may do now: its scopes, cut to the user's current role.
    scopes: frozenset[str]


def _unauthorized(security_scopes: SecurityScopes) -> HTTPException:
    challenge = "Bearer"
    if security_scopes.scopes:
        challenge = f'Bearer scope="{security_scopes.scope_str}"'
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": challenge},
    )


async def _from_bearer(
    request: Request, token: str, services: Services
) -> tuple[UserSnapshot, frozenset[str], uuid.UUID] | None:
    try:
        claims = access_claims(request, services.tokens, token)
        user_id, session_id = uuid.UUID(claims.subject), uuid.UUID(claims.session_id)
    except (InvalidTokenError, ValueError):
        return None
    cached = await services.principals.get(session_id, user_id)
    if cached is not None:
        return cached.user, claims.scopes, session_id
    version = await services.principals.versions.get(user_id)
    async with services.sessionmaker() as session:
        row = (
            await session.execute(
                select(User, UserSession.expires_at)
                .join(UserSession, UserSession.user_id == User.id)
                .where(
                    User.id == user_id,
                    UserSession.id == session_id,
                    UserSession.revoked_at.is_(None),
                    UserSession.expires_at > utcnow(),
                )
            )
        ).one_or_none()
    if row is None:
        return None
    user, session_expires_at = row
    snapshot = UserSnapshot.of(user)
    services.principals.put(
        session_id, snapshot, version=version, session_expires_at=session_expires_at.timestamp()
    )
    return snapshot, claims.scopes, session_id


async def _from_api_key(key: str, services: Services) -> tuple[UserSnapshot, frozenset[str]] | None:
    if len(key) > MAX_API_KEY_LENGTH:
        return None
    now = utcnow()
    async with services.sessionmaker() as session:
        row = (
            await session.execute(
                select(User, ApiKey)
                .join(ApiKey, ApiKey.user_id == User.id)
                .where(
                    ApiKey.key_hash == hash_secret_token(key),
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        user, api_key = row
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_PRECISION:
            await session.execute(
                update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)
            )
            await session.commit()
        return UserSnapshot.of(user), parse_scope(api_key.scope)


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _authenticate(
    request: Request, security_scopes: SecurityScopes, *, accept_api_key: bool
) -> Principal:
    services: Services = request.app.state.services
    token = _bearer_token(request)
    api_key = request.headers.get(API_KEY_HEADER)
    limiter = services.limiter
    # RATE_LIMIT_DEFAULT, counted here: every API route but /auth and /health is protected.
    # A token names its user without a lookup. A key is only known after one, so the
    # address's budget must have room first, and a key that fails is charged to it:
    # random keys cannot buy fresh budgets.
    caller = caller_key(request, services.tokens, token)
    if token is None and api_key is not None:
        await limiter.check(limiter.default, "api", caller)
    else:
        await limiter.hit(limiter.default, "api", caller)
    session_id: uuid.UUID | None = None
    if token is not None:
        found = await _from_bearer(request, token, services)
        if found is None:
            raise _unauthorized(security_scopes)
        user, granted, session_id = found
    elif api_key is not None and accept_api_key:
        by_key = await _from_api_key(api_key, services)
        if by_key is None:
            await limiter.hit(limiter.default, "api", caller)
            raise _unauthorized(security_scopes)
        user, granted = by_key
        await limiter.hit(limiter.default, "api", f"user:{user.id}")
    elif api_key is not None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="This endpoint needs a bearer token, not an API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        raise _unauthorized(security_scopes)
    request.state.user_id = str(user.id)
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


async def authorize(request: Request, security_scopes: SecurityScopes) -> Principal:
    """The caller, by bearer token or `X-API-Key`, holding every scope the route requires.

    The one dependency a protected route declares, on purpose: each dependency FastAPI
    resolves costs about as much as the rest of a cached request. So it reads its headers
    itself, and counts the request against RATE_LIMIT_DEFAULT too. The OpenAPI document
    learns of the two schemes from openapi.py.
    """
    return await _authenticate(request, security_scopes, accept_api_key=True)


async def authorize_bearer(request: Request, security_scopes: SecurityScopes) -> BearerSession:
    """For what an API key must not do: log out, change the password, manage keys."""
    principal = await _authenticate(request, security_scopes, accept_api_key=False)
    if principal.session_id is None:  # unreachable: API keys were refused above
        raise _unauthorized(security_scopes)
    return BearerSession(
        user=principal.user, session_id=principal.session_id, scopes=principal.scopes
    )


async def _note_admin_denial(services: Services, user: UserSnapshot, client: str) -> None:
    security_event("admin_access_denied", user_id=str(user.id), client=client)
    if not await services.limiter.count(ADMIN_DENIALS_ALERT, "admin-denials", client):
        security_event("repeated_admin_denials", user_id=str(user.id), client=client)


# What each route declares about its caller.
BearerPrincipal = Annotated[BearerSession, Security(authorize_bearer)]
UsersReader = Annotated[Principal, Security(authorize, scopes=["users:read"])]
UsersWriter = Annotated[Principal, Security(authorize, scopes=["users:write"])]
ItemsReader = Annotated[Principal, Security(authorize, scopes=["items:read"])]
ItemsWriter = Annotated[Principal, Security(authorize, scopes=["items:write"])]
Admin = Annotated[Principal, Security(authorize, scopes=["admin"])]
