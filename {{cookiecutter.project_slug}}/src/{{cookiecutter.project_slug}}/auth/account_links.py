"""Single-use links mailed to users: email verification and password reset.

A link carries 256 random bits; only their SHA-256 is stored. Spending a link is one
atomic UPDATE, so a link works once even when clicked twice at the same moment.
"""

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..api_keys.service import revoke_all_keys
from ..db import utcnow
from ..errors import AppError, UnprocessableError
from ..mail import link_mail, notice_mail
from ..security.events import security_event
from ..security.passwords import password_problem
from ..state import Services
from ..users.identity import UserSnapshot
from ..users.models import ActionToken, Purpose, User
from ..users.service import expire_reset_links, revoke_sessions
from .service import hash_secret_token

INVALID_LINK = "Invalid or expired token"


async def _issue(
    session: AsyncSession, user: User | UserSnapshot, purpose: Purpose, lifetime: timedelta
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        ActionToken(
            token_hash=hash_secret_token(token),
            user_id=user.id,
            purpose=purpose,
            email=user.email,
            expires_at=utcnow() + lifetime,
        )
    )
    await session.commit()
    return token


async def _spend(session: AsyncSession, token: str, purpose: Purpose) -> User:
    """The user the token was issued to; the token is used up. AppError if it is no good."""
    token_hash = hash_secret_token(token)
    now = utcnow()
    spent = await session.execute(
        update(ActionToken)
        .where(
            ActionToken.token_hash == token_hash,
            ActionToken.purpose == purpose,
            ActionToken.used_at.is_(None),
            ActionToken.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise AppError(INVALID_LINK)
    row = (
        await session.execute(
            select(User, ActionToken.email)
            .join(ActionToken, ActionToken.user_id == User.id)
            .where(ActionToken.token_hash == token_hash)
        )
    ).one()
    user, email = row
    if not user.is_active or email != user.email:
        await session.commit()
        raise AppError(INVALID_LINK)
    return user


async def send_verification(services: Services, user: UserSnapshot) -> None:
    """Mail `user` a link that proves the address is theirs. Runs as a background task."""
    settings = services.settings
    hours = settings.EMAIL_VERIFICATION_EXPIRE_HOURS
    async with services.sessionmaker() as session:
        token = await _issue(session, user, Purpose.VERIFY_EMAIL, timedelta(hours=hours))
    await services.mailer.send(
        link_mail(
            to=user.email,
            subject=f"Verify your email address for {settings.PROJECT_NAME}",
            intro="Open this link to confirm that this address is yours:",
            link=f"{settings.FRONTEND_URL}/verify-email?token={token}",
            lifetime=f"{hours} hours",
        )
    )


async def announce_email_change(services: Services, user: UserSnapshot, old_email: str) -> None:
    """After an address change: a verification link to the new address, a notice to the
    old one, so its owner learns of a change they did not make."""
    await send_verification(services, user)
    await services.mailer.send(
        notice_mail(
            to=old_email,
            subject=f"Your email address for {services.settings.PROJECT_NAME} was changed",
            text=(
                f"The account {user.username} now uses another email address. If you did "
                "not make this change, reset your password and contact us."
            ),
        )
    )


async def resend_verification(services: Services, email: str) -> None:
    """A new verification link for an unverified, active account; otherwise nothing.

    Runs after the 202 went out, and each address gets at most RATE_LIMIT_LOGIN mails,
    as with password resets.
    """
    limiter = services.limiter
    address = email.strip().lower()
    if not await limiter.count(limiter.login, "verification-mail", address):
        return
    async with services.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.email == address))
    if user is not None and user.is_active and not user.email_verified:
        await send_verification(services, UserSnapshot.of(user))


async def verify_email(session: AsyncSession, services: Services, token: str) -> User:
    user = await _spend(session, token, Purpose.VERIFY_EMAIL)
    user.email_verified = True
    await services.principals.commit_change(session, user.id)
    security_event("email_verified", user_id=str(user.id))
    return user


async def send_password_reset(services: Services, email: str) -> None:
    """Mail a reset link if `email` belongs to an active user; otherwise do nothing.

    Runs as a background task after the 202 went out, so the response time does not tell
    whether the address is registered. Each address gets at most RATE_LIMIT_LOGIN mails,
    so nobody can flood someone's inbox through this endpoint.
    """
    settings, limiter = services.settings, services.limiter
    address = email.strip().lower()
    if not await limiter.count(limiter.login, "reset-mail", address):
        security_event("password_reset_throttled", email=address)
        return
    async with services.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.email == address))
        if user is None or not user.is_active:
            return
        minutes = settings.PASSWORD_RESET_EXPIRE_MINUTES
        token = await _issue(session, user, Purpose.RESET_PASSWORD, timedelta(minutes=minutes))
    security_event("password_reset_requested", user_id=str(user.id))
    await services.mailer.send(
        link_mail(
            to=user.email,
            subject=f"Reset your password for {settings.PROJECT_NAME}",
            intro="Someone asked to reset your password. If it was you, open this link:",
            link=f"{settings.FRONTEND_URL}/reset-password?token={token}",
            lifetime=f"{minutes} minutes",
        )
    )


async def reset_password(
    session: AsyncSession, services: Services, token: str, new_password: str
) -> None:
    user = await _spend(session, token, Purpose.RESET_PASSWORD)
    problem = password_problem(new_password, username=user.username, email=user.email)
    if problem:
        # The link stays usable: the user only has to choose a better password.
        await session.rollback()
        raise UnprocessableError("new_password", problem)
    user.hashed_password = await services.hasher.hash(new_password)
    await expire_reset_links(session, user.id)
    await revoke_sessions(session, user.id)
    # A reset is how an account is taken back: whoever held it must keep nothing.
    await revoke_all_keys(session, user.id)
    await services.principals.commit_change(session, user.id)
    security_event("password_reset", user_id=str(user.id))
