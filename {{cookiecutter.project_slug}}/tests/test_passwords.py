"""Password rules and hashing: Argon2id, bounded threads, no crash on legacy hashes."""

import asyncio
import threading
from collections.abc import Iterator

import bcrypt
import pytest

from {{ cookiecutter.project_slug }}.security.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    HasherBusyError,
    PasswordHasher,
    password_problem,
)

from .conftest import PASSWORD

TOO_SHORT = "Password must be at least 12 characters"
TOO_LONG = "Password must be at most 128 characters"
TOO_COMMON = "Password is too common; choose one that is not on lists of leaked passwords"
IS_IDENTITY = "Password must not be the username or email address"
PASSPHRASE_64 = "mellow otter juggles seven copper lanterns beneath quiet harbors"


# The rules.


@pytest.mark.parametrize("password", ["", "a", "Tiny-Pw-9x", "x7#kQ-v2!mZ"])
def test_password_shorter_than_12_characters_is_refused(password: str) -> None:
    assert len(password) < MIN_PASSWORD_LENGTH
    assert password_problem(password) == TOO_SHORT


def test_password_of_exactly_12_characters_is_accepted() -> None:
    password = "tulip-orbit9"
    assert len(password) == MIN_PASSWORD_LENGTH
    assert password_problem(password) is None


def test_password_of_128_characters_is_accepted() -> None:
    password = "ab3-" * 32
    assert len(password) == MAX_PASSWORD_LENGTH
    assert password_problem(password) is None


@pytest.mark.parametrize("length", [129, 4096])
def test_password_longer_than_128_characters_is_refused(length: int) -> None:
    assert password_problem(("ab3-" * 1024)[:length]) == TOO_LONG


def test_a_64_character_passphrase_is_accepted() -> None:
    assert len(PASSPHRASE_64) == 64
    assert password_problem(PASSPHRASE_64, username="someone", email="a@example.com") is None


@pytest.mark.parametrize("password", ["qwerty123456", "QWERTY123456", "QwErTy123456"])
def test_common_password_is_refused_in_any_case(password: str) -> None:
    assert password_problem(password) == TOO_COMMON


def test_password_equal_to_the_username_is_refused() -> None:
    assert password_problem("Marvin-The-Android", username="marvin-the-android") == IS_IDENTITY


def test_password_equal_to_the_email_is_refused() -> None:
    email = "zaphod.beeblebrox@example.com"
    assert password_problem(email.upper(), email=email) == IS_IDENTITY


def test_password_equal_to_the_local_part_of_the_email_is_refused() -> None:
    assert password_problem("Zaphod.Beeblebrox", email="zaphod.beeblebrox@example.com") == (
        IS_IDENTITY
    )


def test_password_merely_containing_the_username_is_accepted() -> None:
    assert password_problem("marvin-the-android-42!", username="marvin-the-android") is None


# Hashing.


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    result = PasswordHasher(
        time_cost=2, memory_cost=2048, parallelism=2, max_workers=2, max_waiting=8
    )
    yield result
    result.close()


async def test_hash_is_argon2id_with_the_configured_parameters(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=2048,t=2,p=2$")
    assert PASSWORD not in hashed


async def test_the_same_password_hashes_differently_each_time(hasher: PasswordHasher) -> None:
    assert await hasher.hash(PASSWORD) != await hasher.hash(PASSWORD)


async def test_verify_accepts_the_right_password(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash(PASSWORD)
    assert await hasher.verify(PASSWORD, hashed) == (True, None)


async def test_verify_refuses_a_wrong_password(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash(PASSWORD)
    ok, _ = await hasher.verify(PASSWORD + "!", hashed)
    assert ok is False


async def test_verify_without_a_hash_is_false_even_for_the_dummy_password(
    hasher: PasswordHasher,
) -> None:
    for password in (PASSWORD, "not a real password, only here for timing"):
        ok, new_hash = await hasher.verify(password, None)
        assert ok is False
        assert new_hash is None


async def test_hash_with_weaker_parameters_is_rehashed_on_verify(hasher: PasswordHasher) -> None:
    weaker = PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1, max_workers=1, max_waiting=8
    )
    try:
        old = await weaker.hash(PASSWORD)
    finally:
        weaker.close()
    ok, new_hash = await hasher.verify(PASSWORD, old)
    assert ok is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$v=19$m=2048,t=2,p=2$")


async def test_at_most_max_workers_hashing_threads_ever_exist(hasher: PasswordHasher) -> None:
    before = set(threading.enumerate())
    seen: set[threading.Thread] = set()
    done = asyncio.Event()

    def hashing_threads() -> set[threading.Thread]:
        return {
            thread
            for thread in threading.enumerate()
            if thread.name.startswith("hash") and thread not in before
        }

    async def watch() -> None:
        while not done.is_set():
            seen.update(hashing_threads())
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    hashes = await asyncio.gather(*(hasher.hash(f"{PASSWORD} {n}") for n in range(8)))
    done.set()
    await watcher
    seen.update(hashing_threads())
    assert len(set(hashes)) == 8
    assert 1 <= len(seen) <= 2


async def test_legacy_bcrypt_hash_verifies_and_asks_for_an_argon2id_rehash(
    hasher: PasswordHasher,
) -> None:
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    ok, new_hash = await hasher.verify(PASSWORD, legacy)
    assert ok is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$")


async def test_password_over_72_bytes_against_a_bcrypt_hash_is_false_not_an_error(
    hasher: PasswordHasher,
) -> None:
    legacy = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(rounds=4)).decode()
    for password in ("p" * 73, "p" * 72 + "q", "é" * 40):
        assert len(password.encode()) > 72
        assert await hasher.verify(password, legacy) == (False, None)


async def test_hashes_beyond_the_queue_bound_are_shed_at_once() -> None:
    hasher = PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1, max_workers=1, max_waiting=2
    )
    try:
        results = await asyncio.gather(
            *(hasher.hash(PASSWORD) for _ in range(10)), return_exceptions=True
        )
        # Room again once the queue drained.
        assert (await hasher.hash(PASSWORD)).startswith("$argon2id$")
    finally:
        hasher.close()
    # One running and two waiting; the seven others were refused without waiting.
    assert [isinstance(result, str) for result in results] == [True] * 3 + [False] * 7
    assert all(isinstance(result, HasherBusyError) for result in results[3:])
