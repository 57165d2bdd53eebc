"""Logging in with a passkey: a discoverable credential names its user, its signature
proves the device, and the device verified the person (user verification is required),
so a passkey login is both factors: two-factor users need no code with it.

Each refusal after the challenge was spent is an audit event, `passkey_login_failed`
with a `reason`. Those anyone can send (an unknown passkey, a bad signature) are bounded
per subject like failed logins: the passkey's user when the credential is known, else
the client's address. A counter that went backwards is always written: it took a valid
signature, so it cannot be flooded, and it is the one sign of a cloned passkey.
"""

from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.trail import Event, record, record_limited
from ..db import utcnow
from ..errors import InvalidCredentialsError
from ..passkeys import ceremonies, challenges
from ..passkeys.ceremonies import CeremonyError, RelyingParty
from ..passkeys.challenges import Ceremony
from ..passkeys.models import Passkey
from ..security.rate_limit import RateLimiter
from ..users.models import User
from .service import check_may_log_in

UNKNOWN_PASSKEY = "Unknown passkey"
COUNTER_WENT_BACK = "Passkey signature counter went backwards: the passkey may have been cloned"


async def log_in_with_passkey(
    db: AsyncSession,
    limiter: RateLimiter,
    party: RelyingParty,
    *,
    credential: dict[str, Any],
    client: str,
    require_verified_email: bool,
) -> User:
    """The user whose passkey signed this assertion, ready for a new login session.

    401 for an assertion refused; 400 and 403 as for a password login (an inactive
    account, an unverified address). The `login_succeeded` event waits in `db` for the
    session it opens to commit it.
    """
    try:
        parsed, challenge = ceremonies.parse_assertion(credential)
    except CeremonyError as refused:
        raise InvalidCredentialsError(str(refused)) from None
    if not await challenges.spend(db, challenge, Ceremony.LOGIN):
        raise InvalidCredentialsError(challenges.REFUSED)
    found = (
        await db.execute(
            select(Passkey, User)
            .join(User, Passkey.user_id == User.id)
            .where(Passkey.credential_id == parsed.raw_id)
        )
    ).one_or_none()
    if found is None:
        await _failed(db, limiter, "unknown", subject=f"address:{client}", client=client)
        raise InvalidCredentialsError(UNKNOWN_PASSKEY)
    passkey, user = found
    subject = f"user:{user.id}"
    try:
        if not ceremonies.user_handle_matches(parsed, user.id.bytes):
            raise CeremonyError("Passkey not accepted: its user handle is not its owner's")
        verified = ceremonies.verify_assertion(party, parsed, challenge, passkey.public_key)
    except CeremonyError as refused:
        await _failed(db, limiter, "invalid", subject=subject, client=client, passkey=passkey)
        raise InvalidCredentialsError(str(refused)) from None
    if not await _advance_counter(db, passkey, verified.new_sign_count):
        if not await db.scalar(select(exists().where(Passkey.id == passkey.id))):
            # Removed while this login was checked: as unknown as one never registered.
            raise InvalidCredentialsError(UNKNOWN_PASSKEY)
        record(
            db,
            Event.PASSKEY_LOGIN_FAILED,
            user_id=user.id,
            client=client,
            reason="counter",
            passkey_id=passkey.id,
        )
        await db.commit()
        raise InvalidCredentialsError(COUNTER_WENT_BACK)
    await check_may_log_in(
        db, limiter, user, client=client, require_verified_email=require_verified_email
    )
    record(db, Event.LOGIN_SUCCEEDED, user_id=user.id, client=client, factor="passkey")
    return user


async def _advance_counter(db: AsyncSession, passkey: Passkey, new_count: int) -> bool:
    """Store the assertion's signature counter, if it went forward; False if it did not.

    An authenticator that keeps no counter always says 0, and stays at 0. One that does
    must show more than any count stored before: the comparison is the UPDATE's own
    condition, so two logins at once cannot both pass it with one value.
    """
    went_forward = Passkey.sign_count == 0 if new_count == 0 else Passkey.sign_count < new_count
    advanced = await db.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id, went_forward)
        .values(sign_count=new_count, last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(advanced.rowcount == 1)  # type: ignore[attr-defined]


async def _failed(
    db: AsyncSession,
    limiter: RateLimiter,
    reason: str,
    *,
    subject: str,
    client: str,
    passkey: Passkey | None = None,
) -> None:
    ids = {} if passkey is None else {"passkey_id": passkey.id}
    await record_limited(
        db,
        limiter,
        Event.PASSKEY_LOGIN_FAILED,
        subject=subject,
        user_id=passkey.user_id if passkey else None,
        client=client,
        reason=reason,
        **ids,
    )
    await db.commit()
