"""The caller's own profile. Changing it in ways that need re-authentication (the email
address, the password) is in account/router.py."""

from fastapi import APIRouter

from ..access.dependencies import UsersReader
from .schemas import UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(principal: UsersReader) -> UserPublic:
    return UserPublic.model_validate(principal.user)
