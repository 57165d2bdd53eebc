"""Checking who logs in, and taking an account back with a mailed reset link.

Password checks follow one order, so that parallel requests cannot outrun a limit and a
flood of them cannot starve the database: find the account, release the database
connection, count the attempt against the account's budget, only then verify the
password, and write what follows in a transaction of its own.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from ..api_keys.service import revoke_all_keys
from ..audit.trail import Event, record, record_limited
from ..db import release_connection
from ..errors import (
    AppError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    SecondFactorError,
    UnprocessableError,
    error_responses,
)
from ..mfa.service import CodeRefusedError, spend_code
from ..security.encryption import SecretBox
from ..security.identity import UserSnapshot
from ..security.password_guard import PasswordGuard
from ..security.passwords import MAX_PASSWORD_LENGTH, PasswordHasher, password_problem
from ..security.principal_cache import PrincipalCache
from ..security.rate_limit import Bucket, RateLimiter
from ..users import mailed_links
from ..users import service as users_service
from ..users.models import Purpose, User
from ..users.service import find_by_login

# The form's fields are free text: bound them before anything is looked up or hashed.
MAX_LOGIN_LENGTH = 254
# How much of a login name that matches no account a log line may show.
LOGIN_HINT_LENGTH = 2
# What `log_in` answers: 400 inactive account, 401 wrong credentials, 403 address not
# verified (REQUIRE_VERIFIED_EMAIL).
LOGIN_ERRORS = error_responses(400, 401, 403)


def login_hint(name: str) -> str:
    """A failed login's name as a log line may show it: people type passwords there."""
    return f"{name[:LOGIN_HINT_LENGTH]}…[{len(name)}]"


async def log_in(
    db: AsyncSession,
    passwords: PasswordGuard,
    totp_secrets: SecretBox,
    *,
    login: str,
    password: str,
    otp: str | None,
    client: str,
    require_verified_email: bool,
) -> User:
    """The user whose login and password these are (and, with two-factor on, a code of
    theirs), ready for a new login session.

    The `login_succeeded` event waits in `db` for the session it opens to commit it.
    """
    passwords.hasher.ensure_room()
    login_name = login.strip().lower()[:MAX_LOGIN_LENGTH]
    user = None
    # No stored name is that long or holds a NUL (PostgreSQL could not even compare it).
    if len(login) <= MAX_LOGIN_LENGTH and "\x00" not in login:
        user = await find_by_login(db, login)
    await release_connection(db)
    # One budget per account, whichever of its names was typed; counted before the
    # check, so N guesses at once check at most the limit's worth of passwords. Every
    # attempt counts, a successful one too: while the budget is spent, the account's
    # owner waits out the window like anyone else (docs/rate-limits.md).
    account = f"user:{user.id}" if user else f"name:{login_name}"
    # An unknown login still costs one hash verification, so response time does not tell
    # which logins exist.
    hashed = user.hashed_password if user else None
    if len(password) > MAX_PASSWORD_LENGTH:
        password, hashed = "", None
    ok, new_hash = await passwords.check(Bucket.LOGIN_ACCOUNT, account, password, hashed)
    if user is None or not ok:
        # A row per account a minute at most (audit/trail.py); the log has every one.
        # Unknown names are bounded per address: made-up names cost nothing to vary.
        hint = {} if user else {"login": login_hint(login_name)}
        await record_limited(
            db,
            passwords.limiter,
            Event.LOGIN_FAILED,
            subject=account if user else f"address:{client}",
            user_id=user.id if user else None,
            client=client,
            **hint,
        )
        await db.commit()
        raise InvalidCredentialsError("Incorrect username or password")
    if new_hash is not None:
        user.hashed_password = new_hash
        await db.commit()
    await check_may_log_in(
        db, passwords.limiter, user, client=client, require_verified_email=require_verified_email
    )
    if user.mfa_enabled:
        # Last, so that no code is spent on a login refused for another reason. Guessing
        # codes needs the password, and each guess was counted with it above.
        await _check_second_factor(db, passwords, totp_secrets, user, otp, client)
    record(db, Event.LOGIN_SUCCEEDED, user_id=user.id, client=client)
    return user


async def check_may_log_in(
    db: AsyncSession,
    limiter: RateLimiter,
    user: User,
    *,
    client: str,
    require_verified_email: bool,
) -> None:
    """Refuse a login of `user`, whose credential was right, when the account is
    inactive (400) or its address unverified while REQUIRE_VERIFIED_EMAIL (403)."""
    if not user.is_active:
        await record_limited(
            db,
            limiter,
            Event.LOGIN_INACTIVE,
            subject=f"user:{user.id}",
            user_id=user.id,
            client=client,
        )
        await db.commit()
        raise AppError("Inactive user")
    if require_verified_email and not user.email_verified:
        raise EmailNotVerifiedError("Email address not verified")


async def _check_second_factor(
    db: AsyncSession,
    passwords: PasswordGuard,
    totp_secrets: SecretBox,
    user: User,
    otp: str | None,
    client: str,
) -> None:
    # The password was right: telling so is unavoidable, since a client must learn that a
    # code is needed. A wrong code is told apart from a missing one for the same reason.
    if not otp:
        raise SecondFactorError("MFA code required")
    try:
        await spend_code(db, totp_secrets, user.id, otp)
    except CodeRefusedError as refused:
        # Bounded like failed logins: whoever guesses codes holds the password.
        await record_limited(
            db,
            passwords.limiter,
            Event.MFA_CODE_REJECTED,
            subject=f"user:{user.id}",
            user_id=user.id,
            client=client,
        )
        await db.commit()
        raise SecondFactorError(str(refused)) from None


async def reset_password(
    db: AsyncSession,
    hasher: PasswordHasher,
    principals: PrincipalCache,
    *,
    token: str,
    new_password: str,
) -> UserSnapshot:
    user = await mailed_links.find_link(db, token, Purpose.RESET_PASSWORD)
    problem = password_problem(new_password, username=user.username, email=user.email)
    if problem:
        # The link stays usable: the user only has to choose a better password.
        raise UnprocessableError("new_password", problem)
    # No transaction spans the hash: on SQLite it would hold the write lock for every
    # other writer meanwhile.
    await release_connection(db)
    hashed_password = await hasher.hash(new_password)
    await mailed_links.spend_link(db, token, Purpose.RESET_PASSWORD)
    user.hashed_password = hashed_password
    await users_service.expire_reset_links(db, user.id)
    await users_service.revoke_sessions(db, user.id)
    # A reset is how an account is taken back: whoever held it must keep nothing.
    await revoke_all_keys(db, user.id)
    record(db, Event.PASSWORD_RESET, user_id=user.id)
    await principals.commit_change(db, user.id)
    return user.snapshot()
