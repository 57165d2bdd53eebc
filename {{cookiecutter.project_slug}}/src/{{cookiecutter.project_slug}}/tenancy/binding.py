"""Which organization a login or a switch binds a session's tokens to.

The organization comes from the user's memberships, never from the request alone: a
name the user is not a member of gets 403, whatever organization it names or whether
one exists.{% if cookiecutter.database == "postgresql" %} Each reads only the user's own memberships, which is all
row-level security lets it see before an organization is bound.{% endif %}
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import ForbiddenError
from .models import Membership, Organization
{%- if cookiecutter.database == "postgresql" %}
from .row_security import read_memberships_of
{%- endif %}

NOT_A_MEMBER = "Not a member of this organization"


async def membership_for_login(
    db: AsyncSession, user_id: uuid.UUID, organization: str | None
) -> Membership | None:
    """The membership a login binds to: in the organization named by id or slug; when
    none is named, the user's only one, or none when they have zero or several."""
{%- if cookiecutter.database == "postgresql" %}
    await read_memberships_of(db, user_id)
{%- endif %}
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
    membership = await membership_of(db, user_id, organization_id)
    if membership is None:
        raise ForbiddenError(NOT_A_MEMBER)
    return membership


async def membership_of(
    db: AsyncSession, user_id: uuid.UUID, organization_id: uuid.UUID
) -> Membership | None:
    """The user's membership in `organization_id`, if they have one: what a credential
    bound to it is still worth."""
{%- if cookiecutter.database == "postgresql" %}
    await read_memberships_of(db, user_id)
{%- endif %}
    return await db.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organization_id == organization_id
        )
    )
