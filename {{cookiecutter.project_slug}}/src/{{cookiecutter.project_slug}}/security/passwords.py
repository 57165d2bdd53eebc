"""Password hashing and strength rules.

Argon2id hashes new passwords; bcrypt hashes from an older system still verify and are
replaced on the next successful login. Hashing is CPU- and memory-heavy, so it runs on a
small dedicated thread pool: never on the event loop, and never more than
`PASSWORD_HASH_WORKERS` at once (each Argon2 hash holds `ARGON2_MEMORY_COST` KiB).

Under a login flood the pool's queue would grow without bound, and every request in it
would wait longer than any client does. So at most `PASSWORD_HASH_QUEUE` hashes wait;
past that `HasherBusyError` sheds the request (503 with Retry-After) at once. Callers
hash with no database transaction open: a waiting hash must not hold a pooled
connection or SQLite's write lock.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from typing import TypeVar

from passlib.context import CryptContext

T = TypeVar("T")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


class HasherBusyError(Exception):
    """Every hash worker is busy and the queue is full: try again shortly."""


class PasswordHasher:
    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost: int,
        parallelism: int,
        max_workers: int,
        max_waiting: int,
    ) -> None:
        self._context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated=["bcrypt"],
            argon2__type="ID",
            argon2__time_cost=time_cost,
            argon2__memory_cost=memory_cost,
            argon2__parallelism=parallelism,
        )
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hash")
        # Running and waiting hashes. Only the event loop's thread touches it.
        self._in_flight = 0
        self._capacity = max_workers + max_waiting
        # Verified against when a login names no known user, so that both cases cost the same.
        self._dummy_hash = self._context.hash("not a real password, only here for timing")

    def ensure_room(self) -> None:
        """Raise HasherBusyError now if a hash would be shed: checked before a request's
        other work, so that a shed request costs next to nothing."""
        if self._in_flight >= self._capacity:
            raise HasherBusyError

    async def _run(self, work: Callable[[], T]) -> T:
        self.ensure_room()
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._context.hash(password))

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """Check `password`; return (ok, new hash to store when the old one is outdated).

        With `hashed=None` a dummy hash is checked and the answer is always False.
        """
        target = hashed if hashed is not None else self._dummy_hash
        ok, new_hash = await self._run(lambda: self._verify_sync(password, target))
        return (ok and hashed is not None), new_hash

    def _verify_sync(self, password: str, hashed: str) -> tuple[bool, str | None]:
        try:
            ok, new_hash = self._context.verify_and_update(password, hashed)
            return bool(ok), new_hash
        except ValueError:
            # bcrypt refuses secrets over 72 bytes; such a password cannot match its hash.
            return False, None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    """The first rule `password` breaks, in words a user can act on; None if it is acceptable.

    Runs before any hashing, so an over-long password costs nothing.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    if lowered in _common_passwords():
        return "Password is too common; choose one that is not on lists of leaked passwords"
    identities = {username.lower(), email.lower(), email.lower().partition("@")[0]} - {""}
    if lowered in identities:
        return "Password must not be the username or email address"
    return None
