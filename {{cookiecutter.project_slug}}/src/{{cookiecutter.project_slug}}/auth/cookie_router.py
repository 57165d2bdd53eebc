"""Browser sessions: the login, refresh and logout of /auth, with the tokens in cookies.

The same login checks, limits and session machinery as /auth/token and /auth/refresh;
only where the tokens travel differs. No token is ever in a body a script can read.
"""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm, SecurityScopes
from pydantic import BaseModel

from ..access.dependencies import AUTHENTICATION_ERRORS, authorize_bearer
from ..access.transports import check_cookie_origin, refuse_cross_site, refuse_duplicate_cookies
from ..errors import answers, error_responses
from ..security.clients import client_address, client_details
from ..security.cookies import CSRF_HEADER, CookiePolicy
from ..services import DbDep, Services, ServicesDep
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.binding import membership_for_login
from . import service
from .schemas import OrganizationField, OrganizationSwitch, OtpField, TokenPair
{%- else %}
from . import service
from .schemas import OtpField, TokenPair
{%- endif %}
from .sessions import LoginSessionsDep
from .throttling import limit_refresh, limit_unauthenticated, shed_when_hashing_is_full

CSRF_REFUSED = "CSRF token missing or invalid"


class CookieSession(BaseModel):
    token_type: Literal["cookie"] = "cookie"  # noqa: S105  # nosec B105 - a kind, not a secret
    expires_in: int
    scope: str
    # Send it back as X-CSRF-Token with every POST, PUT, PATCH and DELETE.
    csrf_token: str


@answers(403, 404)
async def cookie_policy(request: Request, services: ServicesDep) -> CookiePolicy:
    """The cookie policy, once the request's origin passed it; 404 when sessions are off.

    A login sent by another site's page (`Sec-Fetch-Site: cross-site`) is refused too:
    it would log the browser in to whatever account that page chose."""
    if services.cookies is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Cookie sessions are disabled")
    refuse_cross_site(request)
    check_cookie_origin(request, services.cookies)
    return services.cookies


CookiePolicyDep = Annotated[CookiePolicy, Depends(cookie_policy)]
# The router's dependencies run before each route's: a request another site sent is
# refused before it is counted against the login and refresh limits of its address, which
# a page open in the victim's browser could otherwise spend at will.
router = APIRouter(prefix="/auth/cookie", tags=["auth"], dependencies=[Depends(cookie_policy)])


@answers(401, 403, 404)
async def session_cookie_policy(request: Request, policy: CookiePolicyDep) -> CookiePolicy:
    """`cookie_policy` for a request that reads the session's cookies: 401 if one of
    their names comes twice (access/transports.py)."""
    refuse_duplicate_cookies(request, policy)
    return policy


SessionCookiePolicyDep = Annotated[CookiePolicy, Depends(session_cookie_policy)]


def start_cookie_session(
    response: Response, services: Services, policy: CookiePolicy, pair: TokenPair
) -> CookieSession:
    """Set the three cookies for `pair`; the answer holds the CSRF token, no token."""
    session_id = services.tokens.decode_access_token(pair.access_token).session_id
    csrf_token = services.csrf.token_for(uuid.UUID(session_id))
    session_seconds = services.settings.REFRESH_TOKEN_EXPIRE_DAYS * 24 * 3600
    for cookie, value, max_age in (
        (policy.access, pair.access_token, pair.expires_in),
        (policy.refresh, pair.refresh_token, session_seconds),
        (policy.csrf, csrf_token, session_seconds),
    ):
        # No `domain`: host-only, so no sibling subdomain ever receives them.
        response.set_cookie(
            cookie.name,
            value,
            max_age=max_age,
            path=cookie.path,
            secure=policy.secure,
            httponly=cookie.http_only,
            samesite=cookie.same_site,
        )
    return CookieSession(expires_in=pair.expires_in, scope=pair.scope, csrf_token=csrf_token)


def _end(response: Response, policy: CookiePolicy) -> None:
    for cookie in (policy.access, policy.refresh, policy.csrf):
        response.delete_cookie(
            cookie.name,
            path=cookie.path,
            secure=policy.secure,
            httponly=cookie.http_only,
            samesite=cookie.same_site,
        )


@router.post(
    "/login",
    dependencies=[Depends(shed_when_hashing_is_full), Depends(limit_unauthenticated)],
    responses=service.LOGIN_ERRORS,
)
async def cookie_login(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    policy: CookiePolicyDep,
    services: ServicesDep,
    sessions: LoginSessionsDep,
    db: DbDep,
    otp: OtpField = None,
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization: OrganizationField = None,
{%- endif %}
) -> CookieSession:
    """The /auth/token form, `otp` included; the tokens come back as HttpOnly cookies."""
    user = await service.log_in(
        db,
        services.passwords,
        services.totp_secrets,
        login=form.username,
        password=form.password,
        otp=otp,
        client=client_address(request),
        require_verified_email=services.settings.REQUIRE_VERIFIED_EMAIL,
    )
{%- if cookiecutter.multi_tenancy == "yes" %}
    membership = await membership_for_login(db, user.id, organization)
    pair = await sessions.open(
        db, user, frozenset(form.scopes), client_details(request), membership
    )
{%- else %}
    pair = await sessions.open(db, user, frozenset(form.scopes), client_details(request))
{%- endif %}
    return start_cookie_session(response, services, policy, pair)


@router.post("/refresh", dependencies=[Depends(limit_refresh)], responses=error_responses(401, 403))
async def cookie_refresh(
    request: Request,
    response: Response,
    policy: SessionCookiePolicyDep,
    services: ServicesDep,
    sessions: LoginSessionsDep,
    db: DbDep,
{%- if cookiecutter.multi_tenancy == "yes" %}
    switch: OrganizationSwitch | None = None,
{%- endif %}
) -> CookieSession:
    """Rotate the session's cookies, like /auth/refresh; needs X-CSRF-Token.{% if cookiecutter.multi_tenancy == "yes" %} A body
    `{"organization_id": ...}` switches the session to that organization.{% endif %}"""
    refresh_token = request.cookies.get(policy.refresh.name)
    if not refresh_token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Invalid refresh token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    presented = request.headers.get(CSRF_HEADER)

    def check_csrf(session_id: uuid.UUID) -> None:
        if not services.csrf.matches(session_id, presented):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_REFUSED){%- if cookiecutter.multi_tenancy == "yes" %}

    pair = await sessions.refresh(
        db,
        refresh_token,
        check_session=check_csrf,
        switch_to=switch.organization_id if switch is not None else None,
    )
{%- else %}

    pair = await sessions.refresh(db, refresh_token, check_session=check_csrf)
{%- endif %}
    return start_cookie_session(response, services, policy, pair)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(limit_refresh)],
    responses=error_responses(*AUTHENTICATION_ERRORS),
)
async def cookie_logout(
    request: Request,
    policy: SessionCookiePolicyDep,
    services: ServicesDep,
    sessions: LoginSessionsDep,
    db: DbDep,
) -> Response:
    """End this browser session: it is revoked and its cookies expire; needs X-CSRF-Token.

    The refresh cookie names the session, so a logout works after the access cookie's
    few minutes are over; without one, the access cookie (or a bearer token) does.
    """
    refresh_token = request.cookies.get(policy.refresh.name)
    if refresh_token:
        user_id, session_id = await sessions.find_by_refresh_token(db, refresh_token)
        if not services.csrf.matches(session_id, request.headers.get(CSRF_HEADER)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_REFUSED)
    else:
        principal = await authorize_bearer(request, SecurityScopes())
        user_id, session_id = principal.user.id, principal.login_session_id
    await sessions.end(db, user_id, session_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _end(response, policy)
    return response
