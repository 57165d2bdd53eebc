from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import select

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.users.models import User
from {{ cookiecutter.project_slug }}.users.schemas import UserCreate
from {{ cookiecutter.project_slug }}.users.service import create_user

from .conftest import BASE_URL, PASSWORD, CapturedLogs, login, make_settings

ADMIN = {"FIRST_ADMIN_EMAIL": "root@example.com", "FIRST_ADMIN_PASSWORD": PASSWORD}


async def _admins(app: Any) -> list[User]:
    async with app.state.services.sessionmaker() as session:
        return list(await session.scalars(select(User).where(User.role == Role.ADMIN)))


async def test_first_admin_is_created_on_start_up_once(db_url: str) -> None:
    for _ in range(2):
        app = create_app(make_settings(db_url, **ADMIN))
        async with app.router.lifespan_context(app):
            admins = await _admins(app)
            async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client:
                tokens = await login(client, "root@example.com")
    assert [(a.username, a.email, a.email_verified) for a in admins] == [
        ("admin", "root@example.com", True)
    ]
    assert "admin" in tokens["scope"].split()


async def test_no_admin_is_created_without_the_settings(db_url: str) -> None:
    app = create_app(make_settings(db_url))
    async with app.router.lifespan_context(app):
        assert await _admins(app) == []


async def test_weak_first_admin_password_stops_start_up(db_url: str) -> None:
    app = create_app(
        make_settings(db_url, FIRST_ADMIN_EMAIL="root@example.com", FIRST_ADMIN_PASSWORD="short")
    )
    with pytest.raises(ValidationError, match="at least 12 characters"):
        async with app.router.lifespan_context(app):
            pass


async def test_first_admin_email_of_a_non_admin_logs_how_to_promote_them(
    db_url: str, logs: CapturedLogs
) -> None:
    # Someone registered with the address before the admin settings were filled in.
    app = create_app(make_settings(db_url))
    async with app.router.lifespan_context(app):
        services = app.state.services
        data = UserCreate(username="early", email="ROOT@example.com", password=PASSWORD)
        async with services.sessionmaker() as session:
            await create_user(session, services.hasher, data, role=Role.USER)
    app = create_app(make_settings(db_url, **ADMIN))
    async with app.router.lifespan_context(app):
        assert await _admins(app) == []
    warnings = [line["message"] for line in logs.lines() if line["level"] == "WARNING"]
    assert warnings == [
        "first admin not created: the account 'early' already has FIRST_ADMIN_EMAIL or "
        "FIRST_ADMIN_USERNAME and is not an admin; to make it the admin, run "
        "`{{ cookiecutter.project_slug }} set-role --username early --role admin`, "
        "or change FIRST_ADMIN_*"
    ]
