from typing import Any

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.services import Services

from .conftest import login

REGISTER_URL = "/api/v1/auth/register"


def registration(**overrides: Any) -> dict[str, Any]:
    return {
        "username": "Alice",
        "email": "Alice@Example.com",
        "password": "a long and unusual passphrase",
        **overrides,
    }


async def test_register_creates_a_user_with_role_user(client: AsyncClient) -> None:
    response = await client.post(REGISTER_URL, json=registration(full_name="Alice Liddell"))
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["full_name"] == "Alice Liddell"
    assert body["role"] == "user"
    assert body["is_active"] is True
    assert body["email_verified"] is False
    assert "hashed_password" not in body
    assert "password" not in body


async def test_register_ignores_a_role_or_state_in_the_body(client: AsyncClient) -> None:
    response = await client.post(
        REGISTER_URL,
        json=registration(role="admin", is_active=True, email_verified=True),
    )
    assert response.status_code == 201
    assert response.json()["role"] == "user"
    assert response.json()["email_verified"] is False
    tokens = await login(client, "alice", "a long and unusual passphrase")
    assert "admin" not in tokens["scope"].split()


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short pw", "Password must be at least 12 characters"),
        ("p" * 129, "Password must be at most 128 characters"),
        ("qwertyuiop123", "Password is too common"),
        ("PASSWORD1234", "Password is too common"),
        ("alice@example.com", "Password must not be the username or email address"),
    ],
)
async def test_weak_password_is_422_naming_the_rule(
    client: AsyncClient, password: str, rule: str
) -> None:
    response = await client.post(REGISTER_URL, json=registration(password=password))
    assert response.status_code == 422
    assert rule in response.text


async def test_password_equal_to_username_is_refused(client: AsyncClient) -> None:
    response = await client.post(
        REGISTER_URL, json=registration(username="averylongname", password="AveryLongName")
    )
    assert response.status_code == 422
    assert "must not be the username" in response.text


async def test_64_character_passphrase_is_accepted(client: AsyncClient) -> None:
    passphrase = "correct horse battery staple " * 2 + "abcdef"
    assert len(passphrase) == 64
    response = await client.post(REGISTER_URL, json=registration(password=passphrase))
    assert response.status_code == 201


async def test_huge_password_is_refused_before_any_hashing(
    client: AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = services.hasher.hash

    async def counting_hash(password: str) -> str:
        calls.append("hash")
        return await original(password)

    monkeypatch.setattr(services.hasher, "hash", counting_hash)
    response = await client.post(REGISTER_URL, json=registration(password="x" * 500_000))
    assert response.status_code == 422
    assert calls == []


@pytest.mark.parametrize(
    "changes",
    [
        {"username": "ALICE", "email": "other@example.com"},
        {"username": "other", "email": "ALICE@example.COM"},
    ],
)
async def test_taken_username_or_email_is_409_ignoring_case(
    client: AsyncClient, changes: dict[str, str]
) -> None:
    assert (await client.post(REGISTER_URL, json=registration())).status_code == 201
    response = await client.post(REGISTER_URL, json=registration(**changes))
    assert response.status_code == 409
    assert response.json()["detail"].endswith("already registered")


@pytest.mark.parametrize(
    "changes",
    [
        {"email": "not-an-email"},
        {"username": "a"},
        {"username": "has spaces"},
        {"username": "x" * 33},
        {"full_name": ""},
        {"password": 12345678901234},
    ],
)
async def test_malformed_registration_is_422(client: AsyncClient, changes: dict[str, Any]) -> None:
    response = await client.post(REGISTER_URL, json=registration(**changes))
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


async def test_register_requires_a_json_body(client: AsyncClient) -> None:
    response = await client.post(
        REGISTER_URL, content=b"not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
