import uuid

from fastapi import APIRouter, status

from ..errors import error_responses
{%- if cookiecutter.multi_tenancy == "no" %}
from ..ownership import get_owned_or_404
{%- endif %}
from ..pagination import Page, PageDep
from ..services import DbDep
from . import service
from .dependencies import ItemsReader, ItemsWriter
{%- if cookiecutter.multi_tenancy == "no" %}
from .models import Item
{%- endif %}
from .schemas import ItemCreate, ItemPublic, ItemUpdate

router = APIRouter(prefix="/items", tags=["items"])
{%- if cookiecutter.multi_tenancy == "yes" %}
# One item by id: 404 when it does not exist or is another organization's.
OWNED_ITEM = error_responses(404)
# Changing one: 403 too, for a member who neither created it nor manages the organization.
CHANGED_ITEM = error_responses(403, 404)
{%- else %}
# One item by id: 404 when it does not exist or is not the caller's.
OWNED_ITEM = error_responses(404)
{%- endif %}


@router.get("")
async def list_items(principal: ItemsReader, page: PageDep, db: DbDep) -> Page[ItemPublic]:
    items, total = await service.list_items(db, principal{% if cookiecutter.multi_tenancy == "no" %}.user{% endif %}, page)
    return Page[ItemPublic].of(items, total, page)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(data: ItemCreate, principal: ItemsWriter, db: DbDep) -> ItemPublic:
    return ItemPublic.model_validate(await service.create_item(db, principal{% if cookiecutter.multi_tenancy == "no" %}.user{% endif %}, data))


@router.get("/{item_id}", responses=OWNED_ITEM)
async def read_item(item_id: uuid.UUID, principal: ItemsReader, db: DbDep) -> ItemPublic:
{%- if cookiecutter.multi_tenancy == "yes" %}
    return ItemPublic.model_validate(await service.get_item(db, principal, item_id))
{%- else %}
    return ItemPublic.model_validate(await get_owned_or_404(db, principal.user, Item, item_id))
{%- endif %}


@router.patch("/{item_id}", responses={% if cookiecutter.multi_tenancy == "yes" %}CHANGED_ITEM{% else %}OWNED_ITEM{% endif %})
async def update_item(
    item_id: uuid.UUID, data: ItemUpdate, principal: ItemsWriter, db: DbDep
) -> ItemPublic:
    item = await service.update_item(db, principal{% if cookiecutter.multi_tenancy == "no" %}.user{% endif %}, item_id, data)
    return ItemPublic.model_validate(item){%- if cookiecutter.multi_tenancy == "yes" %}


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CHANGED_ITEM)
async def delete_item(item_id: uuid.UUID, principal: ItemsWriter, db: DbDep) -> None:
    await service.delete_item(db, principal, item_id)
{%- else %}


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=OWNED_ITEM)
async def delete_item(item_id: uuid.UUID, principal: ItemsWriter, db: DbDep) -> None:
    await service.delete_item(db, principal.user, item_id)
{%- endif %}
