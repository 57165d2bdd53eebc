"""The API docs: HTTP Basic in front, same-origin files only, the docs CSP, the schema."""

import asyncio
from base64 import b64encode
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.middleware.security_headers import (
    JSON_CSP,
    REDOC_CSP,
    SWAGGER_CSP,
)
from {{ cookiecutter.project_slug }}.security.scopes import SCOPE_DESCRIPTIONS

from .conftest import BASE_URL, CapturedLogs, make_settings
from .processes import app_environment, served_app

DOCS_USER = "docs-reader"
DOCS_PASSWORD = "a-docs-password-for-tests"
CREDENTIALS = (DOCS_USER, DOCS_PASSWORD)
PAGES = ("/docs", "/redoc")
PROTECTED = (*PAGES, "/openapi.json")
{%- if cookiecutter.use_redis == "yes" %}
# Every authenticated operation: bad credential, missing scope, limit, shared state down.
AUTHENTICATION_ERRORS = {"401", "403", "429", "503"}
{%- else %}
# Every authenticated operation: bad credential, missing scope, limit.
AUTHENTICATION_ERRORS = {"401", "403", "429"}
{%- endif %}
# Basic headers no password can be read from; the bytes go over the wire as they are.
UNREADABLE_BASIC = {
    "byte-ff": b"Basic \xff",
    "latin-1-text": b"Basic d\xf6cs:\xff\xfe",
    "base64-of-non-utf8": b"Basic " + b64encode(b"\xff\xfe:\xc3\x28"),
    "no-colon": b"Basic " + b64encode(DOCS_PASSWORD.encode()),
    "scheme-only": b"Basic",
    "padding-only": b"Basic ====",
}
ASSET_TYPES = {
    "/docs/assets/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "/docs/assets/swagger-init.js": "text/javascript; charset=utf-8",
    "/docs/assets/swagger-ui.css": "text/css; charset=utf-8",
    "/docs/assets/redoc.standalone.js": "text/javascript; charset=utf-8",
    "/docs/assets/favicon.png": "image/png",
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A tight API limit: the docs must not count against it.
    return {
        "DOCS_USERNAME": DOCS_USER,
        "DOCS_PASSWORD": DOCS_PASSWORD,
        "RATE_LIMIT_DEFAULT": "2/minute",
    }


def basic(username: str, password: str) -> dict[str, str]:
    token = b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class UrlCollector(HTMLParser):
    """Every URL an HTML page makes the browser load or link to."""

    URL_ATTRIBUTES = frozenset({"src", "href", "spec-url", "data-openapi-url", "action"})

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in self.URL_ATTRIBUTES]


def page_urls(html: str) -> list[str]:
    collector = UrlCollector()
    collector.feed(html)
    return collector.urls


@pytest.mark.parametrize("path", [*PROTECTED, *ASSET_TYPES])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("someone-else", DOCS_PASSWORD),
        basic(DOCS_USER, "not-the-password"),
        basic(DOCS_USER, ""),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": f"Bearer {DOCS_PASSWORD}"},
    ],
    ids=["none", "wrong-user", "wrong-password", "empty-password", "malformed", "bearer"],
)
async def test_docs_refuse_missing_or_wrong_basic_credentials(
    client: AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="docs"'
    assert response.json() == {"detail": "Valid docs credentials required"}
    assert DOCS_PASSWORD not in response.text


@pytest.mark.parametrize("path", PAGES)
async def test_docs_pages_load_with_the_right_credentials(client: AsyncClient, path: str) -> None:
    response = await client.get(path, auth=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"


async def test_docs_credentials_compare_as_utf8(db_url: str) -> None:
    password = "pässwörd-ü-€-long-enough"
    app = create_app(make_settings(db_url, DOCS_USERNAME="dösë", DOCS_PASSWORD=password))
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client:
        right = await client.get("/openapi.json", headers=basic("dösë", password))
        wrong = await client.get("/openapi.json", headers=basic("dösë", password[:-1]))
    assert right.status_code == 200
    assert wrong.status_code == 401


@pytest.mark.parametrize("path", PAGES)
async def test_docs_pages_load_only_same_origin_urls(client: AsyncClient, path: str) -> None:
    response = await client.get(path, auth=CREDENTIALS)
    urls = page_urls(response.text)
    assert urls, "the page references no files"
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        assert not url.lower().startswith(("http:", "https:", "data:", "javascript:")), url
        loaded = await client.get(url, auth=CREDENTIALS)
        assert loaded.status_code == 200, url


async def test_docs_pages_have_no_inline_script_or_style(client: AsyncClient) -> None:
    for path in PAGES:
        html = (await client.get(path, auth=CREDENTIALS)).text
        assert "<style" not in html
        assert " style=" not in html
        # Every <script> loads a file: the docs CSP allows no inline script.
        assert html.count("<script") == html.count("<script src=")


@pytest.mark.parametrize(("path", "content_type"), ASSET_TYPES.items())
async def test_docs_assets_are_served_with_their_content_type(
    client: AsyncClient, path: str, content_type: str
) -> None:
    response = await client.get(path, auth=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content


async def test_only_the_bundled_assets_are_served(client: AsyncClient) -> None:
    for path in (
        "/docs/assets/core.py",
        "/docs/assets/..%2F__init__.py",
        "/docs/assets/../core.py",
        "/docs/assets/swagger-ui.css.map",
    ):
        response = await client.get(path, auth=CREDENTIALS)
        assert response.status_code == 404, path


async def test_swagger_ui_uses_swagger_ui_5_and_forgets_tokens(client: AsyncClient) -> None:
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js", auth=CREDENTIALS)
    init = await client.get("/docs/assets/swagger-init.js", auth=CREDENTIALS)
    # OpenAPI 3.1 documents need Swagger UI 5; 4.x says "Unable to render this definition".
    assert 'PACKAGE_VERSION:"5.' in bundle.text
    assert "persistAuthorization: false" in init.text
    assert "validatorUrl: null" in init.text


@pytest.mark.parametrize("path", ["/redoc", *ASSET_TYPES, "/docs"])
async def test_docs_pages_carry_their_own_narrow_csp(client: AsyncClient, path: str) -> None:
    response = await client.get(path, auth=CREDENTIALS)
    policy = REDOC_CSP if path == "/redoc" else SWAGGER_CSP
    assert response.headers["content-security-policy"] == policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-resource-policy"] == "same-origin"
    assert response.headers["x-request-id"]


def test_swagger_ui_gets_no_inline_styles_or_workers() -> None:
    assert "'unsafe-inline'" not in SWAGGER_CSP
    assert "worker-src" not in SWAGGER_CSP


async def test_api_responses_keep_the_json_csp(client: AsyncClient) -> None:
    for response in (
        await client.get("/api/v1/health"),
        await client.get("/api/v1/users/me"),
        await client.get("/no/such/route"),
        await client.get("/openapi.json", auth=CREDENTIALS),
    ):
        assert response.headers["content-security-policy"] == JSON_CSP


async def test_docs_are_not_rate_limited_by_the_api_limits(client: AsyncClient) -> None:
    for _ in range(5):
        for path in PROTECTED:
            response = await client.get(path, auth=CREDENTIALS)
            assert response.status_code == 200, path


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_docs_are_off_without_a_docs_password(db_url: str, environment: str) -> None:
    settings = make_settings(db_url, ENVIRONMENT=environment, DOCS_PASSWORD="")
    app = create_app(settings)
    # https: production redirects plain http before routing.
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="https://localhost") as client:
        for path in (*PROTECTED, *ASSET_TYPES):
            response = await client.get(path, auth=CREDENTIALS)
            assert response.status_code == 404, path
            assert "www-authenticate" not in response.headers


async def test_docs_in_production_need_credentials_too(db_url: str) -> None:
    settings = make_settings(db_url, ENVIRONMENT="production", DOCS_PASSWORD=DOCS_PASSWORD)
    app = create_app(settings)
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="https://localhost") as client:
        anonymous = await client.get("/docs")
        allowed = await client.get("/docs", auth=("docs", DOCS_PASSWORD))
    assert anonymous.status_code == 401
    assert allowed.status_code == 200


async def _openapi(client: AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json", auth=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    document: dict[str, Any] = response.json()
    return document


async def test_openapi_declares_the_password_flow_with_every_scope(client: AsyncClient) -> None:
    document = await _openapi(client)
    schemes = document["components"]["securitySchemes"]
    password_flows = [
        scheme["flows"]["password"]
        for scheme in schemes.values()
        if scheme["type"] == "oauth2" and "password" in scheme.get("flows", {})
    ]
    assert password_flows == [{"tokenUrl": "/api/v1/auth/token", "scopes": SCOPE_DESCRIPTIONS}]


async def test_openapi_says_users_me_needs_the_users_read_scope(client: AsyncClient) -> None:
    document = await _openapi(client)
    schemes = document["components"]["securitySchemes"]
    oauth2 = next(name for name, scheme in schemes.items() if scheme["type"] == "oauth2")
    security = document["paths"]["/api/v1/users/me"]["get"]["security"]
    assert {oauth2: ["users:read"]} in security


@pytest.mark.parametrize(
    ("method", "path", "answers"),
    [
        ("get", "/api/v1/users/me", {"200", "413", *AUTHENTICATION_ERRORS}),
        (
            "delete",
            "/api/v1/api-keys/{key_id}",
            {"204", "404", "413", "422", *AUTHENTICATION_ERRORS},
        ),
        (
            "post",
            "/api/v1/auth/token",
            {"200", "400", "401", "403", "413", "422", "429", "503"},
        ),
{%- if cookiecutter.multi_tenancy == "yes" %}
        ("post", "/api/v1/auth/refresh", {"200", "400", "401", "403", "413", "422", "429"}),
{%- else %}
        ("post", "/api/v1/auth/refresh", {"200", "400", "401", "413", "422", "429"}),
{%- endif %}
    ],
)
async def test_openapi_declares_every_status_an_operation_answers(
    client: AsyncClient, method: str, path: str, answers: set[str]
) -> None:
    document = await _openapi(client)
    assert set(document["paths"][path][method]["responses"]) == answers


async def test_openapi_error_answers_carry_the_detail_body(client: AsyncClient) -> None:
    document = await _openapi(client)
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["detail"]
    errors = [
        (status, response)
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, response in operation["responses"].items()
        if status >= "400" and status != "422"
    ]
    assert errors
    for status, response in errors:
        assert response["content"]["application/json"]["schema"] == error_body, status
        if status in ("429", "503"):
            assert "Retry-After" in response["headers"], status


async def test_openapi_says_the_session_routes_take_a_bearer_token_with_its_scope(
    client: AsyncClient,
) -> None:
    document = await _openapi(client)
    schemes = document["components"]["securitySchemes"]
    oauth2 = next(name for name, scheme in schemes.items() if scheme["type"] == "oauth2")
    paths = document["paths"]
    assert paths["/api/v1/users/me/sessions"]["get"]["security"] == [{oauth2: ["users:read"]}]
    ending = paths["/api/v1/users/me/sessions/{session_id}"]["delete"]["security"]
    assert ending == [{oauth2: ["users:write"]}]


async def test_openapi_leaves_out_the_docs_routes(client: AsyncClient) -> None:
    document = await _openapi(client)
    assert document["openapi"].startswith("3.1")
    assert not [path for path in document["paths"] if not path.startswith("/api/v1/")]


async def test_wrong_docs_passwords_are_rate_limited(db_url: str) -> None:
    settings = make_settings(
        db_url, DOCS_USERNAME=DOCS_USER, DOCS_PASSWORD=DOCS_PASSWORD, RATE_LIMIT_LOGIN="3/minute"
    )
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client:
        statuses = [
            (await client.get("/docs", headers=basic(DOCS_USER, f"guess-{n}"))).status_code
            for n in range(4)
        ]
        right = await client.get("/docs", headers=basic(DOCS_USER, DOCS_PASSWORD))
    assert statuses == [401, 401, 401, 429]
    assert right.status_code == 429
    assert "retry-after" in right.headers


@pytest.mark.parametrize("name", UNREADABLE_BASIC)
async def test_docs_refuse_unreadable_basic_credentials(client: AsyncClient, name: str) -> None:
    response = await client.get("/openapi.json", headers={b"Authorization": UNREADABLE_BASIC[name]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="docs"'
    assert response.json() == {"detail": "Valid docs credentials required"}


async def test_unreadable_basic_credentials_count_as_wrong_guesses(
    db_url: str, logs: CapturedLogs
) -> None:
    settings = make_settings(
        db_url, DOCS_USERNAME=DOCS_USER, DOCS_PASSWORD=DOCS_PASSWORD, RATE_LIMIT_LOGIN="3/minute"
    )
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client:
        statuses = [
            (await client.get(path, headers={b"Authorization": UNREADABLE_BASIC["byte-ff"]}))
            for path in PROTECTED
        ]
        right = await client.get("/openapi.json", auth=CREDENTIALS)
    assert [response.status_code for response in statuses] == [401, 401, 401]
    assert all(
        response.headers["www-authenticate"] == 'Basic realm="docs"' for response in statuses
    )
    assert right.status_code == 429
    assert [line for line in logs.lines() if line["level"] == "ERROR" or "exc_info" in line] == []


async def test_parallel_wrong_docs_passwords_get_at_most_the_limit_of_answers(
    db_url: str,
) -> None:
    settings = make_settings(
        db_url, DOCS_USERNAME=DOCS_USER, DOCS_PASSWORD=DOCS_PASSWORD, RATE_LIMIT_LOGIN="3/minute"
    )
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as client:
        responses = await asyncio.gather(
            *(
                client.get("/openapi.json", headers=basic(DOCS_USER, f"guess-{n}"))
                for n in range(12)
            )
        )
    assert sorted(response.status_code for response in responses) == [401] * 3 + [429] * 9


@pytest.fixture(scope="module")
{%- if cookiecutter.database == "postgresql" %}
def docs_server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("docs-server")
{%- else %}
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("docs-server")
    database_url = f"sqlite+aiosqlite:///{workdir / 'server.db'}"
{%- endif %}
    env = app_environment(
        database_url,
        DOCS_USERNAME=DOCS_USER,
        DOCS_PASSWORD=DOCS_PASSWORD,
        RATE_LIMIT_LOGIN=f"{len(UNREADABLE_BASIC)}/minute",
    )
    with served_app(workdir, env) as base_url:
        yield base_url, workdir


@pytest.mark.parametrize("name", UNREADABLE_BASIC)
def test_served_docs_answer_unreadable_basic_credentials_with_401(
    docs_server: tuple[str, Path], name: str
) -> None:
    """Through uvicorn's own HTTP parser, not only the in-process transport."""
    base_url, workdir = docs_server
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.get("/openapi.json", headers={b"Authorization": UNREADABLE_BASIC[name]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="docs"'
    server_log = "".join(path.read_text() for path in workdir.glob("server-*.log"))
    assert "Traceback" not in server_log
