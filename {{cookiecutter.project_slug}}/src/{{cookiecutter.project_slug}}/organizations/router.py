"""/organizations: the caller's organizations, and the members and audit trail of the one
their credential is bound to. An organization in the path must be that one: any other,
existing or not, is 404."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, status

from ..access.dependencies import (
    AccountReader,
    AccountWriter,
    BearerPrincipal,
    Principal,
    require,
)
from ..audit import service as audit_service
from ..audit.schemas import AuditEventPublic
from ..audit.trail import Event
from ..errors import error_responses
from ..pagination import Page, PageDep
from ..services import DbDep, ServicesDep
from ..tenancy.models import Membership
from ..users.models import User
from . import invitations, service
from .schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationPublic,
    MemberPublic,
    MembershipPublic,
    MemberUpdate,
    OrganizationCreate,
    OrganizationOfMine,
    OrganizationPublic,
)

router = APIRouter(prefix="/organizations", tags=["organizations"])
invitations_router = APIRouter(prefix="/invitations", tags=["organizations"])
MembersReader = Annotated[Principal, require("members:read")]
MembersWriter = Annotated[Principal, require("members:write")]
# Another organization's path, or one that does not exist: 404 alike.
BOUND = error_responses(404)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
async def create_organization(
    data: OrganizationCreate, principal: AccountWriter, db: DbDep
) -> OrganizationPublic:
    """Create an organization; you become its owner. Bind a session to it by logging in
    with `organization`, or by a refresh with `organization_id`."""
    organization = await service.create_organization(db, principal.user.id, data)
    return OrganizationPublic.model_validate(organization)


@router.get("")
async def list_organizations(principal: AccountReader, db: DbDep) -> list[OrganizationOfMine]:
    """Your organizations and your role in each."""
    return [
        OrganizationOfMine(id=org.id, name=org.name, slug=org.slug, role=role)
        for org, role in await service.list_mine(db, principal.user.id)
    ]


@router.get("/{organization_id}/members", responses=BOUND)
async def list_members(
    organization_id: uuid.UUID, principal: MembersReader, page: PageDep, db: DbDep
) -> Page[MemberPublic]:
    bound = service.bound_organization(principal, organization_id)
    rows, total = await service.list_members(db, bound, page)
    return Page[MemberPublic].of([_public(*row) for row in rows], total, page)


@router.patch("/{organization_id}/members/{user_id}", responses=error_responses(403, 404, 409))
async def change_member_role(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    data: MemberUpdate,
    principal: MembersWriter,
    services: ServicesDep,
    db: DbDep,
) -> MemberPublic:
    """Change a member's role; only an owner grants or takes away `owner`, and the last
    owner keeps it (409)."""
    service.bound_organization(principal, organization_id)
    membership, user = await service.change_role(
        db, services.principals, principal, user_id, data.role
    )
    return _public(membership, user)


@router.delete(
    "/{organization_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404, 409),
)
async def remove_member(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    principal: MembersReader,
    services: ServicesDep,
    db: DbDep,
) -> None:
    """Remove a member (owners and admins), or leave (yourself); the last owner cannot
    go (409). Their tokens and API keys of this organization stop working at once."""
    service.bound_organization(principal, organization_id)
    await service.remove_member(db, services.principals, principal, user_id)


def _public(membership: Membership, user: User) -> MemberPublic:
    return MemberPublic(
        user_id=user.id,
        username=user.username,
        email=user.email,
        role=membership.role,
        created_at=membership.created_at,
    )


@router.get("/{organization_id}/audit-events", responses=BOUND)
async def list_audit_events(
    organization_id: uuid.UUID,
    principal: MembersWriter,
    page: PageDep,
    db: DbDep,
    user_id: Annotated[uuid.UUID | None, Query(description="Only events about this user.")] = None,
    event: Annotated[Event | None, Query(description="Only events of this name.")] = None,
) -> Page[AuditEventPublic]:
    """This organization's events, newest first."""
    bound = service.bound_organization(principal, organization_id)
    rows, total = await audit_service.list_events(
        db, page, user_id=user_id, event=event, organization_id=bound
    )
    return Page[AuditEventPublic].of(rows, total, page)


@router.post(
    "/{organization_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
)
async def create_invitation(
    organization_id: uuid.UUID,
    data: InvitationCreate,
    principal: MembersWriter,
    services: ServicesDep,
    db: DbDep,
    background: BackgroundTasks,
) -> InvitationPublic:
    """Invite an address to a role no higher than yours; the link is mailed to it and
    works once, for 7 days."""
    service.bound_organization(principal, organization_id)
    invitation, token, organization = await invitations.invite(
        db, principal, str(data.email), data.role
    )
    mail = invitations.invitation_mail(services.settings, organization, invitation, token)
    background.add_task(services.mailer.send, mail)
    return InvitationPublic.model_validate(invitation)


@router.get("/{organization_id}/invitations", responses=BOUND)
async def list_invitations(
    organization_id: uuid.UUID, principal: MembersWriter, db: DbDep
) -> list[InvitationPublic]:
    """The pending invitations, newest first."""
    bound = service.bound_organization(principal, organization_id)
    return [
        InvitationPublic.model_validate(row) for row in await invitations.list_pending(db, bound)
    ]


@router.delete(
    "/{organization_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=BOUND,
)
async def revoke_invitation(
    organization_id: uuid.UUID, invitation_id: uuid.UUID, principal: MembersWriter, db: DbDep
) -> None:
    service.bound_organization(principal, organization_id)
    await invitations.revoke(db, principal, invitation_id)


@invitations_router.post("/accept", responses=error_responses(400, 403, 409))
async def accept_invitation(
    data: InvitationAccept, principal: BearerPrincipal, db: DbDep
) -> MembershipPublic:
    """Join the organization of the mailed invitation, with its role: only for the user
    whose verified address it was sent to. Bind a session to it to act there."""
    membership = await invitations.accept(db, principal.user, data.token)
    return MembershipPublic.model_validate(membership)
