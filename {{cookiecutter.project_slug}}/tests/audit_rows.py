"""Reading the audit trail in tests: straight from the table, or as an admin over HTTP."""

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.services import Services

AUDIT_URL = "/api/v1/admin/audit-events"


async def audit_rows(
    services: Services, *, event: str | None = None, user_id: uuid.UUID | None = None
) -> list[AuditEvent]:
    """The rows named `event` and about `user_id` (either None: all), oldest first."""
    statement = select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
    if event is not None:
        statement = statement.where(AuditEvent.event == event)
    if user_id is not None:
        statement = statement.where(AuditEvent.user_id == user_id)
    async with services.sessionmaker() as db:
        return list(await db.scalars(statement))


async def listed_events(
    client: AsyncClient, admin: dict[str, str], **params: Any
) -> dict[str, Any]:
    """A page of GET /admin/audit-events, which must answer 200."""
    response = await client.get(AUDIT_URL, headers=admin, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
