"""Creating, finding and changing users."""

import uuid

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.trail import Event, record
from ..db import release_connection, utcnow
from ..errors import ConflictError, NotFoundError, UnprocessableError
from ..pagination import PageParams
from ..security.password_guard import PasswordGuard
from ..security.passwords import PasswordHasher, password_problem
from ..security.principal_cache import PrincipalCache
from ..security.scopes import Role
from .models import ActionToken, Purpose, User, UserSession
from .schemas import UserCreate, UserUpdateMe


async def create_user(
    db: AsyncSession,
    hasher: PasswordHasher,
    data: UserCreate,
    *,
    role: Role = Role.USER,
    email_verified: bool = False,
    event: Event | None = None,
) -> User:
    """Create the user; `event`, if given, is recorded about them in the same commit."""
    await _ensure_available(db, username=data.username, email=data.email.lower())
    await release_connection(db)
    hashed_password = await hasher.hash(data.password)
    user = User(
        id=uuid.uuid4(),
        username=data.username,
        email=data.email.lower(),
        full_name=data.full_name,
        hashed_password=hashed_password,
        role=role,
        email_verified=email_verified,
    )
    db.add(user)
    if event is not None:
        record(db, event, user_id=user.id)
    await _commit_unique(db)
    return user


async def _ensure_available(
    db: AsyncSession, *, username: str | None = None, email: str | None = None
) -> None:
    if username is not None and await db.scalar(select(User.id).where(User.username == username)):
        raise ConflictError("Username already registered")
    if email is not None and await db.scalar(select(User.id).where(User.email == email)):
        raise ConflictError("Email already registered")


async def find_by_login(db: AsyncSession, login: str) -> User | None:
    """The user whose username or email is `login`, ignoring case."""
    name = login.strip().lower()
    result = await db.scalars(select(User).where(or_(User.username == name, User.email == name)))
    return result.first()


async def admin_exists(db: AsyncSession) -> bool:
    return await db.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFoundError("User not found")
    return user


async def update_me(
    db: AsyncSession, principals: PrincipalCache, user_id: uuid.UUID, data: UserUpdateMe
) -> tuple[User, str | None]:
    """Apply the change; return the user and, if the address changed, the old address.

    A new address is where password resets go: the route re-authenticates the caller
    before it asks for one (account/reauthentication.py).
    """
    user = await get_user(db, user_id)
    old_email = None
    if data.email is not None and data.email.lower() != user.email:
        await _ensure_available(db, email=data.email.lower())
        old_email, user.email = user.email, data.email.lower()
        # A new address has not been proven to belong to this user.
        user.email_verified = False
    if data.full_name is not None:
        user.full_name = data.full_name
    if old_email is not None:
        record(db, Event.EMAIL_CHANGED, user_id=user.id)
    try:
        await principals.commit_change(db, user.id)
    except IntegrityError as exc:
        await db.rollback()
        raise ConflictError("Email already registered") from exc
    return user, old_email


async def change_password(
    db: AsyncSession,
    passwords: PasswordGuard,
    principals: PrincipalCache,
    user_id: uuid.UUID,
    *,
    new_password: str,
    keep_session: uuid.UUID | None,
) -> None:
    """Set the password of a user who re-authenticated; every other login ends. API
    keys stay: they were made by the user, and a reset, not a change, is how an account
    is taken back from whoever else holds it."""
    user = await get_user(db, user_id)
    problem = password_problem(new_password, username=user.username, email=user.email)
    if problem:
        raise UnprocessableError("new_password", problem)
    user.hashed_password = await passwords.hasher.hash(new_password)
    await expire_reset_links(db, user.id)
    await revoke_sessions(db, user.id, keep=keep_session)
    record(db, Event.PASSWORD_CHANGED, user_id=user.id)
    await principals.commit_change(db, user.id)


async def expire_reset_links(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Reset links die when the password changes, however it changed."""
    await db.execute(
        update(ActionToken)
        .where(
            ActionToken.user_id == user_id,
            ActionToken.purpose == Purpose.RESET_PASSWORD,
            ActionToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def revoke_sessions(
    db: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> None:
    """End every login of the user (but `keep`); their tokens fail on the next request."""
    statement = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    await db.execute(statement)


async def list_users(db: AsyncSession, page: PageParams) -> tuple[list[User], int]:
    total = await db.scalar(select(func.count()).select_from(User)) or 0
    rows = await db.scalars(
        select(User).order_by(User.created_at, User.id).limit(page.limit).offset(page.offset)
    )
    return list(rows), total


async def _commit_unique(db: AsyncSession) -> None:
    """Commit; a unique-constraint failure here means a concurrent request took the name."""
    try:
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        raise ConflictError("Username or email already registered") from exc
