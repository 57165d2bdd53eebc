import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow
from ..security.identity import MembershipSnapshot
from ..security.scopes import OrganizationRole


class Organization(Base):
    """A tenant: a customer whose people are its members."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    # Stored lower-cased: a login may name the organization by it.
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    """A user's role in one organization; one row per pair."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        # A user's organizations, at login and in GET /organizations.
        Index("ix_memberships_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[OrganizationRole] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def snapshot(self) -> MembershipSnapshot:
        return MembershipSnapshot(
            organization_id=self.organization_id, role=OrganizationRole(self.role)
        )


class Invitation(Base):
    """A mailed offer of a role in an organization: single use, until it expires."""

    __tablename__ = "invitations"
    __table_args__ = (
        # Pending invitations of an organization, newest first; its hourly cap.
        Index("ix_invitations_organization_id_created_at", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    # Normalized (lower-cased) like users.email: only that verified address may accept.
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[OrganizationRole] = mapped_column(String(16))
    # SHA-256 of the mailed token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    inviter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
