"""Re-authentication: what a change to an account's security takes, stated once.
{%- if cookiecutter.passkeys == "yes" %}

Changing the password or the email address, turning two-factor authentication on or
off, closing the account, starting a passkey's registration, removing a passkey, and an
admin resetting someone's two-factor authentication all take:
{%- else %}

Changing the password or the email address, turning two-factor authentication on or
off, closing the account, and an admin resetting someone's two-factor authentication
all take:
{%- endif %}

- a bearer token or a cookie session, never an API key: a key lives in scripts and
  outlives the login it was made from, so holding one proves nothing about a person;
- the caller's password, counted against RATE_LIMIT_LOGIN before it is checked;
- with two-factor authentication on, a code (TOTP or recovery), which is spent, and
  counted against the cap on wrong codes before it is checked.
{%- if cookiecutter.passkeys == "yes" %}

Every route of such a change is in account/router.py (a passkey's in
account/passkeys_router.py) and calls `reauthenticate` before its change. A wrong
password or code is an audit event, `reauthentication_failed` naming
{%- else %}

Every route of such a change is in account/router.py and calls `reauthenticate` before
its change. A wrong password or code is an audit event, `reauthentication_failed` naming
{%- endif %}
the factor that failed (never what was sent), bounded per account like failed logins.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from ..access.principal import Principal
from ..audit.trail import Event, record_limited
from ..db import release_connection
from ..errors import AppError, ForbiddenError
from ..mfa.service import CodeRefusedError, spend_code
from ..security.rate_limit import Bucket
from ..services import Services
from ..users.models import User
from ..users.service import get_user

WRONG_PASSWORD = "Current password is incorrect"  # noqa: S105  # nosec B105
CODE_REQUIRED = "MFA code required"
NOT_WITH_AN_API_KEY = "This change needs a bearer token or cookie session, not an API key"


async def reauthenticate(
    db: AsyncSession,
    services: Services,
    principal: Principal,
    *,
    current_password: str,
    code: str | None,
) -> User:
    """The caller's user, once they proved again that they are: a login session, the
    password, and with two-factor authentication on, a code. 403 for an API key; 400
    for a wrong password, a missing or wrong code."""
    if principal.session_id is None:
        raise ForbiddenError(NOT_WITH_AN_API_KEY)
    user = await get_user(db, principal.user.id)
    # The hash runs with no transaction open; the guess is counted before it runs.
    await release_connection(db)
    ok, _ = await services.passwords.check(
        Bucket.REAUTH, str(user.id), current_password, user.hashed_password
    )
    if not ok:
        await _failed(db, services, user, "password")
        raise AppError(WRONG_PASSWORD)
    if not user.mfa_enabled:
        return user
    if not code:
        raise AppError(CODE_REQUIRED)
    try:
        await spend_code(db, services.totp_secrets, user.id, code)
    except CodeRefusedError as refused:
        await _failed(db, services, user, "code")
        raise AppError(str(refused)) from None
    return user


async def _failed(db: AsyncSession, services: Services, user: User, factor: str) -> None:
    # Whoever sends these holds a session of the account: a row a minute per account at
    # most, every one in the log.
    await record_limited(
        db,
        services.limiter,
        Event.REAUTHENTICATION_FAILED,
        subject=f"user:{user.id}",
        user_id=user.id,
        factor=factor,
    )
    await db.commit()
