"""The challenges of passkey ceremonies, kept in the database until used or expired.

Each is good for one ceremony, CHALLENGE_LIFETIME long, and found again from the
`clientDataJSON` the browser returns. Spending one is a conditional DELETE committed at
once: of two requests presenting it together exactly one gets it (a row lock on
PostgreSQL, the write lock on SQLite). A registration challenge is its user's, one at a
time; a login challenge names nobody. The purge (purge.py) deletes expired ones.
"""

import uuid
from enum import StrEnum

from sqlalchemy import delete, {% if cookiecutter.database == "postgresql" %}func, {% endif %}select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import utcnow
from .ceremonies import CHALLENGE_LIFETIME
from .models import PasskeyChallenge

# Login challenges kept at once, for everyone together. Options are limited per address
# like logins; past this bound the oldest waiting ones make room, so a flood from many
# addresses neither grows the table nor turns passkey login off (docs/passkeys.md).
MAX_PENDING_LOGINS = 10_000
REFUSED = "Passkey challenge unknown, already used or expired; ask for new options"
{%- if cookiecutter.database == "postgresql" %}
# The transaction-scoped advisory lock that makes issuing login challenges one at a time.
_LOGIN_ISSUE_LOCK = 0x7061_736B_6579  # "paskey"
{%- endif %}


class Ceremony(StrEnum):
    REGISTRATION = "registration"
    LOGIN = "login"


async def issue(
    db: AsyncSession, challenge: str, ceremony: Ceremony, user_id: uuid.UUID | None = None
) -> None:
    """Keep `challenge` for `ceremony` (and the user it was issued to), committed."""
    if ceremony is Ceremony.REGISTRATION:
        # The user's earlier registration, if any, is abandoned.
        await db.execute(
            delete(PasskeyChallenge).where(
                PasskeyChallenge.user_id == user_id,
                PasskeyChallenge.ceremony == Ceremony.REGISTRATION.value,
            )
        )
    else:
        await _make_room_for_a_login(db)
    db.add(
        PasskeyChallenge(
            challenge=challenge,
            ceremony=ceremony.value,
            user_id=user_id,
            expires_at=utcnow() + CHALLENGE_LIFETIME,
        )
    )
    await db.commit()


async def _make_room_for_a_login(db: AsyncSession) -> None:
    """Delete the oldest login challenges beyond MAX_PENDING_LOGINS - 1, so the one about
    to be added keeps the table at the bound. Issuers run one at a time, so the bound is
    exact for parallel requests: {% if cookiecutter.database == "postgresql" %}an advisory lock is held to the commit.{% else %}this DELETE takes SQLite's write lock, held to the commit.{% endif %}
    """
{%- if cookiecutter.database == "postgresql" %}
    await db.execute(select(func.pg_advisory_xact_lock(_LOGIN_ISSUE_LOCK)))
{%- endif %}
    oldest_beyond = (
        select(PasskeyChallenge.challenge)
        .where(PasskeyChallenge.ceremony == Ceremony.LOGIN.value)
        .order_by(PasskeyChallenge.expires_at.desc(), PasskeyChallenge.challenge.desc())
        .offset(MAX_PENDING_LOGINS - 1)
    )
    await db.execute(delete(PasskeyChallenge).where(PasskeyChallenge.challenge.in_(oldest_beyond)))


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
