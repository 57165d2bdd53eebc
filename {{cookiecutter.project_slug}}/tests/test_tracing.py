"""Traces: a span per request, with its request id and its user, and never a credential.

Spans go to OpenTelemetry's in-memory exporter instead of a collector: what it holds is
exactly what would be sent.
"""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.log import REDACTED
from {{ cookiecutter.project_slug }}.tracing import add_tracing

from .conftest import AuthHeaders, make_settings
from .test_redaction import COMPOUND_NAMES, SECRET

API_KEY = "sk_" + "b" * 43


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    spans.shutdown()


@pytest.fixture
def provider() -> list[TracerProvider]:
    """Where the app's tracer provider is put, for the test to flush."""
    return []


@pytest.fixture
async def app(
    settings: Settings, exporter: InMemorySpanExporter, provider: list[TracerProvider]
) -> AsyncIterator[Any]:
    application = create_app(settings)
    traced = add_tracing(application, settings, exporter)
    assert traced is not None
    provider.append(traced)
    async with application.router.lifespan_context(application):
        yield application
    traced.shutdown()


def finished(exporter: InMemorySpanExporter, provider: list[TracerProvider]) -> list[ReadableSpan]:
    provider[0].force_flush()
    return list(exporter.get_finished_spans())


def forget_spans_so_far(exporter: InMemorySpanExporter, provider: list[TracerProvider]) -> None:
    """Drop the spans of the requests made so far (a login), the batch included."""
    provider[0].force_flush()
    exporter.clear()


async def test_request_span_carries_request_id_and_user_id(
    client: AsyncClient,
    auth_headers: AuthHeaders,
    exporter: InMemorySpanExporter,
    provider: list[TracerProvider],
) -> None:
    headers = await auth_headers()
    forget_spans_so_far(exporter, provider)

    response = await client.get("/api/v1/users/me", headers=headers)

    (span,) = finished(exporter, provider)
    attributes = dict(span.attributes or {})
    assert span.name == "GET /api/v1/users/me"
    assert attributes["request.id"] == response.headers["x-request-id"]
    assert attributes["user.id"] == response.json()["id"]
    assert attributes["http.status_code"] == 200


async def test_anonymous_request_span_has_no_user(
    client: AsyncClient, exporter: InMemorySpanExporter, provider: list[TracerProvider]
) -> None:
    response = await client.get("/api/v1/health")

    (span,) = finished(exporter, provider)
    attributes = dict(span.attributes or {})
    assert attributes["request.id"] == response.headers["x-request-id"]
    assert "user.id" not in attributes


async def test_spans_hold_no_token_or_key(
    client: AsyncClient,
    auth_headers: AuthHeaders,
    exporter: InMemorySpanExporter,
    provider: list[TracerProvider],
) -> None:
    headers = await auth_headers()
    token = headers["Authorization"].removeprefix("Bearer ")
    forget_spans_so_far(exporter, provider)

    await client.get(f"/api/v1/users/me?token={token}", headers={**headers, "X-API-Key": API_KEY})

    spans = finished(exporter, provider)
    recorded = json.dumps([dict(span.attributes or {}) for span in spans])
    assert spans
    assert token not in recorded
    assert API_KEY not in recorded
    assert "token=[REDACTED]" in recorded


@pytest.mark.parametrize("name", COMPOUND_NAMES)
async def test_a_secret_under_a_compound_name_is_masked_in_spans(
    client: AsyncClient,
    exporter: InMemorySpanExporter,
    provider: list[TracerProvider],
    name: str,
) -> None:
    response = await client.get(f"/api/v1/health?page=2&{name}={SECRET}")

    assert response.status_code == 200
    (span,) = finished(exporter, provider)
    recorded = json.dumps(dict(span.attributes or {}))
    assert SECRET not in recorded
    assert f"page=2&{name}={REDACTED}" in recorded


@pytest.mark.parametrize(
    ("query", "decoded"),
    [
        ("refresh_token=abc%3D", "abc="),
        ("password=a%20b", "a b"),
        ("new_password=p%2Bq", "p+q"),
        ("mfa_code=12%2034", "12 34"),
        ("refresh%5Ftoken=abc%3D", "abc="),
    ],
)
async def test_a_percent_escaped_secret_is_masked_in_every_url_attribute(
    client: AsyncClient,
    exporter: InMemorySpanExporter,
    provider: list[TracerProvider],
    query: str,
    decoded: str,
) -> None:
    response = await client.get(f"/api/v1/health?page=2&{query}")

    assert response.status_code == 200
    (span,) = finished(exporter, provider)
    attributes = dict(span.attributes or {})
    name = query.partition("=")[0]
    assert str(attributes["http.url"]).endswith(f"?page=2&{name.replace('%5F', '_')}={REDACTED}")
    assert [value for value in attributes.values() if decoded in str(value)] == []


def test_without_an_endpoint_nothing_is_traced(db_url: str) -> None:
    settings = make_settings(db_url, OTEL_EXPORTER_OTLP_ENDPOINT="")

    assert add_tracing(FastAPI(), settings) is None


def test_an_endpoint_turns_tracing_on_under_the_service_name(db_url: str) -> None:
    settings = make_settings(
        db_url, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318/", OTEL_SERVICE_NAME="billing"
    )

    provider = add_tracing(FastAPI(), settings)

    assert provider is not None
    assert provider.resource.attributes["service.name"] == "billing"
    provider.shutdown()


@pytest.mark.parametrize("endpoint", ["127.0.0.1:4318", "ftp://collector", "http://"])
def test_a_malformed_endpoint_stops_start_up(db_url: str, endpoint: str) -> None:
    with pytest.raises(ValidationError, match="OTEL_EXPORTER_OTLP_ENDPOINT must be an http"):
        make_settings(db_url, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
