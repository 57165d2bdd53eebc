"""An admin turns off the two-factor authentication of a user who lost their device."""

from httpx import AsyncClient, Response

from {{ cookiecutter.project_slug }}.security.scopes import Role

from .conftest import PASSWORD, CapturedLogs, UserFactory, bearer, login
from .two_factor import MFA_REQUIRED, enable_two_factor, token_login

ME_URL = "/api/v1/users/me"


def _reset_url(user_id: object) -> str:
    return f"/api/v1/admin/users/{user_id}/mfa"


async def _reset(client: AsyncClient, headers: dict[str, str], user_id: object) -> Response:
    # The admin's own password: a reset re-authenticates the admin.
    return await client.request(
        "DELETE", _reset_url(user_id), headers=headers, json={"current_password": PASSWORD}
    )


async def test_a_reset_turns_two_factor_off_and_ends_the_users_sessions(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    user_tokens = await login(client, user.username)
    await enable_two_factor(client, bearer(user_tokens))
    assert (await token_login(client, user.username)).json() == MFA_REQUIRED
    admin_headers = bearer(await login(client, admin.username))
    reset = await _reset(client, admin_headers, user.id)
    assert reset.status_code == 204
    assert (await client.get(ME_URL, headers=bearer(user_tokens))).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": user_tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    again = await token_login(client, user.username)
    assert again.status_code == 200
    assert (await client.get(ME_URL, headers=bearer(again.json()))).json()["mfa_enabled"] is False
    (event,) = logs.events("mfa_reset")
    # The log names the admin as `by`, as for a role change; the row as `actor_id`.
    assert event["fields"] == {"user_id": str(user.id), "by": str(admin.id)}
    # The admin's own session is not the user's: it goes on.
    assert (await client.get(ME_URL, headers=admin_headers)).status_code == 200


async def test_a_reset_is_refused_when_there_is_nothing_to_reset(
    client: AsyncClient, make_user: UserFactory
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    headers = bearer(await login(client, admin.username))
    off = await _reset(client, headers, user.id)
    assert off.status_code == 409
    assert off.json() == {"detail": "Two-factor authentication is not on for this user"}
    unknown = await _reset(client, headers, "00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "User not found"}


async def test_only_an_admin_may_reset(client: AsyncClient, make_user: UserFactory) -> None:
    user, other = await make_user(), await make_user()
    await enable_two_factor(client, bearer(await login(client, other.username)))
    headers = bearer(await login(client, user.username))
    refused = await _reset(client, headers, other.id)
    assert refused.status_code == 403
    assert (await token_login(client, other.username)).json() == MFA_REQUIRED
