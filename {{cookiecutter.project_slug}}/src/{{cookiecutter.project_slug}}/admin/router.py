import uuid

from fastapi import APIRouter

from ..auth.dependencies import Admin
from ..pagination import PageDep
from ..security.events import security_event
from ..state import ServicesDep, SessionDep
from ..users import service
from ..users.schemas import AdminUserUpdate, UserPage, UserPublic

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/users")
async def list_users(principal: Admin, page: PageDep, session: SessionDep) -> UserPage:
    users, total = await service.list_users(session, page)
    return UserPage(
        items=[UserPublic.model_validate(user) for user in users],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.patch("/users/{user_id}")
async def update_user(
    user_id: uuid.UUID,
    data: AdminUserUpdate,
    principal: Admin,
    services: ServicesDep,
    session: SessionDep,
) -> UserPublic:
    """Change a user's role or active state; it counts from that user's next request."""
    user, previous_role = await service.admin_update(
        session, services.principals, principal.user.id, user_id, data
    )
    if user.role != previous_role:
        security_event(
            "role_changed", user_id=str(user.id), by=str(principal.user.id), role=user.role
        )
    return UserPublic.model_validate(user)
