"""Which organization a login or a switch binds a session's tokens to.

The organization comes from the user's memberships, never from the request alone: a
name the user is not a member of gets 403, whatever organization it names or whether
one exists.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import ForbiddenError
from .models import Membership, Organization

NOT_A_MEMBER = "Not a member of this organization"


async def membership_for_login(
    db: AsyncSession, user_id: uuid.UUID, organization: str | None
) -> Membership | None:
    """The membership a login binds to: in the organization named by id or slug; when
    none is named, the user's only one, or none when they have zero or several."""
    if organization is None:
        memberships = (
            await db.scalars(select(Membership).where(Membership.user_id == user_id).limit(2))
        ).all()
        return memberships[0] if len(memberships) == 1 else None
    try:
        named = Organization.id == uuid.UUID(organization)
    except ValueError:
        named = Organization.slug == organization.strip().lower()
    membership = await db.scalar(
        select(Membership)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user_id, named)
    )
    if membership is None:
        raise ForbiddenError(NOT_A_MEMBER)
    return membership


async def membership_in(
    db: AsyncSession, user_id: uuid.UUID, organization_id: uuid.UUID
) -> Membership:
    """The user's membership in `organization_id`, which a switch binds to; 403 if none."""
    membership = await db.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organization_id == organization_id
        )
    )
    if membership is None:
        raise ForbiddenError(NOT_A_MEMBER)
    return membership
