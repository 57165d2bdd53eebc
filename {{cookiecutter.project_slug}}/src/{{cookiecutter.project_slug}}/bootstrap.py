"""Start-up work: the first admin."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .audit.trail import Event
from .config import Settings
from .errors import ConflictError
from .security.passwords import PasswordHasher
from .security.scopes import Role
from .users.schemas import UserCreate
from .users.service import admin_exists, create_user, find_by_login

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
            await create_user(
                session,
                hasher,
                data,
                role=Role.ADMIN,
                email_verified=True,
                event=Event.FIRST_ADMIN_CREATED,
            )
        except ConflictError:
            holder = await find_by_login(session, data.email) or await find_by_login(
                session, data.username
            )
            # An admin here was created by another worker starting at the same moment.
            if holder is not None and holder.role != Role.ADMIN:
                # Not an error: the app serves. But nobody can manage users until an
                # operator decides whether that account should be the admin.
                logger.warning(
                    "first admin not created: the account %r already has FIRST_ADMIN_EMAIL "
                    "or FIRST_ADMIN_USERNAME and is not an admin; to make it the admin, run "
                    "`%s set-role --username %s --role admin`, or change FIRST_ADMIN_*",
                    holder.username,
                    __package__,
                    holder.username,
                )
