"""Security events are logged as events of their own, with identifiers and no secrets."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.log import configure_logging
from {{ cookiecutter.project_slug }}.security.scopes import Role

from .conftest import AuthHeaders, CapturedLogs, UserFactory, bearer, login


async def test_role_change_is_an_event_naming_both_users(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    headers = bearer(await login(client, admin.username))
    await client.patch(f"/api/v1/admin/users/{user.id}", headers=headers, json={"role": "guest"})
    (event,) = logs.events("role_changed")
    assert event["fields"] == {"user_id": str(user.id), "by": str(admin.id), "role": "guest"}


async def test_repeated_admin_denials_from_one_address_raise_an_alert(
    client: AsyncClient, auth_headers: AuthHeaders, logs: CapturedLogs
) -> None:
    headers = await auth_headers(Role.USER)
    for _ in range(6):
        assert (await client.get("/api/v1/admin/users", headers=headers)).status_code == 403
    assert len(logs.events("admin_access_denied")) == 6
    (alert,) = logs.events("repeated_admin_denials")
    assert alert["fields"]["client"] == "127.0.0.1"


async def test_api_key_revocation_is_an_event(
    client: AsyncClient, auth_headers: AuthHeaders, logs: CapturedLogs
) -> None:
    headers = await auth_headers()
    created = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:read"]}
    )
    await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=headers)
    (event,) = logs.events("api_key_revoked")
    assert event["fields"]["key_id"] == created.json()["id"]
    assert created.json()["key"] not in logs.text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_configured_logging_masks_secrets_in_either_format(
    log_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    configure_logging("INFO", "json" if log_format == "json" else "console")
    logging.getLogger("app").info("header was Authorization: Bearer abc.def.ghi")
    output = stream.getvalue()
    assert "abc.def.ghi" not in output
    assert "[REDACTED]" in output
    if log_format == "json":
        assert json.loads(output.splitlines()[-1])["level"] == "INFO"
