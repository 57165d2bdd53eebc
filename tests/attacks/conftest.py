"""The served render and the accounts on it, set up once per test process for the package.

Package-scoped, so every attack module in a process talks to one server and one set of
accounts, as the single module they came from did.
"""

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_app import FAST_HASHING, served

from .live import (
    ADMIN_USERNAME,
    ALLOWED_ORIGIN,
    API,
    Account,
    LiveApp,
    NewAccount,
    create_key,
    log_in,
)


@pytest.fixture(scope="package")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, default_render_python: Path
) -> Iterator[LiveApp]:
    workdir = tmp_path_factory.mktemp("attacks")
    secret_key = secrets.token_urlsafe(64)
    docs_credentials = ("docs", secrets.token_urlsafe(24))
    admin_password = secrets.token_urlsafe(24)
    settings = {
        "SECRET_KEY": secret_key,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'attacks.db'}",
        "DOCS_USERNAME": docs_credentials[0],
        "DOCS_PASSWORD": docs_credentials[1],
        "FIRST_ADMIN_USERNAME": ADMIN_USERNAME,
        "FIRST_ADMIN_EMAIL": "attack-admin@example.com",
        "FIRST_ADMIN_PASSWORD": admin_password,
        "CORS_ORIGINS": ALLOWED_ORIGIN,
        "RATE_LIMIT_LOGIN": "100000/minute",
        "RATE_LIMIT_DEFAULT": "100000/minute",
        "LOG_LEVEL": "WARNING",
        **FAST_HASHING,
    }
    with served(default_render_python, workdir, settings) as url:
        yield LiveApp(url, secret_key, docs_credentials, admin_password)


@pytest.fixture(scope="package")
def http(live_app: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_app.url + API, timeout=30) as client:
        yield client


@pytest.fixture(scope="package")
def admin(http: httpx.Client, live_app: LiveApp) -> Account:
    tokens = log_in(http, ADMIN_USERNAME, live_app.admin_password)
    me = http.get("/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return Account(me.json()["id"], ADMIN_USERNAME, live_app.admin_password, tokens)


@pytest.fixture(scope="package")
def new_account(http: httpx.Client, admin: Account) -> NewAccount:
    """A freshly registered and logged-in user; another role is set by the admin."""

    def _new_account(role: str = "user") -> Account:
        username = f"{role}-{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(18)
        body = {"username": username, "email": f"{username}@example.com", "password": password}
        registered = http.post("/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        user_id = registered.json()["id"]
        if role != "user":
            changed = http.patch(
                f"/admin/users/{user_id}", headers=admin.headers, json={"role": role}
            )
            assert changed.status_code == 200, changed.text
        return Account(user_id, username, password, log_in(http, username, password))

    return _new_account


@pytest.fixture(scope="package")
def alice(new_account: NewAccount) -> Account:
    return new_account()


@pytest.fixture(scope="package")
def bob(new_account: NewAccount) -> Account:
    return new_account()


@pytest.fixture(scope="package")
def guest(new_account: NewAccount) -> Account:
    return new_account("guest")


@pytest.fixture(scope="package")
def bob_key(http: httpx.Client, bob: Account) -> dict[str, str]:
    """An API key of bob's that may read and write items."""
    return {"X-API-Key": create_key(http, bob, ["items:read", "items:write"])["key"]}
