"""No request of one organization reaches another's data, by id or by list.

The tenant routes are found by walking the app: a route is one when it requires a tenant
scope (security/scopes.py) or names an organization in its path. Each must have a case
below, asked by a caller bound to organization B with organization A's ids; a new tenant
route without one fails `test_every_tenant_route_has_a_cross_tenant_case`.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient
from sqlalchemy import select

from {{ cookiecutter.project_slug }}.items.models import Item
from {{ cookiecutter.project_slug }}.security.scopes import TENANT_SCOPES, OrganizationRole, Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.tenancy.scoping import CrossTenantWriteError, current_organization

from .conftest import UserFactory, bearer, login
from .organizations import (
    ITEMS_URL,
    ORGANIZATIONS_URL,
    add_member,
    bound_headers,
    create_organization,
)

API = "/api/v1"


@dataclass(frozen=True)
class Tenants:
    """Organization A's ids, and callers of organization B."""

    a: dict[str, Any]
    a_item: dict[str, Any]
    a_member: uuid.UUID
    a_invitation: str
    b_owner: dict[str, str]
    # A member of both A and B, bound to B.
    both_in_b: dict[str, str]

    def ids(self) -> set[str]:
        return {self.a["id"], self.a_item["id"], str(self.a_member), self.a_invitation}


# (method, route path) -> (URL with A's ids, JSON body), for a caller bound to B.
def _cases(t: Tenants) -> dict[tuple[str, str], tuple[str, dict[str, Any] | None]]:
    item = f"{ITEMS_URL}/{t.a_item['id']}"
    organization = f"{ORGANIZATIONS_URL}/{t.a['id']}"
    return {
        ("GET", API + "/items"): (ITEMS_URL, None),
        ("POST", API + "/items"): (ITEMS_URL, {"title": "mine"}),
        ("GET", API + "/items/{item_id}"): (item, None),
        ("PATCH", API + "/items/{item_id}"): (item, {"title": "taken"}),
        ("DELETE", API + "/items/{item_id}"): (item, None),
        ("GET", API + "/organizations/{organization_id}/members"): (
            f"{organization}/members",
            None,
        ),
        ("PATCH", API + "/organizations/{organization_id}/members/{user_id}"): (
            f"{organization}/members/{t.a_member}",
            {"role": "viewer"},
        ),
        ("DELETE", API + "/organizations/{organization_id}/members/{user_id}"): (
            f"{organization}/members/{t.a_member}",
            None,
        ),
        ("GET", API + "/organizations/{organization_id}/invitations"): (
            f"{organization}/invitations",
            None,
        ),
        ("POST", API + "/organizations/{organization_id}/invitations"): (
            f"{organization}/invitations",
            {"email": "someone@example.com", "role": "viewer"},
        ),
        ("DELETE", API + "/organizations/{organization_id}/invitations/{invitation_id}"): (
            f"{organization}/invitations/{t.a_invitation}",
            None,
        ),
        ("GET", API + "/organizations/{organization_id}/audit-events"): (
            f"{organization}/audit-events",
            None,
        ),
    }


def _route_scopes(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        yield from dependency.own_oauth_scopes or ()
        yield from _route_scopes(dependency)


def _tenant_routes(app: Any) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format
        if not isinstance(route, APIRoute) or path is None:
            continue
        tenant_scoped = bool(set(_route_scopes(route.dependant)) & TENANT_SCOPES)
        if tenant_scoped or "{organization_id}" in path:
            routes.update((method, path) for method in route.methods or ())
    return routes


@pytest.fixture
async def tenants(client: AsyncClient, services: Services, make_user: UserFactory) -> Tenants:
    owner_a, owner_b, member_a, both = [await make_user() for _ in range(4)]
    # Overlapping names: the slugs differ in a suffix only, the items share a title.
    a = await create_organization(client, bearer(await login(client, owner_a.username)), "acme")
    b = await create_organization(client, bearer(await login(client, owner_b.username)), "acme-b")
    await add_member(services, a["id"], member_a.id, OrganizationRole.MEMBER)
    for organization in (a, b):
        await add_member(services, organization["id"], both.id, OrganizationRole.ADMIN)
    a_owner = await bound_headers(client, owner_a.username, a["id"])
    a_item = (await client.post(ITEMS_URL, headers=a_owner, json={"title": "plan"})).json()
    invitation = await client.post(
        f"{ORGANIZATIONS_URL}/{a['id']}/invitations",
        headers=a_owner,
        json={"email": "invitee@example.com", "role": "member"},
    )
    b_owner = await bound_headers(client, owner_b.username, b["id"])
    await client.post(ITEMS_URL, headers=b_owner, json={"title": "plan"})
    return Tenants(
        a=a,
        a_item=a_item,
        a_member=member_a.id,
        a_invitation=invitation.json()["id"],
        b_owner=b_owner,
        both_in_b=await bound_headers(client, both.username, b["id"]),
    )


def test_every_tenant_route_has_a_cross_tenant_case(app: Any) -> None:
    placeholder = Tenants({"id": "a"}, {"id": "i"}, uuid.uuid4(), "v", {}, {})
    assert _tenant_routes(app) == set(_cases(placeholder))


@pytest.mark.parametrize("caller", ["b_owner", "both_in_b"])
async def test_each_tenant_route_asked_with_another_organizations_ids_shows_nothing(
    client: AsyncClient, tenants: Tenants, caller: str
) -> None:
    headers = getattr(tenants, caller)
    for (method, _path), (url, body) in _cases(tenants).items():
        response = await client.request(method, url, headers=headers, json=body)
        text = response.text
        leaked = sorted(value for value in tenants.ids() if value in text)
        assert leaked == [], f"{method} {url}: {response.status_code} {text}"
        if response.status_code < 300:
            # Only lists and creation answer: with B's rows.
            payload = json.loads(text) if text else {}
            rows = payload.get("items", [payload]) if isinstance(payload, dict) else payload
            assert all(row.get("organization_id") != tenants.a["id"] for row in rows)
        else:
            assert response.status_code in (403, 404), f"{method} {url}: {response.status_code}"
    a_item = await client.get(f"{ITEMS_URL}/{tenants.a_item['id']}", headers=headers)
    assert a_item.status_code == 404


async def test_a_token_bound_to_no_organization_reaches_no_tenant_route(
    client: AsyncClient, tenants: Tenants, make_user: UserFactory
) -> None:
    # An admin belongs to no organization (tests/conftest.py): a login binds to none.
    admin = await make_user(Role.ADMIN)
    headers = bearer(await login(client, admin.username))
    for (method, _path), (url, body) in _cases(tenants).items():
        response = await client.request(method, url, headers=headers, json=body)
        assert response.status_code in (403, 404), f"{method} {url}: {response.status_code}"
        assert not any(value in response.text for value in tenants.ids())


async def test_a_query_that_forgets_the_organization_is_scoped_all_the_same(
    services: Services, tenants: Tenants
) -> None:
    a = uuid.UUID(tenants.a["id"])
    owner = uuid.UUID(tenants.a_item["owner_id"])
    bound = current_organization.set(a)
    try:
        async with services.sessionmaker() as db:
            unfiltered = (await db.scalars(select(Item))).all()
            db.add(Item(title="stray", owner_id=owner, organization_id=uuid.uuid4()))
            with pytest.raises(CrossTenantWriteError):
                await db.flush()
        async with services.sessionmaker() as db:
            stamped = Item(title="stamped", owner_id=owner)
            db.add(stamped)
            await db.commit()
    finally:
        current_organization.reset(bound)

    assert [item.id for item in unfiltered] == [uuid.UUID(tenants.a_item["id"])]
    assert stamped.organization_id == a
