"""Paging for list endpoints: the `limit`/`offset` query and the page every list returns."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

MAX_PAGE_SIZE = 100
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, rows: Iterable[object], total: int, page: PageParams) -> Self:
        """`Page[Schema].of(rows, total, page)`: the ORM rows read into `Schema`."""
        return cls.model_validate(
            {"items": rows, "total": total, "limit": page.limit, "offset": page.offset},
            from_attributes=True,
        )
