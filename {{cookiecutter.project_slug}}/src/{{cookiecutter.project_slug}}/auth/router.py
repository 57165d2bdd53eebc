from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from ..security.throttling import client_address, limit_unauthenticated
from ..state import ServicesDep, SessionDep
from ..users import service as users_service
from ..users.schemas import UserCreate, UserPublic
from . import service
from .schemas import TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])
anonymous = [Depends(limit_unauthenticated)]


@router.post("/token", dependencies=anonymous)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    session: SessionDep,
) -> TokenPair:
    """OAuth2 password flow: `username` may be the username or the email address."""
    return await service.log_in(
        session,
        services,
        login=form.username,
        password=form.password,
        scopes=frozenset(form.scopes),
        client=client_address(request),
    )


@router.post("/register", status_code=status.HTTP_201_CREATED, dependencies=anonymous)
async def register(data: UserCreate, services: ServicesDep, session: SessionDep) -> UserPublic:
    """Create an account with the `user` role, whatever else the body says."""
    user = await users_service.create_user(session, services.hasher, data)
    return UserPublic.model_validate(user)
