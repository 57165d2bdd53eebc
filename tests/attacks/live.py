"""The served app and the accounts on it, as every attack module uses them."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

API = "/api/v1"
ALLOWED_ORIGIN = "https://app.example.com"
ADMIN_USERNAME = "attack-admin"


@dataclass(frozen=True)
class LiveApp:
    url: str
    secret_key: str
    docs_credentials: tuple[str, str]
    admin_password: str


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    password: str
    tokens: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


NewAccount = Callable[..., Account]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}".strip()}


def log_in(http: httpx.Client, username: str, password: str, scope: str | None = None) -> Any:
    form = {"username": username, "password": password}
    if scope is not None:
        form["scope"] = scope
    response = http.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return response.json()


def create_key(http: httpx.Client, owner: Account, scopes: list[str]) -> Any:
    response = http.post("/api-keys", headers=owner.headers, json={"name": "k", "scopes": scopes})
    assert response.status_code == 201, response.text
    return response.json()


def create_item(http: httpx.Client, owner: Account, title: str = "owned") -> Any:
    response = http.post("/items", headers=owner.headers, json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()
