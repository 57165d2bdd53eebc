"""Traces over OTLP/HTTP, when OTEL_EXPORTER_OTLP_ENDPOINT is set.

One span per request, from FastAPI's instrumentation (named by method and route
template, with status and duration), carrying two attributes of ours: `request.id`, the
`X-Request-ID` of its response and log line, and `user.id`, the authenticated caller's id.
Never a credential: no header is recorded, and a query string is masked by the logs'
rule (log.py), pair by pair, in every attribute that holds a URL or a query.
"""

from typing import Any

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, get_current_span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings
from .log import redact_query

REQUEST_ID_HEADER = b"x-request-id"
# Where the instrumentation records a URL or its query, under the older semantic
# conventions and the newer; it records them percent-decoded, so they are parsed here
# rather than matched against the raw query string.
URL_ATTRIBUTES = ("http.url", "http.target", "url.full")
QUERY_ATTRIBUTES = ("url.query",)


def add_tracing(
    app: FastAPI, settings: Settings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Trace `app`'s requests to `exporter`, by default the OTLP endpoint of the settings.

    Returns the provider, to be shut down (which sends what is left) when the app stops;
    None, tracing nothing, when no endpoint is set and no exporter given.
    """
    if exporter is None:
        if not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
            return None
        # The endpoint is the collector's base URL, as OpenTelemetry's own variable of the
        # same name means it: traces go to its /v1/traces.
        endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.OTEL_SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=mask_query,
        # One span per request; a span per ASGI message would cost more than it tells.
        exclude_spans=["receive", "send"],
    )
    # Outside the request-id middleware: its id is on the response when this sees it.
    app.add_middleware(SpanContextMiddleware)
    return provider


def mask_query(span: Span, _scope: dict[str, Any]) -> None:
    """Mask secrets in the query wherever the instrumentation recorded it."""
    if not isinstance(span, ReadableSpan) or span.attributes is None:
        return
    recorded = dict(span.attributes)
    for name in (*URL_ATTRIBUTES, *QUERY_ATTRIBUTES):
        value = recorded.get(name)
        if not isinstance(value, str):
            continue
        masked = redact_query(value) if name in QUERY_ATTRIBUTES else _masked_url(value)
        if masked != value:
            span.set_attribute(name, masked)


def _masked_url(url: str) -> str:
    # Decoded, the query may hold any character: everything after the first `?` is
    # query (a fragment never reaches the server, so a `#` here came from `%23`).
    path, question, query = url.partition("?")
    return f"{path}{question}{redact_query(query)}" if question else url


class SpanContextMiddleware:
    """Puts the request id and the caller's user id on the request's span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = get_current_span()

        async def send_noting_context(message: Message) -> None:
            if message["type"] == "http.response.start" and span.is_recording():
                for name, value in message.get("headers", []):
                    if name == REQUEST_ID_HEADER:
                        span.set_attribute("request.id", value.decode("latin-1"))
                # Set by `authorize` once the caller is known (the access log reads it too).
                user_id = scope.get("state", {}).get("user_id")
                if user_id is not None:
                    span.set_attribute("user.id", user_id)
            await send(message)

        await self.app(scope, receive, send_noting_context)
