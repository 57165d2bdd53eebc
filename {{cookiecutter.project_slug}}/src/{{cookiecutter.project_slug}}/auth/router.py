from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from ..security.passwords import MAX_PASSWORD_LENGTH
from ..security.scopes import parse_scope
from ..state import ServicesDep, SessionDep
from ..users import service as users_service
from ..users.schemas import UserCreate, UserPublic
from . import service
from .schemas import TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])

# The form's fields are free text: bound them before anything is looked up or hashed.
MAX_LOGIN_LENGTH = 254


@router.post("/token")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    session: SessionDep,
) -> TokenPair:
    """OAuth2 password flow: `username` may be the username or the email address."""
    invalid = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Incorrect username or password",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if len(form.username) > MAX_LOGIN_LENGTH or len(form.password) > MAX_PASSWORD_LENGTH:
        raise invalid
    user = await service.authenticate(session, services.hasher, form.username, form.password)
    if user is None:
        raise invalid
    if not user.is_active:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail="Inactive user")
    return await service.open_session(
        session, services.settings, services.tokens, user, parse_scope(" ".join(form.scopes))
    )


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(data: UserCreate, services: ServicesDep, session: SessionDep) -> UserPublic:
    """Create an account with the `user` role, whatever else the body says."""
    user = await users_service.create_user(session, services.hasher, data)
    return UserPublic.model_validate(user)
