"""Row-level security on what says who may enter an organization (memberships,
invitations) and on its audit trail, straight in SQL under a role like the app's, and
over HTTP with the app itself connected as that role: login, accepting an invitation,
the members list and leaving all work through their narrow settings alone."""

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.purge import purge_expired
from {{ cookiecutter.project_slug }}.security.scopes import OrganizationRole
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.tenancy.models import Membership, Organization
from {{ cookiecutter.project_slug }}.tenancy.row_security import (
    INVITATION_SETTING,
    SETTING,
    SHARED,
    USER_SETTING,
    RowSecurityError,
    check_row_security,
)
from {{ cookiecutter.project_slug }}.users.models import User

from .conftest import (
    BASE_URL,
    PASSWORD,
    MailBox,
    UserFactory,
    _run_on_server_database,
    bearer,
    login,
    make_settings,
)
from .organizations import ORGANIZATIONS_URL, add_member, bound_headers, create_organization

SET = text("SELECT set_config(:setting, :value, true)")


@pytest.fixture
async def shared_rows(db_url: str) -> dict[str, dict[str, uuid.UUID]]:
    """Organizations `a` and `b`, each with one member, one invitation (token hash
    `hash-a`, `hash-b`) and one audit event; and one platform audit event."""
    rows: dict[str, dict[str, uuid.UUID]] = {}
    owner = create_async_engine(db_url)
    async with owner.begin() as connection:
        for name in ("a", "b"):
            ids = {"organization": uuid.uuid4(), "user": uuid.uuid4()}
            await connection.execute(
                text(
                    "INSERT INTO users (id, username, email, hashed_password, role, is_active, "
                    "email_verified, mfa_enabled, created_at, updated_at) VALUES (:id, :name, "
                    ":email, 'x', 'user', true, true, false, now(), now())"
                ),
                {"id": ids["user"], "name": name, "email": f"{name}@example.com"},
            )
            await connection.execute(
                text("INSERT INTO organizations VALUES (:id, :name, :name, now())"),
                {"id": ids["organization"], "name": name},
            )
            await connection.execute(
                text(
                    "INSERT INTO memberships VALUES (gen_random_uuid(), :organization, :user, "
                    "'owner', now())"
                ),
                ids,
            )
            await connection.execute(
                text(
                    "INSERT INTO invitations (id, organization_id, email, role, token_hash, "
                    "created_at, expires_at) VALUES (gen_random_uuid(), :organization, "
                    "'x@example.com', 'member', :hash, now(), now() + interval '1 day')"
                ),
                {**ids, "hash": f"hash-{name}"},
            )
            await _insert_event(connection, ids["organization"], name)
            rows[name] = ids
        await _insert_event(connection, None, "platform")
    await owner.dispose()
    return rows


async def _insert_event(
    connection: AsyncConnection, organization_id: uuid.UUID | None, name: str
) -> None:
    await connection.execute(
        text(
            "INSERT INTO audit_events (id, event, organization_id, created_at, details) "
            "VALUES (gen_random_uuid(), :name, :organization, now(), '{}')"
        ),
        {"name": name, "organization": organization_id},
    )


async def _visible(connection: AsyncConnection) -> dict[str, list[str]]:
    """What the transaction sees of each table, by the organization's slug (`-`: none)."""
    queries = {
        "memberships": "SELECT o.slug FROM memberships m JOIN organizations o "
        "ON o.id = m.organization_id ORDER BY 1",
        "invitations": "SELECT token_hash FROM invitations ORDER BY 1",
        "audit_events": "SELECT event FROM audit_events ORDER BY 1",
    }
    return {
        table: list((await connection.scalars(text(query))).all())
        for table, query in queries.items()
    }


@pytest.fixture
async def app_engine(app_role_url: str) -> Any:
    engine = create_async_engine(app_role_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_the_app_role_sees_only_platform_events_without_a_setting(
    app_engine: AsyncEngine, shared_rows: dict[str, dict[str, uuid.UUID]]
) -> None:
    async with app_engine.begin() as connection:
        assert await _visible(connection) == {
            "memberships": [],
            "invitations": [],
            "audit_events": ["platform"],
        }


async def test_the_app_role_sees_only_the_bound_organizations_rows(
    app_engine: AsyncEngine, shared_rows: dict[str, dict[str, uuid.UUID]]
) -> None:
    for name, ids in shared_rows.items():
        async with app_engine.begin() as connection:
            await connection.execute(SET, {"setting": SETTING, "value": str(ids["organization"])})
            assert await _visible(connection) == {
                "memberships": [name],
                "invitations": [f"hash-{name}"],
                "audit_events": sorted([name, "platform"]),
            }


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        (USER_SETTING, "user", {"memberships": ["a"], "invitations": []}),
        (INVITATION_SETTING, "hash-a", {"memberships": [], "invitations": ["hash-a"]}),
    ],
    ids=["user", "invitation-token"],
)
async def test_a_user_or_a_token_hash_admits_only_its_own_rows_and_only_to_read(
    app_engine: AsyncEngine,
    shared_rows: dict[str, dict[str, uuid.UUID]],
    setting: str,
    value: str,
    expected: dict[str, list[str]],
) -> None:
    a = shared_rows["a"]
    async with app_engine.begin() as connection:
        await connection.execute(SET, {"setting": setting, "value": str(a.get(value, value))})
        assert await _visible(connection) == {**expected, "audit_events": ["platform"]}
        # Read only: what it shows, it cannot change.
        changed = await connection.execute(text("UPDATE memberships SET role = 'viewer'"))
        revoked = await connection.execute(text("UPDATE invitations SET revoked_at = now()"))
        assert (changed.rowcount, revoked.rowcount) == (0, 0)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO memberships VALUES (gen_random_uuid(), :other, :user, 'owner', now())",
        "INSERT INTO invitations (id, organization_id, email, role, token_hash, created_at, "
        "expires_at) VALUES (gen_random_uuid(), :other, 'y@example.com', 'owner', 'h', now(), "
        "now())",
        "INSERT INTO audit_events (id, event, organization_id, created_at, details) "
        "VALUES (gen_random_uuid(), 'forged', :other, now(), '{}')",
    ],
    ids=["memberships", "invitations", "audit_events"],
)
async def test_the_app_role_cannot_write_into_another_organization(
    app_engine: AsyncEngine, shared_rows: dict[str, dict[str, uuid.UUID]], statement: str
) -> None:
    a, b = shared_rows["a"], shared_rows["b"]
    async with app_engine.begin() as connection:
        await connection.execute(SET, {"setting": SETTING, "value": str(a["organization"])})
        # The user setting admits reading one's memberships, never writing one elsewhere.
        await connection.execute(SET, {"setting": USER_SETTING, "value": str(a["user"])})
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(
                text(statement), {"other": b["organization"], "user": a["user"]}
            )


async def test_no_transaction_can_change_a_platform_event_or_move_it_into_an_organization(
    app_engine: AsyncEngine, shared_rows: dict[str, dict[str, uuid.UUID]]
) -> None:
    a = shared_rows["a"]
    for organization in (None, a["organization"]):
        async with app_engine.begin() as connection:
            if organization is not None:
                await connection.execute(SET, {"setting": SETTING, "value": str(organization)})
            moved = await connection.execute(
                text("UPDATE audit_events SET organization_id = :a WHERE organization_id IS NULL"),
                {"a": a["organization"]},
            )
            rewritten = await connection.execute(
                text("UPDATE audit_events SET event = 'rewritten' WHERE organization_id IS NULL")
            )
            assert (moved.rowcount, rewritten.rowcount) == (0, 0)
    async with app_engine.begin() as connection:
        assert (await _visible(connection))["audit_events"] == ["platform"]


async def test_the_purge_under_the_app_role_reaches_every_organizations_old_events(
    app_engine: AsyncEngine, app_role_url: str, shared_rows: dict[str, dict[str, uuid.UUID]]
) -> None:
    settings = make_settings(app_role_url, AUDIT_RETENTION_DAYS=30)

    counts = await purge_expired(app_engine, settings, now=utcnow() + timedelta(days=31))

    # The platform's event and one of each organization's.
    assert counts["audit_events"] == 3


@pytest.mark.parametrize("table", sorted(SHARED))
async def test_production_refuses_to_start_when_a_shared_table_admits_more(
    app_role_url: str, db_url: str, table: str
) -> None:
    await _run_on_server_database(
        db_url, f"CREATE POLICY {table}_open ON {table} FOR SELECT USING (true)"
    )
    engine = create_async_engine(app_role_url)
    try:
        with pytest.raises(
            RowSecurityError, match=f"policy '{table}_open' on '{table}' admits more than"
        ):
            await check_row_security(engine)
    finally:
        await engine.dispose()
        await _run_on_server_database(db_url, f"DROP POLICY {table}_open ON {table}")


@pytest.mark.parametrize(
    ("make_way", "undo", "refusal"),
    [
        (
            "ALTER ROLE {role} SET app.organization_id = '00000000-0000-0000-0000-000000000001'",
            "ALTER ROLE {role} RESET app.organization_id",
            "the setting 'app.organization_id' has a default",
        ),
        (
            "ALTER TABLE invitations OWNER TO {role}",
            "ALTER TABLE invitations OWNER TO CURRENT_USER",
            "the database role owns table 'invitations'",
        ),
        (
            "CREATE ROLE {role}_bypass NOLOGIN BYPASSRLS; GRANT {role}_bypass TO {role}",
            "DROP ROLE {role}_bypass",
            "the database role may become '{role}_bypass'",
        ),
        (
            "CREATE SCHEMA {role} AUTHORIZATION {role}; CREATE TABLE {role}.items (id int)",
            "DROP SCHEMA {role} CASCADE",
            "table 'items' is found outside schema 'public' first",
        ),
    ],
    ids=["setting-default", "owner", "bypassing-role", "search-path"],
)
async def test_production_refuses_a_way_around_the_policies(
    app_role_url: str, db_url: str, make_way: str, undo: str, refusal: str
) -> None:
    role = make_url(app_role_url).username
    for statement in make_way.format(role=role).split("; "):
        await _run_on_server_database(db_url, statement)
    engine = create_async_engine(app_role_url)
    try:
        with pytest.raises(RowSecurityError, match=re.escape(refusal.format(role=role))):
            await check_row_security(engine)
    finally:
        await engine.dispose()
        await _run_on_server_database(db_url, undo.format(role=role))


async def test_production_refuses_a_declared_policy_widened_in_place(
    app_role_url: str, db_url: str
) -> None:
    own_rows = SHARED["memberships"][1]
    widened = (
        "CREATE POLICY memberships_own_rows ON memberships FOR SELECT "
        f"USING ({own_rows.condition()} OR role = 'owner')"
    )
    await _run_on_server_database(db_url, "DROP POLICY memberships_own_rows ON memberships")
    await _run_on_server_database(db_url, widened)
    engine = create_async_engine(app_role_url)
    try:
        with pytest.raises(
            RowSecurityError, match="policy 'memberships_own_rows' on 'memberships' admits more"
        ):
            await check_row_security(engine)
    finally:
        await engine.dispose()
        await _run_on_server_database(db_url, "DROP POLICY memberships_own_rows ON memberships")
        await _run_on_server_database(db_url, own_rows.create("memberships"))


async def test_the_app_under_its_own_role_logs_in_invites_accepts_and_lists_members(
    app_role_url: str,
    services: Services,
    make_user: UserFactory,
    mailbox: MailBox,
    smtp_settings: dict[str, Any],
) -> None:
    owner, invitee = await make_user(), await make_user()
    async with services.sessionmaker() as db:
        await db.execute(update(User).where(User.id == invitee.id).values(email_verified=True))
        await db.commit()
    app = create_app(make_settings(app_role_url, **smtp_settings))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        owner_tokens = await login(client, owner.username)
        organization = await create_organization(client, bearer(owner_tokens))
        members_url = f"{ORGANIZATIONS_URL}/{organization['id']}/members"
        headers = await bound_headers(client, owner.username, organization["id"])
        invited = await client.post(
            f"{ORGANIZATIONS_URL}/{organization['id']}/invitations",
            headers=headers,
            json={"email": invitee.email, "role": "member"},
        )
        # Accepted from the invitee's own organization (tests/conftest.py).
        invitee_headers = await bound_headers(client, invitee.username, invitee.username)
        accepted = await client.post(
            "/api/v1/invitations/accept",
            headers=invitee_headers,
            json={"token": mailbox.link_token()},
        )
        mine = await client.get(ORGANIZATIONS_URL, headers=invitee_headers)
        # The owner's first login is bound to their own organization: switch to the new one.
        switched = await client.post(
            "/api/v1/auth/refresh",
            json={
                "refresh_token": owner_tokens["refresh_token"],
                "organization_id": organization["id"],
            },
        )
        member = await bound_headers(client, invitee.username, organization["id"])
        members = await client.get(members_url, headers=member)
        trail = await client.get(
            f"{ORGANIZATIONS_URL}/{organization['id']}/audit-events", headers=headers
        )
        left = await client.delete(f"{members_url}/{invitee.id}", headers=member)
        after = await client.get(members_url, headers=headers)

    assert invited.status_code == 201
    assert switched.status_code == 200
    assert accepted.status_code == 200
    assert sorted(row["slug"] for row in mine.json()) == sorted(
        [organization["slug"], invitee.username]
    )
    assert [row["username"] for row in members.json()["items"]] == [
        owner.username,
        invitee.username,
    ]
    assert {
        "organization_created",
        "organization_switched",
        "invitation_created",
        "invitation_accepted",
    } <= {row["event"] for row in trail.json()["items"]}
    assert left.status_code == 204
    assert [row["username"] for row in after.json()["items"]] == [owner.username]


async def test_closing_an_account_under_the_app_role_weighs_each_organization(
    app_role_url: str, services: Services, make_user: UserFactory
) -> None:
    owner, member = await make_user(), await make_user()
    app = create_app(make_settings(app_role_url))
    close = {"current_password": PASSWORD}
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        headers = bearer(await login(client, owner.username))
        kept = [await create_organization(client, headers, slug) for slug in ("kept-b", "kept-a")]
        for organization in kept:
            await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
        refused = await client.request("DELETE", "/api/v1/users/me", headers=headers, json=close)
        async with services.sessionmaker() as db:
            await db.execute(delete(Membership).where(Membership.user_id == member.id))
            await db.commit()
        closed = await client.request("DELETE", "/api/v1/users/me", headers=headers, json=close)

    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("Last owner of 'kept-a', 'kept-b': ")
    assert closed.status_code == 204
    async with services.sessionmaker() as db:
        slugs = set(await db.scalars(select(Organization.slug)))
    # Theirs went with them, their own first organization (tests/conftest.py) included.
    assert slugs == {member.username}
