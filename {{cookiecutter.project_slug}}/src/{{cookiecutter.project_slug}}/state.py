"""What the app builds once at start-up and every request shares."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .auth.principal_cache import PrincipalCache
from .config import Settings
from .mail import MailSender
from .security.passwords import PasswordHasher
from .security.rate_limit import RateLimiter
from .security.tokens import TokenCodec


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    tokens: TokenCodec
    limiter: RateLimiter
    mailer: MailSender
    principals: PrincipalCache


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    services: Services = request.app.state.services
    async with services.sessionmaker() as session:
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
