{%- if cookiecutter.use_redis == "yes" -%}
"""Real processes for end-to-end tests: the served app, and a Redis server of their own."""
{%- else -%}
"""Real processes for end-to-end tests: the served app."""
{%- endif %}

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

{% if cookiecutter.use_redis == "yes" -%}
from .conftest import PASSWORD, REDIS_URL, TEST_SECRET_KEY, free_port
{%- else -%}
from .conftest import PASSWORD, TEST_SECRET_KEY, free_port
{%- endif %}

START_TIMEOUT_SECONDS = 30


def app_environment(database_url: str, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": database_url,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        "FIRST_ADMIN_EMAIL": "root@example.com",
        "FIRST_ADMIN_PASSWORD": PASSWORD,
        "LOG_LEVEL": "WARNING",
        **overrides,
    }

{%- if cookiecutter.use_redis == "yes" %}


def served_environment(database_url: str, **overrides: str) -> dict[str, str]:
    """`app_environment` for one test's served app, with its limits and revocations in
    the tests' Redis database (emptied before each test), as in production."""
    return app_environment(database_url, REDIS_URL=REDIS_URL, **overrides)
{%- else %}


def served_environment(database_url: str, **overrides: str) -> dict[str, str]:
    """`app_environment` for one test's served app (limits and revocations in its memory)."""
    return app_environment(database_url, **overrides)
{%- endif %}


@contextmanager
def served_app(workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """`python -m {{ cookiecutter.project_slug }}` on a free loopback port; yields its URL."""
    port = free_port()
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.project_slug }}"],
            cwd=workdir,
            env={**env, "PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until(
                lambda: httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code == 200,
                process,
                log_path,
            )
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until(answers: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode}: {log.read_text()}")
        try:
            if answers():
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"process did not answer within {START_TIMEOUT_SECONDS}s: {log.read_text()}")
