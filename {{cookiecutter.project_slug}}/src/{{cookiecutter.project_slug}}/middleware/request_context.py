"""Request ids, the access log line, and the last-resort 500.

Starlette's ServerErrorMiddleware sits outside every user middleware, so its 500 would
go out without our headers or request id. Unhandled exceptions are caught here instead:
the client gets `{"detail": "Internal Server Error", "request_id": ...}` and the
traceback goes to the log.
"""

import itertools
import json
import os
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..log import access_log, error_logger, request_id_var
from ..security.clients import current_client_address
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.scoping import current_organization
{%- endif %}

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class _RequestIds:
    """Ids for requests that bring none: 32 hex digits, a random prefix drawn once per
    process and a counter. A uuid4 per request cost a read of the OS's random source
    each time; the prefix keeps ids of different processes (workers, restarts) apart,
    and ids are labels for finding log lines, not secrets."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


request_ids = _RequestIds()
# A forked worker must not repeat its parent's ids.
os.register_at_fork(after_in_child=request_ids.reseed)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_REQUEST_ID.fullmatch(text) else None
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or request_ids.new()
        token = request_id_var.set(request_id)
        # The proxy-headers middleware runs first: this is the trusted client address.
        client = scope.get("client")
        address_token = current_client_address.set(client[0] if client else None)
{%- if cookiecutter.multi_tenancy == "yes" %}
        # Set by `authorize` once the caller is known; nothing of it outlives the request.
        organization_token = current_organization.set(None)
{%- endif %}
        encoded_id = request_id.encode()
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", encoded_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_logger.exception("unhandled error")
            if started:
                raise
            body = json.dumps({"detail": "Internal Server Error", "request_id": request_id})
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
        finally:
            if access_log.enabled():
                access_log.write(
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - start) * 1000, 2),
                    client=client[0] if client else None,
                    user_id=scope.get("state", {}).get("user_id"),
                )
            request_id_var.reset(token)
            current_client_address.reset(address_token)
{%- if cookiecutter.multi_tenancy == "yes" %}
            current_organization.reset(organization_token)
{%- endif %}
