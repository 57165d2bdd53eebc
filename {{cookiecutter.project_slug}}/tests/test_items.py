import uuid

import pytest
from httpx import AsyncClient
{%- if cookiecutter.multi_tenancy == "yes" %}
from sqlalchemy import func, select

from {{ cookiecutter.project_slug }}.items.models import Item
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services
{%- else %}

from {{ cookiecutter.project_slug }}.security.scopes import Role
{%- endif %}

from .conftest import PASSWORD, AuthHeaders, UserFactory, bearer, login

ITEMS_URL = "/api/v1/items"


async def test_create_item_sets_the_caller_as_owner(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    response = await client.post(
        ITEMS_URL,
        headers=headers,
        json={"title": " Spoon ", "description": "silver", "owner_id": str(uuid.uuid4())},
    )
    assert response.status_code == 201
    body = response.json()
{%- if cookiecutter.multi_tenancy == "yes" %}
    fields = {"id", "title", "description", "owner_id", "organization_id", "created_at"}
    assert set(body) == fields
{%- else %}
    assert set(body) == {"id", "title", "description", "owner_id", "created_at"}
{%- endif %}
    assert body["title"] == "Spoon"
    assert body["owner_id"] == me["id"]


async def test_users_see_and_change_only_their_own_items(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    owner, other = await auth_headers(), await auth_headers()
    item = (await client.post(ITEMS_URL, headers=owner, json={"title": "mine"})).json()
    url = f"{ITEMS_URL}/{item['id']}"
    assert (await client.get(ITEMS_URL, headers=other)).json()["total"] == 0
    for response in (
        await client.get(url, headers=other),
        await client.patch(url, headers=other, json={"title": "stolen"}),
        await client.delete(url, headers=other),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Item not found"}
    assert (await client.get(url, headers=owner)).json()["title"] == "mine"{%- if cookiecutter.multi_tenancy == "yes" %}


async def test_an_admin_bound_to_no_organization_reads_no_items(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    owner, admin = await auth_headers(), await auth_headers(Role.ADMIN)
    item = (await client.post(ITEMS_URL, headers=owner, json={"title": "mine"})).json()
    for url in (ITEMS_URL, f"{ITEMS_URL}/{item['id']}"):
        response = await client.get(url, headers=admin)
        assert response.status_code == 403
        assert response.json() == {"detail": "Not enough permissions: requires scope items:read"}
{%- else %}


async def test_admin_sees_everyones_items(client: AsyncClient, auth_headers: AuthHeaders) -> None:
    owner, admin = await auth_headers(), await auth_headers(Role.ADMIN)
    item = (await client.post(ITEMS_URL, headers=owner, json={"title": "mine"})).json()
    assert (await client.get(f"{ITEMS_URL}/{item['id']}", headers=admin)).status_code == 200
    assert (await client.get(ITEMS_URL, headers=admin)).json()["total"] == 1
{%- endif %}


async def test_owner_updates_and_deletes_an_item(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    item = (
        await client.post(ITEMS_URL, headers=headers, json={"title": "a", "description": "d"})
    ).json()
    url = f"{ITEMS_URL}/{item['id']}"
    updated = await client.patch(url, headers=headers, json={"description": None})
    assert updated.status_code == 200
    assert updated.json()["title"] == "a"
    assert updated.json()["description"] is None
    renamed = await client.patch(url, headers=headers, json={"title": "b", "owner_id": "x"})
    assert renamed.json()["title"] == "b"
    assert renamed.json()["owner_id"] == item["owner_id"]
    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404


async def test_patch_null_empties_a_field_and_is_refused_for_the_title(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    body = {"title": "a", "description": "d"}
    item = (await client.post(ITEMS_URL, headers=headers, json=body)).json()
    url = f"{ITEMS_URL}/{item['id']}"

    refused = await client.patch(url, headers=headers, json={"title": None, "description": None})
    kept = await client.patch(url, headers=headers, json={})

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "title"]
    assert "cannot be null; leave it out to keep it" in refused.json()["detail"][0]["msg"]
    assert (kept.status_code, kept.json()) == (200, item){%- if cookiecutter.multi_tenancy == "yes" %}


async def test_a_closed_account_takes_its_items_with_it(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    created = await client.post(ITEMS_URL, headers=headers, json={"title": "mine"})
    assert created.status_code == 201

    body = {"current_password": PASSWORD}
    closed = await client.request("DELETE", "/api/v1/users/me", headers=headers, json=body)

    assert closed.status_code == 204
    async with services.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Item)) == 0
{%- else %}


async def test_a_closed_account_takes_its_items_with_it(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    headers = bearer(await login(client, user.username))
    created = await client.post(ITEMS_URL, headers=headers, json={"title": "mine"})
    assert created.status_code == 201

    body = {"current_password": PASSWORD}
    closed = await client.request("DELETE", "/api/v1/users/me", headers=headers, json=body)

    assert closed.status_code == 204
    assert (await client.get(ITEMS_URL, headers=admin)).json()["total"] == 0
{%- endif %}


async def test_list_is_paginated(client: AsyncClient, auth_headers: AuthHeaders) -> None:
    headers = await auth_headers()
    for number in range(5):
        await client.post(ITEMS_URL, headers=headers, json={"title": f"item {number}"})
    page = (await client.get(ITEMS_URL, headers=headers, params={"limit": 2, "offset": 4})).json()
    assert page["total"] == 5
    assert [item["title"] for item in page["items"]] == ["item 4"]
    too_big = await client.get(ITEMS_URL, headers=headers, params={"limit": 1000})
    assert too_big.status_code == 422


async def test_guest_reads_but_cannot_write(client: AsyncClient, auth_headers: AuthHeaders) -> None:
    headers = await auth_headers(Role.GUEST)
    assert (await client.get(ITEMS_URL, headers=headers)).status_code == 200
    response = await client.post(ITEMS_URL, headers=headers, json={"title": "x"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Not enough permissions: requires scope items:write"}


async def test_token_limited_to_items_read_cannot_write(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers(Role.USER, scope="items:read")
    assert (await client.post(ITEMS_URL, headers=headers, json={"title": "x"})).status_code == 403


async def test_items_need_a_token(client: AsyncClient) -> None:
    response = await client.get(ITEMS_URL)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer scope="items:read"'


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "t", "description": "d" * 2001},
    ],
)
async def test_invalid_items_are_422(
    client: AsyncClient, auth_headers: AuthHeaders, body: dict[str, str]
) -> None:
    response = await client.post(ITEMS_URL, headers=await auth_headers(), json=body)
    assert response.status_code == 422


async def test_malformed_item_id_is_422(client: AsyncClient, auth_headers: AuthHeaders) -> None:
    response = await client.get(f"{ITEMS_URL}/1", headers=await auth_headers())
    assert response.status_code == 422
