"""Creating, finding and changing users."""

import uuid

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.principal_cache import PrincipalCache
from ..db import utcnow
from ..errors import AppError, ConflictError, NotFoundError, UnprocessableError
from ..pagination import PageParams
from ..security.events import security_event
from ..security.passwords import PasswordHasher, password_problem
from ..security.scopes import Role
from ..state import Services
from .models import ActionToken, Purpose, User, UserSession
from .schemas import AdminUserUpdate, UserCreate, UserUpdateMe


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    data: UserCreate,
    *,
    role: Role = Role.USER,
    email_verified: bool = False,
) -> User:
    await _ensure_available(session, username=data.username, email=data.email.lower())
    user = User(
        username=data.username,
        email=data.email.lower(),
        full_name=data.full_name,
        hashed_password=await hasher.hash(data.password),
        role=role,
        email_verified=email_verified,
    )
    session.add(user)
    await _commit_unique(session)
    return user


async def _ensure_available(
    session: AsyncSession, *, username: str | None = None, email: str | None = None
) -> None:
    if username is not None and await session.scalar(
        select(User.id).where(User.username == username)
    ):
        raise ConflictError("Username already registered")
    if email is not None and await session.scalar(select(User.id).where(User.email == email)):
        raise ConflictError("Email already registered")


async def find_by_login(session: AsyncSession, login: str) -> User | None:
    """The user whose username or email is `login`, ignoring case."""
    name = login.strip().lower()
    result = await session.scalars(
        select(User).where(or_(User.username == name, User.email == name))
    )
    return result.first()


async def admin_exists(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("User not found")
    return user


async def check_current_password(services: Services, user: User, password: str) -> None:
    """AppError unless `password` is the user's. Wrong guesses count against
    RATE_LIMIT_LOGIN per user: a stolen token must not make a fast password oracle."""
    limiter = services.limiter
    await limiter.check(limiter.login, "current-password", str(user.id))
    ok, _ = await services.hasher.verify(password, user.hashed_password)
    if not ok:
        await limiter.count(limiter.login, "current-password", str(user.id))
        raise AppError("Current password is incorrect")


async def update_me(
    session: AsyncSession, services: Services, user_id: uuid.UUID, data: UserUpdateMe
) -> tuple[User, str | None]:
    """Apply the change; return the user and, if the address changed, the old address."""
    user = await get_user(session, user_id)
    old_email = None
    if data.email is not None and data.email.lower() != user.email:
        # The address is how a password is reset: whoever holds a stolen token or key
        # must not be able to point it elsewhere.
        await check_current_password(services, user, data.current_password or "")
        await _ensure_available(session, email=data.email.lower())
        old_email, user.email = user.email, data.email.lower()
        # A new address has not been proven to belong to this user.
        user.email_verified = False
    if data.full_name is not None:
        user.full_name = data.full_name
    try:
        await services.principals.commit_change(session, user.id)
    except IntegrityError as exc:
        await session.rollback()
        raise ConflictError("Email already registered") from exc
    if old_email is not None:
        security_event("email_changed", user_id=str(user.id))
    return user, old_email


async def change_password(
    session: AsyncSession,
    services: Services,
    user_id: uuid.UUID,
    *,
    current_password: str,
    new_password: str,
    keep_session: uuid.UUID | None,
) -> None:
    user = await get_user(session, user_id)
    await check_current_password(services, user, current_password)
    problem = password_problem(new_password, username=user.username, email=user.email)
    if problem:
        raise UnprocessableError("new_password", problem)
    user.hashed_password = await services.hasher.hash(new_password)
    await expire_reset_links(session, user.id)
    await revoke_sessions(session, user.id, keep=keep_session)
    await services.principals.commit_change(session, user.id)
    security_event("password_changed", user_id=str(user.id))


async def expire_reset_links(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Reset links die when the password changes, however it changed."""
    await session.execute(
        update(ActionToken)
        .where(
            ActionToken.user_id == user_id,
            ActionToken.purpose == Purpose.RESET_PASSWORD,
            ActionToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def revoke_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> None:
    """End every login of the user (but `keep`); their tokens fail on the next request."""
    statement = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    await session.execute(statement)


async def list_users(session: AsyncSession, page: PageParams) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User)) or 0
    rows = await session.scalars(
        select(User).order_by(User.created_at, User.id).limit(page.limit).offset(page.offset)
    )
    return list(rows), total


async def admin_update(
    session: AsyncSession,
    principals: PrincipalCache,
    acting_admin_id: uuid.UUID,
    user_id: uuid.UUID,
    data: AdminUserUpdate,
) -> tuple[User, Role]:
    """Apply an admin's change; return the user and the role they had before."""
    user = await get_user(session, user_id)
    if user.id == acting_admin_id and (
        (data.role is not None and data.role != Role.ADMIN) or data.is_active is False
    ):
        # Otherwise the last admin could lock everyone out of user management.
        raise AppError("Admins cannot demote or deactivate themselves")
    previous_role = user.role
    if data.role is not None:
        user.role = data.role
    if data.is_active is not None:
        user.is_active = data.is_active
        if not data.is_active:
            await revoke_sessions(session, user.id)
    await principals.commit_change(session, user.id)
    return user, previous_role


async def _commit_unique(session: AsyncSession) -> None:
    """Commit; a unique-constraint failure here means a concurrent request took the name."""
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise ConflictError("Username or email already registered") from exc
