from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from ..security.throttling import client_address, limit_unauthenticated
from ..state import ServicesDep, SessionDep
from ..users import service as users_service
from ..users.identity import UserSnapshot
from ..users.schemas import UserCreate, UserPublic
from . import account_links, service
from .dependencies import BearerPrincipal
from .schemas import (
    EmailAddress,
    Message,
    PasswordResetConfirm,
    RefreshRequest,
    TokenPair,
    VerifyEmailRequest,
)

router = APIRouter(prefix="/auth", tags=["auth"])
# RATE_LIMIT_LOGIN per client address on every endpoint that takes no token.
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


@router.post("/refresh", dependencies=anonymous)
async def refresh(data: RefreshRequest, services: ServicesDep, session: SessionDep) -> TokenPair:
    """A new pair for a refresh token, which is spent; a spent one ends its whole session."""
    return await service.refresh(session, services, data.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: BearerPrincipal, services: ServicesDep, session: SessionDep) -> None:
    """End this login: its access and refresh tokens get 401 from now on."""
    await service.log_out(session, services.principals, principal.user.id, principal.session_id)


@router.post("/register", status_code=status.HTTP_201_CREATED, dependencies=anonymous)
async def register(
    data: UserCreate, services: ServicesDep, session: SessionDep, background: BackgroundTasks
) -> UserPublic:
    """Create an account with the `user` role, whatever else the body says, and mail a
    verification link."""
    user = await users_service.create_user(session, services.hasher, data)
    background.add_task(account_links.send_verification, services, UserSnapshot.of(user))
    return UserPublic.model_validate(user)


@router.post("/verify-email", dependencies=anonymous)
async def verify_email(
    data: VerifyEmailRequest, services: ServicesDep, session: SessionDep
) -> UserPublic:
    user = await account_links.verify_email(session, services, data.token)
    return UserPublic.model_validate(user)


@router.post("/verify-email/resend", status_code=status.HTTP_202_ACCEPTED, dependencies=anonymous)
async def resend_verification(
    data: EmailAddress, services: ServicesDep, background: BackgroundTasks
) -> Message:
    """Always 202: a new link goes out only to a registered, unverified address."""
    background.add_task(account_links.resend_verification, services, str(data.email))
    return Message(detail="If the address needs verifying, a new link is on its way")


@router.post(
    "/password-reset/request", status_code=status.HTTP_202_ACCEPTED, dependencies=anonymous
)
async def request_password_reset(
    data: EmailAddress, services: ServicesDep, background: BackgroundTasks
) -> Message:
    """Always 202: whether the address is registered is nobody's business."""
    background.add_task(account_links.send_password_reset, services, str(data.email))
    return Message(detail="If the address is registered, a reset link is on its way")


@router.post("/password-reset/confirm", dependencies=anonymous)
async def confirm_password_reset(
    data: PasswordResetConfirm, services: ServicesDep, session: SessionDep
) -> Message:
    """Set a new password; every session of the user ends."""
    await account_links.reset_password(session, services, data.token, data.new_password)
    return Message(detail="Password changed")
