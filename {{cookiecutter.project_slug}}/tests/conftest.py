"""Shared fixtures: a real database per test, the app with its lifespan, users, logins."""

import asyncio
import io
import json
import logging
{%- if cookiecutter.use_redis == "yes" or cookiecutter.database == "postgresql" %}
import os
{%- endif %}
import re
{%- if cookiecutter.database == "sqlite" %}
import shutil
{%- endif %}
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from typing import Any
{%- if cookiecutter.use_redis == "yes" or cookiecutter.database == "postgresql" %}
from urllib.parse import urlsplit, urlunsplit
{%- endif %}

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from httpx import ASGITransport, AsyncClient
{%- if cookiecutter.use_redis == "yes" %}
from redis.asyncio import Redis
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import {% if cookiecutter.multi_tenancy == "yes" %}make_url, {% endif %}text
from sqlalchemy.ext.asyncio import create_async_engine
{%- endif %}

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.db import create_engine
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.log import JsonFormatter, RedactingFilter, RequestIdFilter, access_log
from {{ cookiecutter.project_slug }}.migrate import migrate
from {{ cookiecutter.project_slug }}.security.scopes import {% if cookiecutter.multi_tenancy == "yes" %}OrganizationRole, {% endif %}Role
from {{ cookiecutter.project_slug }}.services import Services
{%- if cookiecutter.multi_tenancy == "yes" %}
from {{ cookiecutter.project_slug }}.tenancy.models import Membership, Organization
{%- endif %}
from {{ cookiecutter.project_slug }}.users.models import User
from {{ cookiecutter.project_slug }}.users.schemas import UserCreate
from {{ cookiecutter.project_slug }}.users.service import create_user

TEST_SECRET_KEY = "test-" + "k" * 59
PASSWORD = "correct horse battery staple"
BASE_URL = "http://localhost"


{%- if cookiecutter.use_redis == "yes" or cookiecutter.database == "postgresql" %}


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database (or Redis database number) on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
{%- endif %}


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: never read from `.env`, and cheap Argon2 parameters."""
    values: dict[str, Any] = {
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": database_url,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
        # Tests log in often; the rate-limit tests set tight limits of their own.
        "RATE_LIMIT_LOGIN": "1000/minute",
        "RATE_LIMIT_DEFAULT": "1000/minute",
{%- if cookiecutter.use_redis == "yes" %}
        "REDIS_URL": REDIS_URL,
{%- endif %}
        **overrides,
    }
    return Settings(_env_file=None, **values)
{%- if cookiecutter.use_redis == "yes" %}


# The Redis server named by REDIS_URL (the local one by default), in a database number
# of the tests' own, emptied before each test.
REDIS_URL = with_database(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), "15")


@pytest.fixture(autouse=True)
async def empty_redis() -> None:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    await client.aclose()
{%- endif %}

{% if cookiecutter.database == "postgresql" %}
# The server named by DATABASE_URL (the local one by default): the tests create and drop
# a database of their own there, connecting through its `postgres` database.
SERVER_URL = with_database(
    os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"), "postgres"
)
TABLES = (
    "action_tokens",
    "api_keys",
    "audit_events",
{%- if cookiecutter.multi_tenancy == "yes" %}
    "invitations",
{%- endif %}
    "items",
{%- if cookiecutter.multi_tenancy == "yes" %}
    "memberships",
    "organizations",
{%- endif %}
{%- if cookiecutter.passkeys == "yes" %}
    "passkey_challenges",
    "passkeys",
{%- endif %}
    "recovery_codes",
    "refresh_tokens",
    "totp_secrets",
    "user_sessions",
    "users",
)


async def _run_on_server(statement: str) -> None:
    engine = create_async_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()
{%- if cookiecutter.multi_tenancy == "yes" %}


async def _run_on_server_database(db_url: str, statement: str) -> None:
    engine = create_async_engine(db_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


@pytest.fixture
async def app_role_url(db_url: str) -> AsyncIterator[str]:
    """The test database as a role with the app's rights and no way around a policy: the
    suite's own role is a superuser, which row-level security never holds, and under which
    production refuses to start."""
    role = f"app_{uuid.uuid4().hex[:12]}"
    database = make_url(db_url).database
    await _run_on_server(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
    await _run_on_server(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
    owner = create_async_engine(db_url, isolation_level="AUTOCOMMIT")
    async with owner.connect() as connection:
        await connection.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        await connection.execute(
            text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        )
    await owner.dispose()
    yield make_url(db_url).set(username=role).render_as_string(hide_password=False)
    # Its grants, in the test database and on it, then the role.
    await _run_on_server_database(db_url, f'DROP OWNED BY "{role}"')
    await _run_on_server(f'DROP ROLE "{role}"')
{%- endif %}


@pytest.fixture(scope="session")
def database_url() -> Any:
    """A database of this test run's own on the local server, migrated once, dropped after."""
    name = f"{{ cookiecutter.project_slug }}_test_{uuid.uuid4().hex[:12]}"
    url = SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_run_on_server(f'CREATE DATABASE "{name}"'))

    async def _migrate() -> None:
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(_migrate())
    yield url
    asyncio.run(_run_on_server(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_url(database_url: str) -> str:
    """The test database, emptied first: every test starts from the migrated schema alone."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    await engine.dispose()
    return database_url
{% else %}
@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    asyncio.run(_migrate())
    return path


@pytest.fixture
def db_url(migrated_database: Path, tmp_path: Path) -> str:
    path = tmp_path / "app.db"
    shutil.copyfile(migrated_database, path)
    return f"sqlite+aiosqlite:///{path}"
{% endif %}

@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(db_url: str, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(db_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: Any) -> Services:
    result: Services = app.state.services
    return result


@pytest.fixture
async def client(app: Any) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http


UserFactory = Callable[..., Awaitable[User]]
{%- if cookiecutter.multi_tenancy == "yes" %}
# Each test user of these roles is a member of an organization of their own, with the
# role that gives them what their account role gave before tenancy: a login binds to it
# (their only one), and another user's items are another organization's. An admin
# belongs to none: platform administration reads no tenant data.
OWN_ORGANIZATION_ROLE = {Role.USER: OrganizationRole.MEMBER, Role.GUEST: OrganizationRole.VIEWER}
{%- endif %}


@pytest.fixture
def make_user(services: Services) -> UserFactory:
    async def _make_user(
        role: Role = Role.USER, *, username: str | None = None, password: str = PASSWORD
    ) -> User:
        name = username or f"{role.value}-{uuid.uuid4().hex[:8]}"
        data = UserCreate(username=name, email=f"{name}@example.com", password=password)
        async with services.sessionmaker() as session:
{%- if cookiecutter.multi_tenancy == "yes" %}
            user = await create_user(session, services.hasher, data, role=role)
            if role in OWN_ORGANIZATION_ROLE:
                organization = Organization(name=name, slug=name)
                session.add(organization)
                await session.flush()
                session.add(
                    Membership(
                        organization_id=organization.id,
                        user_id=user.id,
                        role=OWN_ORGANIZATION_ROLE[role],
                    )
                )
                await session.commit()
            return user
{%- else %}
            return await create_user(session, services.hasher, data, role=role)
{%- endif %}

    return _make_user


async def login(
    client: AsyncClient, username: str, password: str = PASSWORD, scope: str | None = None
) -> dict[str, Any]:
    form = {"username": username, "password": password}
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


AuthHeaders = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def auth_headers(client: AsyncClient, make_user: UserFactory) -> AuthHeaders:
    """Headers of a freshly created and logged-in user of the given role."""

    async def _auth_headers(role: Role = Role.USER, scope: str | None = None) -> dict[str, str]:
        user = await make_user(role)
        return bearer(await login(client, user.username, scope=scope))

    return _auth_headers


class CapturedLogs:
    """What the app logged during a test, through its real filters and JSON format."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == name]


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    captured = CapturedLogs()
    handler = logging.StreamHandler(captured.stream)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # As configure_logging does: access lines are written to the handler directly.
    access_log.write_to(handler)
    yield captured
    access_log.write_to(None)
    root.removeHandler(handler)
    root.setLevel(previous_level)


class MailBox:
    """Mails received by a real SMTP server on loopback (aiosmtpd)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def texts(self) -> list[str]:
        return [_part(message, "plain") for message in self.messages]

    def link_token(self, index: int = -1) -> str:
        """The token of the link in a mail (the last one by default)."""
        match = re.search(r"\?token=([A-Za-z0-9_-]+)", _part(self.messages[index], "plain"))
        assert match, "no link in the mail"
        return match.group(1)


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None
    return str(body.get_content())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[MailBox]:
    box = MailBox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(mailbox: MailBox) -> dict[str, Any]:
    """Settings that send the app's mail to `mailbox`."""
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port, "SMTP_TLS": False}
