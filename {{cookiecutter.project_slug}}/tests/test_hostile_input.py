"""Input no honest client sends: it gets a 4xx in the usual shape, never a 500."""

import pytest
from httpx import AsyncClient

from .conftest import PASSWORD, AuthHeaders

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "body", [b'{"full_name": NaN}', b'{"full_name": Infinity}', b'{"full_name": -Infinity}']
)
async def test_nan_and_infinity_are_422(
    client: AsyncClient, auth_headers: AuthHeaders, body: bytes
) -> None:
    headers = {**await auth_headers(), **JSON}
    response = await client.patch("/api/v1/users/me", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "full_name"]


async def test_validation_errors_do_not_echo_the_submitted_values(client: AsyncClient) -> None:
    body = {"username": "echo", "email": "echo@example.com", "password": "qwertyuiop123"}
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert "qwertyuiop123" not in response.text
    assert set(response.json()["detail"][0]) == {"type", "loc", "msg"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/api-keys", {"name": "a\u0000b", "scopes": ["users:read"]}),
        ("/api/v1/users/me", {"full_name": "a\u0000b"}),
    ],
)
async def test_nul_characters_are_422(
    client: AsyncClient, auth_headers: AuthHeaders, path: str, body: dict[str, str]
) -> None:
    headers = await auth_headers()
    method = client.post if path.endswith("api-keys") else client.patch
    response = await method(path, json=body, headers=headers)
    assert response.status_code == 422
    assert "must not contain NUL characters" in response.json()["detail"][0]["msg"]


async def test_nul_in_a_registration_is_422(client: AsyncClient) -> None:
    body = {
        "username": "nul",
        "email": "nul@example.com",
        "password": PASSWORD,
        "full_name": "a\u0000",
    }
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422


async def test_nul_in_a_login_name_is_an_ordinary_failed_login(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "ad\u0000min", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password"}


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b'"text"', b'{"full_name": {"nested": ["junk"]}}', b"\xff\xfe"]
)
async def test_malformed_json_is_422(
    client: AsyncClient, auth_headers: AuthHeaders, body: bytes
) -> None:
    headers = {**await auth_headers(), **JSON}
    response = await client.patch("/api/v1/users/me", content=body, headers=headers)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
