"""Every ORM query of a request is scoped to its organization, whatever the route wrote.

`authorize` sets `current_organization` from the caller's credential, and the request's
middleware clears it after the response. While it is set:

- every ORM `SELECT`, `UPDATE` and `DELETE` of a `TenantOwned` model gets
  `organization_id = <the organization>` added (SQLAlchemy's `with_loader_criteria`,
  applied in `do_orm_execute`), joins and relationship loads included;
- every `TenantOwned` row flushed gets that `organization_id` if it has none, and a row
  of another organization stops the flush (`CrossTenantWriteError`).

The helpers of tenancy/owned.py say the same explicitly, so each route reads correctly
on its own; this is what catches the query that forgot.
"""

import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from .owned import TenantOwned

# The organization the request's credential is bound to; None outside a bound request.
current_organization: ContextVar[uuid.UUID | None] = ContextVar(
    "current_organization", default=None
)


class CrossTenantWriteError(Exception):
    """A row of one organization was about to be written in a request of another."""


@event.listens_for(Session, "do_orm_execute")
def _scope_tenant_queries(state: ORMExecuteState) -> None:
    organization_id = current_organization.get()
    if organization_id is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantOwned,
                lambda model: model.organization_id == organization_id,
                include_aliases=True,
            )
        )


@event.listens_for(Session, "before_flush")
def _stamp_tenant_rows(session: Session, _context: Any, _instances: object) -> None:
    organization_id = current_organization.get()
    if organization_id is None:
        return
    for row in _tenant_rows(session.new, session.dirty):
        if row.organization_id is None:
            row.organization_id = organization_id
        elif row.organization_id != organization_id:
            raise CrossTenantWriteError(
                f"{type(row).__name__} of another organization written in this request"
            )


def _tenant_rows(*groups: Iterable[object]) -> Iterable[TenantOwned]:
    for group in groups:
        yield from (row for row in group if isinstance(row, TenantOwned))
