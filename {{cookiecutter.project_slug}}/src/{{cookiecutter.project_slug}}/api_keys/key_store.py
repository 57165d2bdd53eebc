"""The API keys `authorize` checks `X-API-Key` against (security.credential_stores)."""

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import utcnow
from ..security.credential_stores import KeyGrant
from ..security.scopes import parse_scope
from ..security.secret_tokens import hash_secret_token
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.binding import membership_of
from ..tenancy.models import Membership
{%- endif %}
from ..users.models import User
from .models import ApiKey

# Far above any key we issue: a longer header is refused before it is hashed.
MAX_API_KEY_LENGTH = 128
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


class DatabaseApiKeyStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def find_valid(self, key: str) -> KeyGrant | None:
        if len(key) > MAX_API_KEY_LENGTH:
            return None
        now = utcnow()
        async with self._sessionmaker() as db:
            row = (
                await db.execute(
                    select(User, ApiKey)
                    .join(ApiKey, ApiKey.user_id == User.id)
                    .where(
                        ApiKey.key_hash == hash_secret_token(key),
                        ApiKey.revoked_at.is_(None),
                        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                    )
                )
            ).one_or_none()
            if row is None:
                return None
            user, api_key = row
{%- if cookiecutter.multi_tenancy == "yes" %}
            # A key of an organization: only while its user is a member. Read once the
            # key's user is known{% if cookiecutter.database == "postgresql" %}: row-level security shows only their memberships{% endif %}.
            membership: Membership | None = None
            if api_key.organization_id is not None:
                membership = await membership_of(db, user.id, api_key.organization_id)
                if membership is None:
                    return None
{%- endif %}
            if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_PRECISION:
                await db.execute(
                    update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)
                )
                await db.commit()
{%- if cookiecutter.multi_tenancy == "yes" %}
            return KeyGrant(
                user=user.snapshot(),
                scopes=parse_scope(api_key.scope),
                membership=membership.snapshot() if membership is not None else None,
            )
{%- else %}
            return KeyGrant(user=user.snapshot(), scopes=parse_scope(api_key.scope))
{%- endif %}
