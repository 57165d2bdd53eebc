"""A passkey login binds its tokens to an organization as the password login does
(contract: Organizations, Passkeys): the user's only one when none is named, the one
named when the user is a member of it, and 403 for any other."""

from typing import Any

from httpx import AsyncClient, Response

from .authenticator import SoftwareAuthenticator
from .conftest import UserFactory, bearer, login
from .organizations import ITEMS_URL, create_organization
from .passkeys import COOKIE_LOGIN_URL, TOKEN_URL, login_options, passkey_login, register

NOT_A_MEMBER = "Not a member of this organization"


async def _enrolled(client: AsyncClient, make_user: UserFactory) -> tuple[Any, Any]:
    """A user (a member of one organization, as every test user is) with a passkey."""
    user = await make_user()
    authenticator = SoftwareAuthenticator()
    await register(client, bearer(await login(client, user.username)), authenticator)
    return user, authenticator


async def _login_naming(
    client: AsyncClient, authenticator: SoftwareAuthenticator, organization: str
) -> Response:
    credential = authenticator.get(await login_options(client))
    body = {"credential": credential, "organization": organization}
    return await client.post(TOKEN_URL, json=body)


async def test_a_passkey_login_binds_to_the_users_only_organization(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user, authenticator = await _enrolled(client, make_user)
    response = await passkey_login(client, authenticator)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == (await login(client, user.username))["scope"]
    items = await client.get(ITEMS_URL, headers=bearer(response.json()))
    assert items.status_code == 200, items.text


async def test_a_passkey_login_binds_to_the_organization_it_names(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user, authenticator = await _enrolled(client, make_user)
    second = await create_organization(client, bearer(await login(client, user.username)))

    unbound = await passkey_login(client, authenticator)
    assert (await client.get(ITEMS_URL, headers=bearer(unbound.json()))).status_code == 403
    bound = await _login_naming(client, authenticator, second["slug"])
    assert bound.status_code == 200, bound.text
    created = await client.post(ITEMS_URL, headers=bearer(bound.json()), json={"title": "t"})
    assert created.status_code == 201, created.text
    listed = await client.get(ITEMS_URL, headers=bearer(bound.json()))
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]


async def test_a_passkey_login_naming_a_foreign_organization_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, authenticator = await _enrolled(client, make_user)
    owner = await make_user()
    foreign = await create_organization(client, bearer(await login(client, owner.username)))

    for named in (foreign["slug"], foreign["id"], "no-such-organization"):
        response = await _login_naming(client, authenticator, named)
        assert response.status_code == 403, response.text
        assert response.json()["detail"] == NOT_A_MEMBER


async def test_a_cookie_passkey_login_binds_like_the_cookie_login(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, authenticator = await _enrolled(client, make_user)
    credential = authenticator.get(await login_options(client))
    response = await client.post(COOKIE_LOGIN_URL, json={"credential": credential})
    assert response.status_code == 200, response.text
    assert (await client.get(ITEMS_URL)).status_code == 200
