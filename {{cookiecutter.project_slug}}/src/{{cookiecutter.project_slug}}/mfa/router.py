"""The caller's own two-factor authentication. A bearer token or a cookie session only:
an API key cannot turn it on or off."""

from fastapi import APIRouter, status

from ..access.dependencies import AccountWriter
from ..errors import error_responses
from ..security_mail import Notice, SecurityMailDep
from ..state import DbDep, ServicesDep
from . import service
from .schemas import RecoveryCodes, TotpConfirm, TotpDisable, TotpSetup, TotpSetupRequest

router = APIRouter(prefix="/users/me/mfa", tags=["users"])
# 400 a wrong password or code; 409 two-factor is already on, or not on.
CHANGE_ERRORS = error_responses(400, 409)


@router.post("/totp", responses=CHANGE_ERRORS)
async def start_totp_setup(
    data: TotpSetupRequest, principal: AccountWriter, services: ServicesDep, db: DbDep
) -> TotpSetup:
    """A new TOTP secret to add to an authenticator app; not in force until confirmed.
    Replaces one that was never confirmed."""
    secret, uri = await service.start_setup(
        db,
        services.passwords,
        services.totp_secrets,
        principal.user.id,
        current_password=data.current_password,
        issuer=services.settings.PROJECT_NAME,
    )
    return TotpSetup(secret=secret, otpauth_uri=uri)


@router.post("/totp/confirm", responses=CHANGE_ERRORS)
async def confirm_totp(
    data: TotpConfirm,
    principal: AccountWriter,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> RecoveryCodes:
    """Turn two-factor authentication on with a current code; every other login of this
    user ends. The recovery codes are shown this once."""
    codes = await service.confirm_setup(
        db,
        services.totp_secrets,
        services.limiter,
        services.principals,
        principal.user.id,
        code=data.code,
        keep_session=principal.login_session_id,
    )
    security_mail.queue(Notice.MFA_ENABLED, principal.user)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/totp/disable", status_code=status.HTTP_204_NO_CONTENT, responses=CHANGE_ERRORS)
async def disable_totp(
    data: TotpDisable,
    principal: AccountWriter,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Turn two-factor authentication off, with the password and a TOTP or recovery code."""
    await service.disable(
        db,
        services.passwords,
        services.totp_secrets,
        services.principals,
        principal.user.id,
        current_password=data.current_password,
        code=data.code,
    )
    security_mail.queue(Notice.MFA_DISABLED, principal.user)
