import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from ..access.dependencies import Admin
from ..audit import service as audit_service
from ..audit.schemas import AuditEventPublic
from ..audit.trail import Event
from ..errors import error_responses
from ..pagination import Page, PageDep
from ..services import DbDep, ServicesDep
from ..users import service as users_service
from ..users.schemas import AdminUserUpdate, UserPublic
from . import service

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/users")
async def list_users(principal: Admin, page: PageDep, db: DbDep) -> Page[UserPublic]:
    users, total = await users_service.list_users(db, page)
    return Page[UserPublic].of(users, total, page)


@router.patch("/users/{user_id}", responses=error_responses(400, 404, 409))
async def update_user(
    user_id: uuid.UUID,
    data: AdminUserUpdate,
    principal: Admin,
    services: ServicesDep,
    db: DbDep,
) -> UserPublic:
    """Change a user's role or active state; it counts from that user's next request."""
    user = await service.admin_update(db, services.principals, principal.user.id, user_id, data)
    return UserPublic.model_validate(user)


@router.get("/audit-events")
async def list_audit_events(
    principal: Admin,
    page: PageDep,
    db: DbDep,
    user_id: Annotated[uuid.UUID | None, Query(description="Only events about this user.")] = None,
    event: Annotated[Event | None, Query(description="Only events of this name.")] = None,
) -> Page[AuditEventPublic]:
    """Security events kept AUDIT_RETENTION_DAYS, newest first; never a secret."""
    rows, total = await audit_service.list_events(db, page, user_id=user_id, event=event)
    return Page[AuditEventPublic].of(rows, total, page)
