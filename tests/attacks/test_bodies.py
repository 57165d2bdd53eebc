"""Oversize and malformed bodies are refused with their exact status, never a 500."""

import json
from collections.abc import Iterator

import httpx
import pytest

from .live import Account

MAX_BODY_BYTES = 1024 * 1024
TWO_MIB = 2 * 1024 * 1024


def two_mib_item() -> bytes:
    return json.dumps({"title": "big", "description": "a" * TWO_MIB}).encode()


def in_chunks(body: bytes) -> Iterator[bytes]:
    """A body httpx sends chunked, with no Content-Length to refuse it by."""
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@pytest.mark.parametrize(
    ("path", "content_type", "chunked", "authenticated"),
    [
        ("/items", "application/json", False, True),
        ("/items", "application/json", True, True),
        ("/auth/register", "application/json", False, False),
        ("/auth/token", "application/x-www-form-urlencoded", False, False),
    ],
    ids=["item-with-length", "item-chunked", "register", "login-form"],
)
def test_two_mib_body_is_413(
    http: httpx.Client,
    alice: Account,
    path: str,
    content_type: str,
    chunked: bool,
    authenticated: bool,
) -> None:
    body = two_mib_item()
    headers = {"Content-Type": content_type, **(alice.headers if authenticated else {})}

    response = http.post(path, headers=headers, content=in_chunks(body) if chunked else body)

    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"Request body is larger than {MAX_BODY_BYTES} bytes"}


# (body, content type, status) for POST /items as a normal user.
MALFORMED_ITEMS = {
    "truncated-json": (b'{"title": ', "application/json", 422),
    "not-utf-8": (b"\xff\xfe\x00", "application/json", 400),
    "json-array": (b"[1, 2]", "application/json", 422),
    "json-null": (b"null", "application/json", 422),
    "json-string": (b'"title"', "application/json", 422),
    "empty": (b"", "application/json", 422),
    "title-number": (b'{"title": 123}', "application/json", 422),
    "title-list": (b'{"title": ["a"]}', "application/json", 422),
    "title-operator-object": (b'{"title": {"$gt": ""}}', "application/json", 422),
    "title-too-long": (json.dumps({"title": "t" * 201}).encode(), "application/json", 422),
    "deeply-nested": (
        b'{"title": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "application/json",
        400,
    ),
    "integer-of-5000-digits": (b'{"title": ' + b"9" * 5000 + b"}", "application/json", 400),
    "json-as-text-plain": (b'{"title": "x"}', "text/plain", 422),
    "form-encoded": (b"title=x", "application/x-www-form-urlencoded", 422),
}


@pytest.mark.parametrize("case", MALFORMED_ITEMS.values(), ids=MALFORMED_ITEMS.keys())
def test_malformed_item_body_is_refused(
    http: httpx.Client, alice: Account, case: tuple[bytes, str, int]
) -> None:
    body, content_type, status = case

    response = http.post(
        "/items", headers={**alice.headers, "Content-Type": content_type}, content=body
    )

    assert response.status_code == status, response.text
    assert "detail" in response.json()


# (caller, method, path, body, status) on the other write routes.
MALFORMED_ELSEWHERE = {
    "nan-title": ("alice", "POST", "/items", b'{"title": NaN}', 422),
    "infinite-password": (
        None,
        "POST",
        "/auth/register",
        b'{"username": "inf-user", "email": "inf@example.com", "password": Infinity}',
        422,
    ),
    "login-as-json-not-form": (
        None,
        "POST",
        "/auth/token",
        b'{"username": "a", "password": "b"}',
        422,
    ),
    "profile-email-number": ("alice", "PATCH", "/users/me", b'{"email": 5}', 422),
    "key-scopes-as-string": (
        "alice",
        "POST",
        "/api-keys",
        b'{"name": "k", "scopes": "admin"}',
        422,
    ),
    "key-unknown-scope": ("alice", "POST", "/api-keys", b'{"name": "k", "scopes": ["root"]}', 422),
    "key-expiry-overflow": (
        "alice",
        "POST",
        "/api-keys",
        b'{"name": "k", "scopes": ["items:read"], "expires_in_days": 1e308}',
        422,
    ),
    "admin-unknown-role": ("admin", "PATCH", "/admin/users/{self}", b'{"role": "root"}', 422),
    "item-id-not-a-uuid": ("alice", "PATCH", "/items/1%20OR%201=1", b'{"title": "x"}', 422),
    "page-size-over-the-bound": ("alice", "GET", "/items?limit=1000000", None, 422),
    "nul-in-title": ("alice", "POST", "/items", b'{"title": "a\\u0000b"}', 422),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=name) for name, case in MALFORMED_ELSEWHERE.items()],
)
def test_malformed_body_elsewhere_is_refused(
    http: httpx.Client,
    request: pytest.FixtureRequest,
    case: tuple[str | None, str, str, bytes | None, int],
) -> None:
    caller_name, method, path, body, status = case
    caller: Account | None = request.getfixturevalue(caller_name) if caller_name else None
    headers = {"Content-Type": "application/json", **(caller.headers if caller else {})}
    target = path.format(self=caller.id) if caller else path

    response = http.request(method, target, headers=headers, content=body)

    assert response.status_code == status, response.text


def test_nul_in_login_name_is_401(http: httpx.Client) -> None:
    """A login name is looked up in the database; PostgreSQL refuses U+0000 in text."""
    response = http.post("/auth/token", data={"username": "ad\x00min", "password": "x" * 12})

    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Incorrect username or password"}
