"""Where an authenticated request's time goes, by name, in microseconds per request.

Run by bench/run.py with a render's Python, in the environment of a server it has just
logged in to (DATABASE_URL, SECRET_KEY, REDIS_URL where the render has Redis, and the
token BENCH_TOKEN), so the app below shares that server's database and Redis. It builds
the app in-process and drives it over ASGI, without sockets or uvicorn: `GET
/api/v1/users/me` with the token, REQUESTS times plainly for the whole request's time,
then as many again under cProfile to split that time by function. Each part's share of
the profiled time is applied to the plain time, so the parts add up to what a request
costs without a profiler. The time is the worker's CPU: while a request awaits Redis
or the database, the event loop is idle, and no part is charged for the wait.

The parts are named by where their code lives, and the middleware list is read off the
app, so a middleware added tomorrow gets a row of its own:

- each middleware, outermost first: its own time, without the layers inside it;
- `routing and dependency solving`: FastAPI's request handling, minus the named parts;
- `authorize`, and within it the token check and the principal cache (the version
  check and the RATE_LIMIT_DEFAULT count);
- `access line`, `endpoint`, `response`.

Prints one JSON object: {"parts": [[name, us], ...], "total": us}.
"""

import asyncio
import cProfile
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from secure_api.config import get_settings
from secure_api.factory import create_app
from secure_api.log import configure_logging
from starlette.routing import Router

REQUESTS = 3000
ROUNDS = 3
PATH = "/api/v1/users/me"
# Each named part: the functions it is made of (where their code lives, their name), and
# the part it is inside of, if any, so that its time is not counted twice.
NAMED: tuple[tuple[str, tuple[tuple[str, str], ...], str | None], ...] = (
    ("authorize", (("secure_api/access/dependencies.py", "authorize"),), None),
    ("token check", (("secure_api/security/tokens.py", "decode_access_token"),), "authorize"),
    (
        "principal cache and default limit",
        (("secure_api/security/principal_cache.py", "get"),),
        "authorize",
    ),
    ("endpoint", (("secure_api/users/router.py", "read_me"),), None),
    (
        "response",
        (("fastapi/routing.py", "serialize_response"), ("starlette/responses.py", "__call__")),
        None,
    ),
)
# Named inside RequestContextMiddleware, whose own time is the rest.
ACCESS_LINE = ("secure_api/log.py", "write")
# Where the event loop waits for sockets: Redis's and the database's answers.
WAIT = ("~", "<method 'poll' of 'select.epoll' objects>")
Message = dict[str, Any]


class InProcessClient:
    """Sends requests straight into the ASGI app, after running its lifespan startup."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"authorization", f"Bearer {token}".encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        self._lifespan: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan = asyncio.create_task(
            self._app(scope, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        answer = await self._lifespan_out.get()
        if answer["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {answer}")

    async def stop(self) -> None:
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        await self._lifespan_out.get()
        if self._lifespan is not None:
            await self._lifespan

    async def get(self) -> int:
        status = 0

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self._app({**self._scope, "state": {}}, receive, send)
        return status

    async def run(self, n: int) -> None:
        for _ in range(n):
            status = await self.get()
            if status != 200:
                raise RuntimeError(f"GET {PATH} answered {status}, not 200")


def middleware_layers(app: Any) -> Iterator[Any]:
    """The app's middleware instances, outermost first, down to (without) the router."""
    layer = app.middleware_stack
    while not isinstance(layer, Router):
        yield layer
        layer = layer.app


def cumulative(stats: pstats.Stats, where: str, name: str) -> float:
    """Seconds spent in `name` of a file ending in `where`, callees included."""
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(
        entry[3]
        for (filename, _line, function), entry in entries.items()
        if function == name and filename.endswith(where)
    )


def call_time(stats: pstats.Stats, layer: Any) -> float:
    code = type(layer).__call__.__code__
    return cumulative(stats, code.co_filename, code.co_name)


def split(stats: pstats.Stats, app: Any) -> list[tuple[str, float]]:
    """Seconds in each part, over all profiled requests; the rest of the profiled time
    (the event loop, the client above) is the last part."""
    layers = list(middleware_layers(app))
    router = layers[-1].app
    whole = [call_time(stats, layer) for layer in [*layers, router]]
    parts = [
        (type(layer).__name__, outer - inner)
        for layer, outer, inner in zip(layers, whole, whole[1:], strict=False)
    ]
    access_line = cumulative(stats, *ACCESS_LINE)
    parts = [
        (name, seconds - access_line if name == "RequestContextMiddleware" else seconds)
        for name, seconds in parts
    ]
    named = {
        label: sum(cumulative(stats, where, name) for where, name in functions)
        for label, functions, _ in NAMED
    }
    for label, _functions, within in NAMED:
        if within is not None:
            named[within] -= named[label]
    parts.append(("routing and dependency solving", whole[-1] - sum(named.values())))
    parts += [(label, named[label]) for label, *_ in NAMED]
    parts.append(("access line", access_line))
    parts.append(("waiting for Redis and the database (idle)", cumulative(stats, *WAIT)))
    profiled: float = stats.total_tt  # type: ignore[attr-defined]
    parts.append(("event loop and the rest", profiled - sum(seconds for _, seconds in parts)))
    return parts


def logs_to_file(level: str) -> Callable[[], None]:
    """Send the app's log lines to a file, as a server's redirected output; undo it."""
    stdout, log_file = sys.stdout, tempfile.TemporaryFile("w")  # noqa: SIM115
    sys.stdout = log_file
    configure_logging(level, "json")

    def restore() -> None:
        sys.stdout = stdout
        logging.getLogger().handlers.clear()
        log_file.close()

    return restore


async def measure() -> dict[str, Any]:
    settings = get_settings().model_copy(update={"RATE_LIMIT_DEFAULT": "100000000/minute"})
    # The server's LOG_LEVEL: INFO writes the access line.
    restore = logs_to_file(settings.LOG_LEVEL)
    try:
        app = create_app(settings)
        client = InProcessClient(app, os.environ["BENCH_TOKEN"])
        await client.start()
        await client.run(200)
        plain = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            await client.run(REQUESTS)
            plain.append((time.perf_counter() - start) / REQUESTS)
        profiler = cProfile.Profile()
        profiler.enable()
        await client.run(REQUESTS)
        profiler.disable()
        await client.stop()
    finally:
        restore()
    stats = pstats.Stats(profiler)
    total = statistics.median(plain)
    # The profiler slows every call; each part keeps its share of the plain time.
    profiled: float = stats.total_tt  # type: ignore[attr-defined]
    per_request_us = total / profiled * 1e6
    return {
        "parts": [(label, seconds * per_request_us) for label, seconds in split(stats, app)],
        "total": total * 1e6,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
