"""Start-up work: the schema on SQLite, and the first admin."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .config import Settings
from .errors import ConflictError
from .security.events import security_event
from .security.passwords import PasswordHasher
from .security.scopes import Role
from .users.schemas import UserCreate
from .users.service import admin_exists, create_user

logger = logging.getLogger(__name__)


async def ensure_first_admin(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    hasher: PasswordHasher,
) -> None:
    """Create the admin from FIRST_ADMIN_* when the database has none."""
    if settings.FIRST_ADMIN_EMAIL is None or settings.FIRST_ADMIN_PASSWORD is None:
        return
    async with sessionmaker() as session:
        if await admin_exists(session):
            return
        # Validated like any registration: a weak bootstrap password stops start-up.
        data = UserCreate(
            username=settings.FIRST_ADMIN_USERNAME,
            email=settings.FIRST_ADMIN_EMAIL,
            password=settings.FIRST_ADMIN_PASSWORD.get_secret_value(),
        )
        try:
            user = await create_user(session, hasher, data, role=Role.ADMIN, email_verified=True)
        except ConflictError:
            logger.warning(
                "first admin not created: username or email %s is taken by a non-admin",
                settings.FIRST_ADMIN_EMAIL,
            )
            return
    security_event("first_admin_created", user_id=str(user.id))
