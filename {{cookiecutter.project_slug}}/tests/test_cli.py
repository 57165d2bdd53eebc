"""The commands: `create-user` (any role, refuses bad input, leaks no password), `set-role`
(the way back in after a lockout), `purge` and `rotate-mfa-key`.

`cli.main` runs its own event loop (asyncio.run), so these tests are plain functions.
"""

import asyncio
import io
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

{% if cookiecutter.use_redis == "yes" -%}
import httpx
{% endif -%}
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, update

from {{ cookiecutter.project_slug }} import cli
from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.config import Settings, get_settings
from {{ cookiecutter.project_slug }}.db import create_engine, create_sessionmaker, utcnow
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.mfa.models import TotpSecret
from {{ cookiecutter.project_slug }}.security.encryption import SecretBox
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.users.models import RefreshToken, User, UserSession

{% if cookiecutter.use_redis == "yes" -%}
from .conftest import BASE_URL, PASSWORD, REDIS_URL, TEST_SECRET_KEY, make_settings
from .processes import app_environment, served_app
{%- else -%}
from .conftest import BASE_URL, PASSWORD, TEST_SECRET_KEY, make_settings
{%- endif %}

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


def _set_role(username: str, role: str) -> int:
    return cli.main(["set-role", "--username", username, "--role", role])


async def _change_user(url: str, username: str, **values: object) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(update(User).where(User.username == username).values(**values))
    await engine.dispose()


async def _role_and_state(url: str, username: str) -> tuple[Role, bool]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(User.role, User.is_active).where(User.username == username)
            )
        ).one()
    await engine.dispose()
    return row.role, row.is_active


def test_set_role_promotes_a_user_who_then_logs_in_as_admin(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch, role="user") == 0
    capsys.readouterr()
    assert _set_role("rootadmin-cli", "admin") == 0
    out, err = capsys.readouterr()
    assert out == "rootadmin-cli is now an active admin (was an active user)\n"
    assert err == ""
    token, me = asyncio.run(_login_and_read_me(cli_env, "rootadmin-cli", PASSWORD))
    assert me["role"] == "admin"
    assert "admin" in token["scope"].split()


def test_set_role_reactivates_a_deactivated_admin_found_by_email(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch, role="admin") == 0
    asyncio.run(_change_user(cli_env, "rootadmin-cli", is_active=False))
    capsys.readouterr()
    assert _set_role("ROOT@example.com", "admin") == 0
    assert (
        capsys.readouterr().out == "rootadmin-cli is now an active admin (was an inactive admin)\n"
    )
    token, me = asyncio.run(_login_and_read_me(cli_env, "rootadmin-cli", PASSWORD))
    assert me["is_active"] is True
    assert "admin" in token["scope"].split()


def test_set_role_of_an_unknown_user_exits_1_with_one_line(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _set_role("nobody", "admin") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: no user has the username or email 'nobody'\n"


def test_set_role_keeps_an_active_admin(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch, role="admin") == 0
    capsys.readouterr()
    assert _set_role("rootadmin-cli", "guest") == 1
    assert capsys.readouterr().err == "error: At least one active admin must remain\n"
    assert asyncio.run(_role_and_state(cli_env, "rootadmin-cli")) == (Role.ADMIN, True)


def test_set_role_demotes_an_admin_when_another_remains(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch, role="admin") == 0
    assert _create_user(monkeypatch, username="second-admin", email="second@example.com") == 0
    capsys.readouterr()
    assert _set_role("rootadmin-cli", "user") == 0
    assert capsys.readouterr().out == "rootadmin-cli is now an active user (was an active admin)\n"
    assert asyncio.run(_role_and_state(cli_env, "rootadmin-cli")) == (Role.USER, True)


async def _audit_trail(url: str) -> list[tuple[Any, ...]]:
    """(event, user_id, actor_id, details) of every row, by event name."""
    engine = create_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(
                AuditEvent.event, AuditEvent.user_id, AuditEvent.actor_id, AuditEvent.details
            ).order_by(AuditEvent.event)
        )
        trail = [tuple(row) for row in rows]
    await engine.dispose()
    return trail


def test_set_role_is_kept_in_the_audit_trail_as_the_command_lines(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _create_user(monkeypatch, role="user") == 0
    asyncio.run(_change_user(cli_env, "rootadmin-cli", is_active=False))
    assert _set_role("rootadmin-cli", "admin") == 0
    user_id = uuid.UUID(asyncio.run(_user_id(cli_env, "rootadmin-cli")))
    assert asyncio.run(_audit_trail(cli_env)) == [
        ("role_changed", user_id, None, {"role": "admin", "by": "command-line"}),
        ("user_reactivated", user_id, None, {"by": "command-line"}),
    ]


NOTHING_TO_PURGE = (
    "refresh_tokens 0\nuser_sessions 0\naction_tokens 0\napi_keys 0\naudit_events 0\n"
{%- if cookiecutter.passkeys == "yes" %}
    "passkey_challenges 0\n"
{%- endif %}
)


async def _add_ended_session(url: str, username: str, refresh_tokens: int) -> None:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as db:
        user = (await db.scalars(select(User).where(User.username == username))).one()
        ended = UserSession(
            user_id=user.id, scope="users:read", expires_at=utcnow() - timedelta(days=1)
        )
        db.add(ended)
        await db.flush()
        for number in range(refresh_tokens):
            db.add(
                RefreshToken(
                    token_hash=f"{number:064x}", session_id=ended.id, expires_at=ended.expires_at
                )
            )
        await db.commit()
    await engine.dispose()


def test_purge_deletes_expired_rows_and_prints_the_counts(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch) == 0
    asyncio.run(_add_ended_session(cli_env, "rootadmin-cli", refresh_tokens=2))
    capsys.readouterr()
    assert cli.main(["purge"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "refresh_tokens 2\nuser_sessions 1\naction_tokens 0\napi_keys 0\naudit_events 0\n"
{%- if cookiecutter.passkeys == "yes" %}
        "passkey_challenges 0\n"
{%- endif %}
    )
    assert err == ""
    assert cli.main(["purge"]) == 0
    assert capsys.readouterr().out == NOTHING_TO_PURGE


NEW_MFA_KEY = "new-" + "n" * 40
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ROTATED = "TOTP secrets re-encrypted under the first key of MFA_ENCRYPTION_KEY: {}\n"


async def _user_id(url: str, username: str) -> str:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as db:
        user_id = await db.scalar(select(User.id).where(User.username == username))
    await engine.dispose()
    return str(user_id)


async def _stored_totp_secret(url: str, username: str, ciphertext: str | None = None) -> str:
    """The user's encrypted TOTP secret; first stored as `ciphertext` when it is given."""
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as db:
        user = (await db.scalars(select(User).where(User.username == username))).one()
        if ciphertext is not None:
            db.add(TotpSecret(user_id=user.id, encrypted_secret=ciphertext))
            await db.commit()
        stored = await db.get(TotpSecret, user.id)
        assert stored is not None
        result = stored.encrypted_secret
    await engine.dispose()
    return result


def test_rotate_mfa_key_moves_every_secret_under_the_first_key(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch) == 0
    made_with_secret_key = SecretBox([TEST_SECRET_KEY]).encrypt(TOTP_SECRET)
    asyncio.run(_stored_totp_secret(cli_env, "rootadmin-cli", made_with_secret_key))
    monkeypatch.setenv("MFA_ENCRYPTION_KEY", f"{NEW_MFA_KEY},{TEST_SECRET_KEY}")
    get_settings.cache_clear()
    capsys.readouterr()
    assert cli.main(["rotate-mfa-key"]) == 0
    assert capsys.readouterr().out == ROTATED.format(1)
    moved = asyncio.run(_stored_totp_secret(cli_env, "rootadmin-cli"))
    assert SecretBox([NEW_MFA_KEY]).decrypt(moved) == TOTP_SECRET


def test_rotate_mfa_key_names_the_users_whose_secret_no_key_opens(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create_user(monkeypatch) == 0
    made_with_secret_key = SecretBox([TEST_SECRET_KEY]).encrypt(TOTP_SECRET)
    asyncio.run(_stored_totp_secret(cli_env, "rootadmin-cli", made_with_secret_key))
    monkeypatch.setenv("MFA_ENCRYPTION_KEY", NEW_MFA_KEY)
    get_settings.cache_clear()
    capsys.readouterr()
    assert cli.main(["rotate-mfa-key"]) == 1
    out, err = capsys.readouterr()
    assert out == ROTATED.format(0)
    user_id = asyncio.run(_user_id(cli_env, "rootadmin-cli"))
    assert err == (
        f"error: no key of MFA_ENCRYPTION_KEY opens the TOTP secret of these users: {user_id}; "
        "list their old key again, or reset their two-factor authentication\n"
    )
    assert asyncio.run(_stored_totp_secret(cli_env, "rootadmin-cli")) == made_with_secret_key
{%- if cookiecutter.use_redis == "yes" %}


def test_set_role_counts_at_once_in_a_running_server_through_redis(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The server has the caller cached; the bump in Redis makes it reload at once."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    get_settings.cache_clear()
    with served_app(tmp_path, app_environment(cli_env, REDIS_URL=REDIS_URL)) as base_url:
        # Beside the served app's first admin, root@example.com.
        assert _create_user(monkeypatch, role="user", email="promoted@example.com") == 0
        with httpx.Client(base_url=base_url, timeout=10) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "rootadmin-cli", "password": PASSWORD}
            ).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            assert client.get("/api/v1/users/me", headers=headers).json()["role"] == "user"
            assert _set_role("rootadmin-cli", "admin") == 0
            assert client.get("/api/v1/users/me", headers=headers).json()["role"] == "admin"
    assert capsys.readouterr().err == ""
{%- endif %}
