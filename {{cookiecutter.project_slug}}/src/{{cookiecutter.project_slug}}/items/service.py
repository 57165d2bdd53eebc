{% if cookiecutter.multi_tenancy == "yes" -%}
"""Items belong to an organization: every member sees them all; their creator, and the
organization's owners and admins, change them."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..access.principal import Principal
from ..errors import ForbiddenError
from ..pagination import PageParams
from ..security.scopes import OrganizationRole
from ..tenancy.owned import get_in_organization_or_404, in_organization
from .models import Item
from .schemas import ItemCreate, ItemUpdate

# Who may change any item of their organization, not only those they created.
ITEM_MANAGERS = frozenset({OrganizationRole.OWNER, OrganizationRole.ADMIN})


async def create_item(db: AsyncSession, principal: Principal, data: ItemCreate) -> Item:
    item = Item(
        **data.model_dump(), owner_id=principal.user.id, organization_id=principal.organization_id
    )
    db.add(item)
    await db.commit()
    return item


async def list_items(
    db: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[Item], int]:
    visible = in_organization(principal.organization_id, Item, select(Item))
    total = await db.scalar(select(func.count()).select_from(visible.subquery())) or 0
    rows = await db.scalars(
        visible.order_by(Item.created_at, Item.id).limit(page.limit).offset(page.offset)
    )
    return list(rows), total


async def get_item(db: AsyncSession, principal: Principal, item_id: uuid.UUID) -> Item:
    return await get_in_organization_or_404(db, principal.organization_id, Item, item_id)


async def update_item(
    db: AsyncSession, principal: Principal, item_id: uuid.UUID, data: ItemUpdate
) -> Item:
    item = await _changeable_item(db, principal, item_id)
    # The schema's fields, not a list here: a field added there is saved with no edit.
    for field in data.model_fields_set:
        setattr(item, field, getattr(data, field))
    await db.commit()
    return item


async def delete_item(db: AsyncSession, principal: Principal, item_id: uuid.UUID) -> None:
    item = await _changeable_item(db, principal, item_id)
    await db.delete(item)
    await db.commit()


async def _changeable_item(db: AsyncSession, principal: Principal, item_id: uuid.UUID) -> Item:
    """The item, if the caller created it or manages the organization: 404 if it is not
    the organization's, 403 if the caller may only read it."""
    item = await get_item(db, principal, item_id)
    membership = principal.membership
    if item.owner_id != principal.user.id and (
        membership is None or membership.role not in ITEM_MANAGERS
    ):
        raise ForbiddenError("Only the item's creator or an owner or admin may change it")
    return item
{%- else -%}
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
{%- endif %}
