"""Login sessions: opened at login, rotated by refresh, ended by logout or theft.

A login opens a `UserSession`. Its id is the `sid` claim of every access token it issues
and the family of its refresh tokens, so ending the session ends all of them at once.
Every way of logging in goes through this one machinery, which also keeps what a user
sees of their sessions: where each login came from and when it was last used.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.trail import Event, record
from ..db import utcnow
from ..errors import InvalidCredentialsError, NotFoundError
from ..security.clients import ClientDetails
from ..security.principal_cache import PrincipalCache
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..security.scopes import allowed_scopes, format_scope, grant_scopes, parse_scope
{%- else %}
from ..security.scopes import ROLE_SCOPES, format_scope, grant_scopes, parse_scope
{%- endif %}
from ..security.secret_tokens import hash_secret_token, new_secret_token
from ..security.tokens import TokenCodec
from ..services import ServicesDep
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.binding import membership_in, membership_of
from ..tenancy.models import Membership
{%- endif %}
{%- if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.row_security import bind_organization
{%- endif %}
from ..users.models import RefreshToken, User, UserSession
from .schemas import TokenPair

# Live login sessions a user may hold; the oldest ends when a login would pass this.
MAX_SESSIONS_PER_USER = 50


class LoginSessions:
    def __init__(
        self,
        tokens: TokenCodec,
        principals: PrincipalCache,
        *,
        access_lifetime: timedelta,
        session_lifetime: timedelta,
        reuse_grace: timedelta,
    ) -> None:
        self._tokens = tokens
        self._principals = principals
        self._access_lifetime = access_lifetime
        self._session_lifetime = session_lifetime
        self._reuse_grace = reuse_grace{%- if cookiecutter.multi_tenancy == "yes" %}

    async def open(
        self,
        db: AsyncSession,
        user: User,
        requested: frozenset[str],
        client: ClientDetails,
        membership: Membership | None = None,
    ) -> TokenPair:
        """A new login session for `user`, with the scopes asked for that the role allows,
        opened by `client`, its tokens bound to the organization of `membership` (if any).
{%- else %}

    async def open(
        self, db: AsyncSession, user: User, requested: frozenset[str], client: ClientDetails
    ) -> TokenPair:
        """A new login session for `user`, with the scopes asked for that the role allows,
        opened by `client`.
{%- endif %}

        `user` is as loaded before its password was checked, which takes a while. A
        password change, a deactivation or two-factor authentication turned on that
        lands meanwhile must not miss this session: the first statement claims the
        user's row (a row lock on PostgreSQL, the write lock on SQLite) only while the
        password, the active state and the two-factor state are still the ones checked,
        so such a change either comes first and refuses this login, or waits for it and
        then ends this session with the others.
        """
        still_valid = await db.execute(
            update(User)
            .where(
                User.id == user.id,
                User.hashed_password == user.hashed_password,
                User.is_active.is_(True),
                User.mfa_enabled.is_(user.mfa_enabled),
            )
            .values(updated_at=User.updated_at)
            .execution_options(synchronize_session=False)
        )
        if still_valid.rowcount != 1:  # type: ignore[attr-defined]
            await db.rollback()
            raise InvalidCredentialsError("Incorrect username or password")
        scopes = grant_scopes(user.role, requested)
        now = utcnow()
        login_session = UserSession(
            user_id=user.id,
            scope=format_scope(scopes),
            created_at=now,
            last_used_at=now,
            expires_at=now + self._session_lifetime,
            ip_address=client.address,
            user_agent=client.user_agent,
{%- if cookiecutter.multi_tenancy == "yes" %}
            organization_id=membership.organization_id if membership is not None else None,
{%- endif %}
        )
        db.add(login_session)
        await db.flush()
        if await _end_sessions_over_cap(db, user.id):
            # The ended sessions may sit in a principal cache: make every cache forget them.
            await self._principals.commit_change(db, user.id)
{%- if cookiecutter.multi_tenancy == "yes" %}
        role = membership.role if membership is not None else None
        return await self._issue_pair(
            db, user, login_session, scopes & allowed_scopes(user.role, role)
        )
{%- else %}
        return await self._issue_pair(db, user, login_session, scopes)
{%- endif %}

    async def refresh(
        self,
        db: AsyncSession,
        refresh_token: str,
        check_session: Callable[[uuid.UUID], None] | None = None,
{%- if cookiecutter.multi_tenancy == "yes" %}
        switch_to: uuid.UUID | None = None,
{%- endif %}
    ) -> TokenPair:
        """Trade a refresh token for a new pair; the old refresh token is spent.
{%- if cookiecutter.multi_tenancy == "yes" %}
        With `switch_to`, the session is bound to that organization from now on (403
        unless the user is its member): the new access token names it, and the tokens
        issued before stop working everywhere.
{%- endif %}

        Presenting a spent token means two parties hold it: one of them stole it. The
        whole session ends, so the thief's tokens and the victim's die together. Two
        exceptions answer a plain 401 and end nothing, because the one who spent the
        token holds working tokens that a revocation would kill: a request that lost
        the race to spend the token, and a repeat within REFRESH_REUSE_GRACE_SECONDS of
        its spending (two browser tabs refreshing at once). `check_session` may refuse
        the request for the token's session (by raising) before anything is spent.
        """
        invalid = InvalidCredentialsError("Invalid refresh token")
        token_hash = hash_secret_token(refresh_token)
        now = utcnow()
{%- if cookiecutter.multi_tenancy == "yes" %}
        row = (
            await db.execute(
                select(RefreshToken, UserSession, User)
                .join(UserSession, RefreshToken.session_id == UserSession.id)
                .join(User, UserSession.user_id == User.id)
                .where(RefreshToken.token_hash == token_hash)
{%- if cookiecutter.database == "postgresql" %}
                # The session's row before its token's, as closing the account takes
                # them (organizations/service.py): the two queue instead of deadlocking.
                .with_for_update(of=UserSession, key_share=True)
{%- endif %}
            )
        ).one_or_none()
        if row is None:
            raise invalid
        stored, login_session, user = row
        # Read once the token's user is known{% if cookiecutter.database == "postgresql" %}: row-level security shows only their memberships{% endif %}.
        membership: Membership | None = None
        if login_session.organization_id is not None:
            membership = await membership_of(db, user.id, login_session.organization_id)
{%- else %}
        row = (
            await db.execute(
                select(RefreshToken, UserSession, User)
                .join(UserSession, RefreshToken.session_id == UserSession.id)
                .join(User, UserSession.user_id == User.id)
                .where(RefreshToken.token_hash == token_hash)
            )
        ).one_or_none()
        if row is None:
            raise invalid
        stored, login_session, user = row
{%- endif %}
        if check_session is not None:
            check_session(login_session.id)
        if stored.used_at is not None and now - stored.used_at > self._reuse_grace:
            await self._end_stolen(db, user.id, login_session.id)
            raise invalid
{%- if cookiecutter.multi_tenancy == "yes" %}
        # Before the token is spent: a refused switch leaves the session as it was.
        if switch_to is not None:
            membership = await membership_in(db, user.id, switch_to)
{%- endif %}
        # Spend the token atomically: of two concurrent refreshes, exactly one wins.
        spent = await db.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            await db.commit()
            raise invalid
        if (
            login_session.revoked_at is not None
            or login_session.expires_at <= now
            or stored.expires_at <= now
            or not user.is_active
{%- if cookiecutter.multi_tenancy == "yes" %}
            # Bound to an organization the user is no longer a member of.
            or (login_session.organization_id is not None and membership is None)
{%- endif %}
        ):
            await db.commit()
            raise invalid
{%- if cookiecutter.multi_tenancy == "yes" %}
        role = membership.role if membership is not None else None
        scopes = parse_scope(login_session.scope) & allowed_scopes(user.role, role)
        login_session.last_used_at = now
        if switch_to is None or switch_to == login_session.organization_id:
            return await self._issue_pair(db, user, login_session, scopes)
        login_session.organization_id = switch_to
{%- if cookiecutter.database == "postgresql" %}
        # The switch is the new organization's event: row-level security admits its row
        # only in a transaction bound to it, which the session now is.
        await bind_organization(db, switch_to)
{%- endif %}
        record(
            db,
            Event.ORGANIZATION_SWITCHED,
            user_id=user.id,
            session_id=login_session.id,
            organization_id=switch_to,
        )
        # The session's cached principal names the organization it left: every cache
        # forgets it, so the tokens issued before the switch get 401 from now on.
        return await self._issue_pair(db, user, login_session, scopes, rebound=True)
{%- else %}
        scopes = parse_scope(login_session.scope) & ROLE_SCOPES[user.role]
        login_session.last_used_at = now
        return await self._issue_pair(db, user, login_session, scopes)
{%- endif %}

    async def find_by_refresh_token(
        self, db: AsyncSession, refresh_token: str
    ) -> tuple[uuid.UUID, uuid.UUID]:
        """The user and live login session `refresh_token` belongs to, spent or not: how
        a browser names its session to log out once the access cookie has expired. Only
        the session's CSRF token, checked by the caller, lets the request act on it."""
        session_row = (
            await db.execute(
                select(UserSession.user_id, UserSession.id)
                .join(RefreshToken, RefreshToken.session_id == UserSession.id)
                .where(
                    RefreshToken.token_hash == hash_secret_token(refresh_token),
                    UserSession.live_at(utcnow()),
                )
            )
        ).one_or_none()
        if session_row is None:
            raise InvalidCredentialsError("Invalid refresh token")
        return session_row.user_id, session_row.id

    async def end(self, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Log out: the session's access tokens and refresh-token family stop working."""
        await revoke_session(db, session_id)
        record(db, Event.LOGGED_OUT, user_id=user_id, session_id=session_id)
        await self._principals.commit_change(db, user_id)

    async def list_live(self, db: AsyncSession, user_id: uuid.UUID) -> list[UserSession]:
        """The user's live sessions, newest first. No more than MAX_SESSIONS_PER_USER are
        live at once, so the list needs no pages."""
        rows = await db.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.live_at(utcnow()))
            .order_by(UserSession.created_at.desc(), UserSession.id)
        )
        return list(rows)

    async def end_live(self, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """End one of the user's live sessions, chosen from their list.

        Another user's session answers like an unknown one, and so does one that has
        ended already: nothing tells which ids exist.
        """
        now = utcnow()
        ended = await db.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.user_id == user_id,
                UserSession.live_at(now),
            )
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        if ended.rowcount != 1:  # type: ignore[attr-defined]
            await db.rollback()
            raise NotFoundError("Session not found")
        record(db, Event.SESSION_REVOKED, user_id=user_id, session_id=session_id)
        await self._principals.commit_change(db, user_id){%- if cookiecutter.multi_tenancy == "yes" %}

    async def _issue_pair(
        self,
        db: AsyncSession,
        user: User,
        login_session: UserSession,
        scopes: frozenset[str],
        *,
        rebound: bool = False,
    ) -> TokenPair:
        refresh_token = new_secret_token()
        db.add(
            RefreshToken(
                token_hash=hash_secret_token(refresh_token),
                session_id=login_session.id,
                expires_at=login_session.expires_at,
            )
        )
        organization_id = login_session.organization_id
        if rebound:
            await self._principals.commit_change(db, user.id)
        else:
            await db.commit()
        lifetime = int(self._access_lifetime.total_seconds())
        access_token, _ = self._tokens.issue_access_token(
            subject=str(user.id),
            session_id=str(login_session.id),
            scopes=scopes,
            lifetime_seconds=lifetime,
            organization_id=str(organization_id) if organization_id is not None else None,
        )
{%- else %}

    async def _issue_pair(
        self, db: AsyncSession, user: User, login_session: UserSession, scopes: frozenset[str]
    ) -> TokenPair:
        refresh_token = new_secret_token()
        db.add(
            RefreshToken(
                token_hash=hash_secret_token(refresh_token),
                session_id=login_session.id,
                expires_at=login_session.expires_at,
            )
        )
        await db.commit()
        lifetime = int(self._access_lifetime.total_seconds())
        access_token, _ = self._tokens.issue_access_token(
            subject=str(user.id),
            session_id=str(login_session.id),
            scopes=scopes,
            lifetime_seconds=lifetime,
        )
{%- endif %}
        return TokenPair(
            access_token=access_token,
            expires_in=lifetime,
            refresh_token=refresh_token,
            scope=format_scope(scopes),
        )

    async def _end_stolen(
        self, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> None:
{%- if cookiecutter.use_redis == "yes" %}
        # The revocation must land even with the shared store down, so it is committed
        # first and the caches are told after, as far as they can be. While the store is
        # down, no cache is trusted anyway (authentication answers 503).
{%- else %}
        # The revocation is committed first and the cache told after: what is
        # committed holds whatever happens next.
{%- endif %}
        await revoke_session(db, session_id)
        record(db, Event.REFRESH_TOKEN_REUSED, user_id=user_id, session_id=session_id)
        await db.commit()
        await self._principals.forget_user(user_id)


async def revoke_session(db: AsyncSession, session_id: uuid.UUID) -> None:
    await db.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def _end_sessions_over_cap(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """End the user's oldest live sessions beyond MAX_SESSIONS_PER_USER; True if any."""
    newest = (
        select(UserSession.id)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.created_at.desc(), UserSession.id)
        .limit(MAX_SESSIONS_PER_USER)
    )
    ended = await db.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.id.not_in(newest.scalar_subquery()),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(ended.rowcount)  # type: ignore[attr-defined]


async def login_sessions(services: ServicesDep) -> LoginSessions:
    """The login-session machinery, built from the app's settings and shared parts."""
    settings = services.settings
    return LoginSessions(
        services.tokens,
        services.principals,
        access_lifetime=timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES),
        session_lifetime=timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS),
        reuse_grace=timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS),
    )


LoginSessionsDep = Annotated[LoginSessions, Depends(login_sessions)]
