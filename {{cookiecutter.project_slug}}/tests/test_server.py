"""End to end: `python -m {{ cookiecutter.project_slug }}` in a real uvicorn process, over real HTTP."""

from collections.abc import Iterator

import httpx
import pytest

from .conftest import PASSWORD
from .processes import app_environment, served_app


@pytest.fixture(scope="module")
{%- if cookiecutter.database == "postgresql" %}
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("server")
{%- else %}
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("server")
    database_url = f"sqlite+aiosqlite:///{workdir / 'server.db'}"
{%- endif %}
    with served_app(workdir, app_environment(database_url)) as base_url:
        yield base_url


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
