"""Organizations and their members.

Every rule that must hold under races is one conditional statement after a lock, as the
last-admin rule is (admin/service.py): on PostgreSQL the rows the rule counts are locked
first, so two such changes run one after the other and the second sees the first;
SQLite runs one write at a time, and the conditional statement takes the write lock
before it counts.
"""

import uuid

from sqlalchemy import (
    ColumnElement,
    Delete,
    Update,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..access.principal import Principal
from ..api_keys.models import ApiKey
from ..api_keys.service import lock_owner
from ..audit.models import AuditEvent
from ..audit.trail import Event, record
from ..db import utcnow
from ..errors import ConflictError, ForbiddenError, NotFoundError
from ..pagination import PageParams
from ..security.principal_cache import PrincipalCache
from ..security.scopes import OrganizationRole
from ..tenancy.models import Invitation, Membership, Organization
{%- if cookiecutter.database == "postgresql" %}
from ..tenancy.row_security import bind_organization, read_memberships_of
from ..tenancy.scoping import current_organization
{%- endif %}
from ..users.models import User, UserSession
from .invitations import pending, revoke_sent_by, revoke_sent_to
from .schemas import OrganizationCreate

MAX_ORGANIZATIONS_PER_USER = 10
LAST_OWNER = "An organization keeps at least one owner"
ROLE_CHANGED = "The member's role changed meanwhile: reload the members and try again"
STRANDED = (
    "Last owner of {slugs}: make another member owner there, or remove the other members, "
    "before the account goes"
)


async def create_organization(
    db: AsyncSession, creator: uuid.UUID, data: OrganizationCreate
) -> Organization:
    """A new organization whose owner is `creator`; 409 for a taken slug or past the cap."""
    organization = Organization(
        id=uuid.uuid4(), name=data.name, slug=data.slug, created_at=utcnow()
    )
    # The creator's row first: parallel creations by one user count one after another.
    await lock_owner(db, creator)
    db.add(organization)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise ConflictError("Slug already taken") from None
{%- if cookiecutter.database == "postgresql" %}
    # Row-level security: the creator's memberships are counted, and the first one of the
    # new organization is written in it.
    await read_memberships_of(db, creator)
    await bind_organization(db, organization.id)
{%- endif %}
    owned = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == creator, Membership.role == OrganizationRole.OWNER)
        .scalar_subquery()
    )
    values = {
        "id": uuid.uuid4(),
        "organization_id": organization.id,
        "user_id": creator,
        "role": OrganizationRole.OWNER.value,
        "created_at": organization.created_at,
    }
    columns = list(values)
    literals = [literal(value, Membership.__table__.c[name].type) for name, value in values.items()]
    inserted = await db.execute(
        insert(Membership).from_select(
            columns, select(*literals).where(owned < MAX_ORGANIZATIONS_PER_USER)
        )
    )
    if not inserted.rowcount:  # type: ignore[attr-defined]
        await db.rollback()
        raise ConflictError(f"At most {MAX_ORGANIZATIONS_PER_USER} organizations per owner")
    record(db, Event.ORGANIZATION_CREATED, user_id=creator, organization_id=organization.id)
    await db.commit()
    return organization


async def list_mine(
    db: AsyncSession, user_id: uuid.UUID
) -> list[tuple[Organization, OrganizationRole]]:
{%- if cookiecutter.database == "postgresql" %}
    await read_memberships_of(db, user_id)
{%- endif %}
    rows = await db.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.slug)
    )
    return [(organization, OrganizationRole(role)) for organization, role in rows]


def bound_organization(principal: Principal, organization_id: uuid.UUID) -> uuid.UUID:
    """`organization_id`, if the caller's credential is bound to it: 404 otherwise, as for
    an organization that does not exist."""
    if principal.membership is None or principal.membership.organization_id != organization_id:
        raise NotFoundError("Organization not found")
    return organization_id


async def list_members(
    db: AsyncSession, organization_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[Membership, User]], int]:
    members = select(Membership, User).join(User, User.id == Membership.user_id)
    members = members.where(Membership.organization_id == organization_id)
    total = (
        await db.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organization_id == organization_id)
        )
        or 0
    )
    rows = await db.execute(
        members.order_by(Membership.created_at, Membership.id).limit(page.limit).offset(page.offset)
    )
    return [(membership, user) for membership, user in rows], total


async def change_role(
    db: AsyncSession,
    principals: PrincipalCache,
    actor: Principal,
    user_id: uuid.UUID,
    role: OrganizationRole,
) -> tuple[Membership, User]:
    """Give the member `user_id` of the actor's organization `role`; it counts from their
    next request on every worker."""
    organization_id = actor.organization_id
    membership = await _member(db, organization_id, user_id)
    _check_owner_rule(actor, membership, role)
    change = update(Membership).values(role=role.value)
    if membership.role == OrganizationRole.OWNER and role != OrganizationRole.OWNER:
        await _keeping_an_owner(db, membership, change)
    else:
        await _as_read(db, membership, change)
    await revoke_sent_by(db, organization_id, user_id, role)
    record(
        db,
        Event.MEMBER_ROLE_CHANGED,
        user_id=user_id,
        actor_id=actor.user.id,
        organization_id=organization_id,
        role=role.value,
    )
    await principals.commit_change(db, user_id)
    await db.refresh(membership)
    user = await db.get_one(User, user_id)
    return membership, user


async def remove_member(
    db: AsyncSession, principals: PrincipalCache, actor: Principal, user_id: uuid.UUID
) -> None:
    """Remove `user_id` from the actor's organization (or the actor, leaving it): their
    sessions bound to it end and its API keys of theirs are revoked, on every worker from
    their next request."""
    organization_id = actor.organization_id
    if user_id != actor.user.id and "members:write" not in actor.scopes:
        raise ForbiddenError("Only an owner or admin may remove another member")
    membership = await _member(db, organization_id, user_id)
    if user_id != actor.user.id:
        _check_owner_rule(actor, membership, None)
    # Before the delete: orders it against an API key being created in this organization.
    await lock_owner(db, user_id)
    change = delete(Membership)
    if membership.role == OrganizationRole.OWNER:
        await _keeping_an_owner(db, membership, change)
    else:
        await _as_read(db, membership, change)
    now = utcnow()
    await db.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.organization_id == organization_id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    await db.execute(
        update(ApiKey)
        .where(
            ApiKey.user_id == user_id,
            ApiKey.organization_id == organization_id,
            ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    await revoke_sent_by(db, organization_id, user_id, None)
    # And those to them, sent while they were a member: none lets them back in.
    email = await db.scalar(select(User.email).where(User.id == user_id))
    if email is not None:
        await revoke_sent_to(db, organization_id, email)
    record(
        db,
        Event.MEMBER_REMOVED,
        user_id=user_id,
        actor_id=actor.user.id if actor.user.id != user_id else None,
        organization_id=organization_id,
    )
    await principals.commit_change(db, user_id)


async def _member(db: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> Membership:
    membership = await db.scalar(
        select(Membership).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    )
    if membership is None:
        raise NotFoundError("Member not found")
    return membership


def _check_owner_rule(
    actor: Principal, membership: Membership, role: OrganizationRole | None
) -> None:
    """Only an owner grants the owner role or takes it away (`role` None: removal)."""
    actor_role = actor.membership.role if actor.membership is not None else None
    touches_owner = membership.role == OrganizationRole.OWNER or role == OrganizationRole.OWNER
    if touches_owner and actor_role != OrganizationRole.OWNER:
        raise ForbiddenError("Only an owner may grant or take away the owner role")


async def _as_read(db: AsyncSession, membership: Membership, change: Update | Delete) -> None:
    """Run `change` of `membership` only if its role is still the one the rules were
    checked against: a promotion to owner committed in between must not be overwritten
    by a change that an owner-only rule would have refused (409)."""
    done = await db.execute(
        change.where(
            Membership.id == membership.id, Membership.role == membership.role
        ).execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise ConflictError(ROLE_CHANGED)


async def _keeping_an_owner(
    db: AsyncSession, membership: Membership, change: Update | Delete
) -> None:
    """Run `change` of `membership`, which takes away an owner, only if another remains
    and the member is still an owner."""
    owners = select(Membership.id).where(
        Membership.organization_id == membership.organization_id,
        Membership.role == OrganizationRole.OWNER,
    )
    await db.execute(owners.order_by(Membership.id).with_for_update())
    other = aliased(Membership)
    another_owner = exists().where(
        other.organization_id == membership.organization_id,
        other.role == OrganizationRole.OWNER,
        other.id != membership.id,
    )
    done = await db.execute(
        change.where(
            Membership.id == membership.id,
            Membership.role == OrganizationRole.OWNER,
            another_owner,
        ).execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise ConflictError(LAST_OWNER)


async def before_user_deletion(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Before the user `user_id` is deleted (their account closed, or by an admin): 409
    naming the organizations they are the last owner of while others are members there;
    the organizations they are the only member of are deleted with them.
{%- if cookiecutter.database == "postgresql" %}

    As `_keeping_an_owner`: the owner rows of each of their organizations are locked
    first, then checked by one conditional statement; the locks hold until the user's
    deletion commits.
{%- else %}

    As `_keeping_an_owner`: the check is one conditional statement, which takes SQLite's
    write lock before it counts; it holds until the user's deletion commits.
{%- endif %}
    """
    # The user's row before their memberships are read: an organization being created
    # by them (which takes this lock first) is then committed and seen, or waits and
    # finds the account gone.
    await lock_owner(db, user_id)
{%- if cookiecutter.database == "postgresql" %}
    # Then their login sessions, before any organization's rows: a refresh switching a
    # session holds its row, then needs the organization it switches to, which this
    # deletion may be deleting; taken here, the refresh waits or goes first, no deadlock.
    await db.execute(
        select(UserSession.id)
        .where(UserSession.user_id == user_id)
        .order_by(UserSession.id)
        .with_for_update()
    )
    # Row-level security shows one organization's members at a time: each of the user's
    # organizations in turn, bound to it, its rows locked until the deletion commits.
    await read_memberships_of(db, user_id)
    theirs = list(
        await db.scalars(
            select(Membership.organization_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.organization_id)
        )
    )
    stranded: list[str] = []
    for organization_id in theirs:
        await bind_organization(db, organization_id)
        stranded += await _stranded(db, user_id, Membership.organization_id == organization_id)
    if stranded:
        await db.rollback()
        raise ConflictError(STRANDED.format(slugs=", ".join(repr(s) for s in sorted(stranded))))
    for organization_id in theirs:
        await bind_organization(db, organization_id)
        await _leave(db, user_id, Membership.organization_id == organization_id)
    await bind_organization(db, current_organization.get())
{%- else %}
    everywhere = Membership.user_id == user_id
    stranded = await _stranded(db, user_id, everywhere)
    if stranded:
        await db.rollback()
        raise ConflictError(STRANDED.format(slugs=", ".join(repr(s) for s in stranded)))
    await _leave(db, user_id, everywhere)
{%- endif %}


async def _stranded(db: AsyncSession, user_id: uuid.UUID, among: ColumnElement[bool]) -> list[str]:
    """The slugs of the organizations `among` admits that the user's deletion would
    leave without an owner while others are members; their owners' rows locked."""
    owned = select(Membership.organization_id).where(
        Membership.user_id == user_id, Membership.role == OrganizationRole.OWNER, among
    )
    # The user's row, then the owners' rows: the order a removal takes them in.
    await lock_owner(db, user_id)
    await db.execute(
        select(Membership.id)
        .where(Membership.organization_id.in_(owned), Membership.role == OrganizationRole.OWNER)
        .order_by(Membership.id)
        .with_for_update()
    )
    other = aliased(Membership)
    stranded = select(Membership.organization_id).where(
        Membership.user_id == user_id,
        Membership.role == OrganizationRole.OWNER,
        among,
        ~exists().where(
            other.organization_id == Membership.organization_id,
            other.user_id != user_id,
            other.role == OrganizationRole.OWNER,
        ),
        exists().where(
            other.organization_id == Membership.organization_id, other.user_id != user_id
        ),
    )
    # A change of nothing, made only while the user strands no organization.
    kept = await db.execute(
        update(User)
        .where(User.id == user_id, ~stranded.exists())
        .values(role=User.role)
        .execution_options(synchronize_session=False)
    )
    if kept.rowcount == 1:  # type: ignore[attr-defined]
        return []
    slugs = await db.scalars(
        select(Organization.slug).where(Organization.id.in_(stranded)).order_by(Organization.slug)
    )
    return list(slugs)


async def _leave(db: AsyncSession, user_id: uuid.UUID, among: ColumnElement[bool]) -> None:
    """Revoke what the user sent in the organizations `among` admits, and delete those
    of them they are the only member of."""
    other = aliased(Membership)
    alone = select(Membership.organization_id).where(
        Membership.user_id == user_id,
        among,
        ~exists().where(
            other.organization_id == Membership.organization_id, other.user_id != user_id
        ),
    )
    # What they sent and could no longer send: invitations die with the account.
    await db.execute(
        update(Invitation)
        .where(Invitation.inviter_id == user_id, pending(utcnow()))
        .values(revoked_at=utcnow())
    )
    gone = list(await db.scalars(alone))
    if gone:
        # Sessions and keys once bound to them (revoked ones of former members included)
        # refer to them without a cascade. Their audit events go too: no member is left
        # to read them, the platform's trail shows no organization's events, and under
        # row-level security no purge could find them (it visits existing organizations).
        for bound in (UserSession, ApiKey, AuditEvent):
            await db.execute(delete(bound).where(bound.organization_id.in_(gone)))
        await db.execute(
            delete(Organization)
            .where(Organization.id.in_(gone))
            .execution_options(synchronize_session=False)
        )
