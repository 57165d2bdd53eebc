"""A user's passkeys: registering one, listing them, removing them.

Registering takes two requests: options (after re-authentication, passkeys/router.py)
and the browser's new credential, which must answer a challenge issued to this user,
unused and under five minutes old, made on one of WEBAUTHN_ORIGINS for WEBAUTHN_RP_ID.
"""

import uuid
from typing import Any

from sqlalchemy import delete, exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.trail import Event, record
from ..db import utcnow
from ..errors import (
    AccountClosedError,
    AppError,
    ConflictError,
    InvalidCredentialsError,
    NotFoundError,
)
from ..security.identity import UserSnapshot
from ..users.models import User, UserSession
from . import ceremonies, challenges
from .ceremonies import CeremonyError, RelyingParty
from .challenges import Ceremony
from .models import Passkey

MAX_PASSKEYS_PER_USER = 10
ALREADY_REGISTERED = "This passkey is already registered"


async def registration_options(
    db: AsyncSession, party: RelyingParty, user: UserSnapshot
) -> dict[str, Any]:
    """Options for a new passkey of `user`, who re-authenticated; the challenge is kept."""
    existing = await db.execute(
        select(Passkey.credential_id, Passkey.transports).where(Passkey.user_id == user.id)
    )
    options, challenge = ceremonies.registration_options(
        party, user, [(credential_id, transports) for credential_id, transports in existing]
    )
    await challenges.issue(db, challenge, Ceremony.REGISTRATION, user.id)
    return options


async def add_passkey(
    db: AsyncSession,
    party: RelyingParty,
    user: UserSnapshot,
    session_id: uuid.UUID,
    *,
    name: str,
    credential: dict[str, Any],
) -> Passkey:
    """Store the credential the browser made from this user's registration options.
    `session_id` is the caller's login session: a passkey is added only while it is live
    (see `_insert_within_cap`)."""
    try:
        parsed, challenge = ceremonies.parse_registration(credential)
    except CeremonyError as refused:
        raise AppError(str(refused)) from None
    if not await challenges.spend(db, challenge, Ceremony.REGISTRATION, user.id):
        raise AppError(challenges.REFUSED)
    try:
        verified = ceremonies.verify_registration(party, parsed, challenge)
    except CeremonyError as refused:
        raise AppError(str(refused)) from None
    passkey = Passkey(
        id=uuid.uuid4(),
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[transport.value for transport in parsed.response.transports or ()],
        name=name,
        created_at=utcnow(),
    )
    try:
        inserted = await _insert_within_cap(db, passkey, session_id)
    except IntegrityError:
        # The same credential registered by a request running alongside this one.
        await db.rollback()
        raise ConflictError(ALREADY_REGISTERED) from None
    if not inserted:
        await db.rollback()
        await _explain_refusal(db, passkey, session_id)
    record(db, Event.PASSKEY_ADDED, user_id=user.id, passkey_id=passkey.id)
    await db.commit()
    return passkey


async def _insert_within_cap(db: AsyncSession, passkey: Passkey, session_id: uuid.UUID) -> bool:
    """Insert the passkey unless its user already has MAX_PASSKEYS_PER_USER, is gone, the
    credential is registered already, or the caller's login session ended since the
    request was authenticated; the caller commits.

    Counting and inserting are one statement, and on PostgreSQL the user's row is locked
    first: parallel requests cannot each see room for one more. SQLite runs one write at
    a time, and the statement takes the write lock before it counts. The same lock orders
    the insert against an admin's reset (`remove_all_passkeys` takes it before it
    deletes): a passkey added first is removed by the reset, one added after it finds
    its session ended.
    """
    await _lock_user(db, passkey.user_id)
    held = (
        select(func.count())
        .select_from(Passkey)
        .where(Passkey.user_id == passkey.user_id)
        .scalar_subquery()
    )
    columns = (
        "id",
        "user_id",
        "credential_id",
        "public_key",
        "sign_count",
        "transports",
        "name",
        "created_at",
    )
    table = Passkey.__table__.c
    values = [literal(getattr(passkey, name), table[name].type) for name in columns]
    inserted = await db.execute(
        insert(Passkey).from_select(
            columns,
            select(*values).where(
                held < MAX_PASSKEYS_PER_USER,
                exists().where(User.id == passkey.user_id),
                ~exists().where(Passkey.credential_id == passkey.credential_id),
                exists().where(
                    UserSession.id == session_id,
                    UserSession.user_id == passkey.user_id,
                    UserSession.live_at(passkey.created_at),
                ),
            ),
        )
    )
    return bool(inserted.rowcount)  # type: ignore[attr-defined]


async def _explain_refusal(db: AsyncSession, passkey: Passkey, session_id: uuid.UUID) -> None:
    if not await db.scalar(select(exists().where(User.id == passkey.user_id))):
        raise AccountClosedError
    live = UserSession.id == session_id, UserSession.live_at(utcnow())
    if not await db.scalar(select(exists().where(*live))):
        raise InvalidCredentialsError("Could not validate credentials")
    if await db.scalar(select(exists().where(Passkey.credential_id == passkey.credential_id))):
        raise ConflictError(ALREADY_REGISTERED)
    raise AppError(f"At most {MAX_PASSKEYS_PER_USER} passkeys per user; remove one first")


async def list_passkeys(db: AsyncSession, user_id: uuid.UUID) -> list[Passkey]:
    rows = await db.scalars(
        select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at, Passkey.id)
    )
    return list(rows)


async def remove_passkey(db: AsyncSession, user_id: uuid.UUID, passkey_id: uuid.UUID) -> None:
    """Remove one of the user's passkeys; another user's is as missing as none (404)."""
    removed = await db.execute(
        delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
    )
    if removed.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise NotFoundError("Passkey not found")
    record(db, Event.PASSKEY_REMOVED, user_id=user_id, passkey_id=passkey_id)
    await db.commit()


async def remove_all_passkeys(db: AsyncSession, user_id: uuid.UUID, *, actor_id: uuid.UUID) -> int:
    """Remove every passkey of the user, for an admin's reset, passkeys being added this
    moment included; the caller commits."""
    await _lock_user(db, user_id)
    passkey_ids = list(
        await db.scalars(delete(Passkey).where(Passkey.user_id == user_id).returning(Passkey.id))
    )
    for passkey_id in passkey_ids:
        record(db, Event.PASSKEY_REMOVED, user_id=user_id, actor_id=actor_id, passkey_id=passkey_id)
    return len(passkey_ids)


async def _lock_user(db: AsyncSession, user_id: uuid.UUID) -> None:
    """On PostgreSQL, lock the user's row until commit (SQLite runs one write at a time)."""
    await db.execute(select(User.id).where(User.id == user_id).with_for_update())
