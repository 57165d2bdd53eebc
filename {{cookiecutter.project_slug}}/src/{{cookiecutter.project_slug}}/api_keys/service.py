"""API keys: long-lived credentials for scripts, limited to scopes their owner holds."""

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.service import hash_secret_token
from ..db import utcnow
from ..errors import AppError, ForbiddenError, NotFoundError
from ..security.events import security_event
from ..security.scopes import ROLE_SCOPES, format_scope
from ..users.identity import UserSnapshot
from .models import ApiKey
from .schemas import ApiKeyCreate

# Recognisable in leaks and secret scanners; 32 random bytes follow.
KEY_PREFIX = "sk_"
SHOWN_PREFIX_LENGTH = 11
MAX_KEYS_PER_USER = 20


async def create_key(
    session: AsyncSession, owner: UserSnapshot, granted: frozenset[str], data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which exists only in this return value.

    `granted` is what the creating token may do: a key never holds more, so a token
    narrowed at login cannot widen itself by minting a key.
    """
    scopes = frozenset(data.scopes)
    beyond = scopes - (granted & ROLE_SCOPES[owner.role])
    if beyond:
        raise ForbiddenError(
            f"Your role or token cannot grant scope {' '.join(sorted(beyond))} to a key"
        )
    active = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.user_id == owner.id, ApiKey.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_KEYS_PER_USER:
        raise AppError(f"At most {MAX_KEYS_PER_USER} API keys per user; revoke one first")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    api_key = ApiKey(
        user_id=owner.id,
        name=data.name,
        prefix=key[:SHOWN_PREFIX_LENGTH],
        key_hash=hash_secret_token(key),
        scope=format_scope(scopes),
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    session.add(api_key)
    await session.commit()
    security_event("api_key_created", user_id=str(owner.id), key_id=str(api_key.id))
    return api_key, key


async def list_keys(session: AsyncSession, owner: UserSnapshot) -> list[ApiKey]:
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == owner.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(rows)


async def revoke_key(session: AsyncSession, owner: UserSnapshot, key_id: uuid.UUID) -> None:
    api_key = await session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.user_id == owner.id, ApiKey.revoked_at.is_(None)
        )
    )
    if api_key is None:
        raise NotFoundError("API key not found")
    api_key.revoked_at = utcnow()
    await session.commit()
    security_event("api_key_revoked", user_id=str(owner.id), key_id=str(key_id))


async def revoke_all_keys(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Revoke every key of the user; the caller commits."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
