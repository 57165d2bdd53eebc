"""In-process costs of a request, in microseconds per call: authenticating a bearer
token, and writing the access line.

Run by bench/run.py with the rendered project's Python, against the database of a server
it has just logged in to (DATABASE_URL, SECRET_KEY and the token BENCH_TOKEN in the
environment). Prints one JSON object. With `--access-log-only` it times only the access
line, which needs no database (bench/run.py times the base commit's render that way).
"""

import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from fastapi.security import SecurityScopes
from secure_api.access.dependencies import authorize
from secure_api.config import get_settings
from secure_api.factory import create_services
from secure_api.log import configure_logging
from secure_api.middleware.request_context import RequestContextMiddleware
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

REPEATS = 5
UNSEEN_BATCH = 1000


def fresh_request(app: object = None, token: str = "") -> Request:
    # A new request per call: the per-request cache of decoded claims starts empty.
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    return Request({**scope, "app": app, "client": ("127.0.0.1", 4242)})


def per_call(run: Callable[[int], None], n: int) -> float:
    """Median over REPEATS batches of the microseconds one of `n` calls took."""
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        run(n)
        timings.append((time.perf_counter_ns() - start) / n / 1000)
    return statistics.median(timings)


async def per_await(call: Callable[[], Awaitable[Any]], n: int) -> float:
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for _ in range(n):
            await call()
        timings.append((time.perf_counter_ns() - start) / n / 1000)
    return statistics.median(timings)


async def _answer_ok(scope: Scope, _receive: Receive, send: Send) -> None:
    scope["state"]["user_id"] = "0b9e4c7e-4a5e-4b8e-9c1d-2f3a4b5c6d7e"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def access_line_cost() -> float:
    """The access line's share of a request: RequestContextMiddleware around an app that
    only answers, with the access logger on minus with it off, the JSON lines going to a
    file as LOG_LEVEL=INFO sends them to a redirected stdout."""
    middleware = RequestContextMiddleware(_answer_ok)
    headers = [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer x")]
    scope = {"type": "http", "method": "GET", "path": "/api/v1/users/me", "headers": headers}
    scope["client"] = ("127.0.0.1", 4242)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    async def request() -> None:
        await middleware({**scope, "state": {}}, receive, send)

    stdout = sys.stdout
    access = logging.getLogger("secure_api.access")
    with tempfile.TemporaryFile("w") as log_file:
        sys.stdout = log_file
        try:
            configure_logging("INFO", "json")
            with_line = await per_await(request, 20000)
            access.setLevel(logging.WARNING)
            without_line = await per_await(request, 20000)
        finally:
            access.setLevel(logging.NOTSET)
            sys.stdout = stdout
            logging.getLogger().handlers.clear()
    return with_line - without_line


async def main() -> None:
    if "--access-log-only" in sys.argv:
        print(json.dumps({"access_line": await access_line_cost()}))
        return
    # Thousands of calls from one caller: the default limit must not be what is timed.
    settings = get_settings().model_copy(update={"RATE_LIMIT_DEFAULT": "100000000/minute"})
    services = create_services(settings)
    app = SimpleNamespace(state=SimpleNamespace(services=services))
    token = os.environ["BENCH_TOKEN"]
    codec = services.tokens
    claims = codec.decode_access_token(token)
    user_id = uuid.UUID(claims.subject)

    def decode_repeatedly(n: int) -> None:
        for _ in range(n):
            codec.decode_access_token(token)

    # Tokens never seen by this codec, for the full signature and claims check (the
    # codec remembers tokens it has verified, and a client sends the same one again).
    unseen = [
        codec.issue_access_token(
            subject=claims.subject,
            session_id=claims.session_id,
            scopes=claims.scopes,
            lifetime_seconds=600,
        )[0]
        for _ in range(REPEATS * UNSEEN_BATCH)
    ]
    batches = iter(
        unseen[start : start + UNSEEN_BATCH] for start in range(0, len(unseen), UNSEEN_BATCH)
    )

    def decode_unseen(n: int) -> None:
        for unseen_token in next(batches)[:n]:
            codec.decode_access_token(unseen_token)

    result = {
        "decode_unseen": per_call(decode_unseen, UNSEEN_BATCH),
        "decode_repeat": per_call(decode_repeatedly, 3000),
    }

    async def authenticate() -> object:
        # The one dependency every protected route declares: the whole bearer path.
        return await authorize(fresh_request(app, token), SecurityScopes())

    await authenticate()
    principals = services.principals
    result["auth_hit"] = await per_await(authenticate, 3000)

    async def miss() -> object:
        # What a role change does: the cached entry stops counting, the DB is asked.
        await principals.versions.bump(user_id)
        return await authenticate()

    result["auth_miss"] = await per_await(miss, 300)
    await services.engine.dispose()
    services.hasher.close()
    result["access_line"] = await access_line_cost()
    print(json.dumps(result))


asyncio.run(main())
