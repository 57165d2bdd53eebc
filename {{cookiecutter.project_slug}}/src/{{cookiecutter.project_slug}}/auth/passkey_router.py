"""Logging in with a passkey: options, then the assertion, answered like a password
login (`/auth/token`, or `/auth/cookie/login` for the cookie variant), through the same
checks, limits and login sessions. Limited like login: RATE_LIMIT_LOGIN per address."""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..passkeys import ceremonies, challenges
from ..passkeys.ceremonies import RelyingParty
from ..passkeys.challenges import Ceremony
from ..passkeys.dependencies import RelyingPartyDep
from ..passkeys.schemas import PasskeyLogin
from ..security.clients import client_address, client_details
from ..services import DbDep, Services, ServicesDep
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.binding import membership_for_login
{%- endif %}
from .cookie_router import CookiePolicyDep, CookieSession, cookie_policy, start_cookie_session
from .passkey_login import log_in_with_passkey
from .schemas import TokenPair
from .service import LOGIN_ERRORS
from .sessions import LoginSessions, LoginSessionsDep
from .throttling import limit_unauthenticated

anonymous = [Depends(limit_unauthenticated)]
router = APIRouter(prefix="/auth/passkey", tags=["auth"], dependencies=anonymous)
# The cookie variant sits with the other cookie logins, behind the same origin checks.
cookie_router = APIRouter(
    prefix="/auth/cookie", tags=["auth"], dependencies=[Depends(cookie_policy), *anonymous]
)


@router.post("/options")
async def login_options(party: RelyingPartyDep, db: DbDep) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptionsJSON` for `parseRequestOptionsFromJSON`: naming
    no user and no credential, so it tells nobody which accounts exist."""
    options, challenge = ceremonies.authentication_options(party)
    await challenges.issue(db, challenge, Ceremony.LOGIN)
    return options


async def _log_in(
    request: Request,
    data: PasskeyLogin,
    party: RelyingParty,
    services: Services,
    sessions: LoginSessions,
    db: AsyncSession,
) -> TokenPair:
    """The login both answers share: the assertion checked, then a login session opened."""
    user = await log_in_with_passkey(
        db,
        services.limiter,
        party,
        credential=data.credential,
        client=client_address(request),
        require_verified_email=services.settings.REQUIRE_VERIFIED_EMAIL,
    )
{%- if cookiecutter.multi_tenancy == "yes" %}
    membership = await membership_for_login(db, user.id, data.organization)
    return await sessions.open(db, user, frozenset(), client_details(request), membership)
{%- else %}
    return await sessions.open(db, user, frozenset(), client_details(request))
{%- endif %}


@router.post("/token", responses=LOGIN_ERRORS)
async def passkey_login(
    request: Request,
    data: PasskeyLogin,
    party: RelyingPartyDep,
    services: ServicesDep,
    sessions: LoginSessionsDep,
    db: DbDep,
) -> TokenPair:
    """The `/auth/token` answer for the browser's `credential.toJSON()` of an assertion
    made from /auth/passkey/options; no two-factor code is asked for."""
    return await _log_in(request, data, party, services, sessions, db)


@cookie_router.post("/passkey", responses=LOGIN_ERRORS)
async def cookie_passkey_login(
    request: Request,
    response: Response,
    data: PasskeyLogin,
    policy: CookiePolicyDep,
    party: RelyingPartyDep,
    services: ServicesDep,
    sessions: LoginSessionsDep,
    db: DbDep,
) -> CookieSession:
    """/auth/passkey/token, with the tokens in HttpOnly cookies as /auth/cookie/login sets them."""
    pair = await _log_in(request, data, party, services, sessions, db)
    return start_cookie_session(response, services, policy, pair)
