"""What only admins do to users: change their role and whether they may log in.

The `set-role` command makes the same changes with no admin behind them (`actor_id`
None): the rule that admins cannot demote themselves does not apply to it, the rule
that an active admin must remain does.
"""

import uuid
from typing import Any

from sqlalchemy import Delete, Select, Update, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..api_keys.service import revoke_all_keys
from ..audit.trail import Event, record
from ..errors import AppError, ConflictError
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..organizations.service import before_user_deletion
{%- endif %}
from ..security.principal_cache import PrincipalCache
from ..security.scopes import Role
from ..users import service as users_service
from ..users.models import User
from ..users.schemas import AdminUserUpdate

# How the audit trail names a change made from the command line, which has no user.
COMMAND_LINE = "command-line"


async def admin_update(
    db: AsyncSession,
    principals: PrincipalCache,
    actor_id: uuid.UUID | None,
    user_id: uuid.UUID,
    data: AdminUserUpdate,
) -> User:
    """Apply the change of the admin `actor_id` (None: the command line), with its events."""
    user = await users_service.get_user(db, user_id)
    if user.id == actor_id and (
        (data.role is not None and data.role != Role.ADMIN) or data.is_active is False
    ):
        # Otherwise the last admin could lock everyone out of user management.
        raise AppError("Admins cannot demote or deactivate themselves")
    changes: dict[str, object] = {}
    if data.role is not None and data.role != user.role:
        changes["role"] = data.role
    if data.is_active is not None and data.is_active != user.is_active:
        changes["is_active"] = data.is_active
    if changes:
        if user.role == Role.ADMIN and user.is_active and not _stays_active_admin(data):
            await _keeping_an_admin(db, user.id, update(User).values(**changes))
        else:
            await db.execute(update(User).where(User.id == user.id).values(**changes))
        if data.is_active is False:
            await users_service.revoke_sessions(db, user.id)
            # Keys too: reactivating a user must not bring their old keys back.
            await revoke_all_keys(db, user.id)
        _record_changes(db, actor_id, user.id, changes)
        await principals.commit_change(db, user.id)
        await db.refresh(user)
    return user


def _record_changes(
    db: AsyncSession, actor_id: uuid.UUID | None, user_id: uuid.UUID, changes: dict[str, object]
) -> None:
    """The events of `changes`, in their transaction."""
    by: dict[str, Any] = {} if actor_id is not None else {"by": COMMAND_LINE}
    if "role" in changes:
        role = str(changes["role"])
        record(db, Event.ROLE_CHANGED, user_id=user_id, actor_id=actor_id, role=role, **by)
    if "is_active" in changes:
        event = Event.USER_REACTIVATED if changes["is_active"] else Event.USER_DEACTIVATED
        record(db, event, user_id=user_id, actor_id=actor_id, **by)


def _stays_active_admin(data: AdminUserUpdate) -> bool:
    return data.role in (None, Role.ADMIN) and data.is_active is not False


async def delete_user(db: AsyncSession, user: User) -> None:
    """Delete `user` (and, by cascade, what hangs from it), keeping an active admin{% if cookiecutter.multi_tenancy == "yes" %}
    and an owner in every organization that has other members{% endif %}."""
    keeps_an_admin = user.role == Role.ADMIN and user.is_active
{%- if cookiecutter.multi_tenancy == "yes" %}
    if keeps_an_admin:
        # The admins' rows before the user's own, which the owners' check locks: two
        # admins closing their accounts at once then queue instead of deadlocking.
        await db.execute(_active_admins().with_for_update())
    await before_user_deletion(db, user.id)
{%- endif %}
    statement = delete(User)
    if keeps_an_admin:
        await _keeping_an_admin(db, user.id, statement)
    else:
        await db.execute(statement.where(User.id == user.id))


async def _keeping_an_admin(db: AsyncSession, user_id: uuid.UUID, change: Update | Delete) -> None:
    """Run `change` of the user, which takes away an active admin, only if another one
    remains.

    Two admins demoting each other at once must not both succeed. On PostgreSQL the
    active admins' rows are locked first, so such changes run one after the other and
    the second sees the first. SQLite has no row locks, but runs one write at a time,
    and the single conditional statement below takes the write lock before it counts.
    """
    await db.execute(_active_admins().with_for_update())
    other = aliased(User)
    another_admin = exists().where(
        other.role == Role.ADMIN, other.is_active.is_(True), other.id != user_id
    )
    done = await db.execute(
        change.where(User.id == user_id, another_admin).execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise ConflictError("At least one active admin must remain")


def _active_admins() -> Select[Any]:
    return select(User.id).where(User.role == Role.ADMIN, User.is_active.is_(True))
