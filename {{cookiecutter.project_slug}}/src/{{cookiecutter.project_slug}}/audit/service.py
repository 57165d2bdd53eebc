"""Reading the audit trail."""

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..pagination import PageParams
from .models import AuditEvent
from .trail import Event


async def list_events(
{%- if cookiecutter.multi_tenancy == "yes" %}
    db: AsyncSession,
    page: PageParams,
    *,
    user_id: uuid.UUID | None,
    event: Event | None,
    organization_id: uuid.UUID | None = None,
) -> tuple[list[AuditEvent], int]:
    """One page of the events about `user_id` and named `event` (either may be None),
    in `organization_id`, else of the platform (in no organization: platform
    administration reads no tenant data), newest first, and how many there are in all."""
    filters: list[ColumnElement[bool]] = [
        AuditEvent.organization_id.is_(None)
        if organization_id is None
        else AuditEvent.organization_id == organization_id
    ]
{%- else %}
    db: AsyncSession, page: PageParams, *, user_id: uuid.UUID | None, event: Event | None
) -> tuple[list[AuditEvent], int]:
    """One page of the events about `user_id` and named `event` (either may be None),
    newest first, and how many there are in all."""
    filters: list[ColumnElement[bool]] = []
{%- endif %}
    if user_id is not None:
        filters.append(AuditEvent.user_id == user_id)
    if event is not None:
        filters.append(AuditEvent.event == event.value)
    total = await db.scalar(select(func.count()).select_from(AuditEvent).where(*filters)) or 0
    rows = await db.scalars(
        select(AuditEvent)
        .where(*filters)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(rows), total
