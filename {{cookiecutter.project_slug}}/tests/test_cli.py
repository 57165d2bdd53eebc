"""The `create-user` command: creates users of any role, refuses bad input, leaks no password.

`cli.main` runs its own event loop (asyncio.run), so these tests are plain functions.
"""

import asyncio
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }} import cli
from {{ cookiecutter.project_slug }}.config import Settings, get_settings
from {{ cookiecutter.project_slug }}.factory import create_app

from .conftest import BASE_URL, PASSWORD, TEST_SECRET_KEY, make_settings

WEAK_PASSWORDS = {
    "Tiny-Pw-9x": "Password must be at least 12 characters",
    "QWERTY123456": "Password is too common",
    "rootadmin-cli": "Password must not be the username or email address",
}


{%- if cookiecutter.database == "postgresql" %}


@pytest.fixture
def cli_database(db_url: str) -> str:
    return db_url
{%- else %}


@pytest.fixture
def cli_database(tmp_path: Path) -> str:
    """A fresh file: the command itself must create the schema."""
    return f"sqlite+aiosqlite:///{tmp_path}/cli.db"
{%- endif %}


@pytest.fixture
def cli_env(cli_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The environment `create-user` reads, and no `.env` in the working directory."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    url = cli_database
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ARGON2_MEMORY_COST", "1024")
    monkeypatch.setenv("ARGON2_PARALLELISM", "1")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _create_user(
    monkeypatch: pytest.MonkeyPatch,
    password: str = PASSWORD,
    *,
    username: str = "rootadmin-cli",
    email: str = "root@example.com",
    role: str = "admin",
) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    argv = ["create-user", "--username", username, "--email", email, "--role", role]
    return cli.main([*argv, "--password-stdin"])


async def _login_and_read_me(url: str, username: str, password: str) -> tuple[Any, Any]:
    app = create_app(make_settings(url))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        login = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert login.status_code == 200, login.text
        token = login.json()
        me = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert me.status_code == 200, me.text
        return token, me.json()


def test_create_user_makes_an_admin_who_can_log_in(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch) == 0
    out, err = capsys.readouterr()
    assert out.startswith("created admin rootadmin-cli (")
    assert err == ""
    assert PASSWORD not in out + err

    token, me = asyncio.run(_login_and_read_me(cli_env, "rootadmin-cli", PASSWORD))
    assert "admin" in token["scope"].split()
    assert me["role"] == "admin"
    assert me["username"] == "rootadmin-cli"
    assert me["email"] == "root@example.com"
    assert me["email_verified"] is True
    assert me["id"] in out


@pytest.mark.parametrize("role", ["user", "guest"])
def test_create_user_makes_a_user_of_the_given_role(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    role: str,
) -> None:
    assert _create_user(monkeypatch, role=role) == 0
    assert capsys.readouterr().out.startswith(f"created {role} rootadmin-cli (")
    token, me = asyncio.run(_login_and_read_me(cli_env, "rootadmin-cli", PASSWORD))
    assert me["role"] == role
    assert "admin" not in token["scope"].split()


def test_create_user_with_a_taken_username_exits_1(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch) == 0
    capsys.readouterr()
    assert _create_user(monkeypatch, email="other@example.com") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: Username already registered\n"
    assert PASSWORD not in err


def test_create_user_with_a_taken_email_exits_1(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch) == 0
    capsys.readouterr()
    assert _create_user(monkeypatch, username="someone-else") == 1
    assert capsys.readouterr().err == "error: Email already registered\n"


@pytest.mark.parametrize(("password", "rule"), WEAK_PASSWORDS.items())
def test_create_user_with_a_weak_password_exits_2_naming_the_rule(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    password: str,
    rule: str,
) -> None:
    assert _create_user(monkeypatch, password) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert rule in err
    assert password not in out + err
    assert password.lower() not in err.lower()


def test_create_user_with_an_invalid_email_exits_2(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch, email="not-an-email") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: email: ")
    assert PASSWORD not in err


def test_refused_user_is_not_created(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch, "Tiny-Pw-9x") == 2
    # The same name is still free afterwards.
    assert _create_user(monkeypatch) == 0
    assert "created admin" in capsys.readouterr().out


def test_create_user_with_a_bad_secret_key_exits_2_without_echoing_it(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SECRET_KEY", "tooShort-Qz7")
    get_settings.cache_clear()
    assert _create_user(monkeypatch) == 2
    out, err = capsys.readouterr()
    assert "SECRET_KEY" in err
    assert "tooShort-Qz7" not in out + err
