"""In-process cost of authenticating a bearer request, in microseconds per call.

Run by bench/run.py with the rendered project's Python, against the database of a server
it has just logged in to (DATABASE_URL, SECRET_KEY and the token BENCH_TOKEN in the
environment). Prints one JSON object.
"""

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from fastapi.security import SecurityScopes
from secure_api.access.dependencies import authorize
from secure_api.config import get_settings
from secure_api.factory import create_services
from starlette.requests import Request

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


async def main() -> None:
    # Thousands of calls from one caller: the default limit must not be what is timed.
    settings = get_settings().model_copy(update={"RATE_LIMIT_DEFAULT": "100000000/minute"})
    services = create_services(settings)
    app = SimpleNamespace(state=SimpleNamespace(services=services))
    token = os.environ["BENCH_TOKEN"]
    codec = services.tokens
    claims = codec.decode_access_token(token)
    user_id, session_id = uuid.UUID(claims.subject), uuid.UUID(claims.session_id)

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
    result["cache_get"] = await per_await(lambda: principals.get(session_id, user_id), 20000)
    result["auth_hit"] = await per_await(authenticate, 3000)

    async def miss() -> object:
        # What a role change does: the cached entry stops counting, the DB is asked.
        await principals.versions.bump(user_id)
        return await authenticate()

    result["auth_miss"] = await per_await(miss, 300)
    await services.engine.dispose()
    services.hasher.close()
    print(json.dumps(result))


asyncio.run(main())
