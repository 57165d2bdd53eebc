"""Many clients at once, the way attackers send them: each from a loopback address of its
own, all released together, every answer kept for the test to check."""

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from typing import Any, TypeVar

import httpx
from httpx import ASGITransport, AsyncClient

from .conftest import BASE_URL

T = TypeVar("T")
# A crowd that has not finished by then has hung: fail instead of stalling the run.
CROWD_TIMEOUT_SECONDS = 60.0
# One request of a crowd against a served app; longer counts as no answer.
REQUEST_TIMEOUT_SECONDS = 20.0


def loopback(number: int) -> str:
    """The `number`-th address of a crowd: 127.0.1.1, 127.0.1.2, ... (never 127.0.0.1,
    the address of the tests' own clients). Linux routes all of 127/8 to this host, and
    each is a distinct client to a rate limiter."""
    return f"127.0.{1 + number // 250}.{1 + number % 250}"


def client_from(app: Any, address: str) -> AsyncClient:
    """A client of the in-process app whose requests come from `address`. A crash in the
    app answers 500 here instead of raising, so a crowd's every answer can be counted."""
    transport = ASGITransport(app=app, client=(address, 4242), raise_app_exceptions=False)
    return AsyncClient(transport=transport, base_url=BASE_URL)


@cache
def _tls_context() -> ssl.SSLContext:
    # Unused on plain-HTTP loopback, yet each transport would load the CA bundle for
    # one of its own: a crowd of sixty took seconds to build.
    return ssl.create_default_context()


def served_client_from(base_url: str, address: str) -> AsyncClient:
    """A client of a served app whose connections leave from `address`."""
    return AsyncClient(
        transport=httpx.AsyncHTTPTransport(local_address=address, verify=_tls_context()),
        base_url=base_url,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


async def all_at_once(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run every call, none before all are ready to start; results in the order given."""
    barrier = asyncio.Barrier(len(calls))

    async def _released(call: Callable[[], Awaitable[T]]) -> T:
        await barrier.wait()
        return await call()

    async with asyncio.timeout(CROWD_TIMEOUT_SECONDS):
        return list(await asyncio.gather(*(_released(call) for call in calls)))


def retry_after(response: httpx.Response) -> int:
    """The response's Retry-After in seconds; fails the test unless it is a positive integer."""
    value = response.headers.get("retry-after", "")
    assert value.isdigit(), f"Retry-After {value!r} on a {response.status_code}"
    assert int(value) >= 1, f"Retry-After {value!r} on a {response.status_code}"
    return int(value)
