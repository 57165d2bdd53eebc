"""Every change to an account's security, each behind one re-authentication.

Changing the password or the email address, turning two-factor authentication on or
off, closing the account, and an admin's two-factor reset: the routes are here, together,
so that each visibly calls `reauthenticate` (account/reauthentication.py) first.
"""

import uuid

from fastapi import APIRouter, BackgroundTasks, status

from ..access.dependencies import AccountAdmin, AccountWriter, BearerPrincipal, UsersWriter
from ..errors import ConflictError, error_responses
from ..mfa import service as mfa_service
from ..mfa.schemas import TotpDisable, TotpSetup, TotpSetupRequest
from ..security_mail import Notice, SecurityMailDep
from ..services import DbDep, ServicesDep
from ..users import service as users_service
from ..users.mailed_links import AccountMailDep
from ..users.schemas import PasswordChange, UserPublic, UserUpdateMe
from . import service
from .reauthentication import reauthenticate
from .schemas import AccountDeletion, TwoFactorReset

router = APIRouter()
OWN_RESET = "Use POST /users/me/mfa/totp/disable to turn off your own two-factor authentication"


@router.patch("/users/me", tags=["users"], responses=error_responses(400, 409))
async def update_me(
    data: UserUpdateMe,
    principal: UsersWriter,
    services: ServicesDep,
    mail: AccountMailDep,
    db: DbDep,
    background: BackgroundTasks,
) -> UserPublic:
    """Change the profile. A new email address needs a bearer token or cookie session,
    `current_password`, and `code` with two-factor authentication on; it gets a
    verification link, and the old address is told of the change."""
    if data.email is not None:
        # The address is where password resets go: whoever holds a stolen token or key
        # must not be able to point it elsewhere.
        await reauthenticate(
            db, services, principal, current_password=data.current_password or "", code=data.code
        )
    user, old_email = await users_service.update_me(
        db, services.principals, principal.user.id, data
    )
    if old_email is not None:
        background.add_task(mail.announce_email_change, user.snapshot(), old_email)
    return UserPublic.model_validate(user)


@router.post(
    "/users/me/password",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400),
)
async def change_password(
    data: PasswordChange,
    principal: BearerPrincipal,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Set a new password, with `current_password` and, with two-factor authentication
    on, `code`; every other login of this user ends. API keys stay."""
    await reauthenticate(
        db, services, principal, current_password=data.current_password, code=data.code
    )
    await users_service.change_password(
        db,
        services.passwords,
        services.principals,
        principal.user.id,
        new_password=data.new_password,
        keep_session=principal.login_session_id,
    )
    security_mail.queue(Notice.PASSWORD_CHANGED, principal.user)


@router.delete(
    "/users/me",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 409),
)
async def close_account(
    data: AccountDeletion,
    principal: AccountWriter,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Delete your account with everything it owns: needs `current_password`, and `code`
    (TOTP or recovery) with two-factor authentication on. Every login and API key of it
    stops working at once. The last active admin cannot close their account (409)."""
    await reauthenticate(
        db, services, principal, current_password=data.current_password, code=data.code
    )
    await service.close_account(db, services.principals, principal.user.id)
    # To the address the account had: `principal.user` was read before the deletion.
    security_mail.queue(Notice.ACCOUNT_DELETED, principal.user)


# 400 a wrong password or code; 409 two-factor is already on, or not on.
TWO_FACTOR_ERRORS = error_responses(400, 409)


@router.post("/users/me/mfa/totp", tags=["users"], responses=TWO_FACTOR_ERRORS)
async def start_totp_setup(
    data: TotpSetupRequest, principal: AccountWriter, services: ServicesDep, db: DbDep
) -> TotpSetup:
    """A new TOTP secret to add to an authenticator app; not in force until confirmed.
    Replaces one that was never confirmed."""
    if principal.user.mfa_enabled:
        # Said before the password is asked for: with two-factor on there is no setup.
        raise ConflictError(mfa_service.ALREADY_ON)
    await reauthenticate(db, services, principal, current_password=data.current_password, code=None)
    secret, uri = await mfa_service.start_setup(
        db, services.totp_secrets, principal.user.id, issuer=services.settings.PROJECT_NAME
    )
    return TotpSetup(secret=secret, otpauth_uri=uri)


@router.post(
    "/users/me/mfa/totp/disable",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=TWO_FACTOR_ERRORS,
)
async def disable_totp(
    data: TotpDisable,
    principal: AccountWriter,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Turn two-factor authentication off, with the password and a TOTP or recovery code."""
    await reauthenticate(
        db, services, principal, current_password=data.current_password, code=data.code
    )
    await mfa_service.disable(db, services.principals, principal.user.id)
    security_mail.queue(Notice.MFA_DISABLED, principal.user)


@router.delete(
    "/admin/users/{user_id}/mfa",
    tags=["admin"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 404, 409),
)
async def reset_mfa(
    user_id: uuid.UUID,
    data: TwoFactorReset,
    principal: AccountAdmin,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Turn a user's two-factor authentication off (a lost device); their logins end.
    Needs the admin's own `current_password`, and `code` when the admin has two-factor
    on; a bearer token or cookie session, not an API key. Not for the admin's own
    account (409): that is what turning it off with a code is for."""
    if user_id == principal.user.id:
        raise ConflictError(OWN_RESET)
    await reauthenticate(
        db, services, principal, current_password=data.current_password, code=data.code
    )
    user = await mfa_service.reset(db, services.principals, user_id, actor_id=principal.user.id)
    security_mail.queue(Notice.MFA_RESET, user)
