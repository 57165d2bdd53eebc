"""Organizations for tests: made over the API, members added as an invitation would."""

import uuid
from typing import Any

from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import OrganizationRole
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.tenancy.models import Membership

from .conftest import PASSWORD, bearer

ORGANIZATIONS_URL = "/api/v1/organizations"
ITEMS_URL = "/api/v1/items"


async def create_organization(
    client: AsyncClient, headers: dict[str, str], slug: str | None = None
) -> dict[str, Any]:
    slug = slug or f"org-{uuid.uuid4().hex[:10]}"
    response = await client.post(
        ORGANIZATIONS_URL, headers=headers, json={"name": slug.title(), "slug": slug}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_member(
    services: Services, organization_id: str, user_id: uuid.UUID, role: OrganizationRole
) -> None:
    async with services.sessionmaker() as db:
        db.add(Membership(organization_id=uuid.UUID(organization_id), user_id=user_id, role=role))
        await db.commit()


async def bound_login(
    client: AsyncClient, username: str, organization: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Tokens of a login bound to `organization` (id or slug)."""
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": username, "password": password, "organization": organization},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def bound_headers(client: AsyncClient, username: str, organization: str) -> dict[str, str]:
    return bearer(await bound_login(client, username, organization))
