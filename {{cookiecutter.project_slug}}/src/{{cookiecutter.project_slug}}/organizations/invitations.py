"""Invitations: a role in an organization, offered by mail to one address.

The mailed token carries 256 random bits and only its SHA-256 is stored; it works once,
for 7 days, and only for a logged-in user whose verified address is the invited one.
Each organization has at most MAX_PENDING_INVITATIONS pending and sends at most
MAX_INVITATIONS_PER_HOUR: both counted in the statement that inserts, after the
organization's row is locked on PostgreSQL (SQLite runs one write at a time), so
parallel requests cannot pass them.

The same statement inserts only while the inviter is still a member whose role may offer
the invited one: on PostgreSQL the inviter's user row and membership row are locked first
(the order closing an account and a removal take them in), so a removal or demotion of the
inviter runs before (the invitation is refused) or after (it revokes the invitation).
"""

import uuid
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..access.principal import Principal
from ..audit.trail import Event, record
from ..config import Settings
from ..db import utcnow
from ..errors import AccountClosedError, AppError, ConflictError, ForbiddenError, NotFoundError
from ..mail import Mail, link_mail
from ..security.identity import UserSnapshot
from ..security.scopes import ORGANIZATION_ROLE_RANK, ORGANIZATION_ROLE_SCOPES, OrganizationRole
from ..security.secret_tokens import hash_secret_token, new_secret_token
from ..tenancy.models import Invitation, Membership, Organization
{%- if cookiecutter.database == "postgresql" %}
from ..tenancy.row_security import bind_organization, read_invitation
{%- endif %}
from ..users.models import User

INVITATION_LIFETIME = timedelta(days=7)
MAX_PENDING_INVITATIONS = 50
MAX_INVITATIONS_PER_HOUR = 20
INVALID_INVITATION = "Invalid, used, revoked or expired invitation"
ABOVE_OWN_ROLE = "You cannot invite to a role above your own"


def pending(now: object) -> ColumnElement[bool]:
    return and_(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
    )


async def invite(
    db: AsyncSession, inviter: Principal, email: str, role: OrganizationRole
) -> tuple[Invitation, str, Organization]:
    """A new invitation to the inviter's organization and its token, for the mail only."""
    organization_id = inviter.organization_id
    inviter_role = inviter.membership.role if inviter.membership is not None else None
    if inviter_role is None or ORGANIZATION_ROLE_RANK[role] > ORGANIZATION_ROLE_RANK[inviter_role]:
        raise ForbiddenError(ABOVE_OWN_ROLE)
    # The inviter's row first, as closing their account takes it: the two queue instead
    # of deadlocking, and after a closing there is no row (401, as the next request gets).
    if await db.scalar(select(User.id).where(User.id == inviter.user.id).with_for_update()) is None:
        await db.rollback()
        raise AccountClosedError
    # Then their membership, as a removal or demotion of theirs takes it (after their user
    # row): the role read at the request's start may have changed since.
    sender = _may_offer(organization_id, inviter.user.id, role)
    if not await db.scalar(select(Membership.id).where(sender).with_for_update()):
        await _refuse(db, inviter.user.id)
    organization = (
        await db.execute(
            select(Organization).where(Organization.id == organization_id).with_for_update()
        )
    ).scalar_one_or_none()
    if organization is None:  # Gone with its only member's account (SQLite: no locks).
        await _refuse(db, inviter.user.id)
    token = new_secret_token()
    now = utcnow()
    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=organization_id,
        email=email.strip().lower(),
        role=role.value,
        token_hash=hash_secret_token(token),
        inviter_id=inviter.user.id,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    in_organization = Invitation.organization_id == organization_id
    pending_count = (
        select(func.count()).select_from(Invitation).where(in_organization, pending(now))
    ).scalar_subquery()
    last_hour = (
        select(func.count())
        .select_from(Invitation)
        .where(in_organization, Invitation.created_at > now - timedelta(hours=1))
    ).scalar_subquery()
    columns = [
        "id",
        "organization_id",
        "email",
        "role",
        "token_hash",
        "inviter_id",
        "created_at",
        "expires_at",
    ]
    values = [
        literal(getattr(invitation, name), Invitation.__table__.c[name].type) for name in columns
    ]
    inserted = await db.execute(
        insert(Invitation).from_select(
            columns,
            select(*values).where(
                # Checked again here: on SQLite the reads above take no lock, this
                # statement takes the write lock before it checks.
                exists().where(sender),
                pending_count < MAX_PENDING_INVITATIONS,
                last_hour < MAX_INVITATIONS_PER_HOUR,
            ),
        )
    )
    if not inserted.rowcount:  # type: ignore[attr-defined]
        await db.rollback()
        if not await db.scalar(select(exists().where(sender))):
            await _refuse(db, inviter.user.id)
        raise ConflictError(
            f"At most {MAX_PENDING_INVITATIONS} pending invitations, and "
            f"{MAX_INVITATIONS_PER_HOUR} an hour, per organization"
        )
    record(
        db,
        Event.INVITATION_CREATED,
        user_id=None,
        actor_id=inviter.user.id,
        organization_id=organization_id,
        role=role.value,
    )
    await db.commit()
    return invitation, token, organization


async def _refuse(db: AsyncSession, inviter_id: uuid.UUID) -> NoReturn:
    """The inviter lost the role meanwhile (403), or their account (401: SQLite reads
    without locks, so a closing may commit between the reads here)."""
    await db.rollback()
    if await db.scalar(select(User.id).where(User.id == inviter_id)) is None:
        raise AccountClosedError
    raise ForbiddenError(ABOVE_OWN_ROLE)


def _may_offer(
    organization_id: uuid.UUID, user_id: uuid.UUID, role: OrganizationRole
) -> ColumnElement[bool]:
    """The user's membership of the organization, if its role may invite to `role`."""
    senders = [
        sender.value
        for sender in OrganizationRole
        if "members:write" in ORGANIZATION_ROLE_SCOPES[sender]
        and ORGANIZATION_ROLE_RANK[role] <= ORGANIZATION_ROLE_RANK[sender]
    ]
    return and_(
        Membership.organization_id == organization_id,
        Membership.user_id == user_id,
        Membership.role.in_(senders),
    )


async def list_pending(db: AsyncSession, organization_id: uuid.UUID) -> list[Invitation]:
    rows = await db.scalars(
        select(Invitation)
        .where(Invitation.organization_id == organization_id, pending(utcnow()))
        .order_by(Invitation.created_at.desc(), Invitation.id)
    )
    return list(rows)


async def revoke(db: AsyncSession, revoker: Principal, invitation_id: uuid.UUID) -> None:
    organization_id = revoker.organization_id
    revoked = await db.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.organization_id == organization_id,
            pending(utcnow()),
        )
        .values(revoked_at=utcnow())
    )
    if revoked.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise NotFoundError("Invitation not found")
    record(
        db,
        Event.INVITATION_REVOKED,
        actor_id=revoker.user.id,
        organization_id=organization_id,
    )
    await db.commit()


async def revoke_sent_by(
    db: AsyncSession,
    organization_id: uuid.UUID,
    inviter_id: uuid.UUID,
    role: OrganizationRole | None,
) -> None:
    """Revoke the pending invitations that `inviter_id` sent and could not send in their
    new `role` (None: no longer a member); the caller commits."""
    may_send = [
        offered.value
        for offered in OrganizationRole
        if role is not None
        and "members:write" in ORGANIZATION_ROLE_SCOPES[role]
        and ORGANIZATION_ROLE_RANK[offered] <= ORGANIZATION_ROLE_RANK[role]
    ]
    now = utcnow()
    await db.execute(
        update(Invitation)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.inviter_id == inviter_id,
            pending(now),
            Invitation.role.not_in(may_send),
        )
        .values(revoked_at=now)
    )


async def revoke_sent_to(db: AsyncSession, organization_id: uuid.UUID, email: str) -> None:
    """Revoke the organization's pending invitations to `email`; the caller commits."""
    now = utcnow()
    await db.execute(
        update(Invitation)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.email == email.lower(),
            pending(now),
        )
        .values(revoked_at=now)
    )


async def accept(db: AsyncSession, user: UserSnapshot, token: str) -> Membership:
    """Spend the invitation for `user`, who becomes a member with its role."""
    now = utcnow()
    token_hash = hash_secret_token(token)
{%- if cookiecutter.database == "postgresql" %}
    # Row-level security shows this one invitation, whatever the session is bound to...
    await read_invitation(db, token_hash)
{%- endif %}
    invitation = await db.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash, pending(now))
    )
    if invitation is None:
        raise AppError(INVALID_INVITATION)
    if not user.email_verified or user.email.lower() != invitation.email:
        raise ForbiddenError("This invitation is for another verified email address")
{%- if cookiecutter.database == "postgresql" %}
    # ...and its organization's rows, where it is spent and the membership written, only
    # once the invitation is the user's to accept.
    await bind_organization(db, invitation.organization_id)
{%- endif %}
    # The owners' rows first, shared: an owner closing their account locks them before
    # deciding whether the organization goes with them (service.before_user_deletion),
    # so the one waits for the other, and no organization is left with a new member and
    # no owner. None left: the organization went, and the invitation with it.
    owners = await db.scalars(
        select(Membership.id)
        .where(
            Membership.organization_id == invitation.organization_id,
            Membership.role == OrganizationRole.OWNER,
        )
        .order_by(Membership.id)
        .with_for_update(read=True)
    )
    if not owners.first():
        await db.rollback()
        raise AppError(INVALID_INVITATION)
    # Spent atomically: of two acceptances at once, one wins.
    spent = await db.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, pending(now))
        .values(accepted_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise AppError(INVALID_INVITATION)
    # One invitation makes one membership: the organization's others to this address
    # would let the member back in once removed.
    await revoke_sent_to(db, invitation.organization_id, invitation.email)
    membership = Membership(
        organization_id=invitation.organization_id,
        user_id=user.id,
        role=invitation.role,
        created_at=now,
    )
    db.add(membership)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise ConflictError("Already a member of this organization") from None
    record(
        db,
        Event.INVITATION_ACCEPTED,
        user_id=user.id,
        organization_id=invitation.organization_id,
        role=invitation.role,
    )
    await db.commit()
    return membership


def invitation_mail(
    settings: Settings, organization: Organization, invitation: Invitation, token: str
) -> Mail:
    return link_mail(
        to=invitation.email,
        subject=f"You are invited to an organization on {settings.PROJECT_NAME}",
        intro=f"You are invited to join {organization.name} as {invitation.role}. Log in "
        "with this address, verified, and open this link to accept:",
        link=f"{settings.FRONTEND_URL}/accept-invitation?token={token}",
        lifetime=f"{INVITATION_LIFETIME.days} days",
    )
