"""A cookie request another site sent (`Sec-Fetch-Site: cross-site`) is refused before any
work: an `<img>` elsewhere carries no `Origin`, yet would be served, charged to the
victim's budget and written to the audit trail in their name."""

from typing import Any

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.audit.trail import Event
from {{ cookiecutter.project_slug }}.services import Services

from .audit_rows import audit_rows
from .conftest import PASSWORD, UserFactory

LOGIN_URL = "/api/v1/auth/cookie/login"
ME_URL = "/api/v1/users/me"
ADMIN_URL = "/api/v1/admin/users"
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}
REFUSED = {"detail": "Cross-site cookie requests are not allowed"}
DEFAULT_LIMIT = 5
LOGIN_LIMIT = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "RATE_LIMIT_DEFAULT": f"{DEFAULT_LIMIT}/hour",
        "RATE_LIMIT_LOGIN": f"{LOGIN_LIMIT}/hour",
    }


async def _cookie_login(client: AsyncClient, username: str) -> str:
    response = await client.post(LOGIN_URL, data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


async def test_cross_site_cookie_requests_are_refused_whatever_the_method(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    csrf = await _cookie_login(client, user.username)
    # More than the budget: none of them is charged to the victim.
    for _ in range(DEFAULT_LIMIT + 2):
        read = await client.get(ADMIN_URL, headers=CROSS_SITE)
        assert read.status_code == 403
        assert read.json() == REFUSED
    write = await client.patch(
        ME_URL, json={"full_name": "planted"}, headers={**CROSS_SITE, "X-CSRF-Token": csrf}
    )
    assert write.status_code == 403
    assert write.json() == REFUSED
    assert await audit_rows(services, event=Event.ADMIN_ACCESS_DENIED, user_id=user.id) == []
    read = await client.get(ME_URL, headers={"Sec-Fetch-Site": "same-origin"})
    assert read.status_code == 200
    assert read.json()["full_name"] != "planted"


@pytest.mark.parametrize("fetch_site", ["same-origin", "same-site", "none", None])
async def test_same_site_and_unlabelled_cookie_requests_work_as_before(
    client: AsyncClient, services: Services, make_user: UserFactory, fetch_site: str | None
) -> None:
    user = await make_user()
    csrf = await _cookie_login(client, user.username)
    headers = {} if fetch_site is None else {"Sec-Fetch-Site": fetch_site}
    read = await client.get(ME_URL, headers=headers)
    assert read.status_code == 200
    assert read.json()["username"] == user.username
    renamed = await client.patch(
        ME_URL, json={"full_name": "mine"}, headers={**headers, "X-CSRF-Token": csrf}
    )
    assert renamed.status_code == 200
    denied = await client.get(ADMIN_URL, headers=headers)
    assert denied.status_code == 403
    assert len(await audit_rows(services, event=Event.ADMIN_ACCESS_DENIED, user_id=user.id)) == 1


async def test_bearer_requests_ignore_sec_fetch_site(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    token = response.json()["access_token"]
    me = await client.get(ME_URL, headers={**CROSS_SITE, "Authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_cross_site_cookie_logins_spend_none_of_the_address_login_budget(
    client: AsyncClient, make_user: UserFactory
) -> None:
    """A page open in the victim's browser sends logins at will: each is refused before it
    is counted, so the victim's own logins from that address still go through."""
    user = await make_user()
    for refused in [
        await client.post(LOGIN_URL, data={"username": "x", "password": "y"}, headers=site)
        for site in [CROSS_SITE, {"Sec-Fetch-Site": "Cross-Site"}] * LOGIN_LIMIT
    ]:
        assert refused.status_code == 403
        assert refused.json() == REFUSED
    refresh = await client.post("/api/v1/auth/cookie/refresh", headers=CROSS_SITE)
    assert refresh.status_code == 403
    own = await client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    assert own.status_code == 200


async def test_a_cross_site_cookie_login_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.post(
        LOGIN_URL, data={"username": user.username, "password": PASSWORD}, headers=CROSS_SITE
    )
    assert response.status_code == 403
    assert response.json() == REFUSED
    assert "set-cookie" not in response.headers
