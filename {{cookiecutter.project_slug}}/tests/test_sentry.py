"""Error reports: an unhandled error reaches Sentry once, tagged, and with nothing secret.

The events are caught by a transport of the test's own, where the SDK would send them:
what it holds is exactly what would leave the process.
"""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sentry_sdk
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sqlalchemy import text

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.log import REDACTED
from {{ cookiecutter.project_slug }}.sentry import init_sentry
from {{ cookiecutter.project_slug }}.services import DbDep

from .conftest import BASE_URL, PASSWORD, AuthHeaders, make_settings
from .test_redaction import COMPOUND_NAMES, PASSPHRASE, SECRET

DSN = "https://public@sentry.example.invalid/1"
API_KEY = "sk_" + "a" * 43
SESSION_COOKIE = "c" * 40


class CapturingTransport(Transport):
    """Keeps every event the SDK would send."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


router = APIRouter(prefix="/api/v1/broken")


@router.get("")
async def broken() -> None:
    raise RuntimeError(f"could not log in with password={PASSWORD}")


@router.get("/passphrase")
async def broken_with_a_passphrase() -> None:
    raise RuntimeError(f"could not log in with password={PASSPHRASE}, user=bob")


@router.get("/in-sql")
async def broken_in_sql(db: DbDep) -> None:
    # A statement that works, then a row without its required columns, which the
    # database refuses: neither's parameter may be reported.
    await db.execute(text("SELECT count(*) FROM users WHERE username = :name"), {"name": SECRET})
    await db.execute(text("INSERT INTO users (username) VALUES (:username)"), {"username": SECRET})


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"SENTRY_DSN": DSN}


@pytest.fixture
def reports(settings: Settings) -> Iterator[CapturingTransport]:
    transport = CapturingTransport()
    assert init_sentry(settings, transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()


@pytest.fixture
async def app(settings: Settings, reports: CapturingTransport) -> AsyncIterator[Any]:
    application = create_app(settings)
    application.include_router(router)
    async with application.router.lifespan_context(application):
        yield application


async def test_unhandled_error_is_reported_once_with_its_request_id(
    client: AsyncClient, reports: CapturingTransport
) -> None:
    response = await client.get("/api/v1/broken")
    sentry_sdk.flush()

    assert response.status_code == 500
    (event,) = reports.events
    assert event["level"] == "error"
    assert event["tags"]["request_id"] == response.headers["x-request-id"]
    assert event["environment"] == "development"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"


async def test_report_holds_no_credential_password_or_personal_data(
    app: Any, auth_headers: AuthHeaders, reports: CapturingTransport
) -> None:
    headers = await auth_headers()
    token = headers["Authorization"].removeprefix("Bearer ")
    async with AsyncClient(
        transport=ASGITransport(app=app, client=("203.0.113.7", 4242)), base_url=BASE_URL
    ) as client:
        await client.get(
            "/api/v1/broken?token=" + SESSION_COOKIE,
            headers={**headers, "X-API-Key": API_KEY, "Cookie": f"session={SESSION_COOKIE}"},
        )
    sentry_sdk.flush()

    (event,) = reports.events
    sent = json.dumps(event)
    for secret in (token, API_KEY, SESSION_COOKIE, PASSWORD, "203.0.113.7"):
        assert secret not in sent
    assert "password=[REDACTED]" in event["exception"]["values"][0]["value"]
    assert "ip_address" not in event.get("user", {})


@pytest.mark.parametrize("name", COMPOUND_NAMES)
async def test_a_secret_under_a_compound_name_is_masked_in_the_report(
    client: AsyncClient, reports: CapturingTransport, name: str
) -> None:
    response = await client.get(f"/api/v1/broken?page=2&{name}={SECRET}")
    sentry_sdk.flush()

    assert response.status_code == 500
    (event,) = reports.events
    assert SECRET not in json.dumps(event)
    assert event["request"]["query_string"] == f"page=2&{name}={REDACTED}"


async def test_a_passphrase_with_spaces_is_masked_whole_in_the_report(
    client: AsyncClient, reports: CapturingTransport
) -> None:
    query = f"page=2&mfa_code={SECRET}&passphrase=" + PASSPHRASE.replace(" ", "+")
    response = await client.get(f"/api/v1/broken/passphrase?{query}")
    sentry_sdk.flush()

    assert response.status_code == 500
    (event,) = reports.events
    sent = json.dumps(event)
    assert SECRET not in sent
    assert "horse" not in sent
    assert event["request"]["query_string"] == f"page=2&mfa_code={REDACTED}&passphrase={REDACTED}"
    message = event["exception"]["values"][0]["value"]
    assert message == f"could not log in with password={REDACTED}, user=bob"


async def test_a_failed_statements_parameters_are_not_reported(
    client: AsyncClient, reports: CapturingTransport
) -> None:
    response = await client.get("/api/v1/broken/in-sql")
    sentry_sdk.flush()

    assert response.status_code == 500
    (event,) = reports.events
    (exception,) = [e for e in event["exception"]["values"] if e["type"] == "IntegrityError"]
    assert "INSERT INTO users" in exception["value"]
    assert SECRET not in json.dumps(event)


async def test_handled_errors_are_not_reported(
    client: AsyncClient, reports: CapturingTransport
) -> None:
    responses = [await client.get("/api/v1/users/me"), await client.get("/api/v1/nowhere")]
    sentry_sdk.flush()

    assert [response.status_code for response in responses] == [401, 404]
    assert reports.events == []


def test_without_a_dsn_nothing_is_reported(db_url: str) -> None:
    assert not init_sentry(make_settings(db_url, SENTRY_DSN=""))


@pytest.mark.parametrize(
    "dsn", ["sentry.example.com", "https://sentry.example.com/1", "https://key@sentry.example.com"]
)
def test_a_malformed_dsn_stops_start_up(db_url: str, dsn: str) -> None:
    with pytest.raises(ValidationError, match="SENTRY_DSN must be a DSN"):
        make_settings(db_url, SENTRY_DSN=dsn)
