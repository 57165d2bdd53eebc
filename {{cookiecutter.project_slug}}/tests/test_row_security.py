"""PostgreSQL keeps organizations apart by itself, straight in SQL, under a role like the
app's in production: no superuser, no BYPASSRLS. The suite's own role is a superuser,
which skips every policy, so these tests create a role of their own."""

import uuid
from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.security.scopes import OrganizationRole
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.tenancy.row_security import (
    RowSecurityError,
    check_row_security,
    protected,
    tenant_tables,
)

from .conftest import BASE_URL, UserFactory, _run_on_server_database, bearer, login, make_settings
from .organizations import ITEMS_URL, add_member, bound_headers, create_organization

SET_ORGANIZATION = text("SELECT set_config('app.organization_id', :id, true)")


@pytest.fixture
async def two_tenants(db_url: str) -> dict[str, uuid.UUID]:
    """Organizations `a` and `b`, each with an item titled after it."""
    ids = {"a": uuid.uuid4(), "b": uuid.uuid4()}
    owner = create_async_engine(db_url)
    async with owner.begin() as connection:
        user = await connection.scalar(
            text(
                "INSERT INTO users (id, username, email, hashed_password, role, is_active, "
                "email_verified, mfa_enabled, created_at, updated_at) VALUES (:id, 'u', "
                "'u@example.com', 'x', 'user', true, true, false, now(), now()) RETURNING id"
            ),
            {"id": uuid.uuid4()},
        )
        for name, organization_id in ids.items():
            await connection.execute(
                text("INSERT INTO organizations VALUES (:id, :name, :name, now())"),
                {"id": organization_id, "name": name},
            )
            await connection.execute(
                text(
                    "INSERT INTO items (id, title, owner_id, organization_id, created_at) "
                    "VALUES (:id, :title, :owner, :organization, now())"
                ),
                {"id": uuid.uuid4(), "title": name, "owner": user, "organization": organization_id},
            )
    await owner.dispose()
    return ids


async def _titles(connection: AsyncConnection) -> list[str]:
    return list((await connection.scalars(text("SELECT title FROM items ORDER BY title"))).all())


@pytest.fixture
async def app_engine(app_role_url: str) -> AsyncIterator[AsyncEngine]:
    # One pooled connection, serving every transaction in turn.
    engine = create_async_engine(app_role_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_the_app_role_sees_only_the_rows_of_the_organization_it_set(
    app_engine: AsyncEngine, two_tenants: dict[str, uuid.UUID]
) -> None:
    async with app_engine.begin() as connection:
        assert await _titles(connection) == []
    for name, organization_id in two_tenants.items():
        async with app_engine.begin() as connection:
            await connection.execute(SET_ORGANIZATION, {"id": str(organization_id)})
            assert await _titles(connection) == [name]
    # The pool's one connection served `a`, then `b`: the next transaction sets nothing.
    async with app_engine.begin() as connection:
        assert await _titles(connection) == []
        assert await connection.scalar(text("SELECT count(*) FROM items")) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO items (id, title, owner_id, organization_id, created_at) "
        "SELECT gen_random_uuid(), 'x', owner_id, :other, now() FROM items",
        "UPDATE items SET organization_id = :other",
    ],
    ids=["insert", "update"],
)
async def test_the_app_role_cannot_write_into_another_organization(
    app_engine: AsyncEngine, two_tenants: dict[str, uuid.UUID], statement: str
) -> None:
    async with app_engine.begin() as connection:
        await connection.execute(SET_ORGANIZATION, {"id": str(two_tenants["a"])})
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(text(statement), {"other": two_tenants["b"]})


async def test_the_role_and_the_tables_are_what_production_requires(
    app_engine: AsyncEngine, db_url: str
) -> None:
    async with app_engine.connect() as connection:
        role = (
            await connection.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        forced = (
            await connection.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = ANY(:names) ORDER BY relname"
                ),
                {"names": list(protected())},
            )
        ).all()
    assert (role.rolsuper, role.rolbypassrls) == (False, False)
    assert tenant_tables() == ["items"]
    assert sorted(protected()) == ["audit_events", "invitations", "items", "memberships"]
    assert [tuple(row) for row in forced] == [(name, True, True) for name in sorted(protected())]
    await check_row_security(app_engine)
    superuser = create_async_engine(db_url)
    with pytest.raises(RowSecurityError, match="is a superuser"):
        await check_row_security(superuser)
    await superuser.dispose()


async def test_production_refuses_to_start_as_a_superuser(db_url: str) -> None:
    app = create_app(make_settings(db_url, ENVIRONMENT="production"))
    with pytest.raises(RowSecurityError, match="is a superuser"):
        async with app.router.lifespan_context(app):
            pass


async def test_production_refuses_to_start_when_a_tenant_table_lacks_forced_security(
    app_role_url: str, db_url: str
) -> None:
    await _run_on_server_database(db_url, "ALTER TABLE items NO FORCE ROW LEVEL SECURITY")
    try:
        app = create_app(make_settings(app_role_url, ENVIRONMENT="production"))
        with pytest.raises(RowSecurityError, match="table 'items' lacks forced row-level"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        await _run_on_server_database(db_url, "ALTER TABLE items FORCE ROW LEVEL SECURITY")


async def test_production_refuses_to_start_when_a_policy_admits_more_than_its_organization(
    app_role_url: str, db_url: str
) -> None:
    # Forced security alone passes with a policy that opens everything: policies OR up.
    await _run_on_server_database(db_url, "CREATE POLICY items_open ON items USING (true)")
    try:
        app = create_app(make_settings(app_role_url, ENVIRONMENT="production"))
        with pytest.raises(
            RowSecurityError, match="policy 'items_open' on 'items' admits more than its"
        ):
            async with app.router.lifespan_context(app):
                pass
    finally:
        await _run_on_server_database(db_url, "DROP POLICY items_open ON items")


async def test_the_app_under_its_own_role_serves_each_organization_its_rows(
    app_role_url: str, services: Services, make_user: UserFactory
) -> None:
    app = create_app(make_settings(app_role_url))
    first, second = await make_user(), await make_user()
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        shared = await create_organization(client, bearer(await login(client, first.username)))
        await add_member(services, shared["id"], second.id, OrganizationRole.VIEWER)
        writer = await bound_headers(client, first.username, shared["id"])
        created = await client.post(ITEMS_URL, headers=writer, json={"title": "shared"})
        reader = await bound_headers(client, second.username, shared["id"])
        listed = (await client.get(ITEMS_URL, headers=reader)).json()
        # The reader's own organization (tests/conftest.py): none of the shared rows.
        own = await bound_headers(client, second.username, second.username)
        elsewhere = (await client.get(ITEMS_URL, headers=own)).json()

    assert created.status_code == 201
    assert [item["title"] for item in listed["items"]] == ["shared"]
    assert elsewhere["total"] == 0
