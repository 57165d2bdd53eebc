from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from ..access.dependencies import BearerPrincipal
from ..errors import error_responses
from ..security.clients import client_address, client_details
from ..security_mail import Notice, SecurityMailDep
from ..services import DbDep, ServicesDep
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.binding import membership_for_login
{%- endif %}
from ..users import mailed_links
from ..users import service as users_service
from ..users.mailed_links import AccountMailDep
from ..users.schemas import UserCreate, UserPublic
from . import service
from .schemas import (
    EmailAddress,
    Message,
{%- if cookiecutter.multi_tenancy == "yes" %}
    OrganizationField,
{%- endif %}
    OtpField,
    PasswordResetConfirm,
    RefreshRequest,
    TokenPair,
    VerifyEmailRequest,
)
from .sessions import LoginSessionsDep
from .throttling import limit_refresh, limit_unauthenticated, shed_when_hashing_is_full

router = APIRouter(prefix="/auth", tags=["auth"])
# RATE_LIMIT_LOGIN per client address on every endpoint that takes no token.
anonymous = [Depends(limit_unauthenticated)]
# The endpoints that hash a password shed load first.
hashing = [Depends(shed_when_hashing_is_full), *anonymous]


@router.post("/token", dependencies=hashing, responses=service.LOGIN_ERRORS)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    sessions: LoginSessionsDep,
    db: DbDep,
    otp: OtpField = None,
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization: OrganizationField = None,
{%- endif %}
) -> TokenPair:
    """OAuth2 password flow: `username` may be the username or the email address; `otp`
    carries a code when the user has two-factor authentication on{% if cookiecutter.multi_tenancy == "yes" %}; `organization`
    names the organization to bind the tokens to (403 for a non-member){% endif %}."""
    user = await service.log_in(
        db,
        services.passwords,
        services.totp_secrets,
        login=form.username,
        password=form.password,
        otp=otp,
        client=client_address(request),
        require_verified_email=services.settings.REQUIRE_VERIFIED_EMAIL,
    )
{%- if cookiecutter.multi_tenancy == "yes" %}
    membership = await membership_for_login(db, user.id, organization)
    return await sessions.open(
        db, user, frozenset(form.scopes), client_details(request), membership
    )
{%- else %}
    return await sessions.open(db, user, frozenset(form.scopes), client_details(request))
{%- endif %}{%- if cookiecutter.multi_tenancy == "yes" %}


@router.post("/refresh", dependencies=[Depends(limit_refresh)], responses=error_responses(401, 403))
async def refresh(data: RefreshRequest, sessions: LoginSessionsDep, db: DbDep) -> TokenPair:
    """A new pair for a refresh token, which is spent; a spent one ends its whole session.
    With `organization_id`, the new tokens are bound to that organization (403 for a
    non-member) and those issued before stop working."""
    return await sessions.refresh(db, data.refresh_token, switch_to=data.organization_id)
{%- else %}


@router.post("/refresh", dependencies=[Depends(limit_refresh)], responses=error_responses(401))
async def refresh(data: RefreshRequest, sessions: LoginSessionsDep, db: DbDep) -> TokenPair:
    """A new pair for a refresh token, which is spent; a spent one ends its whole session."""
    return await sessions.refresh(db, data.refresh_token)
{%- endif %}


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: BearerPrincipal, sessions: LoginSessionsDep, db: DbDep) -> None:
    """End this login: its access and refresh tokens get 401 from now on."""
    await sessions.end(db, principal.user.id, principal.login_session_id)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=hashing,
    responses=error_responses(409),
)
async def register(
    data: UserCreate,
    services: ServicesDep,
    mail: AccountMailDep,
    db: DbDep,
    background: BackgroundTasks,
) -> UserPublic:
    """Create an account with the `user` role, whatever else the body says, and mail a
    verification link."""
    user = await users_service.create_user(db, services.hasher, data)
    background.add_task(mail.send_verification, user.snapshot())
    return UserPublic.model_validate(user)


@router.post("/verify-email", dependencies=anonymous, responses=error_responses(400))
async def verify_email(data: VerifyEmailRequest, services: ServicesDep, db: DbDep) -> UserPublic:
    user = await mailed_links.verify_email(db, services.principals, data.token)
    return UserPublic.model_validate(user)


@router.post("/verify-email/resend", status_code=status.HTTP_202_ACCEPTED, dependencies=anonymous)
async def resend_verification(
    data: EmailAddress, mail: AccountMailDep, background: BackgroundTasks
) -> Message:
    """Always 202: a new link goes out only to a registered, unverified address."""
    background.add_task(mail.resend_verification, str(data.email))
    return Message(detail="If the address needs verifying, a new link is on its way")


@router.post(
    "/password-reset/request", status_code=status.HTTP_202_ACCEPTED, dependencies=anonymous
)
async def request_password_reset(
    data: EmailAddress, mail: AccountMailDep, background: BackgroundTasks
) -> Message:
    """Always 202: whether the address is registered is nobody's business."""
    background.add_task(mail.send_password_reset, str(data.email))
    return Message(detail="If the address is registered, a reset link is on its way")


@router.post("/password-reset/confirm", dependencies=hashing, responses=error_responses(400))
async def confirm_password_reset(
    data: PasswordResetConfirm, services: ServicesDep, security_mail: SecurityMailDep, db: DbDep
) -> Message:
    """Set a new password; every login session of the user ends."""
    user = await service.reset_password(
        db, services.hasher, services.principals, token=data.token, new_password=data.new_password
    )
    security_mail.queue(Notice.PASSWORD_RESET, user)
    return Message(detail="Password changed")
