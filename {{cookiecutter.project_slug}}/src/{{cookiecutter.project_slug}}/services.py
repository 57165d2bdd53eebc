"""What the app builds once at start-up and every request shares."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .config import Settings
from .mail import MailSender
from .security.cookies import CookiePolicy, CsrfTokens
from .security.credential_stores import ApiKeyStore, SessionStore
from .security.encryption import SecretBox
from .security.password_guard import PasswordGuard
from .security.passwords import PasswordHasher
from .security.principal_cache import PrincipalCache
from .security.rate_limit import RateLimiter
from .security.tokens import TokenCodec


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    # The hasher behind RATE_LIMIT_LOGIN: every password check that a guess could reach.
    passwords: PasswordGuard
    tokens: TokenCodec
    limiter: RateLimiter
    mailer: MailSender
    principals: PrincipalCache
    login_sessions: SessionStore
    api_keys: ApiKeyStore
    # None when COOKIE_SESSIONS is off: no request is authenticated by a cookie.
    cookies: CookiePolicy | None
    csrf: CsrfTokens
    # Encrypts and decrypts TOTP secrets, with the keys of MFA_ENCRYPTION_KEY.
    totp_secrets: SecretBox


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for the request, closed after the response."""
    services: Services = request.app.state.services
    async with services.sessionmaker() as db:
        yield db


ServicesDep = Annotated[Services, Depends(get_services)]
DbDep = Annotated[AsyncSession, Depends(get_db)]
