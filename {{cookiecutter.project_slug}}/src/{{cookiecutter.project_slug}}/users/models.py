import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ColumnElement, ForeignKey, String, Uuid, and_, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow
from ..security.clients import MAX_ADDRESS_LENGTH, MAX_USER_AGENT_LENGTH
from ..security.identity import UserSnapshot
from ..security.scopes import Role


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Stored lower-cased, which makes the unique constraints case-insensitive.
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(128))
    hashed_password: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(16), default=Role.USER)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Two-factor authentication is on: every login needs a code (mfa/). Kept on this row,
    # so that a login without it reads nothing else.
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def snapshot(self) -> UserSnapshot:
        return UserSnapshot(
            id=self.id,
            username=self.username,
            email=self.email,
            full_name=self.full_name,
            role=Role(self.role),
            is_active=self.is_active,
            email_verified=self.email_verified,
            mfa_enabled=self.mfa_enabled,
            created_at=self.created_at,
        )


class UserSession(Base):
    """One login: the access tokens and the refresh-token family it issues share its id."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Scopes granted at login; refreshed tokens never get more.
    scope: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The login, then each refresh. Every row has one: the app sets it at login and
    # migration 0003 gave older rows their `created_at`. The column still allows NULL
    # because SQLite adds a NOT NULL column only by rebuilding the table, and dropping
    # the old one would cascade into refresh_tokens.
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=True)
    # Where the login came from (security.clients); NULL for sessions older than 0003.
    ip_address: Mapped[str | None] = mapped_column(String(MAX_ADDRESS_LENGTH))
    # NULL as well when the client sent none.
    user_agent: Mapped[str | None] = mapped_column(String(MAX_USER_AGENT_LENGTH))
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The organization its tokens are bound to (the `org` claim); NULL: none.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
{%- endif %}

    @classmethod
    def live_at(cls, now: datetime) -> ColumnElement[bool]:
        """The session still works at `now`: neither ended nor expired."""
        return and_(cls.revoked_at.is_(None), cls.expires_at > now)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    # SHA-256 of the opaque token: a stolen database row cannot be replayed.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105  # nosec B105


class ActionToken(Base):
    """A single-use token mailed to a user: to verify an address or to reset a password."""

    __tablename__ = "action_tokens"

    # SHA-256 of the token in the mailed link.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(32))
    # The address a verification link was sent to; it verifies nothing once that changes.
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
