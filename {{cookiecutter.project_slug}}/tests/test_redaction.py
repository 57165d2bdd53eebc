"""A value under any name holding a secret word (`refresh_token`, `client_secret`,
`SECRET_KEY`, ...) is masked in the logs, and no failed statement's parameters reach them.
"""

import json
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request
from httpx import AsyncClient
from sqlalchemy import text

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.log import REDACTED, names_a_secret, redact_text
from {{ cookiecutter.project_slug }}.services import DbDep

from .conftest import CapturedLogs

SECRET = "s3cr3t-value-0123456789"
# The names the attack review found unmasked, each in a query string.
COMPOUND_NAMES = [
    "refresh_token",
    "new_password",
    "current_password",
    "csrf_token",
    "client_secret",
    "SECRET_KEY",
]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)

    async def fail_naming_the_url(request: Request) -> None:
        # As an HTTP client's error names the URL it failed on, query string and all.
        raise RuntimeError(f"upstream refused {request.url}")

    async def fail_in_a_statement(db: DbDep) -> None:
        # A row without its required columns: the database refuses it.
        await db.execute(
            text("INSERT INTO users (username) VALUES (:username)"), {"username": SECRET}
        )

    application.add_api_route("/fail", fail_naming_the_url)
    application.add_api_route("/fail-in-sql", fail_in_a_statement)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.parametrize("name", COMPOUND_NAMES)
async def test_a_secret_under_a_compound_name_is_masked_in_the_error_log(
    client: AsyncClient, logs: CapturedLogs, name: str
) -> None:
    response = await client.get(f"/fail?page=2&{name}={SECRET}")
    assert response.status_code == 500
    assert SECRET not in logs.text
    assert f"{name}={REDACTED}" in logs.text
    assert "page=2" in logs.text


@pytest.mark.parametrize("name", COMPOUND_NAMES)
async def test_a_secret_under_a_compound_name_is_not_in_the_access_line(
    client: AsyncClient, logs: CapturedLogs, name: str
) -> None:
    response = await client.get(f"/api/v1/health?{name}={SECRET}")
    assert response.status_code == 200
    (line,) = [line for line in logs.lines() if line["logger"].endswith(".access")]
    assert line["path"] == "/api/v1/health"
    assert SECRET not in logs.text


async def test_a_failed_statement_logs_no_parameters(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    response = await client.get("/fail-in-sql")
    assert response.status_code == 500
    assert SECRET not in response.text
    (error,) = [line for line in logs.lines() if line["message"] == "unhandled error"]
    assert "IntegrityError" in error["exc_info"]
    assert SECRET not in logs.text


@pytest.mark.parametrize("name", [*COMPOUND_NAMES, "X-CSRF-Token", "otp", "code", "api_key"])
def test_names_holding_a_secret_word_name_a_secret(name: str) -> None:
    assert names_a_secret(name)
    assert redact_text(json.dumps({name: SECRET})) == json.dumps({name: REDACTED})


@pytest.mark.parametrize("name", ["key_id", "status_code", "session_id", "login", "by"])
def test_identifiers_are_not_masked(name: str) -> None:
    assert not names_a_secret(name)
    assert redact_text(f"{name}=abc") == f"{name}=abc"
