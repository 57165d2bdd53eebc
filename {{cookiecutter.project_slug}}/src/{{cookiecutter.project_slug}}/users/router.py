from fastapi import APIRouter, status

from ..auth.dependencies import BearerPrincipal, UsersReader, UsersWriter
from ..state import ServicesDep, SessionDep
from . import service
from .schemas import PasswordChange, UserPublic, UserUpdateMe

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(principal: UsersReader) -> UserPublic:
    return UserPublic.model_validate(principal.user)


@router.patch("/me")
async def update_me(
    data: UserUpdateMe, principal: UsersWriter, services: ServicesDep, session: SessionDep
) -> UserPublic:
    user = await service.update_me(session, services.principals, principal.user.id, data)
    return UserPublic.model_validate(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    data: PasswordChange, principal: BearerPrincipal, services: ServicesDep, session: SessionDep
) -> None:
    """Set a new password; every other login of this user ends."""
    await service.change_password(
        session,
        services.hasher,
        services.principals,
        principal.user.id,
        current_password=data.current_password,
        new_password=data.new_password,
        keep_session=principal.session_id,
    )
