"""The caller's own account as a whole. A bearer token or a cookie session only: an API
key cannot close the account it belongs to."""

from fastapi import APIRouter, status

from ..access.dependencies import AccountWriter
from ..errors import error_responses
from ..security_mail import Notice, SecurityMailDep
from ..state import DbDep, ServicesDep
from . import service
from .schemas import AccountDeletion

router = APIRouter(prefix="/users/me", tags=["users"])


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(400, 409))
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
    await service.close_account(
        db,
        services.passwords,
        services.totp_secrets,
        services.principals,
        principal.user.id,
        current_password=data.current_password,
        code=data.code,
    )
    # To the address the account had: `principal.user` was read before the deletion.
    security_mail.queue(Notice.ACCOUNT_DELETED, principal.user)
