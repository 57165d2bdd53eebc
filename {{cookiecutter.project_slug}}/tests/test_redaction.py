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
from {{ cookiecutter.project_slug }}.log import REDACTED, names_a_secret, redact_query, redact_text
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
    # Found by the second review: a secret word as one word part of many.
    "mfa_code",
    "recovery_codes",
    "verification_code",
    "new_code",
    "codes",
    "pwd",
    "db_pwd",
    "private_key",
    "signing_key",
    "encryption_key",
    "MFA_ENCRYPTION_KEY",
    "session_key",
    "dsn",
    "DATABASE_DSN",
    "jwt",
    "newPassword",
]
PASSPHRASE = "correct horse battery staple"


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

    async def fail_naming_the_parameters(request: Request) -> None:
        # As an error quotes what it was given, decoded: a passphrase with its spaces.
        raise RuntimeError(f"refused {dict(request.query_params)}")

    application.add_api_route("/fail", fail_naming_the_url)
    application.add_api_route("/fail-decoded", fail_naming_the_parameters)
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


async def test_a_passphrase_with_spaces_is_masked_whole_in_the_error_log(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    response = await client.get(
        "/fail-decoded", params={"page": "2", "current_password": PASSPHRASE}
    )
    assert response.status_code == 500
    assert "horse" not in logs.text
    assert f"'current_password': '{REDACTED}'" in logs.text
    assert "'page': '2'" in logs.text


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


@pytest.mark.parametrize(
    "name",
    ["key_id", "keys_count", "status_code", "http.status_code", "session_id", "login", "by"],
)
def test_identifiers_are_not_masked(name: str) -> None:
    assert not names_a_secret(name)
    assert redact_text(f"{name}=abc") == f"{name}=abc"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"password={PASSPHRASE}", f"password={REDACTED}"),
        (f"password={PASSPHRASE}&page=2", f"password={REDACTED}&page=2"),
        (f"pwd={PASSPHRASE}; user=bob", f"pwd={REDACTED}; user=bob"),
        (
            f"login failed, password: {PASSPHRASE}\nnext",
            f"login failed, password: {REDACTED}\nnext",
        ),
        (
            json.dumps({"current_password": "hunter2 hunter2", "page": 2}),
            json.dumps({"current_password": REDACTED, "page": 2}),
        ),
        (
            json.dumps({"new_password": 'say "hi" twice', "page": 2}),
            json.dumps({"new_password": REDACTED, "page": 2}),
        ),
        (str({"mfa_code": PASSPHRASE, "page": 2}), str({"mfa_code": REDACTED, "page": 2})),
    ],
)
def test_a_value_with_spaces_is_masked_whole(text: str, masked: str) -> None:
    assert redact_text(text) == masked


def test_a_query_string_is_masked_by_decoded_names() -> None:
    query = f"page=2&db%5Fpwd={SECRET}&next=/x?token={SECRET}"

    assert redact_query(query) == f"page=2&db%5Fpwd={REDACTED}&next=/x?token={REDACTED}"
