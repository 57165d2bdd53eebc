"""Items belong to their owner; only an admin sees everyone's."""

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFoundError
from ..pagination import PageParams
from ..security.scopes import Role
from ..users.identity import UserSnapshot
from .models import Item
from .schemas import ItemCreate, ItemUpdate


def _visible_to(user: UserSnapshot, statement: Select[Item]) -> Select[Item]:
    if user.role == Role.ADMIN:
        return statement
    return statement.where(Item.owner_id == user.id)


async def create_item(session: AsyncSession, owner: UserSnapshot, data: ItemCreate) -> Item:
    item = Item(title=data.title, description=data.description, owner_id=owner.id)
    session.add(item)
    await session.commit()
    return item


async def list_items(
    session: AsyncSession, user: UserSnapshot, page: PageParams
) -> tuple[list[Item], int]:
    visible = _visible_to(user, select(Item))
    total = await session.scalar(select(func.count()).select_from(visible.subquery())) or 0
    rows = await session.scalars(
        visible.order_by(Item.created_at, Item.id).limit(page.limit).offset(page.offset)
    )
    return list(rows), total


async def get_item(session: AsyncSession, user: UserSnapshot, item_id: uuid.UUID) -> Item:
    """The item, if `user` may see it; another user's item is as absent as a missing one."""
    item = await session.scalar(_visible_to(user, select(Item).where(Item.id == item_id)))
    if item is None:
        raise NotFoundError("Item not found")
    return item


async def update_item(
    session: AsyncSession, user: UserSnapshot, item_id: uuid.UUID, data: ItemUpdate
) -> Item:
    item = await get_item(session, user, item_id)
    if data.title is not None:
        item.title = data.title
    if "description" in data.model_fields_set:
        item.description = data.description
    await session.commit()
    return item


async def delete_item(session: AsyncSession, user: UserSnapshot, item_id: uuid.UUID) -> None:
    item = await get_item(session, user, item_id)
    await session.delete(item)
    await session.commit()
