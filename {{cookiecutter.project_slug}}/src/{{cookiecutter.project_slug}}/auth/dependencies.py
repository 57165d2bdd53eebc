"""Who is calling: the dependencies every protected route declares.

A token only says who the caller was when it was issued. Each request loads the user and
the login session in one query, so a deactivation, a role change or a revoked session
counts from the next request on, and the token's scopes are cut to what the user's
current role allows.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
from sqlalchemy import select

from ..db import utcnow
from ..security.events import security_event
from ..security.rate_limit import parse_limit
from ..security.scopes import ROLE_SCOPES, SCOPE_DESCRIPTIONS, Role
from ..security.throttling import client_address
from ..security.tokens import InvalidTokenError
from ..state import Services, ServicesDep, SessionDep
from ..users.models import User, UserSession

# A path, not a secret.
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105  # nosec B105

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL, scopes=SCOPE_DESCRIPTIONS, auto_error=False
)


# More admin-route denials than this from one address is worth a security event.
ADMIN_DENIALS_ALERT = parse_limit("5/10minutes")


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session_id: uuid.UUID
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


async def get_principal(
    request: Request,
    security_scopes: SecurityScopes,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    services: ServicesDep,
    session: SessionDep,
) -> Principal:
    if token is None:
        raise _unauthorized(security_scopes)
    try:
        claims = services.tokens.decode_access_token(token)
        user_id, session_id = uuid.UUID(claims.subject), uuid.UUID(claims.session_id)
    except (InvalidTokenError, ValueError) as exc:
        raise _unauthorized(security_scopes) from exc
    user = await session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == user_id,
            UserSession.id == session_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
        )
    )
    if user is None:
        raise _unauthorized(security_scopes)
    request.state.user_id = str(user.id)
    if not user.is_active:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Inactive user")
    scopes = claims.scopes & ROLE_SCOPES[Role(user.role)]
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
    return Principal(user=user, session_id=session_id, scopes=scopes)


async def _note_admin_denial(services: Services, user: User, client: str) -> None:
    security_event("admin_access_denied", user_id=str(user.id), client=client)
    if not await services.limiter.count(ADMIN_DENIALS_ALERT, "admin-denials", client):
        security_event("repeated_admin_denials", user_id=str(user.id), client=client)


# What each route declares about its caller.
CurrentPrincipal = Annotated[Principal, Security(get_principal)]
UsersReader = Annotated[Principal, Security(get_principal, scopes=["users:read"])]
UsersWriter = Annotated[Principal, Security(get_principal, scopes=["users:write"])]
ItemsReader = Annotated[Principal, Security(get_principal, scopes=["items:read"])]
ItemsWriter = Annotated[Principal, Security(get_principal, scopes=["items:write"])]
Admin = Annotated[Principal, Security(get_principal, scopes=["admin"])]
