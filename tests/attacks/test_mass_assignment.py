"""Write routes ignore or refuse the fields no client may set."""

import secrets
import uuid

import httpx

from .live import Account, NewAccount, create_item, log_in

# Field values no client may set; each write route must ignore or refuse them.
FORGED_ID = str(uuid.uuid4())
FORGED_TIME = "2000-01-01T00:00:00Z"

PRIVILEGED_FIELDS = {
    "role": "admin",
    "is_active": False,
    "email_verified": True,
    "id": FORGED_ID,
    "created_at": FORGED_TIME,
    "hashed_password": "$argon2id$forged",
}


def test_register_ignores_privileged_fields(http: httpx.Client) -> None:
    username = f"mass-{uuid.uuid4().hex[:12]}"
    password = secrets.token_urlsafe(18)
    body = {
        "username": username,
        "email": f"{username}@example.com",
        "password": password,
        **PRIVILEGED_FIELDS,
    }

    response = http.post("/auth/register", json=body)

    assert response.status_code == 201, response.text
    user = response.json()
    assert (user["role"], user["is_active"], user["email_verified"]) == ("user", True, False)
    assert user["id"] != FORGED_ID
    assert not user["created_at"].startswith("2000")
    log_in(http, username, password)


def test_update_own_profile_ignores_privileged_fields(
    http: httpx.Client, new_account: NewAccount
) -> None:
    user = new_account()
    body = {**PRIVILEGED_FIELDS, "username": "root", "full_name": "Changed"}

    response = http.patch("/users/me", headers=user.headers, json=body)

    assert response.status_code == 200, response.text
    me = http.get("/users/me", headers=user.headers).json()
    assert me["full_name"] == "Changed"
    assert (me["id"], me["username"], me["role"]) == (user.id, user.username, "user")
    assert (me["is_active"], me["email_verified"]) == (True, False)


def test_create_item_ignores_owner_and_id(http: httpx.Client, alice: Account, bob: Account) -> None:
    body = {"title": "mine", "owner_id": bob.id, "id": FORGED_ID, "created_at": FORGED_TIME}

    response = http.post("/items", headers=alice.headers, json=body)

    assert response.status_code == 201, response.text
    item = response.json()
    assert (item["owner_id"], item["title"]) == (alice.id, "mine")
    assert item["id"] != FORGED_ID
    assert not item["created_at"].startswith("2000")


def test_update_item_ignores_owner_and_id(http: httpx.Client, alice: Account, bob: Account) -> None:
    item = create_item(http, alice)
    body = {"title": "renamed", "owner_id": bob.id, "id": FORGED_ID, "created_at": FORGED_TIME}

    response = http.patch(f"/items/{item['id']}", headers=alice.headers, json=body)

    assert response.status_code == 200, response.text
    assert response.json() == {**item, "title": "renamed"}


def test_create_api_key_ignores_owner_key_and_state(
    http: httpx.Client, alice: Account, bob: Account
) -> None:
    body = {
        "name": "mine",
        "scopes": ["items:read"],
        "user_id": bob.id,
        "owner_id": bob.id,
        "key": "sk_chosen-by-the-client",
        "key_hash": "0" * 64,
        "prefix": "sk_chosen",
        "id": FORGED_ID,
        "revoked_at": FORGED_TIME,
        "expires_at": FORGED_TIME,
        "last_used_at": FORGED_TIME,
    }

    response = http.post("/api-keys", headers=alice.headers, json=body)

    assert response.status_code == 201, response.text
    key = response.json()
    assert key["key"] != body["key"]
    assert key["id"] != FORGED_ID
    assert (key["scopes"], key["expires_at"], key["last_used_at"]) == (["items:read"], None, None)
    own_keys = http.get("/api-keys", headers=alice.headers).json()
    assert key["id"] in {listed["id"] for listed in own_keys}
    # Used, it lists alice's items: it is alice's key, and it works.
    item = create_item(http, alice)
    listed = http.get("/items", headers={"X-API-Key": key["key"]}, params={"limit": 100})
    assert item["id"] in {listed_item["id"] for listed_item in listed.json()["items"]}


def test_admin_update_changes_only_role_and_state(
    http: httpx.Client, admin: Account, new_account: NewAccount
) -> None:
    user = new_account()
    body = {
        "username": "renamed",
        "email": "renamed@example.com",
        "hashed_password": "$argon2id$forged",
        "email_verified": True,
        "id": FORGED_ID,
        "created_at": FORGED_TIME,
    }

    response = http.patch(f"/admin/users/{user.id}", headers=admin.headers, json=body)

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["id"], changed["username"]) == (user.id, user.username)
    assert (changed["email"], changed["email_verified"]) == (f"{user.username}@example.com", False)
    log_in(http, user.username, user.password)
