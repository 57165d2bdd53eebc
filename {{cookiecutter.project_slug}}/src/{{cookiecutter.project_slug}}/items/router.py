import uuid

from fastapi import APIRouter, status

from ..auth.dependencies import ItemsReader, ItemsWriter
from ..pagination import PageDep
from ..state import SessionDep
from . import service
from .schemas import ItemCreate, ItemPage, ItemPublic, ItemUpdate

router = APIRouter(prefix="/items", tags=["items"])


@router.get("")
async def list_items(principal: ItemsReader, page: PageDep, session: SessionDep) -> ItemPage:
    items, total = await service.list_items(session, principal.user, page)
    return ItemPage(
        items=[ItemPublic.model_validate(item) for item in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(data: ItemCreate, principal: ItemsWriter, session: SessionDep) -> ItemPublic:
    return ItemPublic.model_validate(await service.create_item(session, principal.user, data))


@router.get("/{item_id}")
async def read_item(item_id: uuid.UUID, principal: ItemsReader, session: SessionDep) -> ItemPublic:
    return ItemPublic.model_validate(await service.get_item(session, principal.user, item_id))


@router.patch("/{item_id}")
async def update_item(
    item_id: uuid.UUID, data: ItemUpdate, principal: ItemsWriter, session: SessionDep
) -> ItemPublic:
    item = await service.update_item(session, principal.user, item_id, data)
    return ItemPublic.model_validate(item)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: uuid.UUID, principal: ItemsWriter, session: SessionDep) -> None:
    await service.delete_item(session, principal.user, item_id)
