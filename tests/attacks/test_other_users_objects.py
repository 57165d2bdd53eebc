"""Another user's items and API keys are 404 to everyone but their owner, and untouched."""

from typing import Any

import httpx
import pytest

from .live import Account, create_item, create_key


@pytest.fixture(scope="module")
def alice_key(http: httpx.Client, alice: Account) -> Any:
    return create_key(http, alice, ["items:read"])


# (bob's credential, method, path, detail) on alice's item or key.
OTHER_USERS_OBJECTS = {
    "read-item": ("bearer", "GET", "/items/{item}", "Item not found"),
    "update-item": ("bearer", "PATCH", "/items/{item}", "Item not found"),
    "delete-item": ("bearer", "DELETE", "/items/{item}", "Item not found"),
    "read-item-by-key": ("key", "GET", "/items/{item}", "Item not found"),
    "update-item-by-key": ("key", "PATCH", "/items/{item}", "Item not found"),
    "delete-item-by-key": ("key", "DELETE", "/items/{item}", "Item not found"),
    "revoke-key": ("bearer", "DELETE", "/api-keys/{key}", "API key not found"),
}


@pytest.mark.parametrize("case", OTHER_USERS_OBJECTS.values(), ids=OTHER_USERS_OBJECTS.keys())
def test_other_users_object_is_404_and_untouched(
    http: httpx.Client,
    alice: Account,
    alice_key: Any,
    bob: Account,
    bob_key: dict[str, str],
    case: tuple[str, str, str, str],
) -> None:
    credential, method, path, detail = case
    item = create_item(http, alice, "alice's")
    body = {"title": "bob was here"} if method == "PATCH" else None

    response = http.request(
        method,
        path.format(item=item["id"], key=alice_key["id"]),
        headers=bob.headers if credential == "bearer" else bob_key,
        json=body,
    )

    assert response.status_code == 404, response.text
    assert response.json() == {"detail": detail}
    assert http.get(f"/items/{item['id']}", headers=alice.headers).json() == item
    assert http.get("/items", headers={"X-API-Key": alice_key["key"]}).status_code == 200


def test_lists_show_only_own_objects(
    http: httpx.Client, alice: Account, alice_key: Any, bob: Account
) -> None:
    item = create_item(http, alice)
    key = alice_key

    items = http.get("/items", headers=bob.headers, params={"limit": 100}).json()["items"]
    keys = http.get("/api-keys", headers=bob.headers).json()

    assert item["id"] not in {listed["id"] for listed in items}
    assert key["id"] not in {listed["id"] for listed in keys}
