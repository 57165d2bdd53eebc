"""Closing one's own account: the user row goes, and everything hanging from it.

Deleting the row deletes, through the foreign keys' ON DELETE CASCADE, the user's login
sessions with their refresh tokens, API keys, mailed links, two-factor secret and
recovery codes, and every object they own (`ownership.Owned`). Nothing is anonymised and
kept: what the user created was theirs. The audit trail is the exception: its rows name
users by id without a foreign key, so the account's history, its deletion included,
stays until AUDIT_RETENTION_DAYS.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ..admin.service import delete_user
from ..audit.trail import Event, record
from ..security.principal_cache import PrincipalCache
from ..users.service import get_user


async def close_account(db: AsyncSession, principals: PrincipalCache, user_id: uuid.UUID) -> None:
    """Delete the user, who re-authenticated. The last active admin cannot go (409)."""
    user = await get_user(db, user_id)
    await delete_user(db, user)
    record(db, Event.ACCOUNT_DELETED, user_id=user.id)
    # Every worker forgets the user at once: their tokens and keys find no row after.
    await principals.commit_change(db, user.id)
