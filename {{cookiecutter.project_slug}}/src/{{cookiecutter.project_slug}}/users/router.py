from fastapi import APIRouter, BackgroundTasks, status

from ..access.dependencies import BearerPrincipal, UsersReader, UsersWriter
from ..errors import error_responses
from ..security_mail import Notice, SecurityMailDep
from ..state import DbDep, ServicesDep
from . import service
from .account_links import AccountMailDep
from .schemas import PasswordChange, UserPublic, UserUpdateMe

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(principal: UsersReader) -> UserPublic:
    return UserPublic.model_validate(principal.user)


@router.patch("/me", responses=error_responses(400, 409))
async def update_me(
    data: UserUpdateMe,
    principal: UsersWriter,
    services: ServicesDep,
    mail: AccountMailDep,
    db: DbDep,
    background: BackgroundTasks,
) -> UserPublic:
    """Change the profile. A new email address needs `current_password`; it gets a
    verification link, and the old address is told of the change."""
    user, old_email = await service.update_me(
        db, services.passwords, services.principals, principal.user.id, data
    )
    if old_email is not None:
        background.add_task(mail.announce_email_change, user.snapshot(), old_email)
    return UserPublic.model_validate(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(400))
async def change_password(
    data: PasswordChange,
    principal: BearerPrincipal,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Set a new password; every other login of this user ends."""
    await service.change_password(
        db,
        services.passwords,
        services.principals,
        principal.user.id,
        current_password=data.current_password,
        new_password=data.new_password,
        keep_session=principal.login_session_id,
    )
    security_mail.queue(Notice.PASSWORD_CHANGED, principal.user)
