"""Items belong to their owner; only an admin sees everyone's."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ownership import get_owned_or_404, visible_to
from ..pagination import PageParams
from ..security.identity import UserSnapshot
from .models import Item
from .schemas import ItemCreate, ItemUpdate


async def create_item(db: AsyncSession, owner: UserSnapshot, data: ItemCreate) -> Item:
    item = Item(**data.model_dump(), owner_id=owner.id)
    db.add(item)
    await db.commit()
    return item


async def list_items(
    db: AsyncSession, user: UserSnapshot, page: PageParams
) -> tuple[list[Item], int]:
    visible = visible_to(user, Item, select(Item))
    total = await db.scalar(select(func.count()).select_from(visible.subquery())) or 0
    rows = await db.scalars(
        visible.order_by(Item.created_at, Item.id).limit(page.limit).offset(page.offset)
    )
    return list(rows), total


async def update_item(
    db: AsyncSession, user: UserSnapshot, item_id: uuid.UUID, data: ItemUpdate
) -> Item:
    item = await get_owned_or_404(db, user, Item, item_id)
    # The schema's fields, not a list here: a field added there is saved with no edit.
    for field in data.model_fields_set:
        setattr(item, field, getattr(data, field))
    await db.commit()
    return item


async def delete_item(db: AsyncSession, user: UserSnapshot, item_id: uuid.UUID) -> None:
    item = await get_owned_or_404(db, user, Item, item_id)
    await db.delete(item)
    await db.commit()
