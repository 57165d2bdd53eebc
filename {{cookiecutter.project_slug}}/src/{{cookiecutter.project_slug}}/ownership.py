"""Resources that belong to one user: only their owner sees them, and admins see all.

Another user's object answers 404, exactly like a missing one, so ids cannot be probed.
A new owned resource mixes `Owned` into its model and reads through these two helpers.
"""

import uuid
from typing import Any, TypeVar

from sqlalchemy import ForeignKey, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .errors import NotFoundError
from .security.identity import UserSnapshot
from .security.scopes import Role


class Owned:
    """Mixin for a model that belongs to one user; deleting the user deletes it."""

    id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


OwnedT = TypeVar("OwnedT", bound=Owned)
StatementT = TypeVar("StatementT", bound=Select[*tuple[Any, ...]])


def visible_to(user: UserSnapshot, model: type[Owned], statement: StatementT) -> StatementT:
    """`statement`, narrowed to the rows of `model` that `user` may see."""
    if user.role == Role.ADMIN:
        return statement
    return statement.where(model.owner_id == user.id)


async def get_owned_or_404(
    db: AsyncSession, user: UserSnapshot, model: type[OwnedT], object_id: uuid.UUID
) -> OwnedT:
    """The object, if `user` may see it; NotFoundError naming the model otherwise."""
    statement = visible_to(user, model, select(model).where(model.id == object_id))
    found = await db.scalar(statement)
    if found is None:
        raise NotFoundError(f"{model.__name__} not found")
    return found
