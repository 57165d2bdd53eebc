"""Single-use links mailed to users: email verification and password reset.

A link carries 256 random bits; only their SHA-256 is stored. Spending a link is one
atomic UPDATE, so a link works once even when clicked twice at the same moment.

Anyone can ask for a reset link for any address, as often as they like: while the
account has a live reset link issued less than RESET_LINK_INTERVAL ago, a request
issues no link, sends no mail and writes no audit row (the log still has it).
"""

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from sqlalchemy import exists, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..audit.trail import Event, record
from ..config import Settings
from ..db import utcnow
from ..errors import AppError
from ..mail import MailSender, link_mail
from ..security.events import security_event
from ..security.identity import UserSnapshot
from ..security.principal_cache import PrincipalCache
from ..security.secret_tokens import hash_secret_token, new_secret_token
from ..security_mail import Notice, security_notice
from ..services import ServicesDep
from .models import ActionToken, Purpose, User

logger = logging.getLogger(__name__)
INVALID_LINK = "Invalid or expired token"
RESET_LINK_INTERVAL = timedelta(minutes=1)


async def _issue(
    db: AsyncSession, user: User | UserSnapshot, purpose: Purpose, lifetime: timedelta
) -> str | None:
    """A new link for `user`, or None if the account is gone: a background task issues
    links after the response, and the account may have been deleted in between."""
    token = new_secret_token()
    db.add(
        ActionToken(
            token_hash=hash_secret_token(token),
            user_id=user.id,
            purpose=purpose,
            email=user.email,
            expires_at=utcnow() + lifetime,
        )
    )
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        if await db.scalar(select(User.id).where(User.id == user.id)) is not None:
            raise
        logger.info("link not issued: the account was deleted", extra={"user_id": str(user.id)})
        return None
    return token


async def _issue_reset_link(db: AsyncSession, user: User, lifetime: timedelta) -> str | None:
    """A new reset link for `user`, or None while one from the last RESET_LINK_INTERVAL
    is live; the caller commits.

    Looking for a recent link and inserting are one statement, and on PostgreSQL the
    user's row is locked first: of parallel requests, one inserts. SQLite runs one
    write at a time, and the statement takes the write lock before it looks.
    """
    await db.execute(select(User.id).where(User.id == user.id).with_for_update())
    token = new_secret_token()
    now = utcnow()
    row = {
        "token_hash": hash_secret_token(token),
        "user_id": user.id,
        "purpose": Purpose.RESET_PASSWORD.value,
        "email": user.email,
        "created_at": now,
        "expires_at": now + lifetime,
    }
    columns = ActionToken.__table__.c
    values = [literal(value, columns[name].type) for name, value in row.items()]
    recent = exists().where(
        ActionToken.user_id == user.id,
        ActionToken.purpose == Purpose.RESET_PASSWORD,
        ActionToken.used_at.is_(None),
        ActionToken.expires_at > now,
        ActionToken.created_at > now - RESET_LINK_INTERVAL,
    )
    inserted = await db.execute(
        insert(ActionToken).from_select(list(row), select(*values).where(~recent))
    )
    return token if inserted.rowcount else None  # type: ignore[attr-defined]


async def find_link(db: AsyncSession, token: str, purpose: Purpose) -> User:
    """The user a live link was issued to; AppError if the link is no good. Spends nothing."""
    row = (
        await db.execute(
            select(User, ActionToken.email)
            .join(ActionToken, ActionToken.user_id == User.id)
            .where(
                ActionToken.token_hash == hash_secret_token(token),
                ActionToken.purpose == purpose,
                ActionToken.used_at.is_(None),
                ActionToken.expires_at > utcnow(),
            )
        )
    ).one_or_none()
    if row is None:
        raise AppError(INVALID_LINK)
    user, email = row
    if not user.is_active or email != user.email:
        raise AppError(INVALID_LINK)
    return user


async def spend_link(db: AsyncSession, token: str, purpose: Purpose) -> None:
    """Use the link up, atomically: of two requests with one link, one gets AppError."""
    now = utcnow()
    spent = await db.execute(
        update(ActionToken)
        .where(
            ActionToken.token_hash == hash_secret_token(token),
            ActionToken.purpose == purpose,
            ActionToken.used_at.is_(None),
            ActionToken.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise AppError(INVALID_LINK)


class AccountMail:
    """The mails that carry account links, sent by background tasks after the response."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: MailSender,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._mailer = mailer

    async def send_verification(self, user: UserSnapshot) -> None:
        """Mail `user` a link that proves the address is theirs."""
        settings = self._settings
        hours = settings.EMAIL_VERIFICATION_EXPIRE_HOURS
        async with self._sessionmaker() as db:
            token = await _issue(db, user, Purpose.VERIFY_EMAIL, timedelta(hours=hours))
        if token is None:
            return
        await self._mailer.send(
            link_mail(
                to=user.email,
                subject=f"Verify your email address for {settings.PROJECT_NAME}",
                intro="Open this link to confirm that this address is yours:",
                link=f"{settings.FRONTEND_URL}/verify-email?token={token}",
                lifetime=f"{hours} hours",
            )
        )

    async def announce_email_change(self, user: UserSnapshot, old_email: str) -> None:
        """After an address change: a notice to the old address, so its owner learns of
        a change they did not make, then a verification link to the new one. The notice
        goes first: it matters more, and issuing the link can find the account gone."""
        await self._mailer.send(
            security_notice(self._settings, Notice.EMAIL_CHANGED, user, to=old_email)
        )
        await self.send_verification(user)

    async def resend_verification(self, email: str) -> None:
        """A new verification link for an unverified, active account; otherwise nothing.

        Runs after the 202 went out; the mailer caps the mails one address gets.
        """
        address = email.strip().lower()
        async with self._sessionmaker() as db:
            user = await db.scalar(select(User).where(User.email == address))
        if user is not None and user.is_active and not user.email_verified:
            await self.send_verification(user.snapshot())

    async def send_password_reset(self, email: str) -> None:
        """Mail a reset link if `email` belongs to an active user; otherwise do nothing.

        Runs after the 202 went out, so the response time does not tell whether the
        address is registered. The mailer caps the mails one address gets.
        """
        settings = self._settings
        address = email.strip().lower()
        async with self._sessionmaker() as db:
            user = await db.scalar(select(User).where(User.email == address))
            if user is None or not user.is_active:
                return
            minutes = settings.PASSWORD_RESET_EXPIRE_MINUTES
            user_id, email = user.id, user.email
            token = await _issue_reset_link(db, user, timedelta(minutes=minutes))
            if token is None:
                await db.rollback()
                security_event(Event.PASSWORD_RESET_REQUESTED.value, user_id=str(user_id))
                return
            # Committed with the link.
            record(db, Event.PASSWORD_RESET_REQUESTED, user_id=user_id)
            await db.commit()
        await self._mailer.send(
            link_mail(
                to=email,
                subject=f"Reset your password for {settings.PROJECT_NAME}",
                intro="Someone asked to reset your password. If it was you, open this link:",
                link=f"{settings.FRONTEND_URL}/reset-password?token={token}",
                lifetime=f"{minutes} minutes",
            )
        )


async def verify_email(db: AsyncSession, principals: PrincipalCache, token: str) -> User:
    user = await find_link(db, token, Purpose.VERIFY_EMAIL)
    await spend_link(db, token, Purpose.VERIFY_EMAIL)
    user.email_verified = True
    record(db, Event.EMAIL_VERIFIED, user_id=user.id)
    await principals.commit_change(db, user.id)
    return user


async def account_mail(services: ServicesDep) -> AccountMail:
    return AccountMail(services.settings, services.sessionmaker, services.mailer)


AccountMailDep = Annotated[AccountMail, Depends(account_mail)]
