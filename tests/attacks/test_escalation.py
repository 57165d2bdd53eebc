"""Role and scope escalation is refused with 403, and a demotion or deactivation counts at once."""

from typing import Any

import httpx
import pytest

from .live import Account, NewAccount, bearer, create_item, create_key, log_in

# (caller, method, path, body): all refused with 403. {self} is the caller's own id.
ESCALATIONS = {
    "guest-creates-an-item": ("guest", "POST", "/items", {"title": "x"}),
    "guest-changes-own-profile": ("guest", "PATCH", "/users/me", {"full_name": "x"}),
    "guest-lists-users": ("guest", "GET", "/admin/users", None),
    "guest-reads-the-audit-trail": ("guest", "GET", "/admin/audit-events", None),
    "guest-makes-self-admin": ("guest", "PATCH", "/admin/users/{self}", {"role": "admin"}),
    "guest-key-with-items-write": (
        "guest",
        "POST",
        "/api-keys",
        {"name": "k", "scopes": ["items:write"]},
    ),
    "user-lists-users": ("alice", "GET", "/admin/users", None),
    "user-reads-the-audit-trail": ("alice", "GET", "/admin/audit-events", None),
    "user-makes-self-admin": ("alice", "PATCH", "/admin/users/{self}", {"role": "admin"}),
    "user-key-with-admin-scope": ("alice", "POST", "/api-keys", {"name": "k", "scopes": ["admin"]}),
}


@pytest.mark.parametrize("attempt", ESCALATIONS.values(), ids=ESCALATIONS.keys())
def test_escalation_is_403_and_changes_nothing(
    http: httpx.Client, request: pytest.FixtureRequest, attempt: tuple[str, str, str, Any]
) -> None:
    caller_name, method, path, body = attempt
    caller: Account = request.getfixturevalue(caller_name)
    role_before = http.get("/users/me", headers=caller.headers).json()["role"]

    response = http.request(method, path.format(self=caller.id), headers=caller.headers, json=body)

    assert response.status_code == 403, response.text
    assert http.get("/users/me", headers=caller.headers).json()["role"] == role_before


def test_login_asking_for_admin_scope_gets_no_scope(http: httpx.Client, alice: Account) -> None:
    tokens = log_in(http, alice.username, alice.password, scope="admin")
    headers = bearer(tokens["access_token"])

    assert tokens["scope"] == ""
    assert http.get("/admin/users", headers=headers).status_code == 403
    assert http.get("/users/me", headers=headers).status_code == 403


def test_login_asking_for_admin_and_items_read_gets_only_items_read(
    http: httpx.Client, alice: Account
) -> None:
    tokens = log_in(http, alice.username, alice.password, scope="admin items:read")

    assert tokens["scope"] == "items:read"
    assert (
        http.post("/items", headers=bearer(tokens["access_token"]), json={"title": "x"}).status_code
        == 403
    )


def test_guest_read_key_cannot_write_or_administer(http: httpx.Client, guest: Account) -> None:
    key = {"X-API-Key": create_key(http, guest, ["items:read"])["key"]}

    assert http.get("/items", headers=key).status_code == 200
    assert http.post("/items", headers=key, json={"title": "x"}).status_code == 403
    assert http.patch("/users/me", headers=key, json={"full_name": "x"}).status_code == 403
    assert http.get("/admin/users", headers=key).status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "k", "scopes": ["items:read"]}),
        ("POST", "/auth/logout", None),
        ("POST", "/users/me/password", {"current_password": "x", "new_password": "y"}),
    ],
    ids=["list-keys", "create-key", "log-out", "change-password"],
)
def test_api_key_on_a_bearer_only_route_is_401(
    http: httpx.Client, bob_key: dict[str, str], method: str, path: str, body: Any
) -> None:
    response = http.request(method, path, headers=bob_key, json=body)

    assert response.status_code == 401, response.text


def test_demotion_counts_from_the_next_request(
    http: httpx.Client, admin: Account, new_account: NewAccount
) -> None:
    user = new_account()
    create_item(http, user)

    demoted = http.patch(f"/admin/users/{user.id}", headers=admin.headers, json={"role": "guest"})
    response = http.post("/items", headers=user.headers, json={"title": "after"})

    assert demoted.status_code == 200
    assert response.status_code == 403, response.text


def test_deactivation_ends_the_sessions_it_finds(
    http: httpx.Client, admin: Account, new_account: NewAccount
) -> None:
    user = new_account()

    changed = http.patch(
        f"/admin/users/{user.id}", headers=admin.headers, json={"is_active": False}
    )
    relogin = http.post("/auth/token", data={"username": user.username, "password": user.password})

    assert changed.status_code == 200
    assert http.get("/users/me", headers=user.headers).status_code == 401
    assert relogin.status_code == 400
    assert relogin.json() == {"detail": "Inactive user"}
