"""Rows that belong to one organization: no request of another organization reaches them.

A tenant-owned model mixes in `TenantOwned` and reads through these helpers, with the
organization the caller's credential is bound to (never one named by the request). A row
of another organization answers 404, exactly like a missing one.
"""

import uuid
from typing import Any, TypeVar

from sqlalchemy import ForeignKey, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ..errors import NotFoundError


class TenantOwned:
    """Mixin for a model owned by one organization; deleting it deletes the row."""

    id: Mapped[uuid.UUID]

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


TenantOwnedT = TypeVar("TenantOwnedT", bound=TenantOwned)
StatementT = TypeVar("StatementT", bound=Select[*tuple[Any, ...]])


def in_organization(
    organization_id: uuid.UUID, model: type[TenantOwned], statement: StatementT
) -> StatementT:
    """`statement`, narrowed to the rows of `model` that `organization_id` owns."""
    return statement.where(model.organization_id == organization_id)


async def get_in_organization_or_404(
    db: AsyncSession,
    organization_id: uuid.UUID,
    model: type[TenantOwnedT],
    object_id: uuid.UUID,
) -> TenantOwnedT:
    """The object, if `organization_id` owns it; NotFoundError naming the model otherwise."""
    statement = in_organization(organization_id, model, select(model).where(model.id == object_id))
    found = await db.scalar(statement)
    if found is None:
        raise NotFoundError(f"{model.__name__} not found")
    return found
