"""A login opens no session for a password or an account that changed while it was checked.

Checking a password takes a while (the hash), and a password change, a deactivation or
two-factor authentication turned on may commit meanwhile. These tests put that change
exactly there: between loading the user, as a login does before hashing, and opening the
session.
"""

import pytest
from sqlalchemy import select, update

from {{ cookiecutter.project_slug }}.api_keys.models import ApiKey
from {{ cookiecutter.project_slug }}.api_keys.schemas import ApiKeyCreate
from {{ cookiecutter.project_slug }}.api_keys.service import create_key
from {{ cookiecutter.project_slug }}.auth.sessions import login_sessions
from {{ cookiecutter.project_slug }}.errors import ForbiddenError, InvalidCredentialsError
from {{ cookiecutter.project_slug }}.security.clients import ClientDetails
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import User, UserSession

from .conftest import UserFactory

CLIENT = ClientDetails(address="127.0.0.1", user_agent="pytest")


async def _change_meanwhile(services: Services, user_id: object, **values: object) -> None:
    async with services.sessionmaker() as other:
        await other.execute(update(User).where(User.id == user_id).values(**values))
        await other.commit()


@pytest.mark.parametrize(
    "change",
    [{"hashed_password": "$argon2id$changed"}, {"is_active": False}, {"mfa_enabled": True}],
    ids=["password", "deactivation", "two-factor"],
)
async def test_a_change_during_the_check_leaves_no_session(
    services: Services, make_user: UserFactory, change: dict[str, object]
) -> None:
    user = await make_user()
    sessions = await login_sessions(services)
    async with services.sessionmaker() as db:
        checked = await db.get(User, user.id)
        assert checked is not None
        await _change_meanwhile(services, user.id, **change)
        with pytest.raises(InvalidCredentialsError):
            await sessions.open(db, checked, frozenset(), CLIENT)
    async with services.sessionmaker() as db:
        assert (
            await db.scalars(select(UserSession).where(UserSession.user_id == user.id))
        ).all() == []


async def test_an_unchanged_user_gets_a_session(services: Services, make_user: UserFactory) -> None:
    user = await make_user()
    sessions = await login_sessions(services)
    async with services.sessionmaker() as db:
        checked = await db.get(User, user.id)
        assert checked is not None
        pair = await sessions.open(db, checked, frozenset(), CLIENT)
    assert pair.access_token


async def test_no_key_is_made_for_a_user_deactivated_since_authentication(
    services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    authenticated = user.snapshot()
    sessions = await login_sessions(services)
    async with services.sessionmaker() as db:
        checked = await db.get(User, user.id)
        assert checked is not None
        await sessions.open(db, checked, frozenset(), CLIENT)
        session_id = await db.scalar(select(UserSession.id).where(UserSession.user_id == user.id))
    assert session_id is not None
    await _change_meanwhile(services, user.id, is_active=False)
    async with services.sessionmaker() as db:
        with pytest.raises(ForbiddenError):
            await create_key(
                db,
                authenticated,
                session_id,
                frozenset({"users:read"}),
                ApiKeyCreate(name="k", scopes=["users:read"]),
            )
        assert (await db.scalars(select(ApiKey).where(ApiKey.user_id == user.id))).all() == []
