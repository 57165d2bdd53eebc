"""Security events are kept in the audit trail, in the transaction of the change they
describe, with who, whom, from where and in which request; and logged as before."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from {{ cookiecutter.project_slug }}.audit.trail import DETAIL_FIELDS, Event, record
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.log import names_a_secret
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import User, UserSession

from .audit_rows import audit_rows
from .conftest import (
    PASSWORD,
    AuthHeaders,
    CapturedLogs,
    UserFactory,
    bearer,
    login,
    make_settings,
)
from .two_factor import DISABLE_URL, enable_two_factor

TOKEN_URL = "/api/v1/auth/token"
SESSIONS_URL = "/api/v1/users/me/sessions"


async def test_logins_are_kept_with_the_address_and_the_request_id(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    ok = await client.post(
        TOKEN_URL,
        data={"username": user.username, "password": PASSWORD},
        headers={"X-Request-ID": "login-1"},
    )
    wrong = await client.post(
        TOKEN_URL,
        data={"username": user.username, "password": "not the password"},
        headers={"X-Request-ID": "login-2"},
    )
    unknown = await client.post(TOKEN_URL, data={"username": "nobody-here", "password": PASSWORD})
    assert (ok.status_code, wrong.status_code, unknown.status_code) == (200, 401, 401)

    (succeeded,) = await audit_rows(services, event="login_succeeded")
    assert (succeeded.user_id, succeeded.actor_id) == (user.id, None)
    assert (succeeded.ip_address, succeeded.request_id, succeeded.details) == (
        "127.0.0.1",
        "login-1",
        {},
    )
    failed_for_user, failed_for_nobody = await audit_rows(services, event="login_failed")
    assert (failed_for_user.user_id, failed_for_user.request_id) == (user.id, "login-2")
    assert failed_for_user.details == {}
    # A name that matches no account is kept as the log shows it: two characters.
    assert failed_for_nobody.user_id is None
    assert failed_for_nobody.details == {"login": "no…[11]"}
    assert failed_for_nobody.ip_address == "127.0.0.1"


async def test_role_changes_and_deactivation_name_the_admin_who_made_them(
    client: AsyncClient, services: Services, make_user: UserFactory, logs: CapturedLogs
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    headers = bearer(await login(client, admin.username))
    url = f"/api/v1/admin/users/{user.id}"
    for change in ({"role": "guest"}, {"is_active": False}, {"is_active": True}):
        assert (await client.patch(url, headers=headers, json=change)).status_code == 200

    rows = await audit_rows(services, user_id=user.id)
    assert [(row.event, row.actor_id, row.details) for row in rows] == [
        ("role_changed", admin.id, {"role": "guest"}),
        ("user_deactivated", admin.id, {}),
        ("user_reactivated", admin.id, {}),
    ]
    # The log line is the one it always was.
    (logged,) = logs.events("role_changed")
    assert logged["fields"] == {"user_id": str(user.id), "by": str(admin.id), "role": "guest"}


async def test_a_request_that_changes_nothing_keeps_nothing(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    headers = bearer(await login(client, admin.username))
    same = {"role": "user", "is_active": True}
    assert (
        await client.patch(f"/api/v1/admin/users/{user.id}", headers=headers, json=same)
    ).status_code == 200
    assert await audit_rows(services, user_id=user.id) == []


async def test_api_keys_created_and_revoked_are_kept_by_id(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    created = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:read"]}
    )
    key_id = created.json()["id"]
    assert (await client.delete(f"/api/v1/api-keys/{key_id}", headers=headers)).status_code == 204

    rows = await audit_rows(services, user_id=user.id)
    assert [(row.event, row.details) for row in rows] == [
        ("login_succeeded", {}),
        ("api_key_created", {"key_id": key_id}),
        ("api_key_revoked", {"key_id": key_id}),
    ]


async def test_a_refused_api_key_keeps_no_row(
    client: AsyncClient, services: Services, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers(Role.GUEST)
    refused = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:write"]}
    )
    assert refused.status_code == 403
    assert await audit_rows(services, event="api_key_created") == []


async def test_logout_keeps_the_session_it_ended(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    async with services.sessionmaker() as db:
        session_id = await db.scalar(select(UserSession.id).where(UserSession.user_id == user.id))

    (logged_out,) = await audit_rows(services, event="logged_out")
    assert (logged_out.user_id, logged_out.details) == (user.id, {"session_id": str(session_id)})


async def test_a_password_change_is_kept(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase 7"},
    )
    assert changed.status_code == 204
    assert [row.user_id for row in await audit_rows(services, event="password_changed")] == [
        user.id
    ]


async def test_admin_route_denials_are_kept_with_the_user(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    assert (await client.get("/api/v1/admin/users", headers=headers)).status_code == 403
    (denied,) = await audit_rows(services, event="admin_access_denied")
    assert (denied.user_id, denied.ip_address) == (user.id, "127.0.0.1")


async def test_an_event_commits_with_its_change(
    services: Services, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    async with services.sessionmaker() as db:
        stored = await db.get_one(User, user.id)
        stored.full_name = "Changed"
        record(db, Event.EMAIL_VERIFIED, user_id=user.id)
        # Nothing is logged before the change is made.
        assert logs.events("email_verified") == []
        await db.commit()
    (row,) = await audit_rows(services, event="email_verified")
    assert row.user_id == user.id
    assert row.request_id is None  # outside a request
    assert [line["fields"] for line in logs.events("email_verified")] == [{"user_id": str(user.id)}]


async def test_an_event_rolls_back_with_its_failing_change(
    services: Services, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user, other = await make_user(), await make_user()
    async with services.sessionmaker() as db:
        stored = await db.get_one(User, user.id)
        # The commit fails: the address is taken.
        stored.email = other.email
        record(db, Event.EMAIL_CHANGED, user_id=user.id)
        with pytest.raises(IntegrityError):
            await db.commit()
        await db.rollback()
        # The same session, used again, does not carry the failed event into the next commit.
        stored = await db.get_one(User, user.id)
        stored.full_name = "Changed"
        await db.commit()
    assert await audit_rows(services, event="email_changed") == []
    assert logs.events("email_changed") == []


async def test_an_event_rolled_back_on_purpose_leaves_nothing(
    services: Services, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    async with services.sessionmaker() as db:
        record(db, Event.PASSWORD_CHANGED, user_id=user.id)
        await db.rollback()
        await db.commit()
    assert await audit_rows(services) == []
    assert logs.events("password_changed") == []


@pytest.mark.parametrize("name", ["password", "token", "api_key", "otp_code", "secret"])
async def test_a_detail_that_is_not_an_identifier_is_refused(services: Services, name: str) -> None:
    details: dict[str, Any] = {name: "hunter2-hunter2"}
    async with services.sessionmaker() as db:
        with pytest.raises(ValueError, match="DETAIL_FIELDS"):
            record(db, Event.LOGIN_FAILED, **details)
        await db.commit()
    assert await audit_rows(services) == []


def test_no_allowed_detail_is_named_like_a_secret() -> None:
    assert DETAIL_FIELDS
    assert [name for name in DETAIL_FIELDS if names_a_secret(name)] == []


async def test_a_detail_is_redacted_and_bounded_like_log_text(services: Services) -> None:
    typed = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" + "x" * 100
    async with services.sessionmaker() as db:
        record(db, Event.LOGIN_FAILED, login=typed)
        await db.commit()
    (row,) = await audit_rows(services)
    assert row.details["login"].startswith("[REDACTED]")
    assert "eyJ" not in row.details["login"]
    assert len(row.details["login"]) <= 64


async def test_the_first_admin_is_kept_as_created(services: Services) -> None:
    # The app of the fixture has no FIRST_ADMIN_*: start one that does, on its database.
    first_admin = {"FIRST_ADMIN_EMAIL": "root@example.com", "FIRST_ADMIN_PASSWORD": PASSWORD}
    app = create_app(make_settings(services.settings.DATABASE_URL, **first_admin))
    async with app.router.lifespan_context(app):
        pass
    async with services.sessionmaker() as db:
        admin_id = await db.scalar(select(User.id).where(User.role == Role.ADMIN))
    assert [row.user_id for row in await audit_rows(services)] == [admin_id]
    assert (await audit_rows(services))[0].event == "first_admin_created"


async def test_a_session_ended_from_the_owners_list_is_kept(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    keeping = bearer(await login(client, user.username))
    await login(client, user.username)
    listed = (await client.get(SESSIONS_URL, headers=keeping)).json()
    (other,) = [row for row in listed if not row["current"]]
    ended = await client.delete(f"{SESSIONS_URL}/{other['id']}", headers=keeping)
    assert ended.status_code == 204

    (revoked,) = await audit_rows(services, event="session_revoked")
    assert (revoked.user_id, revoked.actor_id, revoked.details) == (
        user.id,
        None,
        {"session_id": other["id"]},
    )


async def test_two_factor_on_off_and_admin_reset_are_kept(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)
    recovery = enrolment.recovery_codes[0]
    disabled = await client.post(
        DISABLE_URL, headers=headers, json={"current_password": PASSWORD, "code": recovery}
    )
    assert disabled.status_code == 204
    await enable_two_factor(client, headers)
    admin = await make_user(role=Role.ADMIN)
    admin_headers = bearer(await login(client, admin.username))
    reset = await client.request(
        "DELETE",
        f"/api/v1/admin/users/{user.id}/mfa",
        headers=admin_headers,
        json={"current_password": PASSWORD},
    )
    assert reset.status_code == 204

    trail = [
        (row.event, row.user_id, row.actor_id, row.details)
        for row in await audit_rows(services, user_id=user.id)
        if row.event.startswith(("mfa_", "recovery_"))
    ]
    assert trail == [
        ("mfa_setup_started", user.id, None, {}),
        ("mfa_enabled", user.id, None, {}),
        ("recovery_code_used", user.id, None, {"remaining": "9"}),
        ("mfa_disabled", user.id, None, {}),
        ("mfa_setup_started", user.id, None, {}),
        ("mfa_enabled", user.id, None, {}),
        ("mfa_reset", user.id, admin.id, {}),
    ]
