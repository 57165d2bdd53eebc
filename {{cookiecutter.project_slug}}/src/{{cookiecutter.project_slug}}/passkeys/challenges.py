"""The challenges of passkey ceremonies, kept in the database until used or expired.

Each is good for one ceremony, CHALLENGE_LIFETIME long, and found again from the
`clientDataJSON` the browser returns. Spending one is a conditional DELETE committed at
once: of two requests presenting it together exactly one gets it (a row lock on
PostgreSQL, the write lock on SQLite). A registration challenge is its user's, one at a
time; a login challenge names nobody. The purge (purge.py) deletes expired ones.
"""

import uuid
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import utcnow
from ..errors import AppError
from .ceremonies import CHALLENGE_LIFETIME
from .models import PasskeyChallenge

# Login challenges waiting at once, for everyone together. Options are limited per
# address like logins; this bounds the table against a flood from many addresses.
MAX_PENDING_LOGINS = 10_000
REFUSED = "Passkey challenge unknown, already used or expired; ask for new options"


class Ceremony(StrEnum):
    REGISTRATION = "registration"
    LOGIN = "login"


class ChallengesExhaustedError(AppError):
    status_code = 503
    headers = {"Retry-After": "60"}  # noqa: RUF012 - read-only class constant


async def issue(
    db: AsyncSession, challenge: str, ceremony: Ceremony, user_id: uuid.UUID | None = None
) -> None:
    """Keep `challenge` for `ceremony` (and the user it was issued to), committed."""
    now = utcnow()
    if ceremony is Ceremony.REGISTRATION:
        # The user's earlier registration, if any, is abandoned.
        await db.execute(
            delete(PasskeyChallenge).where(
                PasskeyChallenge.user_id == user_id,
                PasskeyChallenge.ceremony == Ceremony.REGISTRATION.value,
            )
        )
    else:
        pending = await db.scalar(
            select(func.count())
            .select_from(PasskeyChallenge)
            .where(
                PasskeyChallenge.ceremony == Ceremony.LOGIN.value,
                PasskeyChallenge.expires_at > now,
            )
        )
        if (pending or 0) >= MAX_PENDING_LOGINS:
            raise ChallengesExhaustedError("Too many passkey logins under way; retry shortly")
    db.add(
        PasskeyChallenge(
            challenge=challenge,
            ceremony=ceremony.value,
            user_id=user_id,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    await db.commit()


async def spend(
    db: AsyncSession, challenge: str, ceremony: Ceremony, user_id: uuid.UUID | None = None
) -> bool:
    """Use `challenge` up; False if it is no live one of `ceremony` issued to `user_id`.
    Spent before the response is checked: a failed attempt costs the challenge too, so
    each one buys a single try."""
    owner = (
        PasskeyChallenge.user_id.is_(None)
        if user_id is None
        else PasskeyChallenge.user_id == user_id
    )
    spent = await db.execute(
        delete(PasskeyChallenge).where(
            PasskeyChallenge.challenge == challenge,
            PasskeyChallenge.ceremony == ceremony.value,
            PasskeyChallenge.expires_at > utcnow(),
            owner,
        )
    )
    await db.commit()
    return bool(spent.rowcount == 1)  # type: ignore[attr-defined]
