"""The caller's own two-factor authentication. A bearer token or a cookie session only:
an API key cannot turn it on or off. Starting a setup and turning it off re-authenticate
the caller, and are in account/router.py with every such change."""

from fastapi import APIRouter

from ..access.dependencies import AccountWriter
from ..errors import error_responses
from ..security_mail import Notice, SecurityMailDep
from ..services import DbDep, ServicesDep
from . import service
from .schemas import RecoveryCodes, TotpConfirm

router = APIRouter(prefix="/users/me/mfa", tags=["users"])
# 400 a wrong code; 409 two-factor is already on.
CHANGE_ERRORS = error_responses(400, 409)


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
