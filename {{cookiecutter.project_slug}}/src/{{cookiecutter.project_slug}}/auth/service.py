"""Logging in and issuing tokens.

A login opens a `UserSession`. Its id is the `sid` claim of every access token it issues
and the family of its refresh tokens, so ending the session ends all of them at once.
"""

import hashlib
import secrets
import uuid
from contextlib import suppress
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..db import utcnow
from ..errors import AppError, EmailNotVerifiedError, InvalidCredentialsError
from ..security.events import security_event
from ..security.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from ..security.scopes import ROLE_SCOPES, format_scope, grant_scopes, parse_scope
from ..security.tokens import TokenCodec
from ..state import Services
from ..users.models import RefreshToken, User, UserSession
from ..users.service import find_by_login
from .principal_cache import AuthStateUnavailableError, PrincipalCache
from .schemas import TokenPair

# The form's fields are free text: bound them before anything is looked up or hashed.
MAX_LOGIN_LENGTH = 254


async def log_in(
    session: AsyncSession,
    services: Services,
    *,
    login: str,
    password: str,
    scopes: frozenset[str],
    client: str,
) -> TokenPair:
    login_name = login.strip().lower()[:MAX_LOGIN_LENGTH]
    limiter = services.limiter
    # Failed logins also count per account name, so rotating addresses does not help
    # against one account. It is a limit, not a lockout: the window passes, and a
    # successful login costs nothing from it.
    await limiter.check(limiter.login, "auth-account", login_name)
    user = None
    # No stored name is that long or holds a NUL (PostgreSQL could not even compare it).
    if (
        len(login) <= MAX_LOGIN_LENGTH
        and len(password) <= MAX_PASSWORD_LENGTH
        and "\x00" not in login
    ):
        user = await authenticate(session, services.hasher, login, password)
    if user is None:
        await limiter.count(limiter.login, "auth-account", login_name)
        security_event("login_failed", login=login_name, client=client)
        raise InvalidCredentialsError("Incorrect username or password")
    if not user.is_active:
        security_event("login_inactive", user_id=str(user.id), client=client)
        raise AppError("Inactive user")
    if services.settings.REQUIRE_VERIFIED_EMAIL and not user.email_verified:
        raise EmailNotVerifiedError("Email address not verified")
    security_event("login_succeeded", user_id=str(user.id), client=client)
    return await open_session(session, services.settings, services.tokens, user, scopes)


async def authenticate(
    session: AsyncSession, hasher: PasswordHasher, login: str, password: str
) -> User | None:
    """The user with this login and password, or None.

    An unknown login still costs one hash verification, so response time does not tell
    which logins exist.
    """
    user = await find_by_login(session, login)
    ok, new_hash = await hasher.verify(password, user.hashed_password if user else None)
    if user is None or not ok:
        return None
    if new_hash is not None:
        user.hashed_password = new_hash
        await session.commit()
    return user


def hash_secret_token(token: str) -> str:
    """How random tokens (refresh, mailed links, API keys) are stored.

    They are 256 random bits, so a fast hash is enough to make a stolen row useless.
    """
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    session: AsyncSession,
    settings: Settings,
    tokens: TokenCodec,
    user: User,
    requested_scopes: frozenset[str],
) -> TokenPair:
    scopes = grant_scopes(user.role, requested_scopes)
    user_session = UserSession(
        user_id=user.id,
        scope=format_scope(scopes),
        expires_at=utcnow() + timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS),
    )
    session.add(user_session)
    await session.flush()
    return await _issue_pair(session, settings, tokens, user, user_session, scopes)


async def _issue_pair(
    session: AsyncSession,
    settings: Settings,
    tokens: TokenCodec,
    user: User,
    user_session: UserSession,
    scopes: frozenset[str],
) -> TokenPair:
    refresh_token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=hash_secret_token(refresh_token),
            session_id=user_session.id,
            expires_at=user_session.expires_at,
        )
    )
    await session.commit()
    lifetime = settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60
    access_token, _ = tokens.issue_access_token(
        subject=str(user.id),
        session_id=str(user_session.id),
        scopes=scopes,
        lifetime_seconds=lifetime,
    )
    return TokenPair(
        access_token=access_token,
        expires_in=lifetime,
        refresh_token=refresh_token,
        scope=format_scope(scopes),
    )


async def refresh(session: AsyncSession, services: Services, refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token is spent.

    Presenting a spent token means two parties hold it: one of them stole it. The whole
    session ends, so the thief's tokens and the victim's die together.
    """
    invalid = InvalidCredentialsError("Invalid refresh token")
    token_hash = hash_secret_token(refresh_token)
    now = utcnow()
    row = (
        await session.execute(
            select(RefreshToken, UserSession, User)
            .join(UserSession, RefreshToken.session_id == UserSession.id)
            .join(User, UserSession.user_id == User.id)
            .where(RefreshToken.token_hash == token_hash)
        )
    ).one_or_none()
    if row is None:
        raise invalid
    stored, user_session, user = row
    # Spend the token atomically: of two concurrent refreshes, exactly one wins.
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        # A theft: the revocation must land even with Redis down, so it is committed
        # first and the caches are told after, as far as they can be. While Redis is
        # down, no cache is trusted anyway (authentication answers 503).
        await revoke_session(session, user_session.id)
        await session.commit()
        security_event(
            "refresh_token_reused", user_id=str(user.id), session_id=str(user_session.id)
        )
        with suppress(AuthStateUnavailableError):
            await services.principals.versions.bump(user.id)
        raise invalid
    if (
        user_session.revoked_at is not None
        or user_session.expires_at <= now
        or stored.expires_at <= now
        or not user.is_active
    ):
        await session.commit()
        raise invalid
    scopes = parse_scope(user_session.scope) & ROLE_SCOPES[user.role]
    return await _issue_pair(
        session, services.settings, services.tokens, user, user_session, scopes
    )


async def revoke_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def log_out(
    session: AsyncSession, principals: PrincipalCache, user_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    """End this login: its access tokens and its refresh-token family stop working."""
    await revoke_session(session, session_id)
    await principals.commit_change(session, user_id)
    security_event("logged_out", user_id=str(user_id), session_id=str(session_id))
