"""What a request must satisfy once its caller is known: the CSRF token of a cookie
session's unsafe request, an active user, and the scopes the route requires."""

import uuid

from fastapi import HTTPException, Request, status
from fastapi.security import SecurityScopes

from ..audit.trail import Event, record_limited
from ..security.clients import client_address
from ..security.cookies import CSRF_HEADER, UNSAFE_METHODS
from ..security.events import security_event
from ..security.identity import UserSnapshot
from ..security.rate_limit import Bucket, parse_limit
from ..security.scopes import {% if cookiecutter.multi_tenancy == "yes" %}allowed_scopes{% else %}ROLE_SCOPES{% endif %}
from ..services import Services
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.scoping import current_organization
{%- endif %}
from .principal import Identity, Principal

# More admin-route denials than this from one address is worth a security event.
ADMIN_DENIALS_ALERT = parse_limit("5/10minutes")


async def admit(
    request: Request, services: Services, identity: Identity, security_scopes: SecurityScopes
) -> Principal:
    """The principal of `identity`, if this request may go on: 403 otherwise."""
    request.state.user_id = str(identity.user.id)
    check_csrf(request, services, identity.session_id)
    user = identity.user
    if not user.is_active:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Inactive user")
{%- if cookiecutter.multi_tenancy == "yes" %}
    membership = identity.membership
    scopes = identity.scopes & allowed_scopes(
        user.role, membership.role if membership is not None else None
    )
{%- else %}
    scopes = identity.scopes & ROLE_SCOPES[user.role]
{%- endif %}
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
{%- if cookiecutter.multi_tenancy == "yes" %}
    # Every query of the request is scoped to it from here on (tenancy/scoping.py).
    current_organization.set(membership.organization_id if membership is not None else None)
    return Principal(
        user=user, scopes=scopes, session_id=identity.session_id, membership=membership
    )
{%- else %}
    return Principal(user=user, scopes=scopes, session_id=identity.session_id)
{%- endif %}


def check_csrf(request: Request, services: Services, session_id: uuid.UUID | None) -> None:
    """403 unless a cookie session's unsafe request shows the session's CSRF token."""
    # Cheapest test first: most requests are reads.
    if request.method not in UNSAFE_METHODS or not getattr(request.state, "cookie_session", False):
        return
    presented = request.headers.get(CSRF_HEADER)
    if session_id is None or not services.csrf.matches(session_id, presented):
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN, detail="CSRF token missing or invalid"
        )


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
