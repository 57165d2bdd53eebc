"""API keys: long-lived credentials for scripts, limited to scopes their owner holds."""

import uuid
from datetime import timedelta

from sqlalchemy import exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.trail import Event, record
from ..db import utcnow
from ..errors import (
    AccountClosedError,
    AppError,
    ForbiddenError,
    InvalidCredentialsError,
    NotFoundError,
)
from ..security.identity import UserSnapshot
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..security.scopes import format_scope
{%- else %}
from ..security.scopes import ROLE_SCOPES, format_scope
{%- endif %}
from ..security.secret_tokens import hash_secret_token, new_secret_token
from ..users.models import User, UserSession
from .models import ApiKey
from .schemas import ApiKeyCreate

# Recognisable in leaks and secret scanners; 32 random bytes follow.
KEY_PREFIX = "sk_"
SHOWN_PREFIX_LENGTH = 11
MAX_KEYS_PER_USER = 20


async def create_key(
    db: AsyncSession,
    owner: UserSnapshot,
    session_id: uuid.UUID,
    granted: frozenset[str],
    data: ApiKeyCreate,
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID | None = None,
{%- endif %}
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which exists only in this return value.

    `granted` is what the creating token may do: a key never holds more, so a token
    narrowed at login cannot widen itself by minting a key. `session_id` is the creating
    login session: a key is made only while it is live (see `_insert_within_cap`).
{%- if cookiecutter.multi_tenancy == "yes" %}
    The key is bound to `organization_id`, the session's organization: `granted` is
    already cut to the user's role there, and the key's scopes are cut again at each use.
{%- endif %}
    """
    scopes = frozenset(data.scopes)
{%- if cookiecutter.multi_tenancy == "yes" %}
    beyond = scopes - granted
{%- else %}
    beyond = scopes - (granted & ROLE_SCOPES[owner.role])
{%- endif %}
    if beyond:
        raise ForbiddenError(
            f"Your role or token cannot grant scope {' '.join(sorted(beyond))} to a key"
        )
    key = KEY_PREFIX + new_secret_token()
    now = utcnow()
    api_key = ApiKey(
        id=uuid.uuid4(),
        user_id=owner.id,
        name=data.name,
        prefix=key[:SHOWN_PREFIX_LENGTH],
        key_hash=hash_secret_token(key),
        scope=format_scope(scopes),
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
{%- if cookiecutter.multi_tenancy == "yes" %}
        organization_id=organization_id,
{%- endif %}
    )
    if not await _insert_within_cap(db, api_key, session_id):
        await db.rollback()
        active = await db.scalar(select(User.is_active).where(User.id == owner.id))
        if active is None:
            raise AccountClosedError
        if not active:
            raise ForbiddenError("Inactive user")
        if not await db.scalar(
            select(UserSession.id).where(
                UserSession.id == session_id, UserSession.live_at(utcnow())
            )
        ):
            raise InvalidCredentialsError("Could not validate credentials")
        raise AppError(f"At most {MAX_KEYS_PER_USER} API keys per user; revoke one first")
    record(db, Event.API_KEY_CREATED, user_id=owner.id, key_id=api_key.id)
    await db.commit()
    return api_key, key


async def _insert_within_cap(db: AsyncSession, api_key: ApiKey, session_id: uuid.UUID) -> bool:
    """Insert the key unless its owner already has MAX_KEYS_PER_USER active ones, was
    deactivated or deleted, or the creating login session ended since the request was
    authenticated; the caller commits.

    Counting and inserting are one statement, and on PostgreSQL the owner's row is
    locked first: parallel requests cannot each see room for one more. SQLite runs one
    write at a time, and the statement takes the write lock before it counts.

    The same lock orders the insert against every change that ends sessions and revokes
    keys (`lock_owner` there): on PostgreSQL such a change's UPDATE of api_keys would not
    see a key inserted by a transaction still open, so it locks the owner's row before it
    writes, and whichever comes second sees what the first committed. A key made first
    is revoked by the change; a key asked for after it finds its session ended.
    """
    await lock_owner(db, api_key.user_id)
    active = (
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.user_id == api_key.user_id, ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
{%- if cookiecutter.multi_tenancy == "yes" %}
    columns = (
        "id",
        "user_id",
        "name",
        "prefix",
        "key_hash",
        "scope",
        "created_at",
        "expires_at",
        "organization_id",
    )
{%- else %}
    columns = ("id", "user_id", "name", "prefix", "key_hash", "scope", "created_at", "expires_at")
{%- endif %}
    values = [literal(getattr(api_key, name), ApiKey.__table__.c[name].type) for name in columns]
    owner_active = exists().where(User.id == api_key.user_id, User.is_active.is_(True))
    session_live = exists().where(
        UserSession.id == session_id,
        UserSession.user_id == api_key.user_id,
        UserSession.live_at(api_key.created_at),
    )
    inserted = await db.execute(
        insert(ApiKey).from_select(
            columns,
            select(*values).where(active < MAX_KEYS_PER_USER, owner_active, session_live),
        )
    )
    return bool(inserted.rowcount)  # type: ignore[attr-defined]


async def list_keys(db: AsyncSession, owner: UserSnapshot) -> list[ApiKey]:
    rows = await db.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == owner.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(rows)


async def revoke_key(db: AsyncSession, owner: UserSnapshot, key_id: uuid.UUID) -> None:
    api_key = await db.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.user_id == owner.id, ApiKey.revoked_at.is_(None)
        )
    )
    if api_key is None:
        raise NotFoundError("API key not found")
    api_key.revoked_at = utcnow()
    record(db, Event.API_KEY_REVOKED, user_id=owner.id, key_id=key_id)
    await db.commit()


async def lock_owner(db: AsyncSession, user_id: uuid.UUID) -> None:
    """On PostgreSQL, lock the user's row until commit. Key creation takes this lock, and
    so does every change that revokes keys, before it writes: the two run one after the
    other. SQLite runs one write at a time anyway."""
    await db.execute(select(User.id).where(User.id == user_id).with_for_update())


async def revoke_all_keys(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Revoke every key of the user, keys being created this moment included; the caller
    commits."""
    await lock_owner(db, user_id)
    await db.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
