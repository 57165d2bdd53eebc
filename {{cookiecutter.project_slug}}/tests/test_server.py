"""End to end: `python -m {{ cookiecutter.project_slug }}` in a real uvicorn process, over real HTTP."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import PASSWORD, TEST_SECRET_KEY, free_port

START_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="module")
{%- if cookiecutter.database == "postgresql" %}
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
{%- else %}
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
{%- endif %}
    workdir = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": TEST_SECRET_KEY,
{%- if cookiecutter.database == "postgresql" %}
        "DATABASE_URL": database_url,
{%- else %}
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'server.db'}",
{%- endif %}
        "PORT": str(port),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        "FIRST_ADMIN_EMAIL": "root@example.com",
        "FIRST_ADMIN_PASSWORD": PASSWORD,
        "LOG_LEVEL": "WARNING",
    }
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.project_slug }}"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, workdir / "server.log")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"server did not answer within {START_TIMEOUT_SECONDS}s: {log.read_text()}")


def test_served_app_logs_in_the_first_admin_and_answers_me(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        token = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        assert token.status_code == 200
        me = client.get(
            "/api/v1/users/me",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert me.status_code == 200
    assert me.json()["role"] == "admin"


def test_served_app_sends_no_server_header(server: str) -> None:
    response = httpx.get(f"{server}/api/v1/health", timeout=10)
    assert response.status_code == 200
    assert "server" not in response.headers


def test_served_app_refuses_unknown_host_headers(server: str) -> None:
    response = httpx.get(f"{server}/api/v1/health", headers={"Host": "evil.example"}, timeout=10)
    assert response.status_code == 400
