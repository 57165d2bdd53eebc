"""GET /admin/audit-events: admins page through the trail, newest first, by user and by
event; anyone else gets 403, and a bad query 422."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services

from .audit_rows import AUDIT_URL, listed_events
from .conftest import AuthHeaders, UserFactory, bearer, login

EVENT_FIELDS = {
    "id",
    "event",
    "user_id",
    "actor_id",
{%- if cookiecutter.multi_tenancy == "yes" %}
    "organization_id",
{%- endif %}
    "ip_address",
    "request_id",
    "created_at",
    "details",
}


async def _write_events(services: Services, *events: tuple[str, uuid.UUID | None]) -> None:
    """Rows a minute apart, oldest first, each named and about a user as given."""
    start = utcnow() - timedelta(hours=1)
    async with services.sessionmaker() as db:
        for minute, (event, user_id) in enumerate(events):
            db.add(
                AuditEvent(
                    event=event,
                    user_id=user_id,
                    created_at=start + timedelta(minutes=minute),
                    details={"key_id": str(minute)},
                )
            )
        await db.commit()


async def test_events_are_listed_newest_first_in_pages(
    client: AsyncClient, services: Services, auth_headers: AuthHeaders
) -> None:
    admin = await auth_headers(Role.ADMIN)
    await _write_events(services, *(("api_key_created", None) for _ in range(5)))

    first = await listed_events(client, admin, limit=3, event="api_key_created")
    second = await listed_events(client, admin, limit=3, offset=3, event="api_key_created")

    assert (first["total"], first["limit"], first["offset"]) == (5, 3, 0)
    assert (second["total"], second["limit"], second["offset"]) == (5, 3, 3)
    order = [item["details"]["key_id"] for item in first["items"] + second["items"]]
    assert order == ["4", "3", "2", "1", "0"]
    assert {frozenset(item) for item in first["items"]} == {frozenset(EVENT_FIELDS)}


async def test_events_are_filtered_by_user_and_by_event(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    headers = bearer(await login(client, admin.username))
    await _write_events(
        services,
        ("role_changed", user.id),
        ("password_changed", user.id),
        ("role_changed", None),
    )

    about_user = await listed_events(client, headers, user_id=str(user.id))
    role_changes = await listed_events(client, headers, event="role_changed")
    both = await listed_events(client, headers, user_id=str(user.id), event="role_changed")
    nothing = await listed_events(client, headers, user_id=str(uuid.uuid4()))

    assert [item["event"] for item in about_user["items"]] == ["password_changed", "role_changed"]
    assert about_user["total"] == 2
    assert [item["user_id"] for item in role_changes["items"]] == [None, str(user.id)]
    assert [(item["event"], item["user_id"]) for item in both["items"]] == [
        ("role_changed", str(user.id))
    ]
    assert (nothing["items"], nothing["total"]) == ([], 0)


async def test_the_admins_own_login_is_in_the_trail(
    client: AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.ADMIN)
    headers = bearer(await login(client, admin.username))
    page = await listed_events(client, headers, event="login_succeeded")
    (event,) = page["items"]
    assert (event["user_id"], event["actor_id"], event["ip_address"]) == (
        str(admin.id),
        None,
        "127.0.0.1",
    )


@pytest.mark.parametrize("role", [Role.USER, Role.GUEST])
async def test_non_admins_get_403(
    client: AsyncClient, auth_headers: AuthHeaders, role: Role
) -> None:
    response = await client.get(AUDIT_URL, headers=await auth_headers(role))
    assert response.status_code == 403


async def test_without_credentials_it_is_401(client: AsyncClient) -> None:
    assert (await client.get(AUDIT_URL)).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"event": "no_such_event"}, "event"),
    ],
)
async def test_a_bad_query_is_422_naming_the_parameter(
    client: AsyncClient, auth_headers: AuthHeaders, params: dict[str, Any], field: str
) -> None:
    response = await client.get(AUDIT_URL, headers=await auth_headers(Role.ADMIN), params=params)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", field]
