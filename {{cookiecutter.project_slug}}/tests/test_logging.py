import asyncio
import io
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.log import (
    ACCESS_FIELDS,
    ACCESS_LINE_KEYS,
    REDACTED,
    AccessLog,
    ConsoleFormatter,
    JsonFormatter,
    access_log,
    configure_logging,
    redact_text,
    request_id_var,
)
from {{ cookiecutter.project_slug }}.middleware.request_context import request_ids

from .conftest import PASSWORD, CapturedLogs, UserFactory, bearer, login


def _access_lines(logs: CapturedLogs) -> list[dict[str, Any]]:
    return [line for line in logs.lines() if line["logger"].endswith(".access")]


async def test_caller_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123_x.y"})
    assert response.headers["x-request-id"] == "abc-123_x.y"


@pytest.mark.parametrize("bad_id", [b"x" * 65, b"has space", b"semi;colon", b"\xfcber", b""])
async def test_unsafe_request_id_is_replaced(client: AsyncClient, bad_id: bytes) -> None:
    response = await client.get("/api/v1/health", headers=[(b"X-Request-ID", bad_id)])
    new_id = response.headers["x-request-id"]
    assert new_id.encode() != bad_id
    assert len(new_id) == 32
    assert new_id.isalnum()


async def test_each_request_gets_its_own_id(client: AsyncClient) -> None:
    ids = {(await client.get("/api/v1/health")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_forked_worker_makes_ids_of_its_own() -> None:
    """Workers forked from one parent (gunicorn's) must not hand out the same ids."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write_end, (request_ids.new() + request_ids.new()).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        in_child = pipe.read()
    first, second = in_child[:32], in_child[32:]
    in_parent = request_ids.new()
    assert first[:16] == second[:16] != in_parent[:16]
    assert first != second
    assert all(re.fullmatch(r"[0-9a-f]{32}", made) for made in (first, second, in_parent))


async def test_one_json_access_line_per_request_with_its_id(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    response = await client.get("/api/v1/users/me", headers={**headers, "X-Request-ID": "req-1"})
    lines = [line for line in _access_lines(logs) if line["request_id"] == "req-1"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/users/me"
    assert line["status"] == response.status_code == 200
    assert line["client"] == "127.0.0.1"
    assert line["user_id"] == str(user.id)
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00")


async def test_every_line_of_a_request_carries_its_id(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    form = {"username": "nobody", "password": PASSWORD}
    await client.post("/api/v1/auth/token", data=form, headers={"X-Request-ID": "req-2"})
    failed = logs.events("login_failed")
    assert len(failed) == 1
    assert failed[0]["request_id"] == "req-2"
    assert failed[0]["fields"] == {"login": "no…[6]", "client": "127.0.0.1"}


async def test_no_secret_reaches_the_log(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    await client.get("/api/v1/users/me", headers=bearer(tokens))
    await client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": "wrong " + PASSWORD}
    )
    await client.get("/api/v1/users/me", headers={"Cookie": "session=cookie-secret-value"})
    logging.getLogger("app").info(
        "debugging %s",
        f"Authorization: Bearer {tokens['access_token']}",
        extra={"password": PASSWORD, "refresh_token": tokens["refresh_token"]},
    )
    text = logs.text
    assert logs.events("login_succeeded")
    for secret in (
        PASSWORD,
        tokens["access_token"],
        tokens["refresh_token"],
        "cookie-secret-value",
    ):
        assert secret not in text
    assert REDACTED in text


async def test_crlf_in_user_input_cannot_forge_a_log_line(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    forged = 'x\n{"level": "INFO", "event": "login_succeeded", "forged": true}\r\n'
    await client.post("/api/v1/auth/token", data={"username": forged, "password": PASSWORD})
    lines = logs.lines()
    assert not any("forged" in line for line in lines)
    # Only a masked hint of a name that matches no account is logged.
    assert logs.events("login_failed")[0]["fields"]["login"] == f"x\n…[{len(forged.strip())}]"


async def test_a_password_typed_as_the_login_name_is_not_logged(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    typed_by_mistake = "a-password typed in the username field"
    await client.post("/api/v1/auth/token", data={"username": typed_by_mistake, "password": "x"})
    await client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": typed_by_mistake}
    )
    assert typed_by_mistake not in logs.text
    first, second = (event["fields"] for event in logs.events("login_failed"))
    assert first == {"login": "a-…[38]", "client": "127.0.0.1"}
    # A name that matches an account is logged as the account's id.
    assert second == {"user_id": str(user.id), "client": "127.0.0.1"}


def test_console_format_escapes_line_breaks() -> None:
    record = logging.makeLogRecord({"msg": "a\nforged line\r", "levelname": "INFO"})
    assert "\n" not in ConsoleFormatter().format(record)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def.ghi",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl seen",
        "password=hunter2hunter2 and more",
        'api_key: "sk_live_0123456789abcdef0123"',
    ],
)
def test_redaction_masks_secrets_inside_messages(text: str) -> None:
    redacted = redact_text(text)
    assert REDACTED in redacted
    for secret in ("abc.def.ghi", "c2lnbmF0dXJl", "hunter2hunter2", "0123456789abcdef0123"):
        assert secret not in redacted


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "spoof-1"}
    await client.get("/api/v1/health", headers=headers)
    line = next(line for line in _access_lines(logs) if line["request_id"] == "spoof-1")
    assert line["client"] == "127.0.0.1"


def test_json_lines_leave_out_uvicorns_colour_copy_of_the_message() -> None:
    record = logging.makeLogRecord(
        {"msg": "Uvicorn running", "levelname": "INFO", "color_message": "\x1b[1mUvicorn\x1b[0m"}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Uvicorn running"
    assert "color_message" not in line


ACCESS_VALUES: dict[str, Any] = {
    "method": "GET",
    "path": "/api/v1/caf\u00e9/token=abc123\r\nx",
    "status": 404,
    "duration_ms": 1.25,
    "client": "127.0.0.1",
    "user_id": None,
}


def test_access_line_written_directly_is_the_line_logging_would_write(
    logs: CapturedLogs,
) -> None:
    direct = io.StringIO()
    writer = AccessLog()
    writer.write_to(logging.StreamHandler(direct))
    token = request_id_var.set("same-id")
    try:
        writer.write(**ACCESS_VALUES)
        # Without a handler of its own, through the access logger and the root's handler.
        AccessLog().write(**ACCESS_VALUES)
    finally:
        request_id_var.reset(token)
    written, logged = json.loads(direct.getvalue()), logs.lines()[-1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", written.pop("time"))
    logged.pop("time")
    assert list(written.items()) == list(logged.items())
    assert written["path"] == f"/api/v1/caf\u00e9/token={REDACTED}\r\nx"
    assert direct.getvalue().isascii()
    assert direct.getvalue().count("\n") == 1


async def test_access_line_of_a_hostile_path_is_one_redacted_line(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    path = f"/api/v1/x%0d%0a%22forged%22:%20true/{jwt}"
    await client.get(path, headers={"X-Request-ID": "hostile-1"})
    lines = [line for line in _access_lines(logs) if line["request_id"] == "hostile-1"]
    assert len(lines) == 1
    assert lines[0]["path"] == f'/api/v1/x\r\n"forged": true/{REDACTED}'
    assert jwt not in logs.text


async def test_json_logging_writes_access_lines_past_the_record_machinery(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log_file = tmp_path / "server.log"
    with log_file.open("w") as stdout:
        monkeypatch.setattr("sys.stdout", stdout)
        configure_logging("INFO", "json")
        records: list[logging.LogRecord] = []

        def remember(record: logging.LogRecord) -> bool:
            records.append(record)
            return True

        logging.getLogger().handlers[0].addFilter(remember)
        try:
            await client.get("/api/v1/health", headers={"X-Request-ID": "direct-1"})
            # The line is in the file once the event loop has passed once more.
            await asyncio.sleep(0)
            written = log_file.read_text()
        finally:
            access_log.write_to(None)
    (line,) = [json.loads(text) for text in written.splitlines() if "direct-1" in text]
    assert line["logger"] == "{{ cookiecutter.project_slug }}.access"
    assert (line["path"], line["status"]) == ("/api/v1/health", 200)
    assert not [record for record in records if record.name.endswith(".access")]


def test_access_line_and_json_formatter_take_their_keys_from_one_list(
    logs: CapturedLogs,
) -> None:
    direct = io.StringIO()
    writer = AccessLog()
    writer.write_to(logging.StreamHandler(direct))
    writer.write(**ACCESS_VALUES)
    AccessLog().write(**ACCESS_VALUES)
    assert set(ACCESS_VALUES) == set(ACCESS_FIELDS)
    assert list(json.loads(direct.getvalue())) == list(ACCESS_LINE_KEYS)
    assert list(logs.lines()[-1]) == list(ACCESS_LINE_KEYS)
