"""Two-factor authentication: setting up TOTP, checking codes, turning it off.

A user's TOTP secret waits in `totp_secrets` until a code of it confirms the setup; only
then does `User.mfa_enabled` go on, and logins need a code. Each check that spends
something (a time step, a recovery code) is one conditional UPDATE, so of two requests
presenting the same code at once exactly one gets through.
"""

import logging
import uuid

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..api_keys.service import revoke_all_keys
from ..audit.trail import Event, record
from ..db import utcnow
from ..errors import AppError, ConflictError
{%- if cookiecutter.passkeys == "yes" %}
from ..passkeys.service import remove_all_passkeys
{%- endif %}
from ..security import totp
from ..security.encryption import SecretBox, UndecryptableSecretError
from ..security.identity import UserSnapshot
from ..security.principal_cache import PrincipalCache
from ..security.rate_limit import Bucket, RateLimiter
from ..security.recovery_codes import (
    RECOVERY_CODE_COUNT,
    hash_recovery_code,
    looks_like_recovery_code,
    new_recovery_code,
)
from ..users.models import User
from ..users.service import get_user, revoke_sessions
from .models import RecoveryCode, TotpSecret

logger = logging.getLogger(__name__)
ALREADY_ON = "Two-factor authentication is already on"
NOT_ON = "Two-factor authentication is not on"
INVALID_CODE = "Invalid MFA code"
CODE_REFUSED = "Invalid or already used MFA code"
CODES_LOCKED = "Too many wrong MFA codes; use a recovery code"
# Wrong codes in a row after which TOTP codes are refused, right ones too, until a
# recovery code is used: the login limit alone lets whoever holds the password try
# thousands of codes a day, for as long as they like. A recovery code (80 bits) cannot
# be guessed, and using one starts the count again.
MAX_WRONG_CODES = 10


async def start_setup(
    db: AsyncSession, box: SecretBox, user_id: uuid.UUID, *, issuer: str
) -> tuple[str, str]:
    """A new TOTP secret for the user, who re-authenticated, waiting for confirmation;
    returns it and its URI.

    It replaces one that was never confirmed; an active one stays until turned off.
    """
    user = await get_user(db, user_id)
    if user.mfa_enabled:
        raise ConflictError(ALREADY_ON)
    secret = totp.new_secret()
    await _lock_user(db, user.id)
    await db.execute(
        delete(TotpSecret).where(
            TotpSecret.user_id == user.id,
            select(User.id).where(User.id == user.id, User.mfa_enabled.is_(False)).exists(),
        )
    )
    db.add(TotpSecret(user_id=user.id, encrypted_secret=box.encrypt(secret)))
    record(db, Event.MFA_SETUP_STARTED, user_id=user.id)
    try:
        await db.commit()
    except IntegrityError as exc:
        # A confirmation landed meanwhile: its secret is active and was not replaced.
        await db.rollback()
        raise ConflictError(ALREADY_ON) from exc
    return secret, totp.provisioning_uri(secret, account=user.username, issuer=issuer)


async def confirm_setup(
    db: AsyncSession,
    box: SecretBox,
    limiter: RateLimiter,
    principals: PrincipalCache,
    user_id: uuid.UUID,
    *,
    code: str,
    keep_session: uuid.UUID,
) -> list[str]:
    """Turn two-factor authentication on with a code of the waiting secret; return the
    recovery codes, which exist in plaintext only in this return value.

    Every other login session of the user ends: whoever held one logged in without a code.
    """
    user = await get_user(db, user_id)
    if user.mfa_enabled:
        raise ConflictError(ALREADY_ON)
    # A setup running meanwhile finishes first: the secret read is the one in force.
    await _lock_user(db, user.id)
    pending = await db.scalar(select(TotpSecret).where(TotpSecret.user_id == user.id))
    if pending is None:
        raise AppError("No two-factor setup to confirm; start one first")
    # A stolen token must not make a fast code oracle: checks count like passwords do.
    await limiter.hit(limiter.login, Bucket.REAUTH, str(user.id))
    step = _matching_step(box, pending, code)
    if step is None:
        raise AppError(INVALID_CODE)
    # Only if the secret is still the one checked, and two-factor still off: a setup or
    # a confirmation that landed meanwhile wins.
    turned_on = await db.execute(
        update(User)
        .where(
            User.id == user.id,
            User.mfa_enabled.is_(False),
            select(TotpSecret.user_id)
            .where(
                TotpSecret.user_id == user.id,
                TotpSecret.encrypted_secret == pending.encrypted_secret,
            )
            .exists(),
        )
        .values(mfa_enabled=True)
        .execution_options(synchronize_session=False)
    )
    if turned_on.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise ConflictError("Two-factor setup changed meanwhile; start again")
    # The confirming code's step is spent: it cannot log anyone in afterwards.
    await db.execute(
        update(TotpSecret).where(TotpSecret.user_id == user.id).values(last_used_step=step)
    )
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.add_all(
        RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(user.id, code)) for code in codes
    )
    await revoke_sessions(db, user.id, keep=keep_session)
    # A key made from such a session is as much a way in without a code.
    await revoke_all_keys(db, user.id)
    record(db, Event.MFA_ENABLED, user_id=user.id)
    await principals.commit_change(db, user.id)
    return codes


async def disable(db: AsyncSession, principals: PrincipalCache, user_id: uuid.UUID) -> None:
    """Turn two-factor authentication off for a user who re-authenticated (with the
    password and a code). The secret and every recovery code are deleted."""
    user = await get_user(db, user_id)
    if not await _turn_off(db, user.id):
        await db.rollback()
        raise ConflictError(NOT_ON)
    record(db, Event.MFA_DISABLED, user_id=user.id)
    await principals.commit_change(db, user.id)


async def reset(
    db: AsyncSession, principals: PrincipalCache, user_id: uuid.UUID, *, actor_id: uuid.UUID
) -> UserSnapshot:
    """An admin turns a user's two-factor authentication off (a lost device, no recovery
    code left){% if cookiecutter.passkeys == "yes" %} and removes their passkeys{% endif %}; every login session of the user ends."""
    user = await get_user(db, user_id)
{%- if cookiecutter.passkeys == "yes" %}
    turned_off = await _turn_off(db, user.id)
    # A passkey is both factors at once: a lost device may be one, and goes with the rest.
    passkeys_removed = await remove_all_passkeys(db, user.id, actor_id=actor_id)
    if not turned_off and not passkeys_removed:
        await db.rollback()
        raise ConflictError(f"{NOT_ON} for this user")
{%- else %}
    if not await _turn_off(db, user.id):
        await db.rollback()
        raise ConflictError(f"{NOT_ON} for this user")
{%- endif %}
    await revoke_sessions(db, user.id)
    record(db, Event.MFA_RESET, user_id=user.id, actor_id=actor_id)
    await principals.commit_change(db, user.id)
    return user.snapshot()


class CodeRefusedError(Exception):
    """A two-factor code was refused; `str()` is what the caller is told."""


async def spend_code(db: AsyncSession, box: SecretBox, user_id: uuid.UUID, code: str) -> None:
    """Spend `code`, a TOTP code or a recovery code of the user, or raise CodeRefusedError
    saying why not. Whatever it changed is committed."""
    code = code.strip()
    if looks_like_recovery_code(code):
        if not await _spend_recovery_code(db, user_id, code):
            raise CodeRefusedError(CODE_REFUSED)
        return
    stored = await db.scalar(select(TotpSecret).where(TotpSecret.user_id == user_id))
    if stored is None:
        raise CodeRefusedError(CODE_REFUSED)
    if not await _reserve_check(db, user_id):
        raise CodeRefusedError(CODES_LOCKED)
    step = _matching_step(box, stored, code) if totp.looks_like_code(code) else None
    if step is not None and await _claim_step(db, user_id, step):
        return
    # The check stays counted as a wrong code.
    await db.commit()
    raise CodeRefusedError(CODE_REFUSED)


async def _reserve_check(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """Count one more wrong code before the code is checked, if the user is under
    MAX_WRONG_CODES; False once they are not. A right code sets the count back to 0.

    Counting first is what makes the cap hold for parallel requests: the conditional
    UPDATE is one statement (a row lock on PostgreSQL, the write lock on SQLite), and it
    commits before the check, so of N codes sent at once only those under the cap are
    checked.
    """
    reserved = await db.execute(
        update(TotpSecret)
        .where(TotpSecret.user_id == user_id, TotpSecret.wrong_codes < MAX_WRONG_CODES)
        .values(wrong_codes=TotpSecret.wrong_codes + 1)
    )
    await db.commit()
    return bool(reserved.rowcount == 1)  # type: ignore[attr-defined]


async def reencrypt_secrets(db: AsyncSession, box: SecretBox) -> tuple[int, list[uuid.UUID]]:
    """Encrypt every TOTP secret under the first key; return how many were, and the users
    whose secret no key opens (it stays as it is)."""
    rows = (await db.execute(select(TotpSecret.user_id, TotpSecret.encrypted_secret))).all()
    unreadable = []
    done = 0
    for user_id, ciphertext in rows:
        try:
            moved = box.reencrypt(ciphertext)
        except UndecryptableSecretError:
            unreadable.append(user_id)
            continue
        # Only if unchanged: a setup may have replaced the secret meanwhile.
        await db.execute(
            update(TotpSecret)
            .where(TotpSecret.user_id == user_id, TotpSecret.encrypted_secret == ciphertext)
            .values(encrypted_secret=moved)
        )
        await db.commit()
        done += 1
    return done, unreadable


def _matching_step(box: SecretBox, stored: TotpSecret, code: str) -> int | None:
    try:
        secret = box.decrypt(stored.encrypted_secret)
    except UndecryptableSecretError:
        # The user can still log in with a recovery code, or an admin can reset them.
        logger.error(
            "the TOTP secret of user %s opens with no key of MFA_ENCRYPTION_KEY", stored.user_id
        )
        return None
    return totp.matching_step(secret, code)


async def _claim_step(db: AsyncSession, user_id: uuid.UUID, step: int) -> bool:
    """Record `step` as used, if no code of it or of a later step was accepted before."""
    claimed = await db.execute(
        update(TotpSecret)
        .where(
            TotpSecret.user_id == user_id,
            or_(TotpSecret.last_used_step.is_(None), TotpSecret.last_used_step < step),
        )
        .values(last_used_step=step, wrong_codes=0)
    )
    await db.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def _spend_recovery_code(db: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    spent = await db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == hash_recovery_code(user_id, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await db.commit()
        return False
    remaining = await db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    # Whoever holds a recovery code is the user: the count of wrong TOTP codes starts again.
    await db.execute(update(TotpSecret).where(TotpSecret.user_id == user_id).values(wrong_codes=0))
    record(db, Event.RECOVERY_CODE_USED, user_id=user_id, remaining=str(remaining or 0))
    await db.commit()
    return True


async def _lock_user(db: AsyncSession, user_id: uuid.UUID) -> None:
    """On PostgreSQL, lock the user's row until commit: changes to the user's two-factor
    state run one after the other. SQLite runs one write at a time anyway."""
    await db.execute(select(User.id).where(User.id == user_id).with_for_update())


async def _turn_off(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """Two-factor off, secret and recovery codes gone; False if it was not on."""
    turned_off = await db.execute(
        update(User)
        .where(User.id == user_id, User.mfa_enabled.is_(True))
        .values(mfa_enabled=False)
        .execution_options(synchronize_session=False)
    )
    if turned_off.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await db.execute(delete(TotpSecret).where(TotpSecret.user_id == user_id))
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return True
