"""The login sessions `authorize` checks bearer tokens against (security.credential_stores)."""

import uuid

from sqlalchemy import {% if cookiecutter.multi_tenancy == "yes" %}and_, or_, {% endif %}select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import utcnow
from ..security.credential_stores import LiveSession
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.models import Membership
{%- endif %}
{%- if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.row_security import read_memberships_of
{%- endif %}
from .models import User, UserSession


class DatabaseSessionStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def find_live(self, user_id: uuid.UUID, session_id: uuid.UUID) -> LiveSession | None:
{%- if cookiecutter.multi_tenancy == "yes" %}
        async with self._sessionmaker() as db:
{%- if cookiecutter.database == "postgresql" %}
            # The token's user, whose own membership row-level security then shows.
            await read_memberships_of(db, user_id)
{%- endif %}
            row = (
                await db.execute(
                    select(User, UserSession.expires_at, Membership)
                    .join(UserSession, UserSession.user_id == User.id)
                    .outerjoin(
                        Membership,
                        and_(
                            Membership.organization_id == UserSession.organization_id,
                            Membership.user_id == User.id,
                        ),
                    )
                    .where(
                        User.id == user_id,
                        UserSession.id == session_id,
                        UserSession.live_at(utcnow()),
                        # Bound to an organization: only while the user is its member.
                        or_(UserSession.organization_id.is_(None), Membership.id.is_not(None)),
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        user, expires_at, membership = row
        return LiveSession(
            user=user.snapshot(),
            expires_at=expires_at.timestamp(),
            membership=membership.snapshot() if membership is not None else None,
        )
{%- else %}
        async with self._sessionmaker() as db:
            row = (
                await db.execute(
                    select(User, UserSession.expires_at)
                    .join(UserSession, UserSession.user_id == User.id)
                    .where(
                        User.id == user_id,
                        UserSession.id == session_id,
                        UserSession.live_at(utcnow()),
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        user, expires_at = row
        return LiveSession(user=user.snapshot(), expires_at=expires_at.timestamp())
{%- endif %}
