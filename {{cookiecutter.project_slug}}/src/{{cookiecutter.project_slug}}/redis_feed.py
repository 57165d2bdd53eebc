"""The invalidation feed: auth versions kept in this process, current by Redis pub/sub.

Every bump of a user's auth version is a SET and a PUBLISH of the user's id in one
script (redis_state.BUMP_SCRIPT). Each process holds one subscription, started and
stopped with the app's lifespan, and while it is healthy serves the versions it has
read from its own memory: a cached request then sends nothing to Redis.

The subscription is an asyncio protocol, not a task reading messages, because the loop
hands a socket's bytes to its protocol's `data_received` in the same iteration the
selector reports them, before any task's next step. So an invalidation that reached
this host before a request did is applied before that request's first step, and the
request never waits for it: pending invalidations are always drained, without blocking.
(A task reading them would run only when the loop got to it, possibly after requests.)

Healthy means subscribed, answering, and Redis taking writes: every half second the
feed PINGs on its connection and writes a probe key through the pool, and it vouches for
nothing once VOUCH_SECONDS pass without a probe written. A Redis that refuses or holds
writes (paused for a failover, out of memory) would refuse a bump too, and the worker
that made the change then waits VOUCH_SECONDS before it answers (redis_state.py), so
every other worker has stopped vouching by then. Until Redis confirms the subscription,
once the connection drops, or when a heartbeat or probe fails, every version held here
is dropped and `version` answers None: every request then reads Redis (and fails closed
when it cannot) until the feed is back. Each drop also starts a new `generation`, which
redis_state.py adds to every version it hands out, so nothing cached before an outage
matches after it, even if Redis came back with older data: messages lost meanwhile
cannot matter.
"""

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

import hiredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The channel every bump is published on; pub/sub ignores database numbers.
INVALIDATION_CHANNEL = "auth-version-bumps"
# A PING this often shows Redis still answers; silence for longer distrusts the feed,
# since a hung Redis would keep the socket open and deliver nothing.
HEARTBEAT_SECONDS = 0.5
SILENCE_LIMIT_SECONDS = 3.0
# Versions are vouched for this long after the last probe Redis wrote; a probe that
# takes longer than its timeout ends the subscription.
VOUCH_SECONDS = 1.5
PROBE_TIMEOUT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 2.0
# The first retry waits, so that a Redis that refuses connections costs no busy loop.
FIRST_RETRY_SECONDS = 0.5
LAST_RETRY_SECONDS = 5.0
MAX_VERSIONS = 100_000

Reply = bytes | int | list["Reply"] | Exception


class InvalidationFeed:
    """Auth versions this process read from Redis, dropped as bumps are published."""

    def __init__(self, url: str, probe: Callable[[], Awaitable[object]]) -> None:
        self._url = url
        # A write through the app's own pool: what a bump needs of Redis.
        self._probe = probe
        self._versions: dict[uuid.UUID, str] = {}
        self._subscribed = False
        self._written_at = -VOUCH_SECONDS
        # Starts anew with every drop: versions handed out before it match none after.
        self.generation = 0
        # Changes whenever a version held here may have gone stale: a read from Redis
        # that began before the change must not be kept (`learn`).
        self.epoch = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._protocol: _FeedProtocol | None = None

    @property
    def healthy(self) -> bool:
        return self._subscribed and time.monotonic() - self._written_at < VOUCH_SECONDS

    def version(self, user_id: uuid.UUID) -> str | None:
        """The user's current version, if this process knows it and may vouch for it."""
        return self._versions.get(user_id) if self.healthy else None

    def learn(self, user_id: uuid.UUID, version: str, epoch: int) -> None:
        """Keep `version`, read from Redis after `epoch` was current, if nothing changed since."""
        if self.healthy and epoch == self.epoch:
            if len(self._versions) >= MAX_VERSIONS:
                self._versions.clear()
            self._versions[user_id] = version

    def forget(self, user_id: uuid.UUID) -> None:
        self._versions.pop(user_id, None)
        self.epoch += 1

    def distrust(self) -> None:
        """Drop every version and serve none until subscribed again, on a new connection:
        for when Redis failed a call, and bumps may have gone unheard."""
        self.drop()
        if self._protocol is not None:
            self._protocol.abort()

    def drop(self) -> None:
        self.generation += 1
        self._subscribed = False
        self._versions.clear()
        self.epoch += 1

    def on_subscribed(self) -> None:
        self._versions.clear()
        self.epoch += 1
        self._subscribed = True

    def on_published(self, payload: bytes) -> None:
        try:
            self.forget(uuid.UUID(payload.decode()))
        except ValueError:
            # Not one of ours; forget everything rather than guess.
            self._versions.clear()
            self.epoch += 1

    def start(self) -> None:
        """Subscribe in the background, and again whenever the subscription is lost."""
        self._task = asyncio.create_task(self._run(), name="invalidation-feed")

    async def stop(self) -> None:
        # Said before the cancellation too: redis-py may swallow the cancellation of a
        # probe under way, and the heartbeat would then go on for good.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.drop()

    async def _run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while not self._stopping:
            protocol = self._protocol = _FeedProtocol(self)
            try:
                await self._subscribe_until_lost(protocol)
                reason = "the connection ended"
            # Whatever ends a subscription, the next one is tried: a task that died here
            # would leave this process reading Redis per request for good.
            except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
                reason = str(exc) or type(exc).__name__
            self.drop()
            if self._stopping:
                return
            if protocol.subscribed:
                delay = FIRST_RETRY_SECONDS
            if protocol.subscribed or delay == FIRST_RETRY_SECONDS:
                logger.warning("invalidation feed down, reading Redis per request: %s", reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)

    async def _subscribe_until_lost(self, protocol: "_FeedProtocol") -> None:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            transport = await _connect(self._url, protocol)
        try:
            subscribe = (b"SUBSCRIBE", INVALIDATION_CHANNEL.encode())
            protocol.send(*_login_commands(self._url), subscribe)
            while not (protocol.lost.done() or self._stopping):
                await self._write_probe()
                await asyncio.wait([protocol.lost], timeout=HEARTBEAT_SECONDS)
                if time.monotonic() - protocol.heard_at > SILENCE_LIMIT_SECONDS:
                    raise TimeoutError("Redis did not answer the feed's heartbeat")
                protocol.send((b"PING",))
        finally:
            transport.abort()

    async def _write_probe(self) -> None:
        started = time.monotonic()
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await self._probe()
        except (RedisError, OSError, TimeoutError) as exc:
            raise RuntimeError(f"Redis did not take the feed's probe write: {exc!r}") from exc
        self._written_at = started


class _FeedProtocol(asyncio.Protocol):
    def __init__(self, feed: InvalidationFeed) -> None:
        self._feed = feed
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.heard_at = time.monotonic()
        self.subscribed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport, as create_connection makes it.
        self._transport = cast(asyncio.Transport, transport)

    def send(self, *commands: tuple[bytes, ...]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(_encode(command) for command in commands))

    def data_received(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                self._handle(reply)
        except hiredis.ProtocolError as exc:
            self._fail(exc)

    def _handle(self, reply: Reply) -> None:
        if isinstance(reply, Exception):
            self._fail(reply)
        elif isinstance(reply, list) and reply:
            if reply[0] == b"message" and len(reply) == 3 and isinstance(reply[2], bytes):
                self._feed.on_published(reply[2])
            elif reply[0] == b"subscribe":
                self.subscribed = True
                self._feed.on_subscribed()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, exc: Exception) -> None:
        logger.warning("invalidation feed refused by Redis: %s", exc)
        self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._feed.drop()
        if not self.lost.done():
            self.lost.set_result(None)


async def _connect(url: str, protocol: _FeedProtocol) -> asyncio.Transport:
    """A connection to the server `url` names (redis://, rediss:// or unix://)."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    if parts.scheme == "unix":
        transport, _ = await loop.create_unix_connection(lambda: protocol, parts.path)
    else:
        tls = _tls_context(parts.query) if parts.scheme == "rediss" else None
        transport, _ = await loop.create_connection(
            lambda: protocol, parts.hostname or "localhost", parts.port or 6379, ssl=tls
        )
    return transport


def _tls_context(query: str) -> ssl.SSLContext:
    """TLS as the URL's options ask redis-py for the pool: verified against the system's
    CAs or `ssl_ca_certs`; `ssl_check_hostname=false` and `ssl_cert_reqs=none` relax it."""
    options = {name: value.lower() for name, value in parse_qsl(query)}
    context = ssl.create_default_context(cafile=dict(parse_qsl(query)).get("ssl_ca_certs"))
    if options.get("ssl_check_hostname") in ("false", "0", "no"):
        context.check_hostname = False
    if options.get("ssl_cert_reqs") == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _login_commands(url: str) -> list[tuple[bytes, ...]]:
    parts = urlsplit(url)
    if parts.password is None:
        return []
    password = unquote(parts.password).encode()
    if parts.username:
        return [(b"AUTH", unquote(parts.username).encode(), password)]
    return [(b"AUTH", password)]


def _encode(command: tuple[bytes, ...]) -> bytes:
    """A command in RESP, as Redis reads it (hiredis.pack_command's stub takes one argument)."""
    encoded = [b"*%d\r\n" % len(command)]
    for part in command:
        encoded.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(encoded)
